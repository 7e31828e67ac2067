"""What the time bank's operations return to the screens.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from kiosk.timebank.catalog import ServiceType, Team
from kiosk.timebank.errors import NotRegistered

log = logging.getLogger(__name__)

# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedsCheckIn:
    """Show the team and activity choice, then call :meth:`TimeBank.check_in`."""

    volunteer_id: str
    display_name: str
    teams: tuple[Team, ...]
    activities: tuple[ServiceType, ...]
    default_team: str


@dataclass(frozen=True)
class CheckedIn:
    """A shift started (the confirmation screen shows ``since`` big)."""

    shift_id: str
    since: datetime
    team: str
    team_name: str
    activity: str


@dataclass(frozen=True)
class CheckedOut:
    """A shift ended; ``hours`` credited now (0 while ``needs_review``)."""

    shift_id: str
    volunteer_id: str
    hours: float
    since: datetime
    until: datetime
    raw_minutes: int
    team: str
    proposed_hours: float = 0.0
    capped: bool = False
    needs_review: bool = False
    clock_changed: bool = False
    record_id: str = ""


@dataclass(frozen=True)
class Ignored:
    """A second tap within the double-tap window: nothing happened."""

    volunteer_id: str
    last_action: str             # "check_in" | "check_out"
    at: datetime


@dataclass(frozen=True)
class CheckedInElsewhere:
    """The hub says this volunteer's shift is open at another station (offer to close it here)."""

    volunteer_id: str
    station: str
    since: datetime
    shift_id: str


@dataclass(frozen=True)
class NotAVolunteer:
    """The card is not a registered volunteer's: offer registration through staff."""

    person_key: str
    message: str = NotRegistered.user_message


TapResult = NeedsCheckIn | CheckedOut | Ignored | CheckedInElsewhere | NotAVolunteer


@dataclass(frozen=True)
class ServiceSummary:
    """One recent service of a volunteer (for the status screen)."""

    service_id: str
    service_name: str
    at: datetime
    hours: float
    confirmed: bool
    rating: int | None


@dataclass(frozen=True)
class VolunteerStatus:
    """What the screen shows after a volunteer's tap (the name is masked)."""

    volunteer_id: str
    display_name: str
    team: str
    team_name: str
    checked_in_since: datetime | None
    hours_this_month: float
    balance: float
    balance_as_of: str | None
    pending_hours: float
    recent_services: tuple[ServiceSummary, ...] = ()
    open_elsewhere: str = ""


@dataclass(frozen=True)
class PendingService:
    """A recorded service waiting for the resident's confirmation."""

    service_id: str
    volunteer_id: str
    service_type: str
    service_name: str
    minutes: int
    hours: float
    record_id: str


@dataclass(frozen=True)
class Confirmation:
    """The resident confirmed; ``follow_up`` when the rating asks staff to call back."""

    service_id: str
    rating: int
    rating_word: str
    hours: float
    follow_up: bool
    movement_id: str


@dataclass(frozen=True)
class Moved:
    """A spend or transfer was journaled."""

    movement_id: str
    hours: float
    balance_after: float
