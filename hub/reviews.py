"""Shift reviews beyond crediting: refusing a shift with a reason, and the list still to review.

:func:`hub.timebank.review_shift` credits a shift auto-closed at the cut-off; :func:`reject_shift`
refuses it (no hours, the reason kept) so it leaves :func:`pending_reviews`. The command line
(``yizhan hub review``) and the workbench both use these.

:func:`pending_reviews` answers what :func:`hub.timebank.needs_review` answers, less the refused
shifts, by SQL over the stations asked for: the flagged check-outs of those stations, then only the
ledger movements that reference them (a test holds the two equal).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from hub import models as m
from hub.screening import json_text
from hub.timebank import NotReviewable, engine_for
from kiosk.records import payload_from_dict


def pending_reviews(db: str | Engine, stations: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Shifts that need review, neither credited nor refused (of the stations; None for all), oldest first."""
    engine = engine_for(db)
    flagged = (m.records.c.kind == "volunteer_check_out") & json_text(engine, "needs_review").in_(("1", "true"))
    q = select(m.records.c.id, m.records.c.station, m.records.c.payload).where(flagged).order_by(m.records.c.ts)
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    with engine.connect() as conn:
        outs = [(rid, st, payload_from_dict("volunteer_check_out", json.loads(p))) for rid, st, p in conn.execute(q)]
        if not outs:
            return []
        reference = json_text(engine, "reference")
        credited: set[str] = set()
        shift_ids = sorted({p.shift_id for _r, _s, p in outs})
        for i in range(0, len(shift_ids), 500):
            credited |= {r for (r,) in conn.execute(select(reference).where(
                (m.records.c.kind == "ledger_movement") & reference.in_(shift_ids[i:i + 500])))}
        refused = {(s, r) for s, r in conn.execute(select(m.shift_rejections.c.station,
                                                          m.shift_rejections.c.record_id))}
    return [{"record_id": rid, "station": st, "volunteer_id": p.volunteer_id, "shift_id": p.shift_id,
             "since": p.since.isoformat(), "until": p.until.isoformat(), "proposed_hours": p.proposed_hours,
             "team": p.team, "activity": p.activity}
            for rid, st, p in outs if p.shift_id not in credited and (st, rid) not in refused]


def reject_shift(db: str | Engine, station: str, record_id: str, reason: str, reviewer: str) -> None:
    """Refuse to credit a shift that needs review, keeping the reason.

    Raises:
        NotReviewable: not a pending review of that station, or no reason given.
    """
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise NotReviewable("give a reason (at most 500 characters) for not crediting the shift")
    engine = engine_for(db)
    if not any(r["record_id"] == record_id for r in pending_reviews(engine, (station,))):
        raise NotReviewable(f"{record_id[:64]} is not a shift waiting for review at {station}")
    with engine.begin() as conn:
        conn.execute(insert(m.shift_rejections).values(station=station, record_id=record_id, reason=reason,
                                                       reviewer=reviewer[:64], at=datetime.now(timezone.utc)))
