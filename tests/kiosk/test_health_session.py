"""Health-check day sessions: open, attribute residents, summary counts, resume after a restart."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from drivers.readings import BloodPressureReading, DeviceInfo, GlucoseReading, MealContext, Unit
from kiosk.health import assess_bp, assess_glucose
from kiosk.health_records import HealthSessionClosed, record_measurement
from kiosk.health_session import (HealthCheckSession, NoResident, SessionAlreadyOpen, SessionClosed,
                                  WrongSession)
from kiosk.i18n import catalog
from kiosk.journal import Journal

STATION = "st-007"
STAFF = "pk-staff"
BP = DeviceInfo(driver="omron-hbp9030", model="Omron HBP-9030")
METER = DeviceInfo(driver="astm", model="Contour", serial="7390-2336773")
T0 = datetime(2025, 4, 12, 9, 0)


@pytest.fixture()
def path(tmp_path):
    return tmp_path / "journal.sqlite3"


def bp(sys_, dia, minute):
    r = BloodPressureReading(sys_, dia, 70, BP, taken_at=T0 + timedelta(minutes=minute))
    return r, assess_bp(sys_, dia)


def glu(mmol, minute):
    r = GlucoseReading(mmol, mmol, Unit.MMOL_L, METER, taken_at=T0 + timedelta(minutes=minute),
                       meal=MealContext.FASTING)
    return r, assess_glucose(mmol, MealContext.FASTING)


def test_open_attribute_measure_close_summary(path):
    with Journal(path, STATION) as journal:
        s = HealthCheckSession.open(journal, STAFF, STATION)
        assert s.is_open and s.staff_key == STAFF
        with pytest.raises(NoResident):
            s.record(*bp(120, 80, 0))
        s.attribute("pk-wang")
        s.record(*bp(118, 76, 1))          # normal
        s.record(*glu(6.5, 2))             # fasting 6.5: impaired -> abnormal
        s.attribute("pk-li")
        rec, alert = s.record(*bp(186, 114, 3))   # urgent -> abnormal and urgent
        assert alert is not None and alert.payload.session_id == s.session_id
        assert rec.payload.person_key == "pk-li" and rec.payload.session_id == s.session_id
        s.attribute("pk-zhao")
        s.record(*bp(125, 78, 4))          # high-normal -> abnormal
        s.record(*bp(125, 78, 4))          # the same reading re-read: counted once
        assert (len(s.tally.residents), s.tally.measurements, s.tally.abnormal, s.tally.urgent) == (3, 4, 3, 1)
        # A measurement outside the session does not count.
        record_measurement(journal, "pk-walk-in", *bp(150, 95, 5), station_id=STATION)
        summary = s.close()
        assert isinstance(summary, HealthSessionClosed)
        assert (summary.residents_measured, summary.measurements, summary.abnormal, summary.urgent) == (3, 4, 3, 1)
        stored = journal.records("health_session_closed")
        assert len(stored) == 1 and stored[0].payload == summary
        assert s.close() == summary and journal.count("health_session_closed") == 1
        with pytest.raises(SessionClosed):
            s.attribute("pk-late")
        assert HealthCheckSession.current(journal) is None


def test_only_one_open_session(path):
    with Journal(path, STATION) as journal:
        first = HealthCheckSession.open(journal, STAFF, STATION)
        with pytest.raises(SessionAlreadyOpen):
            HealthCheckSession.open(journal, "pk-other-staff", STATION)
        first.close()
        second = HealthCheckSession.open(journal, "pk-other-staff", STATION)
        assert second.session_id != first.session_id


def test_resume_after_restart_counts_what_came_before(path):
    with Journal(path, STATION) as journal:
        s = HealthCheckSession.open(journal, STAFF, STATION)
        s.attribute("pk-wang")
        s.record(*glu(2.9, 1))             # urgent low
        s.attribute("pk-li")
        s.record(*bp(132, 84, 2))
        sid = s.session_id
    with Journal(path, STATION) as journal:      # the kiosk restarted
        resumed = HealthCheckSession.current(journal, STATION)
        assert resumed is not None and resumed.session_id == sid and resumed.staff_key == STAFF
        assert resumed.resident is None          # the next resident taps again
        assert (len(resumed.tally.residents), resumed.tally.measurements, resumed.tally.urgent) == (2, 2, 1)
        resumed.attribute("pk-zhao")
        resumed.record(*bp(110, 70, 3))
        summary = resumed.close()
        assert (summary.residents_measured, summary.measurements, summary.abnormal, summary.urgent) == (3, 3, 2, 1)
    with Journal(path, STATION) as journal:
        assert HealthCheckSession.current(journal) is None


def test_note_measurement_refuses_other_records(path):
    with Journal(path, STATION) as journal:
        s = HealthCheckSession.open(journal, STAFF, STATION)
        other, alert = record_measurement(journal, "pk-x", *bp(190, 100, 1), station_id=STATION)
        with pytest.raises(WrongSession):
            s.note_measurement(other)
        with pytest.raises(WrongSession):
            s.note_measurement(alert)


def test_session_messages_are_translated():
    zh = catalog("zh_CN")
    assert all(cls.user_message in zh for cls in (NoResident, SessionAlreadyOpen, SessionClosed, WrongSession))
