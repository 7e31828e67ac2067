"""Storage watch: tells staff when the disk under the data directory is full, and says so in the log
once a minute instead of a traceback on every failed write.

A worker thread checks the free space every ``interval_s``; below :data:`MIN_FREE_BYTES` (or after a
write failed with a full disk, see :meth:`StorageWatch.note_full`) the status board's ``storage``
entry becomes ``full`` and the header shows :data:`STORAGE_FULL` (存储已满) until space is freed.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from kiosk.i18n import N_

log = logging.getLogger(__name__)

#: Less free space than this under the data directory counts as full (about 2,000 journal records).
MIN_FREE_BYTES = 1024 * 1024
#: While full, the log says so at most this often.
LOG_EVERY_S = 60.0
#: What the header shows staff while the disk is full.
STORAGE_FULL = N_("Storage full: records cannot be saved. Please ask the staff to free space.")


class StorageWatch:
    """Watches the free space of ``data_dir`` and reports it on ``status`` as ``storage``.

    Args:
        data_dir: the kiosk's data directory.
        status: the status board (``kiosk.context.StatusBoard``).
        interval_s: seconds between checks.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(self, data_dir: Path | str, status, interval_s: float = 5.0, clock=time.monotonic) -> None:
        self.data_dir = Path(data_dir)
        self.status = status
        self.interval_s = interval_s
        self.clock = clock
        self.full = False
        self._failures = 0
        self._logged_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use under the data directory."""
        st = os.statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize

    def check(self) -> bool:
        """Look at the free space now; update the status board and the log. Returns True when full."""
        try:
            free = self.free_bytes()
        except OSError as exc:
            log.warning("cannot read the free space of %s: %s", self.data_dir, exc)
            return self.full
        full = free < MIN_FREE_BYTES or (self._failures > 0 and free < 4 * MIN_FREE_BYTES)
        if not full:
            self._failures = 0
        self._report(full, free)
        return full

    def note_full(self) -> None:
        """A write failed because the disk is full (called by whoever caught ``StorageFull``)."""
        self._failures += 1
        self._report(True, None)

    def _report(self, full: bool, free: int | None) -> None:
        now = self.clock()
        if full:
            self.status.set("storage", state="full", free_bytes=free)
            if not self.full or self._logged_at is None or now - self._logged_at >= LOG_EVERY_S:
                log.error("storage full under %s (%s bytes free): new records cannot be saved", self.data_dir,
                          "?" if free is None else free)
                self._logged_at = now
        else:
            self.status.set("storage", state="ok", free_bytes=free)
            if self.full:
                log.warning("storage available again under %s (%d bytes free)", self.data_dir, free or 0)
                self._logged_at = None
        self.full = full

    def start(self) -> StorageWatch:
        """Check now and then every ``interval_s`` on a worker thread."""
        self.check()
        self._thread = threading.Thread(target=self._run, name="storage-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()

    def stop(self) -> None:
        """Stop the worker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
