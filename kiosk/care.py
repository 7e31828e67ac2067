"""Screening to care at the kiosk: the recheck advice after a reading, and the care-sharing consent.

After a measurement the kiosk folds the resident's readings in its own journal (all of the
person's keys) with the hub's rules (:mod:`kiosk.care_rules`): a first elevated day asks for a
recheck on another day, with the date ("请在 12 月 8 日以后再来复测一次，测量前静坐 5 分钟"); a
second names it the last of three; a third says a referral to the family doctor is suggested. The
hub folds every station's readings the same way (``hub/care.py``); the kiosk needs no network for
its advice.

The care-sharing consent (:class:`CareConsent`, record kind ``care_consent``) is separate from the
health-record consent: with it the care team sees the resident on its worklist; without it the hub
only counts them. The newest record wins, so a withdrawal is one more record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from kiosk.care_rules import REFERRAL_SUGGESTED, RECHECK_DUE, TWO_OF_THREE, Reading, fold
from kiosk.health_records import MEASUREMENT_KINDS, BpMeasurement
from kiosk.i18n import N_, Msg, Text
from kiosk.journal import Journal
from kiosk.records import Record, record_kind

#: The record kind of the care-sharing consent (payload :class:`CareConsent`).
CARE_CONSENT_KIND = "care_consent"
#: How many past readings of a track the advice looks at (a year of monthly checks and more).
HISTORY = 40

RECHECK = N_("Please come back on or after {date} to measure again, recheck {number} of 3. "
             "Sit quietly for 5 minutes before you measure.")
DUE = N_("Your blood pressure recheck ({number} of 3) is due from {date}. Sit quietly for 5 minutes, "
         "then measure.")
OVERDUE = N_("Your blood pressure recheck ({number} of 3) was due from {date}. Please measure again soon: "
             "sit quietly for 5 minutes first.")
GLUCOSE_DUE = N_("Your blood sugar recheck ({number} of 3) is due from {date}.")
#: Printed on the slip: the first digits of the person key, which the care team's workbench searches by.
CARE_CODE = N_("Code for your family doctor: {code}")
REFERRAL = N_("This is your third high reading on different days. Please see your family doctor "
              "for a check-up; the care team may contact you.")


@record_kind(CARE_CONSENT_KIND)
@dataclass(frozen=True)
class CareConsent:
    """The resident agreed (``granted``) or no longer agrees to share their screening status with the
    family-doctor team (家庭医生团队). Nothing else: no phone number, no ID number."""

    person_key: str
    granted: bool


@dataclass(frozen=True)
class Advice:
    """What the result screen, the slip and the voice add after a reading that needs follow-up.

    Attributes:
        status: ``recheck_due``, ``two_of_three`` or ``referral_suggested``.
        due: the first day of the recheck (None for a referral).
        number: which reading of three the next one is (2 or 3; 0 for a referral).
    """

    status: str
    due: date | None
    number: int
    track: str = "bp"
    overdue: bool = False

    def text(self, lang: str) -> Msg:
        """The advice after a reading in plain words, translated (renders again in another language)."""
        if self.due is None:
            return Msg(REFERRAL, lang)
        return Msg(RECHECK, lang, date=DayText(self.due, lang), number=self.number)

    def reminder(self, lang: str) -> Msg:
        """The greeting's reminder at a later card tap, translated (renders again in another language)."""
        if self.due is None:
            return Msg(REFERRAL, lang)
        template = GLUCOSE_DUE if self.track == "glucose" else OVERDUE if self.overdue else DUE
        return Msg(template, lang, date=DayText(self.due, lang), number=self.number)


class DayText(Text):
    """A day as :func:`date_text` writes it, written again in another language by :meth:`to`."""

    day: date

    def __new__(cls, day: date, lang: str) -> DayText:
        obj = super().__new__(cls, date_text(day, lang))
        obj.day = day
        return obj

    def to(self, lang: str) -> DayText:
        return DayText(self.day, lang)


def date_text(day: date, lang: str) -> str:
    """A day as the resident reads it: "12月8日" in Chinese, "8/12"-free "December 8" in English."""
    if lang == "zh_CN":
        return f"{day.month}月{day.day}日"
    return f"{day:%B} {day.day}"


def _reading(record: Record, tz: ZoneInfo) -> Reading:
    p = record.payload
    bp = isinstance(p, BpMeasurement)
    created = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=timezone.utc)
    return Reading(station=record.station_id, record_id=record.id, ts=created.isoformat(),
                   day=created.astimezone(tz).date(), track="bp" if bp else "glucose",
                   counted=getattr(p, "rested", None) is not False,
                   systolic=getattr(p, "systolic", None), diastolic=getattr(p, "diastolic", None),
                   mmol_l=getattr(p, "mmol_l", None), category=p.category)


def advice_after(journal: Journal, keys: tuple[str, ...], record: Record, tz: str = "Asia/Shanghai") -> Advice | None:
    """The follow-up advice after ``record`` (a measurement just journaled), or None when none is due.

    Args:
        keys: all of the person's keys (``Person.keys``).
        tz: the district's time zone (days are counted in it).
    """
    if record.kind not in MEASUREMENT_KINDS.values():
        return None
    zone = ZoneInfo(tz)
    rows = {r.id: r for key in keys for r in journal.records(record.kind, where={"person_key": key},
                                                              newest_first=True, limit=HISTORY)}
    rows[record.id] = record
    readings = [_reading(r, zone) for r in rows.values()]
    track = readings[0].track
    status = fold(track, readings, [])
    today = _reading(record, zone).day
    if status.status == REFERRAL_SUGGESTED and status.since == today:
        return Advice(REFERRAL_SUGGESTED, None, 0)
    if status.status in (RECHECK_DUE, TWO_OF_THREE) and status.readings and status.readings[-1].day == today:
        return Advice(status.status, status.due, status.count + 1)
    return None


def reminder(journal: Journal, keys: tuple[str, ...], now: datetime, tz: str = "Asia/Shanghai") -> Advice | None:
    """What the greeting reminds the resident of at a card tap: a recheck due or overdue (and which of
    three), or a suggested referral; None when nothing is due. From this kiosk's journal."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    for kind in MEASUREMENT_KINDS.values():
        readings = [_reading(r, zone) for key in keys
                    for r in journal.records(kind, where={"person_key": key}, newest_first=True, limit=HISTORY)]
        if not readings:
            continue
        status = fold(readings[0].track, readings, [])
        if status.status == REFERRAL_SUGGESTED:
            return Advice(REFERRAL_SUGGESTED, None, 0, readings[0].track)
        if status.status in (RECHECK_DUE, TWO_OF_THREE) and status.due is not None and today >= status.due:
            return Advice(status.status, status.due, status.count + 1, readings[0].track, status.overdue(today))
    return None


def care_consent(journal: Journal, keys: tuple[str, ...]) -> bool | None:
    """The person's newest care-sharing answer at this kiosk, or None when never asked here."""
    newest: Record | None = None
    for key in keys:
        for r in journal.records(CARE_CONSENT_KIND, where={"person_key": key}, newest_first=True, limit=1):
            if newest is None or r.seq > newest.seq:
                newest = r
    return None if newest is None else bool(newest.payload.granted)


def record_care_consent(journal: Journal, person_key: str, granted: bool,
                        now: datetime | None = None) -> Record:
    """Journal the resident's answer (a withdrawal is ``granted=False``)."""
    return journal.append(CareConsent(person_key=person_key, granted=granted), created_at=now).record
