"""The time bank's record kinds and ledger arithmetic: the contract the kiosk writes and the hub reads.

Every time-bank event is one of these immutable journal records. ``ledger_movement`` records are
append-only, double-entry hour movements; an account's balance is the sum of its credits minus
its debits, and every movement has a stable ``movement_id`` so a replay never changes a balance.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kiosk.i18n import N_
from kiosk.records import record_kind

log = logging.getLogger(__name__)


#: Namespace of the deterministic ids (movement ids, check-out record ids).
NAMESPACE = uuid.UUID("6f1d8c52-1a3e-4b8e-9d4c-0a7e5b2c9f31")

#: System accounts of the double-entry ledger.
ISSUED = "bank:issued"      # counter-account of hours earned by service
SPENT = "bank:spent"        # counter-account of banked hours used by priority requests
HONOUR = "bank:honour"      # honour hours: only the hub moves hours out of it
MOVEMENT_KINDS = ("earn", "spend", "transfer", "adjust")

#: 好差评: the national 5-level rating, 5 best.
RATINGS: dict[int, str] = {
    5: N_("Very satisfied"),
    4: N_("Satisfied"),
    3: N_("Basically satisfied"),
    2: N_("Dissatisfied"),
    1: N_("Very dissatisfied"),
}
#: Ratings at or below this create a follow-up record for staff.
FOLLOW_UP_AT = 2


# --- record kinds ---------------------------------------------------------------------------------


def _quarter_hours(value: float) -> bool:
    return (Decimal(str(value)) * 4) % 1 == 0


@record_kind("volunteer_check_in")
@dataclass(frozen=True)
class VolunteerCheckIn:
    """A volunteer started a shift (wall time and monotonic clock both kept)."""

    shift_id: str
    volunteer_id: str
    person_key: str
    team: str
    activity: str
    at: datetime
    mono_s: float
    boot_id: str
    source: str = ""


@record_kind("volunteer_check_out")
@dataclass(frozen=True)
class VolunteerCheckOut:
    """A shift ended: raw minutes, the rule applied and the hours credited (0 while it needs review)."""

    shift_id: str
    volunteer_id: str
    person_key: str
    team: str
    activity: str
    since: datetime
    until: datetime
    raw_minutes: int
    hours: float                 # credited now (after minimum and daily cap)
    rule: str
    clock: str                   # "monotonic" | "wall" | "default" (auto-closed)
    needs_review: bool = False
    auto_closed: bool = False
    proposed_hours: float = 0.0  # hours the rules gave (before the cap), or the default of an auto-close
    capped: bool = False
    clock_changed: bool = False
    check_in_station: str = ""


@record_kind("volunteer_service")
@dataclass(frozen=True)
class VolunteerService:
    """A volunteer recorded a service done for a resident; it earns hours only once confirmed."""

    service_id: str
    volunteer_id: str
    person_key: str
    team: str
    service_type: str
    service_name: str
    minutes: int
    hours: float
    request_id: str = ""         # the service request this carried out, if any


@record_kind("service_confirmation")
@dataclass(frozen=True)
class ServiceConfirmation:
    """The resident confirmed the service with their card and rated it (好差评, 5 = 非常满意)."""

    service_id: str
    volunteer_id: str
    resident_key: str
    rating: int
    hours: float

    def __post_init__(self) -> None:
        if self.rating not in RATINGS:
            raise ValueError(f"rating {self.rating!r} is not 1..5")


@record_kind("service_follow_up", priority=5)
@dataclass(frozen=True)
class ServiceFollowUp:
    """A 不满意 / 非常不满意 rating: staff should call the resident back."""

    service_id: str
    volunteer_id: str
    resident_key: str
    rating: int
    service_type: str


@record_kind("ledger_movement")
@dataclass(frozen=True)
class LedgerMovement:
    """One double-entry hour movement: ``hours`` leave ``debit`` and arrive in ``credit``.

    ``movement_id`` is stable for the business event (e.g. the earn of one shift), so the same
    movement journaled twice, or at two stations, counts once.
    """

    movement_id: str
    kind: str
    debit: str
    credit: str
    hours: float
    reference: str
    source: str = ""             # shift | service | spend | transfer | review | honour
    team: str = ""
    at_station: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MOVEMENT_KINDS:
            raise ValueError(f"movement kind {self.kind!r} is not one of {', '.join(MOVEMENT_KINDS)}")
        if not self.debit or not self.credit or self.debit == self.credit:
            raise ValueError("a movement needs two different accounts")
        if isinstance(self.hours, bool) or not isinstance(self.hours, (int, float)) \
                or not 0 < self.hours <= 10_000 or not _quarter_hours(self.hours):
            raise ValueError(f"hours {self.hours!r} must be positive quarter hours up to 10000")


@record_kind("volunteer_registered")
@dataclass(frozen=True)
class VolunteerRegistered:
    """Staff registered a volunteer at the kiosk. The name is kept (certificates need it); never an ID number."""

    volunteer_id: str
    name: str
    phone_masked: str
    team: str
    card_uid: str = ""
    person_key: str = ""
    registered_by: str = ""


@record_kind("card_rebound")
@dataclass(frozen=True)
class CardRebound:
    """A lost card was replaced: the volunteer id, and so the history, stays the same."""

    volunteer_id: str
    old_card_uid: str
    new_card_uid: str
    old_person_key: str = ""
    new_person_key: str = ""
    reason: str = "lost"
    by: str = ""


# --- accounts and the pure ledger ----------------------------------------------------------------


def volunteer_account(volunteer_id: str) -> str:
    """The ledger account of a volunteer."""
    return f"volunteer:{volunteer_id}"


def resident_account(person_key: str) -> str:
    """The ledger account of a resident with a time-bank account."""
    return f"resident:{person_key}"


def ledger_balances(movements: Iterable[LedgerMovement]) -> dict[str, Decimal]:
    """Balances of every account: credits minus debits, each ``movement_id`` counted once.

    The sum over all accounts is always zero (double entry).
    """
    seen: set[str] = set()
    out: dict[str, Decimal] = {}
    for mv in movements:
        if mv.movement_id in seen:
            continue
        seen.add(mv.movement_id)
        hours = Decimal(str(mv.hours))
        out[mv.debit] = out.get(mv.debit, Decimal(0)) - hours
        out[mv.credit] = out.get(mv.credit, Decimal(0)) + hours
    return out
