"""Per-station daily quotas (issue 22): one station's login cannot grow the hub, or the documents
other stations read, without bound.

Each station may send at most :data:`DAILY` records of a kind per day (the hub's UTC day of
arrival); records beyond it are refused in the ack as ``quota``, set aside as dead letters and
counted (``yizhan_hub_quota_refused``). The counters live in ``hub_station_quota`` (one row per
station, day and kind), so checking costs one indexed row, not a count of history.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from hub import models as m

#: quota key -> records per station per day. Wishes and suggestions are both ``wish_posted``
#: records; each has its own quota.
DAILY: dict[str, int] = {
    "service_request": 200,
    "activity_signup": 500,
    "wish_posted:wish": 100,
    "wish_posted:suggestion": 100,
}


def _key(kind: str, payload_json: str) -> str | None:
    if kind == "wish_posted":
        return f"wish_posted:{json.loads(payload_json).get('kind')}"
    return kind if kind in DAILY else None


def take(conn: Connection, station: str, records: Sequence[tuple[int, Any]], now: datetime,
         limits: dict[str, int] | None = None) -> dict[int, str]:
    """Count a batch's new records ``(index, record)`` against the station's quotas for ``now``'s
    day; returns index -> why for those beyond it, each taken out of ``hub_records`` at once."""
    limits = DAILY if limits is None else limits
    day = now.date().isoformat()
    q = m.station_quota
    used: dict[str, int] = {}
    stored: set[str] = set()
    refused: dict[int, str] = {}
    for index, r in records:
        key = _key(r.kind, r.payload_json)
        if key is None or key not in limits:
            continue
        if key not in used:
            row = conn.execute(select(q.c.used).where((q.c.station == station) & (q.c.day == day)
                                                      & (q.c.kind == key))).first()
            used[key] = int(row[0]) if row else 0
            if row:
                stored.add(key)
        if used[key] >= limits[key]:
            refused[index] = f"{key}: the station's quota of {limits[key]} a day is used up"
            conn.execute(delete(m.records).where((m.records.c.station == station) & (m.records.c.id == r.id)))
        else:
            used[key] += 1
    for key, n in used.items():
        if key in stored:
            conn.execute(q.update().where((q.c.station == station) & (q.c.day == day) & (q.c.kind == key))
                         .values(used=n))
        else:
            conn.execute(q.insert().values(station=station, day=day, kind=key, used=n))
    return refused
