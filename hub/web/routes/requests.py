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
from hub.reports import station_names
from hub.volunteer_pick import REFUSALS, AssignError, candidates, check_assignment, how_assigned
from hub.web.guard import Ctx, route
from hub.web.view import local
from kiosk.community.kinds import (
    ASSIGNED, CANCEL_REASONS, CANCELLED, CONFIRMED, DONE, NOTE_PHRASES, REQUESTED, STATE_WORDS,
)
from kiosk.i18n import N_
from sync.messages import MessageError

#: The state of a request in staff's words (the kiosk's words speak to the resident).
STAFF_WORDS = {
    REQUESTED: N_("Waiting for a volunteer"),
    DONE: N_("Done; waiting for the resident to confirm"),
    CONFIRMED: N_("Confirmed by the resident"),
    CANCELLED: N_("Cancelled"),
}
ASSIGNED_WORDS = {"staff": N_("Assigned by staff to {who}"), "kiosk": N_("{who} took it on at a kiosk")}


def request_list(ctx: Ctx) -> Response:
    show_all = ctx.request.query_params.get("all") == "1"
    states = hr.OPEN_STATES + ((CONFIRMED, CANCELLED) if show_all else ())
    rows = hr.queue(ctx.wb.engine, ctx.station, states)
    people = candidates(ctx.wb.engine, ctx.station)
    names = {c.id: c.name for c in people}
    how = how_assigned(ctx.wb.engine, [r["request_id"] for r in rows if r["state"] == ASSIGNED])
    for r in rows:
        who = names.get(r["volunteer_id"] or "", r["volunteer_id"] or "")
        r["volunteer_name"] = who
        r["state_text"] = ctx._(ASSIGNED_WORDS[how.get(r["request_id"], "staff")], who=who) \
            if r["state"] == ASSIGNED else ctx._(STAFF_WORDS.get(r["state"], STATE_WORDS.get(r["state"], r["state"])))
        r["note_text"] = ctx._(NOTE_PHRASES[r["note"]]) if r["note"] in NOTE_PHRASES else ""
        r["asked_at"] = local(r["requested_at"], "%m-%d %H:%M")
    return ctx.render("requests.html", rows=rows, show_all=show_all, reasons=CANCEL_REASONS, volunteers=people,
                      stations=station_names(ctx.wb.engine))


def _act(ctx: Ctx, action: str, fn, done: str = "") -> Response:
    rid = ctx.request.path_params["request_id"]
    back = f"/s/{ctx.station}/requests"
    try:
        before = hr.find(ctx.wb.engine, rid, ctx.station)
        if before["station"] != ctx.station:
            raise hr.UnknownRequest(f"no request {rid!r} at {ctx.station}")
        after = fn(before["request_id"])
    except AssignError as exc:
        return ctx.redirect(back, ctx._("Not assigned: {reason}", reason=ctx._(REFUSALS[exc.reason], who=exc.who)))
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
    return ctx.redirect(back, done or ctx._("Saved and sent to the kiosks."))


def assign(ctx: Ctx) -> Response:
    vid = ctx.field("volunteer")

    def act(rid: str) -> dict:
        check_assignment(ctx.wb.engine, hr.find(ctx.wb.engine, rid), vid)       # said in staff's words
        return hr.assign(ctx.wb.engine, rid, vid, ctx.user.username, ctx.station)
    who = next((c.name for c in candidates(ctx.wb.engine) if c.id == vid.strip()), vid)
    return _act(ctx, "request.assign", act,
                ctx._("Assigned to {who}; it shows in their tasks at the kiosk. Nobody has accepted it yet.", who=who))


def cancel(ctx: Ctx) -> Response:
    return _act(ctx, "request.cancel",
                lambda rid: hr.cancel(ctx.wb.engine, rid, ctx.field("reason"), ctx.user.username, ctx.station))


ROUTES = [
    route("/s/{station}/requests", request_list),
    route("/s/{station}/requests/{request_id}/assign", assign, methods=("POST",)),
    route("/s/{station}/requests/{request_id}/cancel", cancel, methods=("POST",)),
]
