"""Hour movements, balances, hours used by priority requests and transfers (part of ``TimeBank``).
"""
from __future__ import annotations

import logging
import uuid
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from kiosk.records import Record
from kiosk.session import Person
from kiosk.timebank.errors import (
    VolunteerError,
)
from kiosk.timebank.kinds import (
    HONOUR,
    SPENT,
    LedgerMovement,
    ledger_balances,
    resident_account,
    volunteer_account,
)
from kiosk.timebank.results import Moved

log = logging.getLogger(__name__)


class AccountsMixin:
    """The ledger side; needs the attributes :class:`TimeBank` sets up."""

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
        found: dict[str, Record] = {}
        for side in ("debit", "credit"):           # two indexed lookups: this account's movements only
            for r in self.journal.each("ledger_movement", after_seq=after, where={side: account}):
                if r.payload.movement_id not in counted:
                    found[r.id] = r
        return sorted(found.values(), key=lambda r: r.seq)

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

    def use_for_request(self, account: str, hours: Any, request_id: str, *, movement_id: str) -> Moved | None:
        """Record banked hours as used when a priority request was done: banked hours are a right to
        priority, not a price, so nothing is refused here. The service's hours are moved to
        ``bank:spent``, or only what lies above ``balance_floor`` (quarter hours), or nothing.
        ``movement_id`` is stable per request, so confirming twice uses the hours once.
        """
        vid = account.partition(":")[2] if account.startswith("volunteer:") else ""
        current, _p, _b = self.balance(account, vid)
        stored = self.journal.get(movement_id)
        if stored is not None:
            return Moved(movement_id, stored.payload.hours, float(current))
        available = current - self.rules.balance_floor
        use = min(Decimal(str(hours)), (available * 4).to_integral_value(rounding=ROUND_FLOOR) / 4)
        if use <= 0:
            return None
        mv = self._move("spend", account, SPENT, use, request_id, "priority", movement_id=movement_id,
                        note="priority request")
        return Moved(mv.movement_id, float(use), float(current - use))
