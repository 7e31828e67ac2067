"""四代请求 (service requests) of a station: the queue, priority first, overdue flagged; staff assign a
volunteer or cancel with a reason — the same ``hub.requests`` functions ``yizhan hub requests`` calls —
and the kiosks get the ``requests`` document at once."""
from __future__ import annotations

import dataclasses

from starlette.responses import Response

from hub import requests as hr
from hub.database import HubError
from hub.publishing import publish_requests
from hub.web.audit import record
from hub.web.guard import Ctx, route
from kiosk.community.kinds import CANCEL_REASONS, CANCELLED, CONFIRMED, STATE_WORDS
from sync.messages import MessageError


def request_list(ctx: Ctx) -> Response:
    show_all = ctx.request.query_params.get("all") == "1"
    states = hr.OPEN_STATES + ((CONFIRMED, CANCELLED) if show_all else ())
    return ctx.render("requests.html", rows=hr.queue(ctx.wb.engine, ctx.station, states), show_all=show_all,
                      state_words=STATE_WORDS, reasons=CANCEL_REASONS)


def _act(ctx: Ctx, action: str, fn) -> Response:
    rid = ctx.request.path_params["request_id"]
    back = f"/s/{ctx.station}/requests"
    try:
        before = hr.find(ctx.wb.engine, rid, ctx.station)
        if before["station"] != ctx.station:
            raise hr.UnknownRequest(f"no request {rid!r} at {ctx.station}")
        after = fn(before["request_id"])
    except hr.RequestsError as exc:
        return ctx.redirect(back, ctx._("Not done: {reason}", reason=str(exc)))
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, action, ctx.station, before["request_id"],
               {"state": before["state"], "volunteer": before["volunteer_id"]},
               {"state": after["state"], "volunteer": after["volunteer_id"]})
    try:
        publish_requests(ctx.wb.store, signing_key=ctx.wb.signing_key, **dataclasses.asdict(ctx.wb.broker))
    except (HubError, MessageError):
        return ctx.redirect(back, ctx._("Saved; the kiosks will see it when the broker is reachable again."))
    return ctx.redirect(back, ctx._("Saved and sent to the kiosks."))


def assign(ctx: Ctx) -> Response:
    return _act(ctx, "request.assign",
                lambda rid: hr.assign(ctx.wb.engine, rid, ctx.field("volunteer"), ctx.user.username, ctx.station))


def cancel(ctx: Ctx) -> Response:
    return _act(ctx, "request.cancel",
                lambda rid: hr.cancel(ctx.wb.engine, rid, ctx.field("reason"), ctx.user.username, ctx.station))


ROUTES = [
    route("/s/{station}/requests", request_list),
    route("/s/{station}/requests/{request_id}/assign", assign, methods=("POST",)),
    route("/s/{station}/requests/{request_id}/cancel", cancel, methods=("POST",)),
]
