"""Idle handling as a pure state machine: the app feeds it touches and ticks."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IdleState:
    """``phase`` is "active", "warning" (countdown shown) or "expired" (reset now)."""

    phase: str
    remaining_s: float


class IdleTimer:
    """Counts time since the last touch against a warning and a reset threshold.

    Args:
        warning_s: seconds without a touch before the countdown appears.
        reset_s: seconds without a touch before the session is wiped.
        clock: monotonic time source (injectable for tests).
    """

    def __init__(self, warning_s: float, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.warning_s = warning_s
        self.reset_s = reset_s
        self._last = clock()

    def configure(self, warning_s: float, reset_s: float) -> None:
        """Change thresholds (per screen); the warning always comes before the reset."""
        self.reset_s = reset_s
        self.warning_s = min(warning_s, max(reset_s - 5, reset_s * 0.75))

    def touch(self) -> None:
        """A person touched the screen."""
        self._last = self.clock()

    def state(self) -> IdleState:
        """Where the countdown stands now."""
        idle = self.clock() - self._last
        remaining = max(0.0, self.reset_s - idle)
        if idle >= self.reset_s:
            return IdleState("expired", 0.0)
        if idle >= self.warning_s:
            return IdleState("warning", remaining)
        return IdleState("active", remaining)
