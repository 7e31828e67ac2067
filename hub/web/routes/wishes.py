"""微心愿 and 我有建议 of a station: staff put a wish on the board (masked name only), record who claims
it (a donor, volunteer or work unit), fulfil it with a note, or answer a suggestion — the same
``hub.wishes`` functions ``yizhan hub wishes`` calls — and the kiosks get the signed ``requests``
document at once, so the resident reads the outcome at the next tap."""
from __future__ import annotations

import dataclasses

from starlette.responses import Response

from hub import wishes as hw
from hub.database import HubError
from hub.publishing import publish_requests
from hub.web.audit import record
from hub.web.guard import Ctx, route
from kiosk.community.wishes import CATEGORIES, SUGGESTION, WISH
from sync.messages import MessageError

#: What each state is called on the board (English msgids).
STATE_WORDS = {"posted": "Waiting to publish", "published": "On the board", "claimed": "Claimed",
               "fulfilled": "Fulfilled", "closed": "Answered"}
#: Who can claim a wish, in words.
CLAIMER_WORDS = {"donor": "Donor", "volunteer": "Volunteer", "unit": "Work unit"}
#: Each action: the kind it applies to and the state it starts from.
ACTIONS = {"publish": (WISH, "posted"), "claim": (WISH, "published"), "fulfil": (WISH, "claimed"),
           "answer": (SUGGESTION, "posted")}


class WishRefused(hw.WishError):
    """A wish-board action refused on the workbench (unknown action, or no such wish at the station)."""

    user_key = "work_error"


def described(row: dict) -> dict:
    """A board row with its category and phrase as message ids (what the kiosk showed the resident)."""
    cat = CATEGORIES.get(row["kind"], {}).get(row["category"])
    return {**row, "category_words": cat[0] if cat else row["category"],
            "phrase_words": cat[2].get(row["phrase"], row["phrase"]) if cat else row["phrase"]}


def board(ctx: Ctx) -> Response:
    show_all = ctx.request.query_params.get("all") == "1"
    rows = [described(r) for r in hw.board(ctx.wb.engine, ctx.station, open_only=not show_all)]
    return ctx.render("wishes.html", wishes=[r for r in rows if r["kind"] == WISH],
                      suggestions=[r for r in rows if r["kind"] == SUGGESTION], show_all=show_all,
                      state_words=STATE_WORDS, claimer_words=CLAIMER_WORDS)


def send_requests_document(ctx: Ctx, back: str) -> Response:
    """Publish the signed ``requests`` document (requests, the wish board, pooled sign-ups) and go back."""
    try:
        publish_requests(ctx.wb.store, signing_key=ctx.wb.signing_key, **dataclasses.asdict(ctx.wb.broker))
    except (HubError, MessageError):
        return ctx.redirect(back, ctx._("Saved; the kiosks will see it when the broker is reachable again."))
    return ctx.redirect(back, ctx._("Saved and sent to the kiosks."))


def act(ctx: Ctx) -> Response:
    wish_id, action = ctx.request.path_params["wish_id"], ctx.request.path_params["action"]
    back = f"/s/{ctx.station}/wishes"
    before = hw.find(ctx.wb.engine, wish_id)
    if action not in ACTIONS or before is None or before["station"] != ctx.station:
        raise WishRefused(f"no wish or suggestion {wish_id[:64]!r} at station {ctx.station} to {action[:16]}")
    engine, who = ctx.wb.engine, ctx.user.username
    if (before["kind"], before["state"]) != ACTIONS[action]:
        return ctx.redirect(back, ctx._("Not done: this is “{state}” now; the page was out of date.",
                                        state=ctx._(STATE_WORDS.get(before["state"], before["state"]))))
    try:
        if action == "publish":
            after = hw.publish(engine, wish_id, who)
        elif action == "claim":
            after = hw.claim(engine, wish_id, ctx.field("claimed_by"), ctx.field("claimer_kind"), who)
        elif action == "fulfil":
            after = hw.fulfil(engine, wish_id, ctx.field("note"), who)
        else:
            after = hw.answer(engine, wish_id, ctx.field("note"), who)
    except hw.WishError as exc:
        return ctx.redirect(back, ctx._("Not done: {reason}", reason=ctx._(str(exc))))
    keep = ("state", "claimed_by", "claimer_kind", "note")
    with engine.begin() as conn:
        record(conn, who, f"wish.{action}", ctx.station, wish_id, {k: before[k] for k in keep},
               {k: after[k] for k in keep})
    return send_requests_document(ctx, back)


ROUTES = [
    route("/s/{station}/wishes", board),
    route("/s/{station}/wishes/{wish_id}/{action}", act, methods=("POST",)),
]
