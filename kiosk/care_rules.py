"""The screening-to-care fold: one resident's readings and the care team's actions give a status.

Pure Python (no database, no Kivy): :mod:`hub.care` feeds it a person's records from every station and
stores what it returns; the kiosk folds its own journal with it for the advice on the result screen.
The rules follow 国家基本公共卫生服务规范 and 国家基层高血压防治管理指南 2020:

* Readings count per day in the district's time zone: a day's blood pressure is the mean of its
  counted readings, elevated at systolic ≥ 140 and/or diastolic ≥ 90 mmHg; a day's glucose is
  elevated when every counted reading of the day is in the kiosk's ``glu_high`` / ``glu_very_high``
  categories (fasting ≥ 7.0, two hours after a meal or random ≥ 11.1 mmol/L). Readings on the
  same day therefore count once.
* A reading the resident said was taken without rest (``rested`` false) is kept but never counts;
  a reading without the answer (older kiosks) counts.
* The first elevated day starts an episode: ``recheck_due``; a second elevated day ``two_of_three``;
  a third ``referral_suggested``. A normal day before the third resets the run (the episode ends
  without a finding). Once three are reached, later readings change nothing until the care team acts.
* The care team records ``referred`` (status ``referred``, outcome due within
  :data:`FOLLOW_UP_DAYS` days) and then an outcome (``confirmed`` — managed elsewhere;
  ``not_confirmed``; ``unreachable``), which ends the episode: ``outcome_recorded``. After
  ``confirmed`` the resident is managed and no new episode starts; after the other two, elevated
  days after the outcome start a new one.

Everything is computed from the whole history each time, sorted by date, so records arriving late,
twice or out of order from several stations give the same status.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

#: Statuses, in the order a resident moves through them.
NORMAL, RECHECK_DUE, TWO_OF_THREE, REFERRAL_SUGGESTED, REFERRED, OUTCOME_RECORDED = (
    "normal", "recheck_due", "two_of_three", "referral_suggested", "referred", "outcome_recorded")
STATUSES = (NORMAL, RECHECK_DUE, TWO_OF_THREE, REFERRAL_SUGGESTED, REFERRED, OUTCOME_RECORDED)
#: Outcomes of a referral the care team can record.
OUTCOMES = ("confirmed", "not_confirmed", "unreachable")
#: Statuses on the care worklist.
WORKLIST = (REFERRAL_SUGGESTED, REFERRED)
#: A recheck is due from the day after an elevated day, overdue this many days later.
RECHECK_WITHIN_DAYS = 28
#: A suggested referral should be made, and a referral's outcome known, within this many days.
FOLLOW_UP_DAYS = 14
#: Blood-pressure thresholds of an elevated day (mmHg).
SYSTOLIC_FROM, DIASTOLIC_FROM = 140, 90
#: Glucose categories that are elevated (kiosk.health).
GLUCOSE_ELEVATED = frozenset({"glu_high", "glu_very_high"})
#: Tracks: a resident has one status per kind of screening.
TRACKS = ("bp", "glucose")


@dataclass(frozen=True)
class Reading:
    """One stored measurement as the fold sees it."""

    station: str
    record_id: str
    ts: str
    day: date
    track: str
    counted: bool
    systolic: int | None = None
    diastolic: int | None = None
    mmol_l: float | None = None
    category: str = ""


@dataclass(frozen=True)
class Action:
    """A care-team action at the hub: ``referred`` or ``outcome`` (with one of :data:`OUTCOMES`)."""

    event: str
    day: date
    at: str
    outcome: str = ""


@dataclass(frozen=True)
class Step:
    """One step of an episode for the report: ``elevated``, ``rechecked``, ``referral_suggested``,
    ``referred``, ``outcome`` (``on_time``: the outcome within FOLLOW_UP_DAYS of the referral)."""

    step: str
    day: date
    station: str
    on_time: bool = False


@dataclass
class Status:
    """A resident's status on one track.

    Attributes:
        status: one of :data:`STATUSES`.
        station: where the current episode started (its first elevated reading), or "".
        since: the day the status was reached (None when normal).
        due: the recheck's first day (recheck_due, two_of_three) or the day the next action is due.
        count: elevated days in the current episode (0-3).
        outcome: the last recorded outcome, if any.
        steps: every step of every episode, oldest first (each counted once).
        readings: the readings that led to the current status (the episode's counted elevated ones).
    """

    status: str = NORMAL
    station: str = ""
    since: date | None = None
    due: date | None = None
    count: int = 0
    outcome: str = ""
    steps: list[Step] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)

    def overdue(self, today: date) -> bool:
        """True when the status's due day has passed (a recheck, a referral or an outcome is late)."""
        if self.status in (RECHECK_DUE, TWO_OF_THREE):
            return self.due is not None and today > self.due + timedelta(days=RECHECK_WITHIN_DAYS)
        return self.status in WORKLIST and self.due is not None and today > self.due


_RANK = {"referred": 0, "outcome": 1}


def _day_elevated(track: str, readings: list[Reading]) -> bool:
    if track == "bp":
        n = len(readings)
        sys_mean = sum(r.systolic or 0 for r in readings) / n
        dia_mean = sum(r.diastolic or 0 for r in readings) / n
        return sys_mean >= SYSTOLIC_FROM or dia_mean >= DIASTOLIC_FROM
    return all(r.category in GLUCOSE_ELEVATED for r in readings)


def fold(track: str, readings: list[Reading], actions: list[Action]) -> Status:
    """The status of one track from all of a resident's readings and care actions (any order).

    Args:
        track: ``bp`` or ``glucose``.
        readings: every stored reading of this track (duplicates by record id are counted once).
        actions: the care team's actions on this track.
    """
    by_day: dict[date, dict[str, Reading]] = {}
    for r in readings:
        if r.track == track and r.counted:
            by_day.setdefault(r.day, {})[r.record_id] = r
    days = [(d, sorted(rs.values(), key=lambda r: (r.ts, r.station, r.record_id))) for d, rs in by_day.items()]
    # One timeline: each day's readings, then the actions of that day.
    timeline: list[tuple[date, int, object]] = [(d, 0, rs) for d, rs in days]
    # Within a day: readings, then actions by time; a referral before an outcome recorded in the same second.
    timeline += [(a.day, 1, a) for a in actions]
    timeline.sort(key=lambda t: (t[0], t[1], getattr(t[2], "at", ""), _RANK.get(getattr(t[2], "event", ""), 2),
                                 getattr(t[2], "outcome", "")))
    out = Status()
    run: list[tuple[date, list[Reading]]] = []
    referred: date | None = None
    managed = False

    def close(outcome: str = "") -> None:
        nonlocal run, referred
        run, referred = [], None
        if outcome:
            out.outcome = outcome

    for day, order, item in timeline:
        if order == 0:
            rs: list[Reading] = item  # type: ignore[assignment]
            if managed:
                continue
            if _day_elevated(track, rs):
                if len(run) < 3:
                    run.append((day, rs))
                    step = ("elevated", "rechecked", "referral_suggested")[len(run) - 1]
                    out.steps.append(Step(step, day, run[0][1][0].station))
            elif len(run) < 3 and referred is None:
                close()
            continue
        action: Action = item  # type: ignore[assignment]
        if not run or managed:
            continue
        home = run[0][1][0].station
        if action.event == "referred" and referred is None:
            referred = day
            out.steps.append(Step("referred", day, home))
        elif action.event == "outcome" and action.outcome in OUTCOMES:
            on_time = referred is not None and (day - referred).days <= FOLLOW_UP_DAYS
            out.steps.append(Step("outcome", day, home, on_time))
            managed = action.outcome == "confirmed"
            close(action.outcome)
            out.status, out.since, out.station = OUTCOME_RECORDED, day, home
    if run:
        out.station = run[0][1][0].station
        out.count = len(run)
        out.readings = [r for _, rs in run for r in rs]
        last = run[-1][0]
        if referred is not None:
            out.status, out.since, out.due = REFERRED, referred, referred + timedelta(days=FOLLOW_UP_DAYS)
        elif len(run) == 3:
            out.status, out.since, out.due = REFERRAL_SUGGESTED, last, last + timedelta(days=FOLLOW_UP_DAYS)
        else:
            out.status = RECHECK_DUE if len(run) == 1 else TWO_OF_THREE
            out.since, out.due = run[0][0], last + timedelta(days=1)
    elif out.status != OUTCOME_RECORDED:
        out.status = NORMAL
    return out
