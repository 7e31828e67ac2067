"""Coalescing a document the hub republishes after changes: at most one publish per interval per
document and scope, and a final publish after the last change, so the last state is never lost.

The hub's writer thread marks a document due when stored records change it (:meth:`Coalescer.changed`)
and asks :meth:`Coalescer.due` after every batch and at least once a second while idle; the clock is
injected, so what is published when is decided by the clock the caller gives, never by timing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

#: Seconds between two publishes of the same document (the requests document by default).
DEFAULT_INTERVAL_S = 2.0


class Coalescer:
    """Which documents are due for publishing.

    Args:
        interval: least seconds between two publishes of one key.
        clock: monotonic seconds (default :func:`time.monotonic`).
    """

    def __init__(self, interval: float = DEFAULT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        if interval < 0:
            raise ValueError("the interval cannot be negative")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: set[Hashable] = set()
        self._last: dict[Hashable, float] = {}

    def changed(self, key: Hashable) -> None:
        """Something the document ``key`` shows has changed: it is due, now or when its quiet time ends."""
        with self._lock:
            self._pending.add(key)

    def pending(self, key: Hashable) -> bool:
        """A change of ``key`` waits for publishing."""
        with self._lock:
            return key in self._pending

    def due(self) -> list[Hashable]:
        """The keys to publish now: changed, and not published within the interval. Each returned key
        counts as published now; the caller reports a failure with :meth:`failed`."""
        now = self._clock()
        with self._lock:
            out = [k for k in self._pending if k not in self._last or now - self._last[k] >= self.interval]
            for k in out:
                self._pending.discard(k)
                self._last[k] = now
            return sorted(out, key=str)

    def failed(self, key: Hashable) -> None:
        """Publishing ``key`` failed: it stays due (retried after the interval, so a broker that is down
        is not hammered)."""
        with self._lock:
            self._pending.add(key)
