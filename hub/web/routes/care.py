"""家庭医生 / 健康管理员: the care worklist (referral suggested, referrals to follow up), a resident's
readings that led there, recording the referral and its outcome, and the FHIR export."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from starlette.responses import Response

from hub import care, fhir, residents
from hub.web.audit import record
from hub.web.guard import Ctx, route

#: Roles that may open the care pages (health data shared with the care team under its own consent).
CARE_ROLES = ("care", "district", "admin")


def _check(ctx: Ctx) -> None:
    if ctx.user.role not in CARE_ROLES:
        raise care.CareError("only the care team (家庭医生 / 健康管理员) may open the care pages")


def _today() -> datetime:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(care.DEFAULT_TZ))


def worklist(ctx: Ctx) -> Response:
    _check(ctx)
    return ctx.render("care.html", items=care.worklist(ctx.wb.engine, ctx.scope, _today().date()))


def _person(ctx: Ctx) -> str:
    _check(ctx)
    key = residents.check_key(ctx.request.path_params["person_key"])
    if len(key) != 64 or not care.consented(ctx.wb.engine, key, ctx.scope):
        raise care.CareError("this resident is not on your worklist (no care-sharing consent, or another station)")
    return key


def person(ctx: Ctx) -> Response:
    key = _person(ctx)
    tracks = care.status_of(ctx.wb.engine, key)
    return ctx.render("care_person.html", person_key=key, tracks=tracks, today=_today().date(),
                      outcomes=care.OUTCOMES)


def act(ctx: Ctx) -> Response:
    key = _person(ctx)
    track, event = ctx.request.path_params["track"], ctx.request.path_params["event"]

    def audit(conn, before, after):
        record(conn, ctx.user.username, f"care.{event}", None, key, before, after)
    status = care.record_action(ctx.wb.engine, key, track, event, ctx.user.username, ctx.scope,
                                outcome=ctx.field("outcome"), note=ctx.field("note"), audit=audit)
    return ctx.redirect(f"/care/{key}", ctx._("Recorded: {status}.", status=ctx._(status)))


def export(ctx: Ctx) -> Response:
    key = _person(ctx)          # on the user's worklist: every station's readings, as on the care page
    body = json.dumps(fhir.bundle(ctx.wb.engine, key), ensure_ascii=False, indent=1)
    return Response(body, media_type="application/fhir+json",
                    headers={"Content-Disposition": f'attachment; filename="yizhan-{key[:8]}.fhir.json"'})


ROUTES = [
    route("/care", worklist),
    route("/care/{person_key}", person),
    route("/care/{person_key}/fhir", export),
    route("/care/{person_key}/{track}/{event}", act, methods=("POST",)),
]
