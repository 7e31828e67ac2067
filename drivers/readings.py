"""Typed readings with explicit units: the only thing drivers hand to the rest of the kiosk."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

#: mg/dL per mmol/L for glucose (the factor glucometerutils uses).
MG_DL_PER_MMOL_L = 18.0


class Unit(enum.Enum):
    """Units, spelled as UCUM codes where one exists."""

    MMHG = "mm[Hg]"
    PER_MIN = "/min"
    MMOL_L = "mmol/L"
    MG_DL = "mg/dL"


class MealContext(enum.Enum):
    """When a glucose sample was taken relative to a meal."""

    FASTING = "fasting"
    AFTER_MEAL_2H = "after_meal_2h"
    RANDOM = "random"
    BEFORE_MEAL = "before_meal"
    AFTER_MEAL = "after_meal"


class RangeFlag(enum.Enum):
    """A meter showing HI or LO instead of a number (value beyond its measuring range)."""

    HIGH = "HI"
    LOW = "LO"


@dataclass(frozen=True)
class DeviceInfo:
    """What a device says about itself."""

    driver: str
    model: str
    serial: str | None = None
    firmware: str | None = None


@dataclass(frozen=True)
class BloodPressureReading:
    """One blood-pressure measurement in mmHg, pulse in beats per minute."""

    systolic: int
    diastolic: int
    pulse: int | None
    device: DeviceInfo
    taken_at: datetime | None = None
    device_seq: int | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    unit: Unit = Unit.MMHG


@dataclass(frozen=True)
class GlucoseReading:
    """One glucose measurement, normalised to mmol/L; the device's own value is kept too.

    ``range_flag`` is set when the meter showed HI/LO: ``mmol_l`` is then the range limit.
    """

    mmol_l: float
    device_value: float
    device_unit: Unit
    device: DeviceInfo
    taken_at: datetime | None = None
    device_seq: int | None = None
    meal: MealContext | None = None
    range_flag: RangeFlag | None = None
    control_solution: bool = False

    @staticmethod
    def mg_dl_to_mmol_l(mg_dl: float) -> float:
        """Convert mg/dL to mmol/L, rounded to one decimal as meters display it."""
        return round(mg_dl / MG_DL_PER_MMOL_L, 1)


@dataclass(frozen=True)
class Progress:
    """A live update during a measurement (cuff pressure while inflating, a step message)."""

    stage: str
    cuff_pressure: int | None = None
