"""Screening to care at the kiosk: the advice after a reading, the greeting's reminder, the care consent."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from drivers.readings import BloodPressureReading, DeviceInfo
from kiosk.care import advice_after, care_consent, record_care_consent, reminder
from kiosk.care_rules import RECHECK_DUE, REFERRAL_SUGGESTED, TWO_OF_THREE
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.journal import Journal

ANNA, BO = "a1" * 32, "b2" * 32
DAY0 = datetime(2026, 11, 2, 1, 30, tzinfo=timezone.utc)        # 09:30 in Shanghai
DEVICE = DeviceInfo(driver="sim", model="Sim")


def measure(journal: Journal, person: str, days: float, sys_: int, dia: int, rested: bool | None = True):
    reading = BloodPressureReading(sys_, dia, 70, device=DEVICE)
    record, _ = record_measurement(journal, person, reading, assess_bp(sys_, dia), station_id="st-a", rested=rested,
                                   created_at=DAY0 + timedelta(days=days))
    return advice_after(journal, (person,), record)


def test_the_advice_names_the_day_and_the_number_and_the_greeting_reminds_when_due(tmp_path):
    journal = Journal(tmp_path / Journal.FILENAME, "st-a")
    try:
        first = measure(journal, ANNA, 0, 150, 95)
        assert (first.status, first.due, first.number) == (RECHECK_DUE, date(2026, 11, 3), 2)
        assert first.text("zh_CN") == "请在11月3日以后再来复测一次（第2次，共3次），测量前静坐5分钟。"
        assert "November 3" in first.text("en") and "recheck 2 of 3" in first.text("en")
        assert measure(journal, ANNA, 0.1, 152, 96).number == 2                 # the same day counts once
        assert reminder(journal, (ANNA,), DAY0 + timedelta(hours=3)) is None   # not due before tomorrow
        due = reminder(journal, (ANNA,), DAY0 + timedelta(days=1))
        assert (due.number, due.overdue) == (2, False) and "11月3日起" in due.reminder("zh_CN")
        late = reminder(journal, (ANNA,), DAY0 + timedelta(days=40))
        assert late.overdue and "尽快复测" in late.reminder("zh_CN")
        assert measure(journal, ANNA, 2, 170, 60, rested=False) is None        # no rest: kept, does not count
        assert measure(journal, BO, 2, 150, 95).number == 2                     # another card: his own first
        second = measure(journal, ANNA, 2.1, 148, 92)
        assert (second.status, second.number) == (TWO_OF_THREE, 3)
        third = measure(journal, ANNA, 9, 152, 96)
        assert third.status == REFERRAL_SUGGESTED and "家庭医生" in third.text("zh_CN")
        assert reminder(journal, (ANNA,), DAY0 + timedelta(days=10)).status == REFERRAL_SUGGESTED
        assert measure(journal, BO, 3, 118, 76) is None                         # normal: nothing to advise
    finally:
        journal.close()


def test_the_care_consent_is_its_own_answer_and_can_be_withdrawn(tmp_path):
    journal = Journal(tmp_path / Journal.FILENAME, "st-a")
    try:
        assert care_consent(journal, (ANNA,)) is None
        record_care_consent(journal, ANNA, True)
        assert care_consent(journal, (ANNA,)) is True and care_consent(journal, (BO,)) is None
        record_care_consent(journal, ANNA, False)
        assert care_consent(journal, (ANNA,)) is False
        assert [r.payload.granted for r in journal.records("care_consent")] == [True, False]
    finally:
        journal.close()
