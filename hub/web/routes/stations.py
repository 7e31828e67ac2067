"""驿站: every station in scope with its status; one station's status, history and dead letters."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from starlette.responses import Response

from hub import models as m
from hub.store import HubError
from hub.web import today as t
from hub.web.audit import record
from hub.web.guard import Ctx, route
from hub.web.work import NotFound

HISTORY_DAYS = 14


def stations(ctx: Ctx) -> Response:
    return ctx.render("stations.html", stations=t.station_status(ctx.wb.engine, ctx.scope))


def _history(ctx: Ctx, station: str) -> list[tuple[str, int]]:
    start = (datetime.now(timezone.utc) - timedelta(days=HISTORY_DAYS)).date()
    day = func.substr(m.records.c.ts, 1, 10)
    with ctx.wb.engine.connect() as conn:
        counts = dict(conn.execute(select(day, func.count())
                                   .where((m.records.c.station == station) & (m.records.c.ts >= start.isoformat()))
                                   .group_by(day)).all())
    return [((start + timedelta(days=i)).isoformat(), counts.get((start + timedelta(days=i)).isoformat(), 0))
            for i in range(HISTORY_DAYS + 1)]


def _dead_letters(ctx: Ctx, station: str) -> list[dict]:
    with ctx.wb.engine.connect() as conn:
        rows = conn.execute(select(m.dead_letters.c.id, m.dead_letters.c.received_at, m.dead_letters.c.record_id,
                                   m.dead_letters.c.reason, m.dead_letters.c.size)
                            .where(m.dead_letters.c.station == station)
                            .order_by(m.dead_letters.c.id.desc()).limit(100)).mappings().all()
    return [dict(r) for r in rows]


def station(ctx: Ctx) -> Response:
    st = ctx.station
    return ctx.render("station.html", status=t.station_status(ctx.wb.engine, (st,)).get(st),
                      history=_history(ctx, st), dead=_dead_letters(ctx, st))


def replay(ctx: Ctx) -> Response:
    letter = int(ctx.request.path_params["letter"])
    if not any(d["id"] == letter for d in _dead_letters(ctx, ctx.station)):
        raise NotFound(f"no dead letter {letter} at station {ctx.station}")
    try:
        result = ctx.wb.store.replay(letter)
    except HubError as exc:
        return ctx.redirect(f"/s/{ctx.station}/station", ctx._("Not replayed: {reason}", reason=str(exc)))
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, "dead_letter.replay", ctx.station, str(letter), None, str(result))
    return ctx.redirect(f"/s/{ctx.station}/station", ctx._("Replayed: {result}", result=result))


ROUTES = [
    route("/stations", stations),
    route("/s/{station}/station", station),
    route("/s/{station}/dead-letters/{letter:int}/replay", replay, methods=("POST",), role="district"),
]
