"""Check-in, check-out and the cut-off sweep of open shifts (part of :class:`~kiosk.timebank.service.TimeBank`).
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal

from kiosk.privacy import mask_name
from kiosk.records import Record
from kiosk.roster import Volunteer
from kiosk.session import Person
from kiosk.timebank.errors import (
    AlreadyCheckedIn,
    InvalidDuration,
    NotCheckedIn,
    UnknownService,
    UnknownTeam,
)
from kiosk.timebank.kinds import (
    ISSUED,
    NAMESPACE,
    VolunteerCheckIn,
    VolunteerCheckOut,
    volunteer_account,
)
from kiosk.timebank.results import (
    CheckedIn,
    CheckedInElsewhere,
    CheckedOut,
    Ignored,
    NeedsCheckIn,
    NotAVolunteer,
    TapResult,
)
from kiosk.timebank.rules import hours_for_minutes

log = logging.getLogger(__name__)

#: One sweep at a time in this process (it runs on a worker thread every few minutes).
_SWEEP_LOCK = threading.Lock()
#: meta key: every check-in up to this seq is closed.
_SWEEP_MARK = "volunteer.sweep_mark"


class ShiftsMixin:
    """Taps and shifts; needs the attributes :class:`TimeBank` sets up."""

    def tap(self, person: Person) -> TapResult:
        """A volunteer tapped their card on the volunteer screen.

        Returns:
            ``NeedsCheckIn`` (no open shift), ``CheckedOut`` (their open shift here was closed),
            ``Ignored`` (second tap within the window), ``CheckedInElsewhere`` (open at another station
            per the hub) or ``NotAVolunteer``.

        Raises:
            InvalidDuration: the open shift cannot be measured (clock changed across a restart);
                it stays open and is auto-closed for review at the cut-off.
        """
        v = self._volunteer(person)
        if v is None:
            return NotAVolunteer(person.person_key)
        ignored = self._double_tap(v.id)
        if ignored:
            return ignored
        if self._open_shift(v.id):
            return self.check_out(person)
        remote = self._remote_open(v.id)
        if remote:
            return remote
        cat = self.catalog()
        default = v.teams[0] if v.teams else cat.teams[0].id
        return NeedsCheckIn(v.id, mask_name(v.name), cat.teams, tuple(cat.activities), default)

    def _double_tap(self, volunteer_id: str) -> Ignored | None:
        if self.rules.double_tap_s <= 0:
            return None
        last_in = self.journal.records("volunteer_check_in", where={"volunteer_id": volunteer_id},
                                       newest_first=True, limit=1)
        last_out = self.journal.records("volunteer_check_out", where={"volunteer_id": volunteer_id},
                                        newest_first=True, limit=1)
        last = max(last_in + last_out, key=lambda r: r.seq, default=None)
        if last is None or getattr(last.payload, "auto_closed", False):
            return None
        mono = getattr(last.payload, "mono_s", None) if isinstance(last.payload, VolunteerCheckIn) else \
            self._meta_mono(last.id)
        if mono is not None and self._same_boot(last):
            elapsed = self._mono() - mono
        else:
            elapsed = (self._clock() - last.created_at).total_seconds()
        if 0 <= elapsed < self.rules.double_tap_s:
            action = "check_in" if isinstance(last.payload, VolunteerCheckIn) else "check_out"
            return Ignored(volunteer_id, action, last.created_at)
        return None

    def _same_boot(self, rec: Record) -> bool:
        if isinstance(rec.payload, VolunteerCheckIn):
            return bool(self.boot_id) and rec.payload.boot_id == self.boot_id
        return bool(self.boot_id) and self.journal.get_meta(f"volunteer.out_boot.{rec.id}") == self.boot_id

    def _meta_mono(self, record_id: str) -> float | None:
        value = self.journal.get_meta(f"volunteer.out_mono.{record_id}")
        return float(value) if value is not None else None

    def _remote_open(self, volunteer_id: str) -> CheckedInElsewhere | None:
        shift = self._hub_entry(volunteer_id).get("open_shift")
        if not isinstance(shift, dict) or shift.get("station") in (None, self.station_id):
            return None
        try:
            since = datetime.fromisoformat(str(shift["since"]))
            shift_id = str(shift["shift_id"])
        except (KeyError, ValueError):
            log.warning("hub open_shift of %s is malformed; ignored", volunteer_id)
            return None
        if since.tzinfo is None or self._closed(shift_id):
            return None
        return CheckedInElsewhere(volunteer_id, str(shift["station"]), since, shift_id)

    def check_in(self, person: Person, team: str, activity: str) -> CheckedIn:
        """Start a shift for a team and activity.

        Raises:
            NotRegistered, AlreadyCheckedIn, UnknownTeam, UnknownService (activity).
        """
        v = self._require(person)
        cat = self.catalog()
        if cat.team(team) is None and team not in self._roster().teams:
            raise UnknownTeam(f"team {team!r} is not in the catalog")
        if activity not in {a.id for a in cat.activities}:
            raise UnknownService(f"activity {activity!r} is not in the catalog")
        if self._open_shift(v.id):
            raise AlreadyCheckedIn(f"volunteer {v.id} already has an open shift")
        now = self._clock()
        payload = VolunteerCheckIn(shift_id=str(uuid.uuid4()), volunteer_id=v.id, person_key=v.person_key or
                                   person.person_key, team=team, activity=activity, at=now, mono_s=self._mono(),
                                   boot_id=self.boot_id, source=person.source)
        self.journal.append(payload, created_at=now)
        return CheckedIn(payload.shift_id, now, team, self._team_name(team), activity)

    def check_out(self, person: Person) -> CheckedOut:
        """End the volunteer's open shift here, or the one the hub says is open at another station.

        Raises:
            NotRegistered, NotCheckedIn, InvalidDuration (negative or absurd; the shift stays open).
        """
        v = self._require(person)
        now = self._clock()
        rec = self._open_shift(v.id)
        if rec is not None:
            cin: VolunteerCheckIn = rec.payload
            wall_s = (now - cin.at).total_seconds()
            clock, changed = "wall", False
            seconds = wall_s
            if self.boot_id and cin.boot_id == self.boot_id:
                seconds = self._mono() - cin.mono_s
                clock = "monotonic"
                changed = abs(wall_s - seconds) > 120     # the wall clock was set while the shift ran
            return self._close(cin.shift_id, v, cin.team, cin.activity, cin.at, now, seconds, clock, changed,
                               self.station_id)
        remote = self._remote_open(v.id)
        if remote is None:
            raise NotCheckedIn(f"volunteer {v.id} has no open shift")
        entry = self._hub_entry(v.id).get("open_shift", {})
        return self._close(remote.shift_id, v, str(entry.get("team", "")), str(entry.get("activity", "")),
                           remote.since, now, (now - remote.since).total_seconds(), "wall", False, remote.station)

    def _earned_today(self, volunteer_id: str, day: date) -> Decimal:
        total = Decimal(0)
        for r in self.journal.records("volunteer_check_out", where={"volunteer_id": volunteer_id},
                                      newest_first=True, limit=200):
            if self._local(r.payload.since).date() == day:
                total += Decimal(str(r.payload.hours))
        return total

    def _close(self, shift_id: str, v: Volunteer, team: str, activity: str, since: datetime, until: datetime,
               seconds: float, clock: str, changed: bool, check_in_station: str) -> CheckedOut:
        if seconds < 0:
            raise InvalidDuration(f"the shift would last {seconds:.0f} s (clock changed?); it stays open")
        minutes = int(seconds // 60)
        proposed = hours_for_minutes(minutes, self.rules)
        room = max(Decimal(0), self.rules.daily_cap_hours - self._earned_today(v.id, self._local(since).date()))
        hours = min(proposed, room)
        hours = (hours * 2).to_integral_value(ROUND_FLOOR) / 2
        payload = VolunteerCheckOut(
            shift_id=shift_id, volunteer_id=v.id, person_key=v.person_key, team=team, activity=activity, since=since,
            until=until, raw_minutes=minutes, hours=float(hours), rule=self.rules.describe(), clock=clock,
            proposed_hours=float(proposed), capped=hours < proposed, clock_changed=changed,
            check_in_station=check_in_station)
        res = self.journal.append(payload, record_id=str(uuid.uuid5(NAMESPACE, f"out:{shift_id}:{self.station_id}")),
                                  created_at=until)
        self.journal.set_meta(f"volunteer.out_mono.{res.record.id}", repr(self._mono()))
        self.journal.set_meta(f"volunteer.out_boot.{res.record.id}", self.boot_id)
        if hours > 0:
            self._move("earn", ISSUED, volunteer_account(v.id), hours, shift_id, "shift", team,
                       movement_id=str(uuid.uuid5(NAMESPACE, f"earn:{shift_id}")))
        return CheckedOut(shift_id, v.id, float(hours), since, until, minutes, team, float(proposed),
                          hours < proposed, False, changed, res.record.id)

    def auto_close_open_shifts(self, now: datetime | None = None) -> list[CheckedOut]:
        """Close every shift still open at its day's cut-off with the default hours, flagged for review.

        Nothing is credited: the hub credits the hours once staff reviewed the shift.
        """
        if not _SWEEP_LOCK.acquire(blocking=False):
            log.info("a sweep of open shifts is still running; this one is skipped")
            return []
        try:
            return self._sweep(now or self._clock())
        finally:
            _SWEEP_LOCK.release()

    def _sweep(self, now: datetime) -> list[CheckedOut]:
        # Check-ins up to the mark are all closed: each sweep reads only those after it (today's),
        # and moves the mark past every closed one at the front.
        hh, mm = self.rules.cutoff_time()
        closed = []
        mark = int(self.journal.get_meta(_SWEEP_MARK, "0") or 0)
        new_mark, front = mark, True
        for rec in self.journal.each("volunteer_check_in", after_seq=mark):
            cin: VolunteerCheckIn = rec.payload
            local = self._local(cin.at)
            cut = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
            if cut <= local:
                cut += timedelta(days=1)
            if self._closed(cin.shift_id):
                if front:
                    new_mark = rec.seq
                continue
            if now < cut:
                front = False
                continue
            minutes = max(0, int((cut - cin.at).total_seconds() // 60))
            payload = VolunteerCheckOut(
                shift_id=cin.shift_id, volunteer_id=cin.volunteer_id, person_key=cin.person_key, team=cin.team,
                activity=cin.activity, since=cin.at, until=cut.astimezone(timezone.utc), raw_minutes=minutes,
                hours=0.0, rule=self.rules.describe(), clock="default", needs_review=True, auto_closed=True,
                proposed_hours=float(self.rules.auto_close_hours), check_in_station=self.station_id)
            res = self.journal.append(payload, record_id=str(uuid.uuid5(NAMESPACE,
                                                                        f"out:{cin.shift_id}:{self.station_id}")),
                                      created_at=now)
            closed.append(CheckedOut(cin.shift_id, cin.volunteer_id, 0.0, cin.at, payload.until, minutes, cin.team,
                                     payload.proposed_hours, False, True, False, res.record.id))
            if front:
                new_mark = rec.seq
        if new_mark != mark:
            self.journal.set_meta(_SWEEP_MARK, str(new_mark))
        if closed:
            log.info("auto-closed %d open shift(s) at the cut-off; they need review at the hub", len(closed))
        return closed
