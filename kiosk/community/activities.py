"""近期活动: the hub's ``calendar`` document (title, place, time, capacity, stations); residents sign up
or cancel by card, a full activity takes a waitlist, a card tap at the event marks attendance.

Seats are pooled across stations: the hub's ``requests`` document carries, per activity, the
sign-ups it holds from each station; a kiosk adds its own and counts the others' from the hub.
Whether a sign-up holds a seat or waits is decided by order: the first ``capacity`` active
sign-ups (other stations' first) hold seats.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from kiosk.community.errors import NotIdentified, RequestError
from kiosk.community.kinds import event_id
from kiosk.i18n import N_
from kiosk.journal import Journal
from kiosk.records import record_kind
from kiosk.session import Person

log = logging.getLogger(__name__)

#: Attendance can be taken from this long before the start until the end.
CHECK_IN_EARLY = timedelta(minutes=30)
#: The kiosk lists activities starting within this window.
AHEAD = timedelta(days=7)


class ActivityError(RequestError):
    """Base of the activity errors."""

    message = N_("The sign-up could not be recorded. Please ask the staff.")


class UnknownActivity(ActivityError):
    """The activity is not in the calendar for this station."""

    message = N_("This activity is not in the calendar any more.")


class AlreadySignedUp(ActivityError):
    """The person signed up before."""

    message = N_("You are already signed up for this activity.")


class NotSignedUp(ActivityError):
    """Cancelling or attending without a sign-up."""

    message = N_("You are not signed up for this activity.")


class TooLate(ActivityError):
    """Signing up for, or cancelling, an activity that has started."""

    message = N_("This activity has already started; it cannot be changed now.")


class NotNow(ActivityError):
    """Attendance outside the activity's time."""

    message = N_("Attendance is taken from half an hour before the start until the end.")


@record_kind("activity_signup")
@dataclass(frozen=True)
class ActivitySignup:
    """A resident signed up (``waitlisted``: the activity was full at that moment)."""

    activity_id: str
    person_key: str
    display_name: str
    waitlisted: bool = False


@record_kind("activity_cancelled")
@dataclass(frozen=True)
class ActivityCancelled:
    """A resident cancelled their sign-up before the start."""

    activity_id: str
    person_key: str


@record_kind("activity_attended")
@dataclass(frozen=True)
class ActivityAttended:
    """A card tap at the event: the resident came."""

    activity_id: str
    person_key: str


@dataclass(frozen=True)
class Activity:
    """One calendar entry as the kiosk shows it."""

    id: str
    title: str
    place: str
    start: datetime
    end: datetime
    capacity: int
    taken: int = 0           # seats held (all stations)
    waiting: int = 0         # sign-ups beyond capacity
    mine: str = ""           # "" | "seat" | "waitlist" | "attended"

    @property
    def full(self) -> bool:
        """No seat left."""
        return self.taken >= self.capacity


def parse_calendar(body: dict[str, Any] | None, station: str) -> list[dict[str, Any]]:
    """The calendar entries for ``station`` (an entry without ``stations`` is for every station)."""
    out = []
    for a in (body or {}).get("activities", []) if isinstance(body, dict) else []:
        stations = a.get("stations")
        if isinstance(stations, list) and stations and station not in stations:
            continue
        try:
            out.append({**a, "start": datetime.fromisoformat(a["start"]), "end": datetime.fromisoformat(a["end"])})
        except (KeyError, TypeError, ValueError):
            log.warning("calendar entry %r is malformed; skipped", a.get("id"))
    return out


class Activities:
    """Sign-ups, cancellations and attendance of one station.

    Args:
        journal: the station's journal.
        documents: returns the current downlink documents (``kiosk.documents.current_documents``).
        clock: aware wall time (default UTC now).
    """

    def __init__(self, journal: Journal, documents, clock=None) -> None:
        self.journal = journal
        self.station_id = journal.station_id
        self._docs = documents
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def _entries(self) -> dict[str, dict[str, Any]]:
        cal = (self._docs().get("calendar") or {}).get("body")
        return {a["id"]: a for a in parse_calendar(cal, self.station_id)}

    def _pooled(self) -> dict[str, dict[str, Any]]:
        body = (self._docs().get("requests") or {}).get("body") or {}
        return {a["id"]: a for a in body.get("activities", []) if isinstance(a, dict) and isinstance(a.get("id"), str)}

    def _active(self, activity_id: str) -> list[str]:
        """This station's active sign-ups (person keys) in order."""
        cancelled: dict[str, int] = {}
        for r in self.journal.records("activity_cancelled", where={"activity_id": activity_id}, limit=100_000):
            cancelled[r.payload.person_key] = cancelled.get(r.payload.person_key, 0) + 1
        out = []
        for r in self.journal.records("activity_signup", where={"activity_id": activity_id}, limit=100_000):
            key = r.payload.person_key
            if cancelled.get(key):
                cancelled[key] -= 1
            else:
                out.append(key)
        return out

    def _view(self, a: dict[str, Any], person: Person | None, pooled: dict[str, dict[str, Any]]) -> Activity:
        others = sum(n for st, n in (pooled.get(a["id"], {}).get("signed") or {}).items()
                     if st != self.station_id and isinstance(n, int))
        local = self._active(a["id"])
        total = others + len(local)
        mine = ""
        if person is not None and person.person_key in local:
            attended = self.journal.records("activity_attended", where={"activity_id": a["id"],
                                                                         "person_key": person.person_key}, limit=1)
            mine = "attended" if attended else \
                "seat" if others + local.index(person.person_key) < a["capacity"] else "waitlist"
        return Activity(a["id"], a["title"], a.get("place", ""), a["start"], a["end"], a["capacity"],
                        min(total, a["capacity"]), max(0, total - a["capacity"]), mine)

    def upcoming(self, person: Person | None = None) -> list[Activity]:
        """This week's activities (not ended yet), soonest first, with seats and the person's status."""
        now = self._clock()
        pooled = self._pooled()
        return sorted((self._view(a, person, pooled) for a in self._entries().values()
                       if a["end"] > now and a["start"] < now + AHEAD), key=lambda v: v.start)

    def _find(self, activity_id: str, person: Person | None) -> Activity:
        if person is None or not person.person_key:
            raise NotIdentified("an identified person is needed")
        entry = self._entries().get(activity_id)
        if entry is None:
            raise UnknownActivity(activity_id)
        return self._view(entry, person, self._pooled())

    def sign_up(self, person: Person | None, activity_id: str) -> Activity:
        """Sign up; a full activity puts the person on its waitlist.

        Raises:
            NotIdentified, UnknownActivity, AlreadySignedUp, TooLate.
        """
        view = self._find(activity_id, person)
        if view.mine:
            raise AlreadySignedUp(activity_id)
        if self._clock() >= view.start:
            raise TooLate(activity_id)
        n = len(self.journal.records("activity_cancelled", where={"activity_id": activity_id,
                                                                  "person_key": person.person_key}, limit=1000))
        self.journal.append(ActivitySignup(activity_id, person.person_key, person.display_name, view.full),
                            record_id=event_id("signup", activity_id, f"{person.person_key}:{n}"),
                            created_at=self._clock())
        return self._find(activity_id, person)

    def cancel(self, person: Person | None, activity_id: str) -> Activity:
        """Cancel a sign-up before the start (the next on the waitlist moves up).

        Raises:
            NotIdentified, UnknownActivity, NotSignedUp, TooLate.
        """
        view = self._find(activity_id, person)
        if view.mine not in ("seat", "waitlist"):
            raise NotSignedUp(activity_id)
        if self._clock() >= view.start:
            raise TooLate(activity_id)
        n = len(self.journal.records("activity_cancelled", where={"activity_id": activity_id,
                                                                  "person_key": person.person_key}, limit=1000))
        self.journal.append(ActivityCancelled(activity_id, person.person_key),
                            record_id=event_id("unsign", activity_id, f"{person.person_key}:{n}"),
                            created_at=self._clock())
        return self._find(activity_id, person)

    def attend(self, person: Person | None, activity_id: str) -> Activity:
        """A card tap at the event marks attendance (once; a second tap changes nothing).

        Raises:
            NotIdentified, UnknownActivity, NotSignedUp, NotNow.
        """
        view = self._find(activity_id, person)
        if view.mine == "attended":
            return view
        if not view.mine:
            raise NotSignedUp(activity_id)
        now = self._clock()
        if not view.start - CHECK_IN_EARLY <= now <= view.end:
            raise NotNow(activity_id)
        self.journal.append(ActivityAttended(activity_id, person.person_key),
                            record_id=event_id("attend", activity_id, person.person_key), created_at=now)
        return self._find(activity_id, person)
