"""The admin PIN gate: constant-time check, an escalating lockout after repeated failures,
persisted so that a restart resets neither the count nor the escalation, and every attempt
journaled.

Each lockout doubles the last one (``lockout_s``, 2x, 4x … up to :data:`MAX_LOCKOUT_S`); only a
correct PIN resets the escalation. With 5 tries and 300 s that is about 45 guesses on the first
day and 5 a day after that: a 6-digit PIN (10^6 of them) then takes centuries at the screen.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.journal import Journal
from kiosk.records import AdminEvent
from kiosk.settings import pin_format_ok, verify_pin

#: The longest single lockout.
MAX_LOCKOUT_S = 24 * 3600


@dataclass(frozen=True)
class PinResult:
    """Outcome of one PIN attempt."""

    ok: bool
    tries_left: int
    locked_for_s: float = 0.0


class PinGate:
    """Checks admin PINs with an escalating lockout.

    Args:
        pin_hash: the stored scrypt hash (settings.secrets.admin_pin_hash).
        max_tries: wrong PINs allowed before a lockout.
        lockout_s: length of the first lockout; each further one doubles, up to :data:`MAX_LOCKOUT_S`.
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

    def _lockouts(self) -> int:
        return int(self.journal.get_meta("admin.lockouts", "0"))

    def locked_for(self) -> float:
        """Seconds of lockout left (0 when not locked)."""
        until = float(self.journal.get_meta("admin.locked_until", "0"))
        return max(0.0, until - self.clock())

    def next_lockout_s(self) -> float:
        """How long the next lockout will last."""
        return float(min(MAX_LOCKOUT_S, self.lockout_s * 2 ** min(self._lockouts(), 32)))

    def try_pin(self, pin: str) -> PinResult:
        """Check one PIN attempt; a locked gate refuses without checking. A PIN of the wrong
        format (fewer than 6 digits) counts as a wrong one."""
        locked = self.locked_for()
        if locked > 0:
            return PinResult(False, 0, locked)
        if pin_format_ok(pin) and verify_pin(pin, self._hash):
            self.journal.set_meta("admin.failures", "0")
            self.journal.set_meta("admin.lockouts", "0")
            self.journal.append(AdminEvent("login"))
            return PinResult(True, self.max_tries)
        failures = self._failures() + 1
        if failures >= self.max_tries:
            duration = self.next_lockout_s()
            self.journal.set_meta("admin.failures", "0")
            self.journal.set_meta("admin.lockouts", str(self._lockouts() + 1))
            self.journal.set_meta("admin.locked_until", str(self.clock() + duration))
            self.journal.append(AdminEvent("lockout", f"{failures} wrong PINs; locked {duration:.0f} s"))
            return PinResult(False, 0, duration)
        self.journal.set_meta("admin.failures", str(failures))
        self.journal.append(AdminEvent("pin_failed", f"attempt {failures}"))
        return PinResult(False, self.max_tries - failures)
