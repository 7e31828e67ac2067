"""Service requests at the kiosk: a resident asks, a volunteer claims and marks done, the resident
confirms and rates; banked hours give priority to the volunteer and to their linked family members
(:mod:`kiosk.community.family`) and are recorded as used when the request is done.

The state of a request is this station's own records merged with the hub's ``requests`` document
(staff assignments and cancellations, and events at other stations): the furthest state wins.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from kiosk.community.errors import (
    AlreadyRequested, AlreadyTaken, NothingChosen, NotIdentified, NotRequester, NotYourTask,
    OwnRequest, UnknownRequest, UnknownRequestService, UnknownSlot, WrongState,
)
from kiosk.community.family import Family
from kiosk.community.kinds import (
    ASAP, ASSIGNED, CANCEL_REASONS, CANCELLED, CONFIRMED, DONE, NOT_REQUESTABLE, NOTE_PHRASES,
    REQUEST_SERVICES, REQUESTED, STATE_RANK, RequestCancelled, RequestClaimed, RequestDone,
    ServiceRequest, event_id,
)
from kiosk.community.timetable import Slot, slots_from_config
from kiosk.documents import current_documents
from kiosk.journal import Journal
from kiosk.session import Person
from kiosk.timebank.kinds import VolunteerService, volunteer_account
from kiosk.timebank.results import Confirmation, PendingService

log = logging.getLogger(__name__)

#: Hours a requested service counts for when the catalog gives it no fixed hours.
DEFAULT_HOURS = 1.0
#: How many of this station's latest requests the volunteer's task list looks at.
RECENT_LIMIT = 300


@dataclass(frozen=True)
class RequestService:
    """A picture tile of the request screen."""

    id: str
    name: str
    icon: str
    hours: float


@dataclass(frozen=True)
class RequestView:
    """A request as the kiosk shows it now."""

    request_id: str
    number: str
    station: str
    service_type: str
    service_name: str
    when_label: str
    note: str
    state: str
    priority: bool
    priority_account: str
    volunteer_id: str
    person_key: str
    display_name: str
    requested_at: str
    hours: float
    #: the station's name as the hub knows it ("" for this station's own requests)
    station_name: str = ""

    @property
    def open(self) -> bool:
        """Still waiting for something to happen (not confirmed, not cancelled)."""
        return self.state not in (CONFIRMED, CANCELLED)


class Requests:
    """Service requests of one station.

    Args:
        journal: the station's journal.
        timebank: the station's :class:`kiosk.timebank.service.TimeBank` (roster, catalog, ledger).
        data_dir: where the hub's documents are applied (default the time bank's).
        clock: aware wall time (default the time bank's clock).
    """

    def __init__(self, journal: Journal, timebank: Any, data_dir=None, clock=None) -> None:
        self.journal = journal
        self.bank = timebank
        self.station_id = journal.station_id
        self.data_dir = data_dir if data_dir is not None else timebank.data_dir
        self._clock = clock or timebank._clock
        #: Family links (家属优先) of this station's volunteers.
        self.family = Family(journal, timebank._volunteer, self.hub_family, self._clock)

    # --- what can be asked ------------------------------------------------------------------------
    def services(self) -> list[RequestService]:
        """The request tiles: the catalog's resident services (measurements excluded) with an icon."""
        out = []
        for s in self.bank.catalog().resident_services:
            if s.id in NOT_REQUESTABLE:
                continue
            icon = REQUEST_SERVICES.get(s.id, ("", "help"))[1]
            out.append(RequestService(s.id, s.name, icon, s.hours if s.hours is not None else DEFAULT_HOURS))
        known = {s.id for s in out}
        out += [RequestService(i, name, icon, DEFAULT_HOURS) for i, (name, icon) in REQUEST_SERVICES.items()
                if i not in known and self.bank.catalog().version is None]
        return out

    def slots(self, service_type: str = "") -> list[Slot]:
        """The next times of the station's weekly timetable (hub ``config`` document, section
        ``community.timetable``) within a week, for ``service_type``."""
        config = (self._doc("config") or {}).get("community", {})
        return slots_from_config(config, self.bank.rules.tz, self._clock(), service_type)

    # --- asking -------------------------------------------------------------------------------------
    def ask(self, person: Person | None, session_id: str, service_type: str, when: str, note: str = "") -> RequestView:
        """Journal a request; asking again in the same visit returns the same request.

        Raises:
            NotIdentified, NothingChosen, UnknownRequestService, UnknownSlot, AlreadyRequested.
        """
        if person is None or not person.person_key:
            raise NotIdentified("a request needs an identified person")
        if not service_type or not when:
            raise NothingChosen("no service or no time chosen")
        service = next((s for s in self.services() if s.id == service_type), None)
        if service is None:
            raise UnknownRequestService(f"service {service_type!r} cannot be requested")
        if note and note not in NOTE_PHRASES:
            raise NothingChosen(f"note {note!r} is not a stock phrase")
        request_id = event_id("request", self.station_id, f"{session_id}:{service_type}")
        stored = self.journal.get(request_id)
        if stored is not None:
            return self.view(request_id)
        slot = None
        if when != ASAP:
            slot = next((s for s in self.slots(service_type) if s.id == when), None)
            if slot is None:
                raise UnknownSlot(f"slot {when!r} is not in the timetable")
        if any(r.service_type == service_type and r.open for r in self.mine(person)):
            raise AlreadyRequested(f"an open {service_type} request exists")
        priority, account = self._priority(person, service.hours)
        payload = ServiceRequest(
            request_id=request_id, number=self._next_number(), person_key=person.person_key,
            display_name=person.display_name, service_type=service.id, service_name=service.name, when=when,
            when_label=slot.label if slot else "", slot_start=slot.start.isoformat() if slot else "", note=note,
            priority=priority, priority_account=account)
        self.journal.append(payload, record_id=request_id, created_at=self._clock())
        return self.view(request_id)

    def _priority(self, person: Person, hours: float) -> tuple[bool, str]:
        """Priority from the asker's own banked hours, else from those of a volunteer they are linked
        to as family (the one with the most hours); the account the hours will be used from."""
        volunteer = self.bank._volunteer(person)
        ids = [volunteer.id] if volunteer is not None else []
        ids += [v for v in self.family.volunteers_of(person.person_key) if v not in ids]
        best: tuple[Decimal, str] | None = None
        for i, vid in enumerate(ids):
            account = volunteer_account(vid)
            balance, _pending, _hub = self.bank.balance(account, vid)
            if balance - Decimal(str(hours)) < self.bank.rules.balance_floor:
                continue
            if i == 0 and volunteer is not None:
                return True, account              # a volunteer's own hours first
            if best is None or balance > best[0]:
                best = (balance, account)
        return (True, best[1]) if best else (False, "")

    def _next_number(self) -> str:
        today = self._clock().astimezone(self.bank.rules.tz).strftime("%m%d")
        last = self.journal.records("service_request", newest_first=True, limit=1)
        n = 1
        if last and last[0].payload.number.startswith(today + "-"):
            n = int(last[0].payload.number.split("-")[1]) + 1
        return f"{today}-{n:02d}"

    # --- reading ------------------------------------------------------------------------------------
    def _doc(self, doc_type: str) -> dict[str, Any] | None:
        try:
            doc = current_documents(self.data_dir).get(doc_type)
        except Exception as exc:     # a broken downlink store must not stop the kiosk
            log.error("downlink documents unavailable: %s", exc)
            return None
        return doc["body"] if doc else None

    def _hub_entries(self) -> dict[str, dict[str, Any]]:
        body = self._doc("requests") or {}
        return {e["id"]: e for e in body.get("requests", []) if isinstance(e, dict) and isinstance(e.get("id"), str)}

    def hub_wishes(self) -> dict[str, dict[str, Any]]:
        """The hub's wish board as published in its ``requests`` document: id -> entry."""
        body = self._doc("requests") or {}
        return {e["id"]: e for e in body.get("wishes", []) if isinstance(e, dict) and isinstance(e.get("id"), str)}

    def hub_family(self) -> list[dict[str, Any]]:
        """The hub's family links as published in its ``requests`` document (``family``)."""
        body = self._doc("requests") or {}
        return [e for e in body.get("family", []) if isinstance(e, dict) and isinstance(e.get("volunteer_id"), str)
                and isinstance(e.get("family_key"), str)]

    def view(self, request_id: str, hub: dict[str, dict[str, Any]] | None = None) -> RequestView:
        """The request as it stands now.

        Raises:
            UnknownRequest: neither this station nor the hub knows it.
        """
        hub = self._hub_entries() if hub is None else hub
        entry = hub.get(request_id)
        found = self.journal.records("service_request", where={"request_id": request_id}, limit=1)
        if found:
            p: ServiceRequest = found[0].payload
            base = RequestView(p.request_id, p.number, found[0].station_id, p.service_type, p.service_name,
                               p.when_label, p.note, REQUESTED, p.priority, p.priority_account, "", p.person_key,
                               p.display_name, found[0].created_at.isoformat(), self._hours(p.service_type))
        elif entry is not None:
            base = _from_entry(entry)
        else:
            raise UnknownRequest(f"no request {request_id!r}")
        if entry is not None and not base.priority and entry.get("priority") is True \
                and isinstance(entry.get("priority_account"), str) and entry["priority_account"]:
            base = replace(base, priority=True, priority_account=entry["priority_account"])   # the hub's 家属优先
        state, volunteer = base.state, base.volunteer_id
        if entry is not None and STATE_RANK.get(entry.get("state"), -1) >= STATE_RANK[state]:
            state, volunteer = entry["state"], str(entry.get("volunteer_id") or volunteer)
        for kind, new_state in (("request_claimed", ASSIGNED), ("request_done", DONE)):
            rec = self.journal.records(kind, where={"request_id": request_id}, limit=1)
            if rec and STATE_RANK[new_state] > STATE_RANK[state]:
                state, volunteer = new_state, rec[0].payload.volunteer_id
        if self.journal.records("service_confirmation", where={"service_id": event_id("service", request_id)},
                                limit=1):
            state = CONFIRMED
        if self.journal.records("request_cancelled", where={"request_id": request_id}, limit=1) and state != CONFIRMED:
            state = CANCELLED
        return replace(base, state=state, volunteer_id=volunteer)

    def _hours(self, service_type: str) -> float:
        return next((s.hours for s in self.services() if s.id == service_type), DEFAULT_HOURS)

    def mine(self, person: Person) -> list[RequestView]:
        """The person's requests, newest first (this station's and the hub's)."""
        hub = self._hub_entries()
        ids = [r.payload.request_id for r in self.journal.records(
            "service_request", where={"person_key": person.person_key}, newest_first=True, limit=50)]
        ids += [i for i, e in hub.items() if e.get("person_key") == person.person_key and i not in ids]
        views = [self.view(i, hub) for i in ids]
        return sorted(views, key=lambda v: v.requested_at, reverse=True)

    def tasks(self, volunteer_person: Person) -> tuple[list[RequestView], list[RequestView]]:
        """(this volunteer's tasks, open requests they may claim); priority first, then oldest first.

        Raises:
            NotRegistered: the person is not a volunteer.
        """
        v = self.bank._require(volunteer_person)
        hub = self._hub_entries()
        ids = [r.payload.request_id for r in self.journal.records("service_request", newest_first=True,
                                                                    limit=RECENT_LIMIT)]
        ids += [i for i in hub if i not in ids]
        views = [self.view(i, hub) for i in ids]
        order = lambda r: (not r.priority, r.requested_at)  # noqa: E731
        mine = sorted((r for r in views if r.volunteer_id == v.id and r.state == ASSIGNED), key=order)
        free = sorted((r for r in views if r.state == REQUESTED and r.person_key != v.person_key), key=order)
        return mine, free

    # --- volunteers -----------------------------------------------------------------------------------
    def claim(self, volunteer_person: Person, request_id: str) -> RequestView:
        """A volunteer takes on an open request.

        Raises:
            NotRegistered, UnknownRequest, OwnRequest, AlreadyTaken, WrongState.
        """
        v = self.bank._require(volunteer_person)
        view = self.view(request_id)
        if view.person_key == v.person_key:
            raise OwnRequest("a volunteer cannot take on their own request")
        if view.state == ASSIGNED and view.volunteer_id == v.id:
            return view
        if view.state == ASSIGNED:
            raise AlreadyTaken(f"request {request_id} is assigned to {view.volunteer_id}")
        if view.state != REQUESTED:
            raise WrongState(f"request {request_id} is {view.state}")
        self.journal.append(RequestClaimed(request_id, v.id), record_id=event_id("claim", request_id),
                            created_at=self._clock())
        return self.view(request_id)

    def mark_done(self, volunteer_person: Person, request_id: str) -> PendingService:
        """The assigned volunteer marks the task done: the service waits for the resident's card.

        Marking it done again returns the same pending service.

        Raises:
            NotRegistered, UnknownRequest, NotYourTask, WrongState.
        """
        v = self.bank._require(volunteer_person)
        view = self.view(request_id)
        if view.volunteer_id != v.id:
            raise NotYourTask(f"request {request_id} is not assigned to {v.id}")
        if view.state not in (ASSIGNED, DONE):
            raise WrongState(f"request {request_id} is {view.state}")
        service_id = event_id("service", request_id)
        minutes = int(view.hours * 60)
        svc = VolunteerService(service_id=service_id, volunteer_id=v.id, person_key=v.person_key,
                               team=v.teams[0] if v.teams else "", service_type=view.service_type,
                               service_name=view.service_name, minutes=minutes, hours=view.hours,
                               request_id=request_id)
        rec = self.journal.append(svc, record_id=service_id, created_at=self._clock()).record
        self.journal.append(RequestDone(request_id, v.id, service_id, view.hours),
                            record_id=event_id("done", request_id), created_at=self._clock())
        return PendingService(service_id, v.id, view.service_type, view.service_name, minutes, view.hours, rec.id)

    # --- residents ------------------------------------------------------------------------------------
    def confirm(self, request_id: str, resident: Person | None, rating: int) -> Confirmation:
        """The resident who asked confirms the done task with their card and rates it; the volunteer
        earns the hours and, for a priority request, the asker's banked hours are recorded as used.

        Raises:
            NotIdentified, UnknownRequest, NotRequester, WrongState, and the time bank's
            InvalidRating, SelfConfirmation, AlreadyConfirmed.
        """
        if resident is None:
            raise NotIdentified("confirming needs the resident's card")
        view = self.view(request_id)
        if resident.person_key != view.person_key:
            raise NotRequester("only the resident who asked may confirm")
        if view.state != DONE:
            raise WrongState(f"request {request_id} is {view.state}")
        service_id = event_id("service", request_id)
        local = self.journal.records("volunteer_service", where={"service_id": service_id}, limit=1)
        svc = local[0].payload if local else VolunteerService(
            service_id=service_id, volunteer_id=view.volunteer_id, person_key="", team="",
            service_type=view.service_type, service_name=view.service_name, minutes=int(view.hours * 60),
            hours=view.hours, request_id=request_id)
        done = self.bank.confirm_recorded(svc, resident, rating)
        if view.priority and view.priority_account:
            self.bank.use_for_request(view.priority_account, view.hours, request_id,
                                      movement_id=event_id("use", request_id))
        return done

    def cancel(self, person: Person | None, request_id: str, reason: str) -> RequestView:
        """The resident who asked cancels an open request that is not done yet.

        Raises:
            NotIdentified, NothingChosen (no reason), UnknownRequest, NotRequester, WrongState.
        """
        if person is None:
            raise NotIdentified("cancelling needs the resident's card")
        if reason not in CANCEL_REASONS:
            raise NothingChosen(f"no cancel reason ({reason!r})")
        view = self.view(request_id)
        if person.person_key != view.person_key:
            raise NotRequester("only the resident who asked may cancel")
        if view.state == CANCELLED:
            return view
        if view.state not in (REQUESTED, ASSIGNED):
            raise WrongState(f"request {request_id} is {view.state}")
        self.journal.append(RequestCancelled(request_id, "resident", reason), record_id=event_id("cancel", request_id),
                            created_at=self._clock())
        return self.view(request_id)


def _from_entry(e: dict[str, Any]) -> RequestView:
    def s(key: str) -> str:
        value = e.get(key, "")
        return value if isinstance(value, str) else ""
    hours = e.get("hours")
    return RequestView(s("id"), s("number"), s("station"), s("service_type"), s("service_name"), s("when_label"),
                       s("note"), REQUESTED, e.get("priority") is True, s("priority_account"), "",
                       s("person_key"), s("display_name"), s("requested_at"),
                       float(hours) if isinstance(hours, (int, float)) and not isinstance(hours, bool)
                       else DEFAULT_HOURS, s("station_name"))


