"""预警 (urgent alerts: acknowledge, action taken, resolve) and 回访 (follow-ups: assign, note, close)."""
from __future__ import annotations

from starlette.responses import Response

from hub.web import work
from hub.web.guard import Ctx, route


def alert_list(ctx: Ctx) -> Response:
    show_all = ctx.request.query_params.get("all") == "1"
    return ctx.render("alerts.html", alerts=work.alerts(ctx.wb.engine, (ctx.station,), open_only=not show_all),
                      now=work._now(), show_all=show_all)


def alert_rows(ctx: Ctx) -> Response:
    return ctx.render("partials/alert_rows.html", alerts=work.alerts(ctx.wb.engine, (ctx.station,)),
                      now=work._now(), compact=False)


def alert_detail(ctx: Ctx) -> Response:
    alert = work.get_alert(ctx.wb.engine, ctx.station, ctx.request.path_params["record_id"])
    return ctx.render("alert.html", alert=alert, actions=work.ACTIONS, now=work._now())


def acknowledge(ctx: Ctx) -> Response:
    rid = ctx.request.path_params["record_id"]
    work.acknowledge(ctx.wb.engine, ctx.station, rid, ctx.user.username)
    return ctx.redirect(ctx.field("back") or f"/s/{ctx.station}/alerts/{rid}", ctx._("Acknowledged."))


def action(ctx: Ctx) -> Response:
    rid = ctx.request.path_params["record_id"]
    work.take_action(ctx.wb.engine, ctx.station, rid, ctx.field("action"), ctx.field("note"), ctx.user.username)
    return ctx.redirect(f"/s/{ctx.station}/alerts/{rid}", ctx._("The action taken is recorded."))


def resolve(ctx: Ctx) -> Response:
    rid = ctx.request.path_params["record_id"]
    work.resolve(ctx.wb.engine, ctx.station, rid, ctx.user.username)
    return ctx.redirect(f"/s/{ctx.station}/alerts", ctx._("Alert resolved."))


def follow_up_list(ctx: Ctx) -> Response:
    show_all = ctx.request.query_params.get("all") == "1"
    return ctx.render("followups.html", show_all=show_all,
                      items=work.follow_ups(ctx.wb.engine, (ctx.station,), open_only=not show_all))


def follow_up_update(ctx: Ctx) -> Response:
    rid = ctx.request.path_params["record_id"]
    close = ctx.field("close") == "1"
    work.update_follow_up(ctx.wb.engine, ctx.station, rid, ctx.user.username, assignee=ctx.field("assignee"),
                          note=ctx.field("note"), close=close)
    return ctx.redirect(f"/s/{ctx.station}/followups", ctx._("Follow-up closed.") if close else ctx._("Saved."))


ROUTES = [
    route("/s/{station}/alerts", alert_list),
    route("/s/{station}/alerts/rows", alert_rows),
    route("/s/{station}/alerts/{record_id}", alert_detail),
    route("/s/{station}/alerts/{record_id}/ack", acknowledge, methods=("POST",)),
    route("/s/{station}/alerts/{record_id}/action", action, methods=("POST",)),
    route("/s/{station}/alerts/{record_id}/resolve", resolve, methods=("POST",)),
    route("/s/{station}/followups", follow_up_list),
    route("/s/{station}/followups/{record_id}", follow_up_update, methods=("POST",)),
]
