"""今日: the overview of the stations in scope, and one station's day."""
from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from hub.reviews import pending_reviews
from hub.web import today as t
from hub.web import work
from hub.web.guard import Ctx, route


def home(ctx: Ctx) -> Response:
    return RedirectResponse("/today", status_code=303)


def _overview(ctx: Ctx) -> dict:
    scope = ctx.scope
    status = t.station_status(ctx.wb.engine, scope)
    names = sorted(set(status) | set(scope or ()))
    alerts = work.open_alert_counts(ctx.wb.engine, scope)
    follow = t.follow_up_counts(ctx.wb.engine, scope)
    reviews: dict[str, int] = {}
    for r in pending_reviews(ctx.wb.engine, scope):
        reviews[r["station"]] = reviews.get(r["station"], 0) + 1
    rows = [{"station": s, "status": status.get(s), "alerts": alerts.get(s, 0), "follow_ups": follow.get(s, 0),
             "reviews": reviews.get(s, 0)} for s in names]
    rows.sort(key=lambda r: (-r["alerts"], -r["follow_ups"], r["station"]))
    return {"rows": rows}


def overview(ctx: Ctx) -> Response:
    if ctx.user.stations and len(ctx.user.stations) == 1 and not ctx.user.all_stations:
        return RedirectResponse(f"/s/{ctx.user.stations[0]}/today", status_code=303)
    return ctx.render("overview.html", **_overview(ctx))


def overview_table(ctx: Ctx) -> Response:
    return ctx.render("partials/overview_table.html", **_overview(ctx))


def _alerts(ctx: Ctx) -> dict:
    return {"alerts": work.alerts(ctx.wb.engine, (ctx.station,), limit=50), "now": work._now()}


def station_today(ctx: Ctx) -> Response:
    st = ctx.station
    engine = ctx.wb.engine
    return ctx.render("today.html", **_alerts(ctx),
                      status=t.station_status(engine, (st,)).get(st),
                      follow_ups=work.follow_ups(engine, (st,), limit=10),
                      shifts=t.open_shifts_at(engine, st),
                      reviews=pending_reviews(engine, (st,)))


def station_alerts_partial(ctx: Ctx) -> Response:
    return ctx.render("partials/alert_rows.html", **_alerts(ctx), compact=True)


ROUTES = [
    route("/", home),
    route("/today", overview),
    route("/today/table", overview_table),
    route("/s/{station}/today", station_today),
    route("/s/{station}/today/alerts", station_alerts_partial),
]
