"""The volunteer time bank of one station: :class:`TimeBank` composes shifts, services, accounts
and registration over the journal.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from kiosk.journal import Journal
from kiosk.privacy import mask_name
from kiosk.records import Record
from kiosk.roster import Roster, Volunteer
from kiosk.session import Person
from kiosk.timebank.accounts import AccountsMixin
from kiosk.timebank.catalog import Catalog, _documents, load_catalog, load_roster
from kiosk.timebank.confirmations import ServicesMixin
from kiosk.timebank.errors import NotRegistered
from kiosk.timebank.kinds import LedgerMovement, VolunteerService, volunteer_account
from kiosk.timebank.registration import RegistrationMixin
from kiosk.timebank.results import ServiceSummary, VolunteerStatus
from kiosk.timebank.rules import HourRules
from kiosk.timebank.shifts import ShiftsMixin

log = logging.getLogger(__name__)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TimeBank(ShiftsMixin, ServicesMixin, AccountsMixin, RegistrationMixin):
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
