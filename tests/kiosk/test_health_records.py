"""Measurement records: deterministic ids, urgent alerts first in the outbox, FHIR shape, trends."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.readings import (BloodPressureReading, DeviceInfo, GlucoseReading, MealContext, RangeFlag,
                              Unit)
from kiosk.health import assess_bp, assess_glucose
from kiosk.health_records import (ALERT_PRIORITY, PERSON_KEY_SYSTEM, BpMeasurement, GlucoseMeasurement,
                                  HealthAlert, NotAMeasurement, measurement_id, record_measurement,
                                  recent_measurements, to_fhir_observation)
from kiosk.journal import Journal
from kiosk.records import Record, payload_from_dict, payload_to_dict

STATION = "st-001"
PK = "pk-" + "a" * 40
OMRON = DeviceInfo(driver="omron-hbp9030", model="Omron HBP-9030")
MAIBOBO = DeviceInfo(driver="maibobo", model="Maibobo BP module")
ULTRA = DeviceInfo(driver="onetouch-ultra2", model="OneTouch Ultra 2", serial="QAZ12345Y")


@pytest.fixture()
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3", STATION)
    yield j
    j.close()


def bp(sys_=128, dia=82, pulse=71, when=datetime(2025, 3, 1, 9, 30), seq=None, device=OMRON):
    return BloodPressureReading(sys_, dia, pulse, device, taken_at=when, device_seq=seq)


def glu(mmol=6.2, when=datetime(2025, 3, 1, 8, 5, 12), unit=Unit.MMOL_L, flag=None, meal=MealContext.FASTING):
    value = mmol if unit is Unit.MMOL_L else round(mmol * 18)
    return GlucoseReading(mmol, value, unit, ULTRA, taken_at=when, meal=meal, range_flag=flag)


def journal_bp(journal, reading, person=PK, session=""):
    return record_measurement(journal, person, reading, assess_bp(reading.systolic, reading.diastolic),
                              session_id=session, station_id=STATION)


def journal_glu(journal, reading, person=PK):
    return record_measurement(journal, person, reading, assess_glucose(reading.mmol_l, reading.meal or MealContext.RANDOM),
                              station_id=STATION)


def outbox_priorities(journal):
    db = sqlite3.connect(journal.path)
    try:
        return dict(db.execute("SELECT record_id, priority FROM outbox").fetchall())
    finally:
        db.close()


def test_the_same_stored_meter_reading_read_twice_is_one_record(journal):
    first, _ = journal_glu(journal, glu())
    again, _ = journal_glu(journal, glu())
    assert again.id == first.id and again.seq == first.seq
    assert journal.count("glucose_measurement") == 1


def test_same_minute_different_values_are_two_records(journal):
    """A minute-stamped monitor without a serial: two people in one minute stay apart."""
    a, _ = journal_bp(journal, bp(128, 82, 71))
    b, _ = journal_bp(journal, bp(141, 92, 80), person="pk-other")
    assert a.id != b.id
    assert journal.count("bp_measurement") == 2


def test_device_sequence_identifies_a_reading_without_time(journal):
    r = bp(when=None, seq=17)
    assert measurement_id(STATION, r) == measurement_id(STATION, r)
    assert measurement_id(STATION, r) != measurement_id(STATION, bp(when=None, seq=18))
    assert measurement_id("st-002", r) != measurement_id(STATION, r)
    journal_bp(journal, r)
    journal_bp(journal, r)
    assert journal.count("bp_measurement") == 1


def test_live_bp_without_time_or_sequence_gets_a_fresh_id_each_time(journal):
    live = bp(when=None, seq=None, device=MAIBOBO)
    assert measurement_id(STATION, live) is None
    a, _ = journal_bp(journal, live)
    b, _ = journal_bp(journal, live)
    assert a.id != b.id
    assert journal.count("bp_measurement") == 2


def test_serial_number_is_part_of_the_identity():
    other = DeviceInfo(driver="onetouch-ultra2", model="OneTouch Ultra 2", serial="ZZZ99999Y")
    r = glu()
    assert measurement_id(STATION, r) != measurement_id(STATION, GlucoseReading(
        r.mmol_l, r.device_value, r.device_unit, other, taken_at=r.taken_at, meal=r.meal))


def test_payload_carries_values_units_device_and_loinc(journal):
    rec, alert = journal_bp(journal, bp(150, 95, 88), session="sess-1")
    p = rec.payload
    assert isinstance(p, BpMeasurement) and alert is None
    assert (p.systolic, p.diastolic, p.pulse, p.unit, p.pulse_unit) == (150, 95, 88, Unit.MMHG, Unit.PER_MIN)
    assert (p.category, p.grade, p.urgent) == ("bp_grade1", 1, False)
    assert (p.device_driver, p.device_model, p.device_time) == ("omron-hbp9030", "Omron HBP-9030",
                                                               datetime(2025, 3, 1, 9, 30))
    assert (p.loinc_panel, p.loinc_systolic, p.loinc_diastolic, p.loinc_pulse) == (
        "85354-9", "8480-6", "8462-4", "8867-4")
    assert p.session_id == "sess-1"
    assert journal.get(rec.id).payload == p


def test_urgent_bp_creates_an_alert_sent_first(journal):
    normal, _ = journal_bp(journal, bp(118, 76, 70))
    rec, alert = journal_bp(journal, bp(186, 112, 90, when=datetime(2025, 3, 1, 9, 31)))
    assert isinstance(alert.payload, HealthAlert)
    assert alert.payload.measurement_id == rec.id
    assert alert.payload.person_key == PK and alert.payload.category == "bp_grade3"
    assert alert.payload.values == "186/112 mm[Hg]"
    prio = outbox_priorities(journal)
    assert prio[alert.id] == ALERT_PRIORITY == 10
    assert prio[rec.id] == 0 and prio[normal.id] == 0
    # A re-read returns the same alert instead of writing a second one.
    _, again = journal_bp(journal, bp(186, 112, 90, when=datetime(2025, 3, 1, 9, 31)))
    assert again.id == alert.id and journal.count("health_alert") == 1


@pytest.mark.parametrize("mmol, flag, urgent, shown", [
    (2.8, None, True, "2.8 mmol/L"), (16.7, None, True, "16.7 mmol/L"), (16.6, None, False, None),
    (3.9, None, False, None), (33.3, RangeFlag.HIGH, True, ">33.3 mmol/L"), (1.1, RangeFlag.LOW, True, "<1.1 mmol/L"),
])
def test_glucose_alert_thresholds(journal, mmol, flag, urgent, shown):
    rec, alert = journal_glu(journal, glu(mmol, flag=flag))
    assert rec.payload.urgent is urgent
    assert (alert is not None) is urgent
    if urgent:
        assert alert.payload.values == shown


def test_recent_measurements_newest_last_per_person_and_kind(journal):
    start = datetime(2025, 1, 1, 9, 0)
    for i in range(12):
        journal_bp(journal, bp(120 + i, 80, 70, when=start + timedelta(days=i)))
    journal_bp(journal, bp(170, 100, 80, when=start), person="pk-someone-else")
    journal_glu(journal, glu())
    recent = recent_measurements(journal, PK, "bp", limit=10)
    assert [r.payload.systolic for r in recent] == list(range(122, 132))
    assert all(r.payload.person_key == PK for r in recent)
    assert [r.kind for r in recent_measurements(journal, PK, "glucose")] == ["glucose_measurement"]
    with pytest.raises(NotAMeasurement):
        recent_measurements(journal, PK, "weight")


def test_fhir_bp_observation(journal):
    rec, _ = journal_bp(journal, bp(128, 82, 71))
    obs = to_fhir_observation(rec)
    json.dumps(obs)   # JSON-ready
    assert obs["resourceType"] == "Observation" and obs["status"] == "final" and obs["id"] == rec.id
    assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "85354-9",
                                        "display": "Blood pressure panel"}
    comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
    assert comps["8480-6"] == {"value": 128, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                               "code": "mm[Hg]"}
    assert comps["8462-4"]["value"] == 82 and comps["8462-4"]["code"] == "mm[Hg]"
    assert comps["8867-4"]["value"] == 71 and comps["8867-4"]["code"] == "/min"
    assert obs["subject"] == {"identifier": {"system": PERSON_KEY_SYSTEM, "value": PK}}
    assert obs["effectiveDateTime"].startswith("2025-03-01T09:30:00")
    assert obs["effectiveDateTime"][19] in "+-Z"
    assert "Omron HBP-9030" in obs["device"]["display"]
    assert obs["interpretation"][0]["text"] == "Blood pressure a little high"
    assert obs["interpretation"][0]["coding"][0]["code"] == "bp_high_normal"
    assert obs["note"] == [{"text": "screening, not diagnosis"}]


def test_fhir_bp_without_pulse_has_two_components(journal):
    rec, _ = journal_bp(journal, bp(128, 82, None))
    assert [c["code"]["coding"][0]["code"] for c in to_fhir_observation(rec)["component"]] == ["8480-6", "8462-4"]


def test_fhir_glucose_codes_follow_the_meter_unit(journal):
    mmol_rec, _ = journal_glu(journal, glu(7.8))
    obs = to_fhir_observation(mmol_rec)
    assert obs["code"]["coding"][0]["code"] == "14743-9"
    assert obs["valueQuantity"]["value"] == 7.8 and obs["valueQuantity"]["code"] == "mmol/L"
    assert "SN QAZ12345Y" in obs["device"]["display"]
    mg_rec, _ = journal_glu(journal, glu(7.8, unit=Unit.MG_DL, when=datetime(2025, 3, 1, 12, 0)))
    obs = to_fhir_observation(mg_rec)
    assert obs["code"]["coding"][0]["code"] == "41653-7"
    assert obs["valueQuantity"]["value"] == 140 and obs["valueQuantity"]["code"] == "mg/dL"
    hi, _ = journal_glu(journal, glu(33.3, flag=RangeFlag.HIGH, when=datetime(2025, 3, 1, 13, 0)))
    assert to_fhir_observation(hi)["valueQuantity"]["comparator"] == ">"


def test_fhir_refuses_other_records(journal):
    rec, alert = journal_bp(journal, bp(190, 100, 80))
    with pytest.raises(NotAMeasurement):
        to_fhir_observation(alert)
    with pytest.raises(NotAMeasurement):
        record_measurement(journal, PK, object(), assess_bp(120, 80), station_id=STATION)


# -- hypothesis: any valid reading journals and round-trips -------------------------------------

times = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
seqs = st.one_of(st.none(), st.integers(0, 2**31))
devices = st.builds(DeviceInfo, driver=st.sampled_from(["maibobo", "omron-hbp9030", "astm", "sd-codefree"]),
                    model=st.text(min_size=1, max_size=20), serial=st.one_of(st.none(), st.text(max_size=12)))
bp_readings = st.builds(
    lambda s, d, p, dev, t, q: BloodPressureReading(s, d, p, dev, taken_at=t, device_seq=q),
    st.integers(60, 260), st.integers(30, 215), st.one_of(st.none(), st.integers(40, 180)), devices, times, seqs)
glu_readings = st.builds(
    lambda mg, unit, dev, t, q, meal, flag: GlucoseReading(
        round(mg / 18, 1), float(mg) if unit is Unit.MG_DL else round(mg / 18, 1), unit, dev,
        taken_at=t, device_seq=q, meal=meal, range_flag=flag),
    st.integers(20, 600), st.sampled_from([Unit.MG_DL, Unit.MMOL_L]), devices, times, seqs,
    st.one_of(st.none(), st.sampled_from(list(MealContext))), st.one_of(st.none(), st.sampled_from(list(RangeFlag))))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reading=st.one_of(bp_readings, glu_readings))
def test_any_valid_reading_journals_and_round_trips(journal, reading):
    if isinstance(reading, BloodPressureReading):
        assessment = assess_bp(reading.systolic, reading.diastolic)
    else:
        assessment = assess_glucose(reading.mmol_l, reading.meal or MealContext.RANDOM)
    rec, alert = record_measurement(journal, PK, reading, assessment, station_id=STATION)
    stored = journal.get(rec.id)
    assert stored.payload == rec.payload
    assert payload_from_dict(rec.kind, json.loads(json.dumps(payload_to_dict(rec.payload)))) == rec.payload
    assert (alert is not None) == assessment.urgent
    if isinstance(reading, BloodPressureReading):
        assert (stored.payload.systolic, stored.payload.diastolic) == (reading.systolic, reading.diastolic)
    else:
        assert isinstance(stored.payload, GlucoseMeasurement)
        assert stored.payload.mmol_l == reading.mmol_l and stored.payload.device_unit is reading.device_unit
    if reading.taken_at is not None or reading.device_seq is not None:
        again, _ = record_measurement(journal, PK, reading, assessment, station_id=STATION)
        assert again.id == rec.id
    obs = to_fhir_observation(Record(stored.id, STATION, stored.seq, stored.kind, stored.created_at, stored.payload))
    json.dumps(obs)
    assert obs["subject"]["identifier"]["value"] == PK


def test_build_slip_in_chinese(journal):
    from kiosk.health_records import build_slip
    rec, _ = journal_bp(journal, bp(128, 82, 71))
    slip = build_slip(rec, station_name="示范市民驿站", masked_name="王*明")
    assert slip.readings == ("血压 128/82 毫米汞柱", "脉搏 71 次/分")     # one unit form per language
    assert slip.time == "2025-03-01 09:30" and slip.name == "王*明"
    assert slip.title == "血压偏高（正常高值）" and "诊断" in slip.note and slip.advice and slip.advice.isascii() is False
    glu_rec, _ = journal_glu(journal, glu(6.2))
    assert build_slip(glu_rec, station_name="站", masked_name="李*").readings == ("血糖 6.2 毫摩尔/升（空腹）",)
    en = build_slip(glu_rec, station_name="s", masked_name="L*", lang="en")
    assert en.readings == ("Blood sugar 6.2 mmol/L (fasting)",) and en.title == "Fasting blood sugar a little high"
