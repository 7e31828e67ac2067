"""What the 今日 page and the station overview show, each by indexed queries of one station or
grouped counts over the stations in scope."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from hub import models as m
from hub.timebank import open_shifts
from hub.web.work import FOLLOW_UP

#: A station not heard from for this long is shown as not reporting, whatever it last said.
SILENT_AFTER = timedelta(minutes=10)


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


def station_status(engine: Engine, stations: tuple[str, ...] | None) -> dict[str, dict[str, Any]]:
    """Per station: state, last seen, queue depth, last batch, last ack, warning, documents, and the
    doctor summary (device faults) when the station sends one."""
    q = select(m.stations)
    if stations is not None:
        q = q.where(m.stations.c.station.in_(stations))
    health_table = getattr(m, "station_health", None)
    out: dict[str, dict[str, Any]] = {}
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        for r in conn.execute(q.order_by(m.stations.c.station)).mappings().all():
            d = dict(r)
            d["last_seen"] = _aware(d["last_seen"])
            d["last_batch_at"] = _aware(d["last_batch_at"])
            d["documents"] = json.loads(d["documents"]) if d.get("documents") else {}
            d["silent"] = d["last_seen"] is None or now - d["last_seen"] > SILENT_AFTER
            d["faults"] = {}
            out[d["station"]] = d
        if health_table is not None and out:
            for r in conn.execute(select(health_table).where(health_table.c.station.in_(list(out)))).mappings():
                try:
                    health = json.loads(r["health"]) if r["health"] else {}
                except ValueError:
                    health = {}
                out[r["station"]]["faults"] = dict(health.get("failing") or {})
                out[r["station"]]["healthy"] = r["healthy"]
    return out


def open_shifts_at(engine: Engine, station: str, since: timedelta = timedelta(days=2)) -> list[dict[str, Any]]:
    """Shifts checked in at ``station`` within ``since`` and closed nowhere yet (the open shifts kept
    by ``hub/ledger.py``: an indexed query, the latest per volunteer)."""
    start = datetime.now(timezone.utc) - since
    with engine.connect() as conn:
        shifts = open_shifts(conn)
    return [dict(v, volunteer_id=k) for k, v in shifts.items()
            if v["station"] == station and datetime.fromisoformat(v["since"]) >= start]


def follow_up_counts(engine: Engine, stations: tuple[str, ...] | None) -> dict[str, int]:
    """Per station, the follow-ups not closed."""
    j = m.records.outerjoin(m.follow_up_state, and_(m.follow_up_state.c.station == m.records.c.station,
                                                   m.follow_up_state.c.record_id == m.records.c.id))
    q = (select(m.records.c.station, func.count()).select_from(j)
         .where(FOLLOW_UP & m.follow_up_state.c.closed_at.is_(None))
         .group_by(m.records.c.station))
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    with engine.connect() as conn:
        return dict(conn.execute(q).all())
