"""The admin PIN gate: constant-time check, lockout after repeated failures, persisted so that a
restart does not reset the count, and every attempt journaled."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.journal import Journal
from kiosk.records import AdminEvent
from kiosk.settings import verify_pin


@dataclass(frozen=True)
class PinResult:
    """Outcome of one PIN attempt."""

    ok: bool
    tries_left: int
    locked_for_s: float = 0.0


class PinGate:
    """Checks admin PINs with a lockout.

    Args:
        pin_hash: the stored PBKDF2 hash (settings.secrets.admin_pin_hash).
        max_tries: wrong PINs allowed before a lockout.
        lockout_s: length of the lockout.
        journal: where failures and lockouts are counted (meta) and recorded (admin_event).
        clock: wall-clock source (injectable for tests).
    """

    def __init__(self, pin_hash: str, max_tries: int, lockout_s: float, journal: Journal,
                 clock: Callable[[], float] = time.time) -> None:
        self._hash = pin_hash
        self.max_tries = max_tries
        self.lockout_s = lockout_s
        self.journal = journal
        self.clock = clock

    def _failures(self) -> int:
        return int(self.journal.get_meta("admin.failures", "0"))

    def locked_for(self) -> float:
        """Seconds of lockout left (0 when not locked)."""
        until = float(self.journal.get_meta("admin.locked_until", "0"))
        return max(0.0, until - self.clock())

    def try_pin(self, pin: str) -> PinResult:
        """Check one PIN attempt; a locked gate refuses without checking."""
        locked = self.locked_for()
        if locked > 0:
            return PinResult(False, 0, locked)
        if verify_pin(pin, self._hash):
            self.journal.set_meta("admin.failures", "0")
            self.journal.append(AdminEvent("login"))
            return PinResult(True, self.max_tries)
        failures = self._failures() + 1
        if failures >= self.max_tries:
            self.journal.set_meta("admin.failures", "0")
            self.journal.set_meta("admin.locked_until", str(self.clock() + self.lockout_s))
            self.journal.append(AdminEvent("lockout", f"{failures} wrong PINs"))
            return PinResult(False, 0, float(self.lockout_s))
        self.journal.set_meta("admin.failures", str(failures))
        self.journal.append(AdminEvent("pin_failed", f"attempt {failures}"))
        return PinResult(False, self.max_tries - failures)
