"""Record kinds of service requests (四代 and home services) and what a request can be made of.

A request moves ``requested → assigned → done → confirmed``, or ends ``cancelled`` with a reason.
The kiosk journals what happens at the kiosk (asked, claimed, done, cancelled by the resident;
the confirmation is the time bank's ``service_confirmation``); staff assignments and cancellations
happen at the hub, which publishes the open requests back in its ``requests`` document. Every id
is derived from the business event (:data:`NAMESPACE`), so a re-sent or repeated record never
doubles anything.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kiosk.i18n import N_
from kiosk.records import record_kind

#: Namespace of the deterministic ids of requests and their events.
NAMESPACE = uuid.UUID("0b6f0a3e-5d0e-4f59-9a43-3f3c1c1f9e21")

REQUESTED, ASSIGNED, DONE, CONFIRMED, CANCELLED = "requested", "assigned", "done", "confirmed", "cancelled"
#: Order of the states; a later state never goes back to an earlier one.
STATE_RANK = {REQUESTED: 0, ASSIGNED: 1, DONE: 2, CONFIRMED: 3, CANCELLED: 4}
STATE_WORDS = {
    REQUESTED: N_("Waiting for a volunteer"),
    ASSIGNED: N_("A volunteer is on it"),
    DONE: N_("Done — please confirm"),
    CONFIRMED: N_("Confirmed, thank you"),
    CANCELLED: N_("Cancelled"),
}
ASAP = "asap"

#: Services a resident can ask for when the catalog does not say: id -> (name, icon).
#: Names are Chinese (the catalog's language); measurements are done at the kiosk, not requested.
REQUEST_SERVICES: dict[str, tuple[str, str]] = {
    "purchase": ("代购", "bag"),
    "errand": ("代办", "list"),
    "receive": ("代收", "box"),
    "proxy": ("代理", "hand"),
    "haircut": ("上门理发", "scissors"),
    "housework": ("家政", "home"),
    "reading": ("陪读", "document"),
    "escort": ("陪同就医", "heart"),
}
NOT_REQUESTABLE = ("bp", "glucose")

#: Stock phrases for the optional note (no typing at the kiosk): id -> message id.
NOTE_PHRASES: dict[str, str] = {
    "call_first": N_("Please call me first"),
    "walking": N_("I have difficulty walking"),
    "morning": N_("I am at home in the morning"),
    "afternoon": N_("I am at home in the afternoon"),
    "receipt": N_("Please bring the receipt"),
}
#: Why a request was cancelled: id -> message id (residents at the kiosk, staff at the hub).
CANCEL_REASONS: dict[str, str] = {
    "not_needed": N_("No longer needed"),
    "solved": N_("Solved another way"),
    "time": N_("The time does not suit me"),
    "staff": N_("Cancelled by the staff"),
    "no_volunteer": N_("No volunteer available"),
}


@record_kind("service_request")
@dataclass(frozen=True)
class ServiceRequest:
    """A resident asked for a service at the kiosk (masked name, keyed hash; never an ID number).

    ``priority`` is set when the person asking has banked time-bank hours (their request goes to the
    front of the queue); ``priority_account`` is the ledger account the hours are used from when the
    request is done and confirmed.
    """

    request_id: str
    number: str
    person_key: str
    display_name: str
    service_type: str
    service_name: str
    when: str                  # "asap" or a timetable slot id
    when_label: str            # e.g. "12-01 周二 09:00-11:00"
    slot_start: str = ""       # ISO date-time of the slot's start ("" for as soon as possible)
    note: str = ""             # a NOTE_PHRASES id
    priority: bool = False
    priority_account: str = ""


@record_kind("request_claimed")
@dataclass(frozen=True)
class RequestClaimed:
    """A volunteer took on an open request at the kiosk."""

    request_id: str
    volunteer_id: str


@record_kind("request_done")
@dataclass(frozen=True)
class RequestDone:
    """The volunteer marked the task done; ``service_id`` names the time bank's service record that
    the resident confirms and rates."""

    request_id: str
    volunteer_id: str
    service_id: str
    hours: float


@record_kind("request_cancelled")
@dataclass(frozen=True)
class RequestCancelled:
    """The resident cancelled the request (the hub records staff cancellations itself)."""

    request_id: str
    by: str                    # "resident" | "staff"
    reason: str                # a CANCEL_REASONS id


def event_id(what: str, request_id: str, extra: str = "") -> str:
    """The deterministic id of one event of a request (``what``: claim, done, service, cancel …)."""
    return str(uuid.uuid5(NAMESPACE, f"{what}:{request_id}:{extra}"))


#: Where a malformed hub time stamp sorts: first.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def hub_time(text: Any) -> datetime:
    """A time stamp from a hub document as an aware time (a malformed one is :data:`EPOCH`)."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return EPOCH
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
