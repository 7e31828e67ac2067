"""Measurement-like record kinds used only by ``yizhan bench fill`` for realistic synthetic load.

They are not kiosk record kinds: their names start with ``bench.`` so the hub and reports can
tell them apart from real service records.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.records import record_kind


@record_kind("bench.bp", priority=0)
@dataclass(frozen=True)
class BenchBloodPressure:
    """A synthetic blood-pressure reading (mmHg, bpm) with its screening class."""

    person_key: str
    systolic_mmhg: int
    diastolic_mmhg: int
    pulse_bpm: int
    category: str
    device: str
    taken_at: str


@record_kind("bench.glucose", priority=0)
@dataclass(frozen=True)
class BenchGlucose:
    """A synthetic glucose reading (mmol/L)."""

    person_key: str
    mmol_per_l: float
    meal: str
    category: str
    device: str
    taken_at: str


@record_kind("bench.alert", priority=10)
@dataclass(frozen=True)
class BenchAlert:
    """A synthetic urgent alert (a dangerous reading that called staff); jumps the queue."""

    person_key: str
    reason: str
    value: str
