"""The health check flow in the core: assess a reading, journal it (and its alert) for the person
in the session, attribute it to an open health-check day, print the slip off the UI thread."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from drivers.errors import DriverError
from drivers.readings import BloodPressureReading, GlucoseReading, MealContext
from kiosk.care import CARE_CODE, Advice, advice_after
from kiosk.context import KioskContext
from kiosk.health import Assessment, assess_bp, assess_glucose
from kiosk.health_records import build_slip, record_measurement
from kiosk.i18n import Translator
from kiosk.records import Record

log = logging.getLogger(__name__)


class NoPerson(RuntimeError):
    """A measurement finished but nobody is identified in the session (it was wiped)."""


@dataclass(frozen=True)
class MeasurementOutcome:
    """A finished measurement: the reading, its assessment, the journal records written, and the
    follow-up advice (a recheck on another day, or a referral; :mod:`kiosk.care`)."""

    reading: BloodPressureReading | GlucoseReading
    assessment: Assessment
    record: Record
    alert: Record | None
    advice: Advice | None = None


def assess(reading: BloodPressureReading | GlucoseReading, context: MealContext | None = None) -> Assessment:
    """The screening assessment of a reading (glucose in its meal context; random when unknown)."""
    if isinstance(reading, BloodPressureReading):
        return assess_bp(reading.systolic, reading.diastolic)
    return assess_glucose(reading.mmol_l, context or reading.meal or MealContext.RANDOM)


def complete_measurement(ctx: KioskContext, reading: BloodPressureReading | GlucoseReading,
                         context: MealContext | None = None) -> MeasurementOutcome:
    """Assess and journal a reading for the identified person; returns after the commit.

    When a health-check day is open and this person is its current resident, the record carries
    the day's id and is counted in its tally.

    Raises:
        NoPerson: the session has no identified person.
    """
    person = ctx.session.person
    if person is None:
        raise NoPerson("measurement finished without an identified person")
    if isinstance(reading, GlucoseReading) and context is not None and reading.meal is None:
        reading = replace(reading, meal=context)
    assessment = assess(reading, context)
    day = ctx.services.get("health_day")
    if day is not None and day.is_open and day.resident == person.person_key:
        record, alert = day.record(reading, assessment)
    else:
        record, alert = record_measurement(ctx.journal, person.person_key, reading, assessment,
                                           station_id=ctx.settings.station.id)
    if alert is not None:
        log.warning("urgent %s result journaled as alert %s", record.kind, alert.id)
    # An urgent reading is an emergency referral now (staff are called), not a recheck another day.
    advice = None if assessment.urgent else advice_after(ctx.journal, person.keys, record,
                                                         ctx.settings.volunteer.timezone)
    return MeasurementOutcome(reading, assessment, record, alert, advice)


def print_slip(ctx: KioskContext, outcome: MeasurementOutcome, post: Callable[[Callable[[], None]], None],
               on_done: Callable[[str], None]) -> bool:
    """Print the result slip on a worker thread when a printer is configured.

    ``on_done`` receives "" on success or the error's ``user_key`` (through ``post``).
    Returns False when no printer is configured.
    """
    printer = ctx.services.get("printer")
    person = ctx.session.person
    if printer is None or person is None:
        return False
    slip = build_slip(outcome.record, station_name=ctx.settings.station.name,
                      masked_name=person.display_name, lang=ctx.session.lang)
    if outcome.advice is not None:
        code = Translator(ctx.session.lang)._(CARE_CODE, code=person.person_key[:8])
        slip = replace(slip, advice=f"{slip.advice} {outcome.advice.text(ctx.session.lang)} {code}".strip())

    def work() -> None:
        try:
            printer.print_slip(slip)
            result = ""
        except DriverError as exc:
            log.error("slip printer: %s", exc)
            result = exc.user_key
        post(lambda: on_done(result))

    threading.Thread(target=work, name="print-slip", daemon=True).start()
    return True


def error_message(exc: Exception) -> str:
    """The English message id to show for a failed measurement: the error's own ``user_message``
    (any :class:`DriverError` has one), or the generic device message for anything else."""
    return getattr(exc, "user_message", DriverError.user_message)
