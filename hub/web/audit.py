"""The append-only audit log: who did what, when, to which object, with before and after.

Rows are only ever inserted (no update or delete exists in this module or anywhere else).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m


#: What each audit action is called on the audit page (English msgids, translated there).
ACTION_WORDS = {
    "sign_in": "Signed in", "sign_in.failed": "Sign-in failed", "sign_out": "Signed out",
    "user.add": "Account added", "user.passwd": "Password changed", "user.disable": "Account disabled",
    "user.enable": "Account enabled", "user.unlock": "Failed sign-ins cleared", "alert.acknowledge": "Alert acknowledged", "alert.action": "Action recorded",
    "alert.resolve": "Alert resolved", "follow_up.update": "Follow-up noted", "follow_up.close": "Follow-up closed",
    "review.credit": "Shift credited", "review.reject": "Shift not credited", "document.publish": "Document published",
    "dead_letter.replay": "Dead letter replayed", "resident.withdraw_consent": "Consent withdrawn, records deleted",
    "request.assign": "Request assigned", "request.cancel": "Request cancelled",
    "wish.publish": "Wish put on the board", "wish.claim": "Wish claimed", "wish.fulfil": "Wish fulfilled",
    "wish.answer": "Suggestion answered", "activity.add": "Activity published",
}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(conn: Connection, actor: str, action: str, station: str | None, target: str | None,
           before: Any, after: Any) -> None:
    """Append one entry in the caller's transaction (so the change and its entry commit together)."""
    conn.execute(insert(m.audit).values(at=datetime.now(timezone.utc), actor=actor[:64], action=action[:64],
                                        station=station, target=(target or "")[:128] or None,
                                        before=_json(before), after=_json(after)))


def entries(engine: Engine, scope: tuple[str, ...] | None = None, limit: int = 200) -> list[dict]:
    """The newest entries (of the stations in ``scope``; None for all), newest first."""
    q = select(m.audit).order_by(m.audit.c.id.desc()).limit(limit)
    if scope is not None:
        q = q.where(m.audit.c.station.in_(scope))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings().all()]
