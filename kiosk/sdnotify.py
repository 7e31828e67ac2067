"""systemd's ``sd_notify`` protocol with the standard library: READY, STATUS and WATCHDOG pings.

A unit with ``Type=notify`` passes ``$NOTIFY_SOCKET`` (a datagram socket path, or ``@name`` in the
abstract namespace); a unit with ``WatchdogSec=`` also passes ``$WATCHDOG_USEC`` and
``$WATCHDOG_PID``. Outside systemd none is set and every call here does nothing, so the same code
runs from a checkout, in tests and under systemd.

:class:`Watchdog` pings only while every registered heartbeat is fresh: the kiosk calls
:meth:`Watchdog.tick` from its UI thread (a Kivy clock event), and the sync publisher beats from
its worker loop, so a hung UI thread or a stuck publisher stops the pings and systemd restarts
the service (and journals ``Watchdog timeout``).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one ``sd_notify`` message, e.g. ``"READY=1"`` or ``"WATCHDOG=1"``.

    Returns:
        True if it was sent; False outside systemd or when the socket is gone (never raises).
    """
    env = os.environ if env is None else env
    path = env.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(path)
            sock.sendall(state.encode("utf-8"))
        return True
    except OSError as exc:
        log.warning("sd_notify %r failed: %s", state.split("=", 1)[0], exc)
        return False


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec``), or None when no watchdog is set
    for this process."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2_000_000


class Watchdog:
    """Pings systemd's watchdog only while every heartbeat is fresh.

    Args:
        stale_s: a heartbeat older than this counts as stuck (default: ``WatchdogSec``, or 30 s).
        env: the environment (default ``os.environ``).
    """

    def __init__(self, stale_s: float | None = None, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self.interval = watchdog_interval(self.env)
        self.stale_s = stale_s or (self.interval * 2 if self.interval else 30.0)
        self._beats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stuck: set[str] = set()
        self._last_ping = float("-inf")

    @property
    def enabled(self) -> bool:
        """True when systemd expects pings from this process."""
        return self.interval is not None

    def beat(self, name: str) -> None:
        """Record that the loop called ``name`` is alive (any thread)."""
        with self._lock:
            self._beats[name] = time.monotonic()

    def forget(self, name: str) -> None:
        """Stop watching ``name`` (its loop ended on purpose)."""
        with self._lock:
            self._beats.pop(name, None)

    def stuck(self) -> list[str]:
        """The heartbeats older than ``stale_s``."""
        now = time.monotonic()
        with self._lock:
            return sorted(n for n, t in self._beats.items() if now - t > self.stale_s)

    def tick(self, name: str | None = None) -> bool:
        """Beat ``name`` (if given), then ping systemd when no heartbeat is stuck (at most twice per
        watchdog interval, however often it is called).

        Returns:
            True if a ping was sent.
        """
        if name:
            self.beat(name)
        stuck = set(self.stuck())
        if stuck != self._stuck:
            if stuck:
                log.error("not pinging the watchdog: %s stopped beating; systemd will restart the service",
                          ", ".join(sorted(stuck)))
            self._stuck = stuck
        now = time.monotonic()
        if stuck or not self.enabled or now - self._last_ping < self.interval / 2:
            return False
        self._last_ping = now
        return notify("WATCHDOG=1", self.env)

    def ready(self, status: str = "") -> bool:
        """Tell systemd the service is up (``READY=1``, with an optional status line)."""
        return notify("READY=1" + (f"\nSTATUS={status}" if status else ""), self.env)
