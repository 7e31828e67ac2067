"""近期活动: the hub's ``calendar`` document (title, place, time, capacity, stations); residents sign up
or cancel by card, a full activity takes a waitlist, a card tap at the event marks attendance.

Seats are pooled across stations: the station's ``requests`` document carries, per activity, the
active sign-ups the hub holds from every station in seat order (``queue``: the order the hub
received them; another station's without a person key); a kiosk adds its own sign-ups the hub has
not received yet, by sign-up time. The first ``capacity`` hold seats. When a seat holder
cancels, the first waiting one moves up (is *promoted*) at every station alike, and learns it at
their next card tap (:meth:`Activities.promotions`).
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


@record_kind("activity_promotion_seen")
@dataclass(frozen=True)
class ActivityPromotionSeen:
    """The kiosk told a resident that their waitlisted sign-up now holds a seat (shown once)."""

    activity_id: str
    person_key: str
    signup_id: str


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
    promoted: bool = False   # signed up on the waitlist, holds a seat now

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

    def _active(self, activity_id: str) -> dict[str, Any]:
        """This station's active sign-ups: person key -> its sign-up record."""
        cancelled: dict[str, int] = {}
        for r in self.journal.records("activity_cancelled", where={"activity_id": activity_id}, limit=100_000):
            cancelled[r.payload.person_key] = cancelled.get(r.payload.person_key, 0) + 1
        out = {}
        for r in self.journal.records("activity_signup", where={"activity_id": activity_id}, limit=100_000):
            key = r.payload.person_key
            if cancelled.get(key):
                cancelled[key] -= 1
            else:
                out[key] = r
        return out

    def _order(self, activity_id: str, pooled: dict[str, dict[str, Any]], local: dict[str, Any]) -> list[str]:
        """Every active sign-up's person key in seat order: the hub's queue (in the order the hub
        received the sign-ups; another station's entries hold their place without a person key),
        then this station's sign-ups the hub has not received yet, by sign-up time."""
        entry = pooled.get(activity_id, {})
        queue = entry.get("queue")
        order: list[str] = []
        if isinstance(queue, list):
            order = [e["key"] for e in queue if isinstance(e, dict) and isinstance(e.get("key"), str)
                     and (e.get("station") != self.station_id or e["key"] in local)]
        else:                     # a hub that sends counts only: other stations' sign-ups come first
            others = sum(n for st, n in (entry.get("signed") or {}).items()
                         if st != self.station_id and isinstance(n, int) and not isinstance(n, bool))
            order = [f"~{i}" for i in range(others)]
        known = set(order)
        order += [key for _at, key in sorted((r.created_at, key) for key, r in local.items() if key not in known)]
        return order

    def _view(self, a: dict[str, Any], person: Person | None, pooled: dict[str, dict[str, Any]]) -> Activity:
        local = self._active(a["id"])
        order = self._order(a["id"], pooled, local)
        total = len(order)
        mine, promoted = "", False
        if person is not None and person.person_key in local:
            attended = self.journal.records("activity_attended", where={"activity_id": a["id"],
                                                                         "person_key": person.person_key}, limit=1)
            seat = order.index(person.person_key) < a["capacity"]
            mine = "attended" if attended else "seat" if seat else "waitlist"
            promoted = seat and local[person.person_key].payload.waitlisted
        return Activity(a["id"], a["title"], a.get("place", ""), a["start"], a["end"], a["capacity"],
                        min(total, a["capacity"]), max(0, total - a["capacity"]), mine, promoted)

    def promotions(self, person: Person | None) -> list[Activity]:
        """The person's upcoming activities where their waitlisted sign-up moved up to a seat and they
        have not been told yet (:meth:`promotion_told`), soonest first."""
        if person is None or not person.person_key:
            return []
        out = []
        for a in self.upcoming(person):
            if a.mine == "seat" and a.promoted and self._clock() < a.start:
                signup = self._active(a.id).get(person.person_key)
                if signup is not None and self.journal.get(event_id("promoted", a.id, signup.id)) is None:
                    out.append(a)
        return out

    def promotion_told(self, person: Person, activity_id: str) -> None:
        """Journal that the kiosk told the person about their promotion (told once: a second call, or
        one for a sign-up that is no longer active, changes nothing)."""
        signup = self._active(activity_id).get(person.person_key)
        if signup is None:
            return
        self.journal.append(ActivityPromotionSeen(activity_id, person.person_key, signup.id),
                            record_id=event_id("promoted", activity_id, signup.id), created_at=self._clock())

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
