"""Health screening statistics per station and month, as SQL aggregates over the hub records.

Counts: measurements, residents measured (distinct person keys), measurements per screening
category, urgent readings, and the health-screening-day sessions (``health_session_closed``)
with their own summaries. Months are taken in the district's time zone.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from hub import models as m

MEASUREMENT_KINDS = ("bp_measurement", "glucose_measurement")
DEFAULT_TZ = "Asia/Shanghai"


class ScreeningError(Exception):
    """Statistics cannot be produced (a bad month); the text says why."""

    user_key = "screening_error"


def month_bounds(month: str, tz: str = DEFAULT_TZ) -> tuple[str, str]:
    """The month ``YYYY-MM`` in ``tz`` as UTC ISO bounds ``[start, end)`` comparable with record ``ts``.

    Raises:
        ScreeningError: not ``YYYY-MM``.
    """
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=ZoneInfo(tz))
    except (TypeError, ValueError):
        raise ScreeningError(f"month must be YYYY-MM (got {str(month)[:20]!r})") from None
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    fmt = "%Y-%m-%dT%H:%M:%S.000+00:00"
    return start.astimezone(timezone.utc).strftime(fmt), end.astimezone(timezone.utc).strftime(fmt)


def json_text(engine: Engine, name: str):
    """SQL for the text of one top-level field of a record's JSON payload (SQLite ``json_extract``,
    PostgreSQL ``->>``); booleans read ``1``/``0`` on SQLite and ``true``/``false`` on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return cast(m.records.c.payload, postgresql.JSON).op("->>", return_type=String)(name)
    return cast(func.json_extract(m.records.c.payload, f"$.{name}"), String)


def station_month(engine: Engine, month: str, stations: tuple[str, ...] | None = None,
                  tz: str = DEFAULT_TZ) -> dict[str, dict[str, Any]]:
    """Per station: ``{measurements, residents, urgent, categories: {category: n}, kinds: {kind: n},
    sessions: [{session_id, opened_at, residents_measured, measurements, abnormal, urgent}]}``.

    Raises:
        ScreeningError: bad month.
    """
    lo, hi = month_bounds(month, tz)
    in_month = (m.records.c.ts >= lo) & (m.records.c.ts < hi)
    scope = m.records.c.station.in_(stations) if stations is not None else True
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"measurements": 0, "residents": 0, "urgent": 0,
                                                          "categories": {}, "kinds": {}, "sessions": []})
    category = json_text(engine, "category")
    person = json_text(engine, "person_key")
    with engine.connect() as conn:
        base = m.records.c.kind.in_(MEASUREMENT_KINDS) & in_month & scope & m.LIVE
        for station, kind, cat, n in conn.execute(
                select(m.records.c.station, m.records.c.kind, category, func.count())
                .where(base).group_by(m.records.c.station, m.records.c.kind, category)).all():
            s = out[station]
            s["measurements"] += n
            s["kinds"][kind] = s["kinds"].get(kind, 0) + n
            s["categories"][cat or "?"] = s["categories"].get(cat or "?", 0) + n
        for station, n in conn.execute(select(m.records.c.station, func.count(func.distinct(person)))
                                       .where(base).group_by(m.records.c.station)).all():
            out[station]["residents"] = n
        for station, n in conn.execute(select(m.records.c.station, func.count())
                                       .where((m.records.c.kind == "health_alert") & in_month & scope & m.LIVE)
                                       .group_by(m.records.c.station)).all():
            out[station]["urgent"] = n
        for station, payload in conn.execute(select(m.records.c.station, m.records.c.payload)
                                             .where((m.records.c.kind == "health_session_closed") & in_month & scope)
                                             .order_by(m.records.c.ts)).all():
            p = json.loads(payload)
            out[station]["sessions"].append({k: p.get(k) for k in ("session_id", "opened_at", "residents_measured",
                                                                   "measurements", "abnormal", "urgent")})
    return dict(sorted(out.items()))


def months_of_station(engine: Engine, station: str, months: list[str], tz: str = DEFAULT_TZ) -> list[dict[str, Any]]:
    """One row per month for a station's trend chart: ``{month, measurements, residents, urgent}``."""
    rows = []
    for month in months:
        s = station_month(engine, month, (station,), tz).get(station, {})
        rows.append({"month": month, "measurements": s.get("measurements", 0), "residents": s.get("residents", 0),
                     "urgent": s.get("urgent", 0)})
    return rows
