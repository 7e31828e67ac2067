"""Volunteer time bank (志愿服务银行): shifts by card, resident-confirmed services, an hours ledger.

Pure core, no Kivy. Every event is an immutable journal record synced to the hub:

* ``volunteer_check_in`` / ``volunteer_check_out``: a shift. Check-out computes hours with the
  station's :class:`HourRules`; a shift still open at the cut-off is auto-closed with default hours
  and ``needs_review`` (credited only after a review at the hub).
* ``volunteer_service`` → ``service_confirmation`` (+ ``service_follow_up`` for 不满意/非常不满意):
  a service done for a resident earns hours only once the resident confirmed it with their card.
* ``ledger_movement``: append-only, double-entry hour movements (earn, spend, transfer, adjust).
  An account's balance is the sum of its credits minus its debits; every movement has a stable
  ``movement_id``, so replaying the same movements never changes a balance. Honour hours
  (``bank:honour``) are granted only by the hub, never here.
* ``volunteer_registered`` / ``card_rebound``: staff registers a volunteer or replaces a lost card;
  the volunteer id (and so the history) stays the same.

The hub is the source of truth for balances across stations: its ``roster`` document carries a
``balance`` object per volunteer (see ``sync/timebank.py``); the kiosk shows that balance plus the
local movements the hub had not yet counted.

Clock changes: a check-in stores the wall time and the monotonic clock with the boot id; a check-out
on the same boot measures the shift with the monotonic clock (a wall clock set back or forward
changes nothing), otherwise with wall times. Negative or absurd durations are refused.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.i18n import N_
from kiosk.journal import Journal
from kiosk.privacy import contains_id_number, mask_name
from kiosk.records import Record, record_kind
from kiosk.roster import Roster, Volunteer
from kiosk.session import Person

log = logging.getLogger(__name__)

#: Namespace of the deterministic ids (movement ids, check-out record ids).
NAMESPACE = uuid.UUID("6f1d8c52-1a3e-4b8e-9d4c-0a7e5b2c9f31")

#: System accounts of the double-entry ledger.
ISSUED = "bank:issued"      # counter-account of hours earned by service
SPENT = "bank:spent"        # counter-account of hours spent on services received
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

#: user_key -> the English sentence a person reads (Chinese in locale/zh_CN/.../volunteer.po).
USER_MESSAGES: dict[str, str] = {
    "volunteer_error": N_("The volunteer service could not be recorded. Please ask the staff."),
    "not_registered": N_("This card is not registered as a volunteer. Please ask the staff to register you."),
    "invalid_duration": N_("The shift time does not look right (the clock may have changed). Please ask the staff."),
    "already_checked_in": N_("You are already checked in."),
    "not_checked_in": N_("You are not checked in."),
    "unknown_team": N_("This team is not in the list. Please choose another one."),
    "unknown_service": N_("This service is not in the list. Please choose another one."),
    "unknown_pending": N_("This service was not found. Please record it again."),
    "already_confirmed": N_("This service has already been confirmed."),
    "self_confirmation": N_("The resident who was served must confirm with their own card."),
    "invalid_rating": N_("Please choose one of the five faces."),
    "invalid_hours": N_("Please enter the hours in steps of half an hour."),
    "insufficient_balance": N_("Not enough hours in the account for this service."),
    "registration_invalid": N_("The registration is incomplete: please check the name, phone and card."),
    "card_in_use": N_("This card already belongs to another volunteer."),
    "unknown_volunteer": N_("This volunteer was not found."),
}


class VolunteerError(Exception):
    """Base of the time-bank errors; ``user_key`` names the message in :data:`USER_MESSAGES`."""

    user_key = "volunteer_error"


class InvalidDuration(VolunteerError):
    """A negative or absurdly long duration (usually a clock change); nothing was credited."""

    user_key = "invalid_duration"


class NotRegistered(VolunteerError):
    """The person is not a volunteer in the roster (offer registration through staff)."""

    user_key = "not_registered"


class AlreadyCheckedIn(VolunteerError):
    """The volunteer has an open shift at this station."""

    user_key = "already_checked_in"


class NotCheckedIn(VolunteerError):
    """There is no open shift to close."""

    user_key = "not_checked_in"


class UnknownTeam(VolunteerError):
    """The team is in neither the catalog nor the roster."""

    user_key = "unknown_team"


class UnknownService(VolunteerError):
    """The service type is not in the catalog."""

    user_key = "unknown_service"


class UnknownPendingService(VolunteerError):
    """No service with that id was recorded at this station."""

    user_key = "unknown_pending"


class AlreadyConfirmed(VolunteerError):
    """The service was confirmed before (by another resident or with another rating)."""

    user_key = "already_confirmed"


class SelfConfirmation(VolunteerError):
    """The volunteer tried to confirm their own service."""

    user_key = "self_confirmation"


class InvalidRating(VolunteerError):
    """A rating outside 1..5."""

    user_key = "invalid_rating"


class InvalidHours(VolunteerError):
    """Hours not positive, not in half-hour steps, or too large."""

    user_key = "invalid_hours"


class InsufficientBalance(VolunteerError):
    """The movement would take the balance below the configured floor."""

    user_key = "insufficient_balance"

    def __init__(self, balance: Decimal, hours: Decimal, floor: Decimal) -> None:
        self.balance, self.hours, self.floor = balance, hours, floor
        super().__init__(f"balance {balance} h minus {hours} h would go below the floor of {floor} h")


class RegistrationInvalid(VolunteerError):
    """Missing or malformed registration data (the message names the field)."""

    user_key = "registration_invalid"


class CardInUse(VolunteerError):
    """The card UID or person key already belongs to another volunteer."""

    user_key = "card_in_use"


class UnknownVolunteer(VolunteerError):
    """No volunteer with that id."""

    user_key = "unknown_volunteer"


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


# --- hour rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HourRules:
    """How shift minutes become credited hours.

    ``quarter_rule``: per started hour, < 15 min → 0, 15–44 min → 0.5, ≥ 45 min → 1.
    ``half_hour_units``: whole half hours.
    A result below ``min_hours`` earns nothing; ``daily_cap_hours`` limits shift hours per day.
    """

    rounding: str = "quarter_rule"
    min_hours: Decimal = Decimal("0.5")
    daily_cap_hours: Decimal = Decimal("8")
    cutoff: str = "21:00"
    auto_close_hours: Decimal = Decimal("1")
    double_tap_s: int = 60
    max_shift_hours: Decimal = Decimal("16")
    balance_floor: Decimal = Decimal("0")
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.rounding not in ("quarter_rule", "half_hour_units"):
            raise ValueError(f"unknown rounding {self.rounding!r}")
        self.cutoff_time()

    @classmethod
    def from_settings(cls, settings: Any) -> HourRules:
        """From ``Settings`` (its ``volunteer`` section) or a ``VolunteerSettings``."""
        v = getattr(settings, "volunteer", settings)
        d = lambda x: Decimal(str(x))   # noqa: E731
        return cls(rounding=v.rounding, min_hours=d(v.min_hours), daily_cap_hours=d(v.daily_cap_hours),
                   cutoff=v.cutoff, auto_close_hours=d(v.auto_close_hours), double_tap_s=int(v.double_tap_s),
                   max_shift_hours=d(v.max_shift_hours), balance_floor=d(v.balance_floor), timezone=v.timezone)

    @property
    def tz(self) -> ZoneInfo:
        """The station's time zone (local day, month and cut-off)."""
        return ZoneInfo(self.timezone)

    def cutoff_time(self) -> tuple[int, int]:
        """The cut-off as (hour, minute)."""
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", self.cutoff)
        if not m:
            raise ValueError(f"cut-off {self.cutoff!r} is not HH:MM")
        return int(m.group(1)), int(m.group(2))

    def describe(self) -> str:
        """The rule as stored with each check-out."""
        return f"{self.rounding} min={self.min_hours} cap={self.daily_cap_hours}"


def hours_for_minutes(minutes: int, rules: HourRules, *, apply_minimum: bool = True) -> Decimal:
    """Hours for a duration in whole minutes under ``rules`` (no daily cap).

    Raises:
        InvalidDuration: negative minutes or more than ``max_shift_hours``.
    """
    if minutes < 0:
        raise InvalidDuration(f"a duration of {minutes} minutes is negative")
    if minutes > rules.max_shift_hours * 60:
        raise InvalidDuration(f"a duration of {minutes} minutes is longer than {rules.max_shift_hours} h")
    full, rest = divmod(minutes, 60)
    if rules.rounding == "quarter_rule":
        part = Decimal(0) if rest < 15 else Decimal("0.5") if rest < 45 else Decimal(1)
        hours = Decimal(full) + part
    else:
        hours = Decimal(minutes // 30) / 2
    if apply_minimum and hours < rules.min_hours:
        return Decimal(0)
    return hours


def compute_hours(start: datetime, end: datetime, rules: HourRules) -> Decimal:
    """Hours between two aware wall times under ``rules`` (whole minutes, seconds dropped).

    Raises:
        InvalidDuration: end before start, or longer than ``max_shift_hours``.
    """
    seconds = (end - start).total_seconds()
    if seconds < 0:
        raise InvalidDuration(f"the shift ends {-seconds:.0f} s before it starts (clock changed?)")
    return hours_for_minutes(int(seconds // 60), rules)


# --- catalog ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Team:
    """A volunteer team (五色一彩 by default)."""

    id: str
    name: str


@dataclass(frozen=True)
class ServiceType:
    """A service for residents, or (``kind == "activity"``) a shift activity."""

    id: str
    name: str
    hours: float | None = None   # fixed credit per service; None: the rules applied to the minutes
    kind: str = "service"


DEFAULT_TEAMS = (Team("red", "党旗红"), Team("orange", "暖心橙"), Team("green", "生态绿"),
                 Team("blue", "守护蓝"), Team("purple", "文艺紫"), Team("rainbow", "绚丽彩"))
DEFAULT_SERVICES = (
    ServiceType("proxy", "代理", 1.0), ServiceType("errand", "代办", 1.0), ServiceType("purchase", "代购", 1.0),
    ServiceType("receive", "代收", 0.5), ServiceType("home_visit", "上门探访", 1.0),
    ServiceType("bp", "测血压", 0.5), ServiceType("glucose", "测血糖", 0.5), ServiceType("escort", "陪同就医", 2.0),
    ServiceType("duty", "驿站值班", kind="activity"), ServiceType("health_day", "义诊协助", kind="activity"),
    ServiceType("event", "活动服务", kind="activity"), ServiceType("environment", "环境整治", kind="activity"),
)


@dataclass(frozen=True)
class Catalog:
    """Teams, resident services and shift activities: the hub's ``catalog`` document or the defaults."""

    teams: tuple[Team, ...] = DEFAULT_TEAMS
    services: tuple[ServiceType, ...] = DEFAULT_SERVICES
    version: int | None = None

    @property
    def resident_services(self) -> list[ServiceType]:
        """Services done for a resident (recorded, then confirmed)."""
        return [s for s in self.services if s.kind != "activity"]

    @property
    def activities(self) -> list[ServiceType]:
        """What a shift can be for."""
        return [s for s in self.services if s.kind == "activity"] or [s for s in DEFAULT_SERVICES
                                                                     if s.kind == "activity"]

    def service(self, service_id: str) -> ServiceType | None:
        """A service type by id."""
        return next((s for s in self.services if s.id == service_id), None)

    def team(self, team_id: str) -> Team | None:
        """A team by id."""
        return next((t for t in self.teams if t.id == team_id), None)


def _documents(data_dir: Path | str) -> dict[str, Any]:
    try:
        from sync.downlink import current_documents
        return current_documents(data_dir)
    except Exception as exc:     # a broken downlink store must not stop the time bank
        log.error("downlink documents unavailable: %s", exc)
        return {}


def load_catalog(data_dir: Path | str) -> Catalog:
    """The hub's catalog document (teams, services) or the built-in defaults for parts it lacks."""
    doc = _documents(data_dir).get("catalog")
    if not doc:
        return Catalog()
    body = doc["body"]
    teams = tuple(Team(str(t["id"]), str(t["name"])) for t in body.get("teams", []))
    services = []
    for s in body.get("services", []):
        hours = s.get("hours")
        ok = isinstance(hours, (int, float)) and not isinstance(hours, bool) and 0 < hours <= 24 \
            and _quarter_hours(hours)
        services.append(ServiceType(str(s["id"]), str(s["name"]), float(hours) if ok else None,
                                    "activity" if s.get("kind") == "activity" else "service"))
    return Catalog(teams or DEFAULT_TEAMS, tuple(services) or DEFAULT_SERVICES, doc.get("version"))


def load_roster(data_dir: Path | str, journal: Journal | None = None) -> Roster:
    """The effective roster: the hub document and local file (``Roster.load``) plus this kiosk's
    own ``volunteer_registered`` and ``card_rebound`` records, so a volunteer registered here works at
    once and a replaced card stops working here at once.
    """
    roster = Roster.load(data_dir)
    if journal is None:
        return roster
    by_id = {v.id: v for v in roster.volunteers}
    for rec in journal.records(limit=1_000_000, where=None, kind="volunteer_registered"):
        p: VolunteerRegistered = rec.payload
        by_id.setdefault(p.volunteer_id, Volunteer(p.volunteer_id, p.name, (p.team,) if p.team else (),
                                                   p.card_uid.upper(), p.person_key))
    for rec in journal.records(limit=1_000_000, kind="card_rebound"):
        c: CardRebound = rec.payload
        v = by_id.get(c.volunteer_id)
        if v is not None:
            by_id[c.volunteer_id] = replace(v, card_uid=c.new_card_uid.upper() or v.card_uid,
                                            person_key=c.new_person_key or v.person_key)
    return Roster(list(by_id.values()), roster.teams)


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
    message: str = USER_MESSAGES["not_registered"]


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


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_PHONE = re.compile(r"\+?\d[\d -]{5,18}\d")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def mask_phone(phone: str) -> str:
    """138****5678: first 3 and last 4 digits kept.

    Raises:
        RegistrationInvalid: not a phone number.
    """
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.fullmatch(phone.strip()) or not 7 <= len(digits) <= 15:
        raise RegistrationInvalid(f"phone {phone[:20]!r} is not a phone number")
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


class TimeBank:
    """The volunteer time bank of one station.

    Args:
        journal: the station's journal (every event is a record there).
        settings: ``Settings`` (its ``[volunteer]`` section and data directory) or ``VolunteerSettings``.
        roster_loader: returns the current roster (default :func:`load_roster` over the data directory
            and this journal).
        station_id: this station (default the journal's).
        data_dir: where downlink documents live (default ``settings.data_dir``).
        clock: aware wall time (default UTC now).
        monotonic: a monotonic clock in seconds; boot_id: identifies the boot it belongs to.
    """

    def __init__(self, journal: Journal, settings: Any, roster_loader: Callable[[], Roster] | None = None,
                 station_id: str | None = None, *, data_dir: Path | str | None = None,
                 clock: Callable[[], datetime] = _utcnow, monotonic: Callable[[], float] = time.monotonic,
                 boot_id: str | None = None) -> None:
        self.journal = journal
        self.rules = HourRules.from_settings(settings)
        self.station_id = station_id or journal.station_id
        self.data_dir = Path(data_dir) if data_dir is not None else settings.data_dir
        self._roster = roster_loader or (lambda: load_roster(self.data_dir, self.journal))
        self._clock = clock
        self._mono = monotonic
        self.boot_id = _boot_id() if boot_id is None else boot_id

    # --- lookups -------------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """The current catalog (hub document or defaults)."""
        return load_catalog(self.data_dir)

    def _volunteer(self, person: Person) -> Volunteer | None:
        roster = self._roster()
        if person.volunteer_id:
            v = roster.by_id(person.volunteer_id)
            if v is not None:
                return v
        return roster.by_person_key(person.person_key) if person.person_key else None

    def _require(self, person: Person) -> Volunteer:
        v = self._volunteer(person)
        if v is None:
            raise NotRegistered("the person is not a registered volunteer")
        return v

    def _hub_entry(self, volunteer_id: str) -> dict[str, Any]:
        doc = _documents(self.data_dir).get("roster")
        for v in (doc or {}).get("body", {}).get("volunteers", []):
            if isinstance(v, dict) and v.get("id") == volunteer_id:
                return v
        return {}

    def _team_name(self, team_id: str) -> str:
        t = self.catalog().team(team_id)
        return t.name if t else self._roster().team_name(team_id)

    def _open_shift(self, volunteer_id: str) -> Record | None:
        last = self.journal.records("volunteer_check_in", where={"volunteer_id": volunteer_id},
                                    newest_first=True, limit=1)
        if not last or self._closed(last[0].payload.shift_id):
            return None
        return last[0]

    def _closed(self, shift_id: str) -> bool:
        return bool(self.journal.records("volunteer_check_out", where={"shift_id": shift_id}, limit=1))

    def _local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.rules.tz)

    # --- taps and shifts --------------------------------------------------------------------------------
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
        now = now or self._clock()
        hh, mm = self.rules.cutoff_time()
        closed = []
        for rec in self.journal.records("volunteer_check_in", limit=1_000_000):
            cin: VolunteerCheckIn = rec.payload
            local = self._local(cin.at)
            cut = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
            if cut <= local:
                cut += timedelta(days=1)
            if now < cut or self._closed(cin.shift_id):
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
        if closed:
            log.info("auto-closed %d open shift(s) at the cut-off; they need review at the hub", len(closed))
        return closed

    # --- services -----------------------------------------------------------------------------------------
    def record_service(self, volunteer_person: Person, service_type: str, minutes: int) -> PendingService:
        """A volunteer records a service done for a resident (credited after the resident confirms).

        Raises:
            NotRegistered, UnknownService, InvalidDuration (minutes outside 1..max shift).
        """
        v = self._require(volunteer_person)
        st = self.catalog().service(service_type)
        if st is None or st.kind == "activity":
            raise UnknownService(f"service {service_type!r} is not in the catalog")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise InvalidDuration(f"a service of {minutes!r} minutes")
        hours = Decimal(str(st.hours)) if st.hours is not None else \
            hours_for_minutes(minutes, self.rules, apply_minimum=False)
        if minutes > self.rules.max_shift_hours * 60:
            raise InvalidDuration(f"a service of {minutes} minutes is longer than {self.rules.max_shift_hours} h")
        payload = VolunteerService(service_id=str(uuid.uuid4()), volunteer_id=v.id, person_key=v.person_key,
                                   team=v.teams[0] if v.teams else "", service_type=st.id, service_name=st.name,
                                   minutes=minutes, hours=float(hours))
        res = self.journal.append(payload, created_at=self._clock())
        return PendingService(payload.service_id, v.id, st.id, st.name, minutes, float(hours), res.record.id)

    def pending_services(self, volunteer_person: Person) -> list[PendingService]:
        """This volunteer's recorded services not yet confirmed at this station."""
        v = self._require(volunteer_person)
        out = []
        for r in self.journal.records("volunteer_service", where={"volunteer_id": v.id}, newest_first=True, limit=50):
            p: VolunteerService = r.payload
            if not self.journal.records("service_confirmation", where={"service_id": p.service_id}, limit=1):
                out.append(PendingService(p.service_id, p.volunteer_id, p.service_type, p.service_name, p.minutes,
                                          p.hours, r.id))
        return out

    def confirm_service(self, pending_id: str, resident_person: Person, rating: int) -> Confirmation:
        """The resident confirms with their card and rates (5 非常满意 … 1 非常不满意).

        Journals the confirmation, the earn movement (if the service earns hours) and, for a rating of
        2 or less, a follow-up for staff. Calling it again with the same resident and rating after a
        crash completes what was missing and duplicates nothing.

        Raises:
            InvalidRating, UnknownPendingService, SelfConfirmation, AlreadyConfirmed.
        """
        if isinstance(rating, bool) or rating not in RATINGS:
            raise InvalidRating(f"rating {rating!r} is not 1..5")
        found = self.journal.records("volunteer_service", where={"service_id": pending_id}, limit=1)
        if not found:
            raise UnknownPendingService(f"no service {pending_id!r} recorded here")
        svc: VolunteerService = found[0].payload
        if resident_person.person_key == svc.person_key or resident_person.volunteer_id == svc.volunteer_id:
            raise SelfConfirmation("a volunteer cannot confirm their own service")
        payload = ServiceConfirmation(service_id=svc.service_id, volunteer_id=svc.volunteer_id,
                                      resident_key=resident_person.person_key, rating=rating, hours=svc.hours)
        res = self.journal.append(payload, record_id=str(uuid.uuid5(NAMESPACE, f"confirm:{svc.service_id}")),
                                  created_at=self._clock())
        if res.record.payload != payload:
            raise AlreadyConfirmed(f"service {svc.service_id} was confirmed before")
        movement_id = str(uuid.uuid5(NAMESPACE, f"earn:{svc.service_id}"))
        if svc.hours > 0:
            self._move("earn", ISSUED, volunteer_account(svc.volunteer_id), Decimal(str(svc.hours)), svc.service_id,
                       "service", svc.team, movement_id=movement_id)
        follow = rating <= FOLLOW_UP_AT
        if follow:
            self.journal.append(ServiceFollowUp(service_id=svc.service_id, volunteer_id=svc.volunteer_id,
                                                resident_key=resident_person.person_key, rating=rating,
                                                service_type=svc.service_type),
                                record_id=str(uuid.uuid5(NAMESPACE, f"follow:{svc.service_id}")))
        return Confirmation(svc.service_id, rating, RATINGS[rating], svc.hours, follow, movement_id)

    # --- ledger -----------------------------------------------------------------------------------------------
    def _move(self, kind: str, debit: str, credit: str, hours: Decimal, reference: str, source: str, team: str = "",
              *, movement_id: str | None = None, note: str = "") -> LedgerMovement:
        mid = movement_id or str(uuid.uuid4())
        mv = LedgerMovement(movement_id=mid, kind=kind, debit=debit, credit=credit, hours=float(hours),
                            reference=reference, source=source, team=team, at_station=self.station_id, note=note)
        if HONOUR in (debit, credit):
            raise VolunteerError("honour hours are granted only by the hub")
        self.journal.append(mv, record_id=mid, created_at=self._clock())
        return mv

    def _hub_balance(self, volunteer_id: str) -> tuple[dict[str, Any], Decimal]:
        bal = self._hub_entry(volunteer_id).get("balance") if volunteer_id else None
        if not isinstance(bal, dict):
            return {}, Decimal(0)
        try:
            return bal, Decimal(str(bal.get("hours", 0)))
        except ArithmeticError:
            log.warning("hub balance of %s is malformed; ignored", volunteer_id)
            return {}, Decimal(0)

    def _pending(self, account: str, bal: dict[str, Any]) -> list[Record]:
        through = bal.get("through", {}) if isinstance(bal.get("through"), dict) else {}
        after = through.get(self.station_id, 0)
        after = after if isinstance(after, int) and not isinstance(after, bool) else 0
        counted = set(bal.get("counted", []) if isinstance(bal.get("counted"), list) else [])
        out = []
        for r in self.journal.records("ledger_movement", after_seq=after, limit=1_000_000):
            mv: LedgerMovement = r.payload
            if account in (mv.debit, mv.credit) and mv.movement_id not in counted:
                out.append(r)
        return out

    def balance(self, account: str, volunteer_id: str = "") -> tuple[Decimal, Decimal, dict[str, Any]]:
        """(balance, pending part, hub balance object) of an account: the hub's last balance plus the
        local movements the hub had not counted yet."""
        bal, hub = self._hub_balance(volunteer_id)
        pending = self._pending(account, bal)
        delta = ledger_balances(r.payload for r in pending).get(account, Decimal(0))
        return hub + delta, delta, bal

    def _account(self, person: Person) -> tuple[str, str]:
        v = self._volunteer(person)
        if v is not None:
            return volunteer_account(v.id), v.id
        return resident_account(person.person_key), ""

    def _check_hours(self, hours: Any) -> Decimal:
        try:
            h = Decimal(str(hours))
        except ArithmeticError:
            raise InvalidHours(f"{hours!r} is not a number of hours") from None
        if isinstance(hours, bool) or not h.is_finite() or h <= 0 or h > 1000 or (h * 2) % 1 != 0:
            raise InvalidHours(f"{hours!r} is not a positive number of half hours")
        return h

    def spend(self, person: Person, hours: Any, purpose: str) -> Moved:
        """A volunteer or a resident with a time-bank account spends hours to request a service.

        Raises:
            InvalidHours, InsufficientBalance (the balance would fall below ``balance_floor``).
        """
        h = self._check_hours(hours)
        account, vid = self._account(person)
        current, _p, _b = self.balance(account, vid)
        if current - h < self.rules.balance_floor:
            raise InsufficientBalance(current, h, self.rules.balance_floor)
        mv = self._move("spend", account, SPENT, h, purpose[:80] or "spend", "spend", note=purpose[:200])
        return Moved(mv.movement_id, float(h), float(current - h))

    def transfer(self, person: Person, to_volunteer_id: str, hours: Any, note: str = "") -> Moved:
        """Give hours to another volunteer's account (e.g. a family member's).

        Raises:
            InvalidHours, UnknownVolunteer, InsufficientBalance.
        """
        h = self._check_hours(hours)
        account, vid = self._account(person)
        if self._roster().by_id(to_volunteer_id) is None:
            raise UnknownVolunteer(f"no volunteer {to_volunteer_id!r}")
        target = volunteer_account(to_volunteer_id)
        if target == account:
            raise InvalidHours("a transfer needs two different accounts")
        current, _p, _b = self.balance(account, vid)
        if current - h < self.rules.balance_floor:
            raise InsufficientBalance(current, h, self.rules.balance_floor)
        mv = self._move("transfer", account, target, h, to_volunteer_id, "transfer", note=note[:200])
        return Moved(mv.movement_id, float(h), float(current - h))

    # --- status ---------------------------------------------------------------------------------------------
    def status(self, person: Person) -> VolunteerStatus:
        """Name (masked), team, open shift, hours this month, balance, recent services.

        Raises:
            NotRegistered: the person is not a volunteer.
        """
        v = self._require(person)
        account = volunteer_account(v.id)
        balance, pending, bal = self.balance(account, v.id)
        now_local = self._local(self._clock())
        month = now_local.strftime("%Y-%m")
        month_hours = Decimal(str(bal.get("month_hours", 0))) if bal.get("month") == month else Decimal(0)
        for r in self._pending(account, bal):
            mv: LedgerMovement = r.payload
            if mv.credit == account and mv.kind in ("earn", "adjust") and \
                    self._local(r.created_at).strftime("%Y-%m") == month:
                month_hours += Decimal(str(mv.hours))
        open_rec = self._open_shift(v.id)
        remote = None if open_rec else self._remote_open(v.id)
        team = open_rec.payload.team if open_rec else (v.teams[0] if v.teams else "")
        recent = []
        for r in self.journal.records("volunteer_service", where={"volunteer_id": v.id}, newest_first=True, limit=5):
            p: VolunteerService = r.payload
            conf = self.journal.records("service_confirmation", where={"service_id": p.service_id}, limit=1)
            recent.append(ServiceSummary(p.service_id, p.service_name, r.created_at, p.hours, bool(conf),
                                         conf[0].payload.rating if conf else None))
        return VolunteerStatus(
            volunteer_id=v.id, display_name=mask_name(v.name), team=team, team_name=self._team_name(team),
            checked_in_since=open_rec.payload.at if open_rec else (remote.since if remote else None),
            hours_this_month=float(month_hours), balance=float(balance), balance_as_of=bal.get("as_of"),
            pending_hours=float(pending), recent_services=tuple(recent),
            open_elsewhere=remote.station if remote else "")

    # --- roster ---------------------------------------------------------------------------------------------
    def register_volunteer(self, name: str, phone: str, team: str, *, card_uid: str = "", person_key: str = "",
                           registered_by: str = "") -> Volunteer:
        """Staff registers a volunteer at the kiosk (synced up; usable here at once).

        Args:
            name: the real name (certificates need it; shown masked everywhere on the kiosk).
            phone: stored masked only.
            card_uid: the tapped IC card's UID (hex) and/or person_key of their ID card.

        Raises:
            RegistrationInvalid, UnknownTeam, CardInUse.
        """
        name = " ".join(name.split())
        if not name or len(name) > 40 or any(c.isdigit() for c in name) or contains_id_number(name):
            raise RegistrationInvalid("name must be 1-40 characters without digits")
        masked = mask_phone(phone)
        uid = self._check_uid(card_uid)
        key = self._check_key(person_key)
        if not uid and not key:
            raise RegistrationInvalid("a card UID or an ID card is needed")
        if self.catalog().team(team) is None and team not in self._roster().teams:
            raise UnknownTeam(f"team {team!r} is not in the catalog")
        self._check_free(uid, key, None)
        vid = f"{self.station_id}-{uuid.uuid4().hex[:10]}"
        self.journal.append(VolunteerRegistered(volunteer_id=vid, name=name, phone_masked=masked, team=team,
                                                card_uid=uid, person_key=key, registered_by=registered_by),
                            created_at=self._clock())
        return Volunteer(vid, name, (team,), uid, key)

    @staticmethod
    def _check_uid(card_uid: str) -> str:
        uid = card_uid.strip().upper()
        if uid and not (_HEX.fullmatch(uid) and 4 <= len(uid) <= 20):
            raise RegistrationInvalid("card UID must be 4-20 hex digits")
        return uid

    @staticmethod
    def _check_key(person_key: str) -> str:
        key = person_key.strip().lower()
        if key and not (_HEX.fullmatch(key) and len(key) == 64):
            raise RegistrationInvalid("person key must be 64 hex digits")
        return key

    def _check_free(self, uid: str, key: str, owner: str | None) -> None:
        roster = self._roster()
        for other in (roster.by_card_uid(uid) if uid else None, roster.by_person_key(key) if key else None):
            if other is not None and other.id != owner:
                raise CardInUse(f"the card already belongs to volunteer {other.id}")

    def rebind_card(self, volunteer_id: str, *, new_card_uid: str = "", new_person_key: str = "",
                    reason: str = "lost", by: str = "") -> CardRebound:
        """Replace a volunteer's lost card; the old card stops working here at once, the history stays.

        Raises:
            UnknownVolunteer, RegistrationInvalid, CardInUse.
        """
        v = self._roster().by_id(volunteer_id)
        if v is None:
            raise UnknownVolunteer(f"no volunteer {volunteer_id!r}")
        uid, key = self._check_uid(new_card_uid), self._check_key(new_person_key)
        if not uid and not key:
            raise RegistrationInvalid("a new card UID or ID card is needed")
        self._check_free(uid, key, v.id)
        payload = CardRebound(volunteer_id=v.id, old_card_uid=v.card_uid, new_card_uid=uid,
                              old_person_key=v.person_key if key else "", new_person_key=key, reason=reason[:40],
                              by=by)
        self.journal.append(payload, created_at=self._clock())
        return payload

