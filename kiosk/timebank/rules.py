"""Hour rules: rounding, minimum, daily cap, the cut-off of open shifts.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.timebank.errors import InvalidDuration

log = logging.getLogger(__name__)

# --- hour rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourRules:
    """How shift minutes become credited hours.

    ``quarter_rule``: per started hour, < 15 min → 0, 15–44 min → 0.5, ≥ 45 min → 1.
    ``half_hour_units``: whole half hours.
    A result below ``min_hours`` earns nothing; ``daily_cap_hours`` limits shift hours per day.
    """

    rounding: str = "quarter_rule"
    min_hours: Decimal = Decimal("0.5")
    daily_cap_hours: Decimal = Decimal("8")
    cutoff: str = "21:00"
    auto_close_hours: Decimal = Decimal("1")
    double_tap_s: int = 60
    max_shift_hours: Decimal = Decimal("16")
    balance_floor: Decimal = Decimal("0")
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.rounding not in ("quarter_rule", "half_hour_units"):
            raise ValueError(f"unknown rounding {self.rounding!r}")
        self.cutoff_time()

    @classmethod
    def from_settings(cls, settings: Any) -> HourRules:
        """From ``Settings`` (its ``volunteer`` section) or a ``VolunteerSettings``."""
        v = getattr(settings, "volunteer", settings)
        d = lambda x: Decimal(str(x))   # noqa: E731
        return cls(rounding=v.rounding, min_hours=d(v.min_hours), daily_cap_hours=d(v.daily_cap_hours),
                   cutoff=v.cutoff, auto_close_hours=d(v.auto_close_hours), double_tap_s=int(v.double_tap_s),
                   max_shift_hours=d(v.max_shift_hours), balance_floor=d(v.balance_floor), timezone=v.timezone)

    @property
    def tz(self) -> ZoneInfo:
        """The station's time zone (local day, month and cut-off)."""
        return ZoneInfo(self.timezone)

    def cutoff_time(self) -> tuple[int, int]:
        """The cut-off as (hour, minute)."""
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", self.cutoff)
        if not m:
            raise ValueError(f"cut-off {self.cutoff!r} is not HH:MM")
        return int(m.group(1)), int(m.group(2))

    def describe(self) -> str:
        """The rule as stored with each check-out."""
        return f"{self.rounding} min={self.min_hours} cap={self.daily_cap_hours}"


def hours_for_minutes(minutes: int, rules: HourRules, *, apply_minimum: bool = True) -> Decimal:
    """Hours for a duration in whole minutes under ``rules`` (no daily cap).

    Raises:
        InvalidDuration: negative minutes or more than ``max_shift_hours``.
    """
    if minutes < 0:
        raise InvalidDuration(f"a duration of {minutes} minutes is negative")
    if minutes > rules.max_shift_hours * 60:
        raise InvalidDuration(f"a duration of {minutes} minutes is longer than {rules.max_shift_hours} h")
    full, rest = divmod(minutes, 60)
    if rules.rounding == "quarter_rule":
        part = Decimal(0) if rest < 15 else Decimal("0.5") if rest < 45 else Decimal(1)
        hours = Decimal(full) + part
    else:
        hours = Decimal(minutes // 30) / 2
    if apply_minimum and hours < rules.min_hours:
        return Decimal(0)
    return hours
