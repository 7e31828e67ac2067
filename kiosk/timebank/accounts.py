"""Hour movements, balances, spending and transfers (part of ``TimeBank``).
"""
from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

from kiosk.records import Record
from kiosk.session import Person
from kiosk.timebank.errors import (
    InsufficientBalance,
    InvalidHours,
    VolunteerError,
    require_second_factor,
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
            SecondFactorRequired (identified by a card UID or QR code, not the ID card), InvalidHours,
            InsufficientBalance (the balance would fall below ``balance_floor``).
        """
        require_second_factor(person, "spending hours")
        h = self._check_hours(hours)
        account, vid = self._account(person)
        current, _p, _b = self.balance(account, vid)
        if current - h < self.rules.balance_floor:
            raise InsufficientBalance(current, h, self.rules.balance_floor)
        mv = self._move("spend", account, SPENT, h, purpose[:80] or "spend", "spend", note=purpose[:200])
        return Moved(mv.movement_id, float(h), float(current - h))
