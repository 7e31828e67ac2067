"""Hub side of 家属优先: volunteers' family links from every station, and the priority they give.

Kiosk records ``family_linked`` and ``family_unlinked`` become rows of ``hub_family_events`` in the
transaction that stores them (once per record id). The newest event of a (volunteer, family member)
pair is the link's state, whichever station it came from. An open request of a linked family
member is priority while the volunteer has banked hours for it at the hub (:func:`with_priority`);
its hours are recorded as used from the volunteer's account when the request is confirmed at a
kiosk (``kiosk.community.requests.Requests.confirm``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from hub import models as m
from hub.ledger import to_hours
from kiosk.timebank.kinds import volunteer_account

KINDS = {"family_linked": True, "family_unlinked": False}


def apply_records(conn: Connection, records: Iterable[Any]) -> int:
    """Keep freshly stored link records (inside the storing transaction); returns how many were new."""
    t = m.family_events
    added = 0
    for r in records:
        linked = KINDS.get(r.kind)
        if linked is None or conn.execute(select(t.c.id).where((t.c.station == r.station) & (t.c.id == r.id))).first():
            continue
        p = json.loads(r.payload_json)
        conn.execute(t.insert().values(id=r.id, volunteer_id=str(p["volunteer_id"])[:64],
                                       family_key=str(p["family_key"])[:64],
                                       display_name=str(p.get("display_name", ""))[:32], linked=linked,
                                       station=r.station, at=r.ts))
        added += 1
    return added


def state(conn: Connection, family_keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The newest event of every (volunteer, family member) pair (of ``family_keys`` only, if given):
    ``volunteer_id``, ``family_key``, ``display_name`` (of the last link), ``linked``, ``at``, and the
    ``station`` of that event."""
    t = m.family_events
    q = select(t).order_by(t.c.at, t.c.id)
    if family_keys is not None:
        keys = sorted(set(family_keys))
        if not keys:
            return []
        q = q.where(t.c.family_key.in_(keys))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in conn.execute(q).mappings():
        pair = (e["volunteer_id"], e["family_key"])
        name = e["display_name"] or (out[pair]["display_name"] if pair in out else "")
        out[pair] = {"volunteer_id": e["volunteer_id"], "family_key": e["family_key"], "display_name": name,
                     "linked": bool(e["linked"]), "at": e["at"], "station": e["station"]}
    return sorted(out.values(), key=lambda e: (e["volunteer_id"], e["at"]))


def with_priority(conn: Connection, rows: list[dict[str, Any]], open_states: tuple[str, ...]) -> None:
    """Mark each open request of a linked family member that is not priority yet as priority, with the
    account of the linked volunteer who has the most banked hours and at least the request's hours."""
    todo = [r for r in rows if r["state"] in open_states and not r["priority"]]
    links = [e for e in state(conn, (r["person_key"] for r in todo)) if e["linked"]]
    if not links:
        return
    accounts = {volunteer_account(e["volunteer_id"]) for e in links}
    balance = {a: to_hours(h) for a, h in conn.execute(
        select(m.accounts.c.account, m.accounts.c.micro_hours).where(m.accounts.c.account.in_(sorted(accounts))))}
    for r in todo:
        best = max(((balance.get(volunteer_account(e["volunteer_id"]), Decimal(0)), volunteer_account(e["volunteer_id"]))
                    for e in links if e["family_key"] == r["person_key"]), default=None)
        if best is not None and best[0] > 0 and best[0] >= Decimal(str(r["hours"] or 0)):
            r.update(priority=True, priority_account=best[1], family_priority=True)
