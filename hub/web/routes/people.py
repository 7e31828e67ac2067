"""志愿者 (roster, balances, hours this month), 审核 (credit or refuse shifts), 居民 (by person key)."""
from __future__ import annotations

from starlette.responses import Response

from hub import residents
from hub.publishing import current
from hub.reviews import pending_reviews, reject_shift
from hub.timebank import NotReviewable, review_shift, roster_with_balances
from hub.web.audit import record
from hub.web.guard import Ctx, route
from hub.web.i18n import error_text


def volunteers(ctx: Ctx) -> Response:
    published = current(ctx.wb.store, "roster")
    body = {"volunteers": [dict(v) for v in (published[1].get("volunteers", []) if published else [])]}
    roster = roster_with_balances(ctx.wb.engine, body)["volunteers"]
    roster.sort(key=lambda v: (-v.get("balance", {}).get("month_hours", 0), str(v.get("id"))))
    return ctx.render("volunteers.html", volunteers=roster)


def reviews(ctx: Ctx) -> Response:
    return ctx.render("reviews.html", items=pending_reviews(ctx.wb.engine, (ctx.station,)))


def _pending(ctx: Ctx) -> dict:
    rid = ctx.request.path_params["record_id"]
    for r in pending_reviews(ctx.wb.engine, (ctx.station,)):
        if r["record_id"] == rid:
            return r
    raise NotReviewable(f"{rid[:64]} is not a shift waiting for review at {ctx.station}")


def credit(ctx: Ctx) -> Response:
    item = _pending(ctx)
    text = ctx.field("hours")
    try:
        hours = float(text) if text else None
    except ValueError:
        raise NotReviewable(f"hours must be a number (got {text[:20]!r})") from None
    if hours is not None and not 0 < hours <= 24:
        raise NotReviewable("hours must be more than 0 and at most 24")
    mv = review_shift(ctx.wb.engine, item["record_id"], hours, ctx.user.username)
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, "review.credit", ctx.station, item["record_id"], item,
               {"hours": mv.hours, "movement": mv.movement_id})
    return ctx.redirect(f"/s/{ctx.station}/reviews", ctx._("Credited {hours} h.", hours=mv.hours))


def reject(ctx: Ctx) -> Response:
    item = _pending(ctx)
    reason = ctx.field("reason")
    reject_shift(ctx.wb.engine, ctx.station, item["record_id"], reason, ctx.user.username)
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, "review.reject", ctx.station, item["record_id"], item, {"reason": reason})
    return ctx.redirect(f"/s/{ctx.station}/reviews", ctx._("Not credited; the reason is kept."))


def resident_search(ctx: Ctx) -> Response:
    q = ctx.request.query_params.get("q", "").strip()
    found, error = [], ""
    if q:
        try:
            found = residents.find(ctx.wb.engine, q, ctx.scope)
        except residents.ResidentError as exc:
            error = error_text(exc, ctx.lang)
    return ctx.render("residents.html", q=q, found=found, error=error)


def resident(ctx: Ctx) -> Response:
    key = ctx.request.path_params["person_key"]
    return ctx.render("resident.html", person_key=key, items=residents.history(ctx.wb.engine, key, ctx.scope))


def withdraw(ctx: Ctx) -> Response:
    key = residents.check_key(ctx.request.path_params["person_key"])
    if ctx.field("confirm") != "yes":
        raise residents.ResidentError("tick the box to confirm the resident withdrew consent")

    def audit(conn, before, after):
        record(conn, ctx.user.username, "resident.withdraw_consent", None, key, before, after)
    n = residents.withdraw_consent(ctx.wb.engine, key, ctx.scope, ctx.user.username, audit=audit)
    return ctx.redirect(f"/residents/{key}", ctx._("Consent withdrawal recorded; {n} health records deleted.", n=n))


ROUTES = [
    route("/volunteers", volunteers),
    route("/s/{station}/reviews", reviews),
    route("/s/{station}/reviews/{record_id}/credit", credit, methods=("POST",)),
    route("/s/{station}/reviews/{record_id}/reject", reject, methods=("POST",)),
    route("/residents", resident_search),
    route("/residents/{person_key}", resident),
    route("/residents/{person_key}/withdraw", withdraw, methods=("POST",)),
]
