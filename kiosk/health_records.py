"""Journal records of health measurements, urgent alerts and health-check sessions; FHIR export.

Each measurement becomes one immutable journal record (``bp_measurement`` or
``glucose_measurement``) whose id is DETERMINISTIC when the device identifies the reading: a
uuid5 of the station, the device's driver and serial number, the device's own time and/or
sequence number and the measured values. Re-reading the same stored meter reading therefore
returns the record already journaled instead of a duplicate (and the hub upserts by the same
id). The values are part of the key so that two different people measuring within the same
minute on a monitor that stamps minutes only (and reports no serial) are never merged into one.
A live blood-pressure measurement with neither a device time nor a sequence number cannot be
told apart from the next one, so it gets a fresh uuid4.

An urgent reading (see :mod:`kiosk.health`) also journals a ``health_alert`` record, priority 10,
so the outbox sends it ahead of everything else. Its id is derived from the measurement's id,
so a repeated call never doubles the alert either.

:func:`to_fhir_observation` turns a measurement record into a FHIR R4 Observation (LOINC codes
from docs/protocols.md §5.3). No export calls it yet: it is the mapping a FHIR export will use.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from drivers.readings import (BloodPressureReading, GlucoseReading, MealContext, RangeFlag, Unit)
from drivers.printer_escpos import Slip
from kiosk import health
from kiosk.health import (LOINC_BP_PANEL, LOINC_DIASTOLIC, LOINC_GLUCOSE_CAPILLARY_MASS,
                          LOINC_GLUCOSE_CAPILLARY_MOLES, LOINC_HEART_RATE, LOINC_SYSTOLIC, UCUM_MG_DL,
                          UCUM_MMOL_L, Assessment, Level)
from kiosk.i18n import N_, Translator
from kiosk.journal import Journal
from kiosk.records import Record, record_kind

#: Namespace of the deterministic measurement ids (a fixed random uuid; never change it, or
#: re-read readings would no longer match the ids already stored at the hub).
MEASUREMENT_NAMESPACE = uuid.UUID("6f1c7d0e-3a8b-4c55-9b1e-2d4f8a6e9c31")
#: Outbox priority of urgent alerts (everything else is 0).
ALERT_PRIORITY = 10
#: FHIR identifier system of the pseudonymous person key (HMAC of the ID number, never the number).
PERSON_KEY_SYSTEM = "urn:yizhan:person-key"
#: FHIR identifier system of journal record ids.
RECORD_ID_SYSTEM = "urn:yizhan:record-id"
#: FHIR code system of the kiosk's screening categories (``bp_grade2``, ``glu_ifg`` …).
CATEGORY_SYSTEM = "urn:yizhan:screening-category"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
#: The note every exported observation carries.
SCREENING_NOTE_TEXT = "screening, not diagnosis"

#: Measurement kind ("bp" / "glucose") -> journal record kind.
MEASUREMENT_KINDS = {"bp": "bp_measurement", "glucose": "glucose_measurement"}


class NotAMeasurement(TypeError):
    """The record or reading given is not a blood-pressure or glucose measurement."""


def _whole_seconds(when: datetime | None) -> datetime | None:
    """Device clocks tick in seconds (or minutes); sub-second parts are noise from the host."""
    return when.replace(microsecond=0) if when is not None else None


@record_kind("bp_measurement")
@dataclass(frozen=True)
class BpMeasurement:
    """One blood-pressure measurement of one person.

    ``device_time`` is the monitor's own (naive, local) clock when it reports one;
    ``category``/``level``/``urgent``/``grade`` are the screening assessment of :func:`kiosk.health.assess_bp`.
    ``rested``: the resident's answer to "did you sit quietly for 5 minutes?" (None: not asked); a
    reading taken without rest is kept but does not count toward the three of a recheck (kiosk/care_rules.py).
    """

    person_key: str
    systolic: int
    diastolic: int
    pulse: int | None
    category: str
    level: Level
    urgent: bool
    device_driver: str
    device_model: str
    grade: int | None = None
    device_serial: str = ""
    device_time: datetime | None = None
    device_seq: int | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    session_id: str = ""
    rested: bool | None = None
    unit: Unit = Unit.MMHG
    pulse_unit: Unit = Unit.PER_MIN
    loinc_panel: str = LOINC_BP_PANEL
    loinc_systolic: str = LOINC_SYSTOLIC
    loinc_diastolic: str = LOINC_DIASTOLIC
    loinc_pulse: str = LOINC_HEART_RATE


@record_kind("glucose_measurement")
@dataclass(frozen=True)
class GlucoseMeasurement:
    """One capillary glucose measurement of one person.

    ``mmol_l`` is the normalised value; ``device_value``/``device_unit`` what the meter showed.
    ``range_flag`` is set when the meter showed HI/LO (``mmol_l`` is then the range limit).
    ``loinc_code`` matches the device unit: 14743-9 for mmol/L meters, 41653-7 for mg/dL meters.
    """

    person_key: str
    mmol_l: float
    device_value: float
    device_unit: Unit
    category: str
    level: Level
    urgent: bool
    device_driver: str
    device_model: str
    meal: MealContext | None = None
    range_flag: RangeFlag | None = None
    device_serial: str = ""
    device_time: datetime | None = None
    device_seq: int | None = None
    session_id: str = ""
    rested: bool | None = None
    unit: Unit = Unit.MMOL_L
    loinc_code: str = LOINC_GLUCOSE_CAPILLARY_MOLES


@record_kind("health_alert", priority=ALERT_PRIORITY)
@dataclass(frozen=True)
class HealthAlert:
    """A dangerous reading: staff must see the person now. Sent ahead of everything else.

    ``values`` is a short display of the reading with its unit ("185/112 mm[Hg]", "2.8 mmol/L").
    """

    person_key: str
    measurement_id: str
    measurement_kind: str
    category: str
    level: Level
    values: str
    session_id: str = ""


@record_kind("health_session_opened")
@dataclass(frozen=True)
class HealthSessionOpened:
    """A staff member or volunteer opened a screening day (健康筛查日, staffed mode)."""

    session_id: str
    staff_key: str


@record_kind("health_session_closed")
@dataclass(frozen=True)
class HealthSessionClosed:
    """A health-check session ended, with its summary.

    Attributes:
        residents_measured: distinct people with at least one measurement in the session.
        measurements: measurement records attributed to the session.
        abnormal: measurements whose level is above normal.
        urgent: measurements that called staff (and raised an alert).
    """

    session_id: str
    staff_key: str
    opened_at: datetime
    residents_measured: int
    measurements: int
    abnormal: int
    urgent: int


# -- journaling -----------------------------------------------------------------------------------

def measurement_id(station_id: str, reading: BloodPressureReading | GlucoseReading) -> str | None:
    """The deterministic record id of a reading, or None when the device does not identify it.

    Args:
        station_id: the station the reading was taken at.
        reading: the typed reading.

    Returns:
        A uuid5 string built from station, driver, serial, device time and/or sequence number and
        the values; None for a reading with neither a device time nor a sequence number.

    Raises:
        NotAMeasurement: not a BP or glucose reading.
    """
    if isinstance(reading, BloodPressureReading):
        kind, values = "bp", f"{reading.systolic}/{reading.diastolic}/{reading.pulse}"
    elif isinstance(reading, GlucoseReading):
        flag = reading.range_flag.value if reading.range_flag else ""
        kind, values = "glucose", f"{reading.device_value:g}{reading.device_unit.value}{flag}"
    else:
        raise NotAMeasurement(f"not a measurement reading: {type(reading).__name__}")
    when = _whole_seconds(reading.taken_at)
    if when is None and reading.device_seq is None:
        return None
    dev = reading.device
    key = "|".join([kind, station_id, dev.driver, dev.serial or "",
                    when.isoformat() if when else "",
                    "" if reading.device_seq is None else str(reading.device_seq), values])
    return str(uuid.uuid5(MEASUREMENT_NAMESPACE, key))


def _payload(person_key: str, reading: BloodPressureReading | GlucoseReading, assessment: Assessment,
             session_id: str) -> BpMeasurement | GlucoseMeasurement:
    dev = reading.device
    common = dict(person_key=person_key, category=assessment.category, level=Level(assessment.level),
                  urgent=bool(assessment.urgent), device_driver=dev.driver, device_model=dev.model,
                  device_serial=dev.serial or "", device_time=_whole_seconds(reading.taken_at),
                  device_seq=reading.device_seq, session_id=session_id)
    if isinstance(reading, BloodPressureReading):
        return BpMeasurement(systolic=reading.systolic, diastolic=reading.diastolic, pulse=reading.pulse,
                             grade=assessment.grade, flags=frozenset(reading.flags), **common)
    code = LOINC_GLUCOSE_CAPILLARY_MASS if reading.device_unit is Unit.MG_DL else LOINC_GLUCOSE_CAPILLARY_MOLES
    return GlucoseMeasurement(mmol_l=float(reading.mmol_l), device_value=float(reading.device_value),
                              device_unit=reading.device_unit, meal=reading.meal,
                              range_flag=reading.range_flag, loinc_code=code, **common)


def alert_values(payload: BpMeasurement | GlucoseMeasurement) -> str:
    """A short display of a measurement's values with units, for alerts and logs."""
    if isinstance(payload, BpMeasurement):
        return f"{payload.systolic}/{payload.diastolic} {payload.unit.value}"
    prefix = {RangeFlag.HIGH: ">", RangeFlag.LOW: "<"}.get(payload.range_flag, "")
    return f"{prefix}{payload.mmol_l:g} {payload.unit.value}"


def record_measurement(journal: Journal, person_key: str,
                       reading: BloodPressureReading | GlucoseReading, assessment: Assessment, *,
                       session_id: str = "", station_id: str, rested: bool | None = None,
                       created_at: datetime | None = None) -> tuple[Record, Record | None]:
    """Journal one measurement (and its urgent alert); idempotent for device-identified readings.

    Args:
        journal: the station journal.
        person_key: the person's pseudonymous key (never the ID number).
        reading: the typed reading from the driver.
        assessment: its screening assessment (``assess_bp`` / ``assess_glucose``).
        session_id: the health-check session it belongs to, or "".
        station_id: the station id that goes into the deterministic id.
        rested: the resident's answer to the rest question (None: not asked).
        created_at: the journal time (default now; a test clock).

    Returns:
        ``(measurement record, alert record or None)``. When the same device reading was journaled
        before, the stored records are returned (whoever they were attributed to) and nothing new
        is written.

    Raises:
        NotAMeasurement: ``reading`` is not a BP or glucose reading.
        JournalError: the journal refused or failed (e.g. PrivacyViolation).
    """
    rid = measurement_id(station_id, reading) or str(uuid.uuid4())
    payload = replace(_payload(person_key, reading, assessment, session_id), rested=rested)
    stored = journal.append(payload, record_id=rid, created_at=created_at).record
    payload = stored.payload
    if not payload.urgent:
        return stored, None
    alert = HealthAlert(person_key=payload.person_key, measurement_id=stored.id,
                        measurement_kind=stored.kind, category=payload.category, level=payload.level,
                        values=alert_values(payload), session_id=payload.session_id)
    alert_id = str(uuid.uuid5(MEASUREMENT_NAMESPACE, f"alert|{stored.id}"))
    return stored, journal.append(alert, record_id=alert_id, created_at=created_at).record


def recent_measurements(journal: Journal, person_key: str | tuple[str, ...], kind: str,
                        limit: int = 10) -> list[Record]:
    """The person's latest measurements of one kind, oldest first (for the trend chart).

    Args:
        person_key: the person key, or all of a person's keys (``Person.keys``: the current one and
            the linked keys of an earlier derivation).
        kind: ``"bp"`` or ``"glucose"`` (or the record kind name itself).
        limit: at most this many, the newest ones.

    Raises:
        NotAMeasurement: unknown kind.
    """
    record_kind_name = MEASUREMENT_KINDS.get(kind, kind)
    if record_kind_name not in MEASUREMENT_KINDS.values():
        raise NotAMeasurement(f"unknown measurement kind {kind!r}; use 'bp' or 'glucose'")
    keys = (person_key,) if isinstance(person_key, str) else person_key
    newest = [r for key in keys
              for r in journal.records(record_kind_name, where={"person_key": key}, newest_first=True, limit=limit)]
    newest.sort(key=lambda r: r.seq, reverse=True)
    return list(reversed(newest[:limit]))


# -- FHIR -------------------------------------------------------------------------------------------

def _fhir_time(when: datetime) -> str:
    """FHIR dateTime with a zone; naive device clocks are the kiosk's local time."""
    aware = when if when.tzinfo is not None else when.astimezone()
    return aware.isoformat(timespec="seconds")


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}], "text": display}


def _quantity(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": unit}
    if comparator:
        q["comparator"] = comparator
    return q


def to_fhir_observation(record: Record) -> dict[str, Any]:
    """A FHIR R4 Observation (JSON-ready dict) of a ``bp_measurement`` or ``glucose_measurement`` record.

    Blood pressure: category vital-signs, code 85354-9 (panel) with components 8480-6 systolic and
    8462-4 diastolic in mm[Hg], and 8867-4 heart rate in /min when the monitor reported a pulse.
    Glucose: category laboratory (a capillary glucometer test is not in the FHIR vital-signs set),
    code 14743-9 in mmol/L, or 41653-7 in mg/dL when the meter works in mg/dL; a HI/LO result
    carries the comparator ``>``/``<``. Subject is the pseudonymous person key
    (system ``urn:yizhan:person-key``), never an ID number.

    Raises:
        NotAMeasurement: the record is of another kind.
    """
    p = record.payload
    if isinstance(p, BpMeasurement):
        category, code = "vital-signs", _loinc(p.loinc_panel, "Blood pressure panel")
        components = [
            {"code": _loinc(p.loinc_systolic, "Systolic blood pressure"),
             "valueQuantity": _quantity(p.systolic, p.unit.value)},
            {"code": _loinc(p.loinc_diastolic, "Diastolic blood pressure"),
             "valueQuantity": _quantity(p.diastolic, p.unit.value)},
        ]
        if p.pulse is not None:
            components.append({"code": _loinc(p.loinc_pulse, "Heart rate"),
                               "valueQuantity": _quantity(p.pulse, p.pulse_unit.value)})
        value: dict[str, Any] = {"component": components}
    elif isinstance(p, GlucoseMeasurement):
        category = "laboratory"
        comparator = {RangeFlag.HIGH: ">", RangeFlag.LOW: "<"}.get(p.range_flag)
        if p.loinc_code == LOINC_GLUCOSE_CAPILLARY_MASS:
            code = _loinc(p.loinc_code, "Glucose [Mass/volume] in Capillary blood by Glucometer")
            quantity = _quantity(p.device_value, UCUM_MG_DL, comparator)
        else:
            code = _loinc(p.loinc_code, "Glucose [Moles/volume] in Capillary blood by Glucometer")
            quantity = _quantity(p.mmol_l, UCUM_MMOL_L, comparator)
        value = {"valueQuantity": quantity}
    else:
        raise NotAMeasurement(f"record {record.id} is a {record.kind!r}, not a measurement")
    device = f"{p.device_model} ({p.device_driver})" + (f" SN {p.device_serial}" if p.device_serial else "")
    when = p.device_time or record.created_at.replace(tzinfo=record.created_at.tzinfo or timezone.utc)
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": record.id,
        "identifier": [{"system": RECORD_ID_SYSTEM, "value": record.id}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY_SYSTEM, "code": category}]}],
        "code": code,
        "subject": {"identifier": {"system": PERSON_KEY_SYSTEM, "value": p.person_key}},
        "effectiveDateTime": _fhir_time(when),
        "issued": _fhir_time(record.created_at if record.created_at.tzinfo
                             else record.created_at.replace(tzinfo=timezone.utc)),
        "device": {"display": device},
        "interpretation": [{"coding": [{"system": CATEGORY_SYSTEM, "code": p.category}],
                            "text": _category_title(p.category)}],
        "note": [{"text": SCREENING_NOTE_TEXT}],
        **value,
    }
    return observation


def build_slip(record: Record, *, station_name: str, masked_name: str, lang: str = "zh_CN") -> Slip:
    """The printed slip of a measurement record, translated (Chinese by default).

    Args:
        record: a ``bp_measurement`` or ``glucose_measurement`` record.
        station_name: printed as the header.
        masked_name: the person's masked name (王*明), from ``kiosk.privacy.mask_name``.
        lang: catalog language.

    Raises:
        NotAMeasurement: the record is of another kind.
    """
    tr = Translator(lang)
    p = record.payload
    if isinstance(p, BpMeasurement):
        readings = [tr._(N_("Blood pressure {systolic}/{diastolic} mmHg"), systolic=p.systolic, diastolic=p.diastolic)]
        if p.pulse is not None:
            readings.append(tr._(N_("Pulse {pulse} per minute"), pulse=p.pulse))
    elif isinstance(p, GlucoseMeasurement):
        shown = alert_values(p).replace(p.unit.value, "").strip()
        meal = tr._(_MEAL_TEXT[p.meal]) if p.meal in _MEAL_TEXT else ""
        reading = tr._(N_("Blood sugar {value} mmol/L"), value=shown)
        readings = [tr._(N_("{reading} ({meal})"), reading=reading, meal=meal) if meal else reading]
    else:
        raise NotAMeasurement(f"record {record.id} is a {record.kind!r}, not a measurement")
    entry = health._BP_TEXT.get(p.category) or health._GLU_TEXT.get(p.category)
    title, advice = (entry[1], entry[2]) if entry else (p.category, "")
    when = p.device_time or record.created_at.astimezone().replace(tzinfo=None)
    return Slip(station=station_name, name=masked_name, time=f"{when:%Y-%m-%d %H:%M}", readings=tuple(readings),
                title=tr._(title), advice=tr._(advice) if advice else "", note=tr._(health.SCREENING_NOTE))


_MEAL_TEXT = {MealContext.FASTING: N_("fasting"), MealContext.AFTER_MEAL_2H: N_("2 hours after a meal"),
              MealContext.RANDOM: N_("random"), MealContext.BEFORE_MEAL: N_("before a meal"),
              MealContext.AFTER_MEAL: N_("after a meal")}


def _category_title(category: str) -> str:
    """The English headline of a screening category (the tables of ``kiosk.health``)."""
    entry = health._BP_TEXT.get(category) or health._GLU_TEXT.get(category)
    return entry[1] if entry else category
