"""近期活动 on the workbench: the published calendar with sign-ups pooled across stations and
attendance, 场次 and 人次 of the month, and a form that adds an activity and publishes the signed
``calendar`` document (``hub.publishing``, as ``yizhan hub calendar publish`` does).

Station staff see and add activities of their own stations; the street office sees every one and
may add one for the whole district.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.responses import Response

from hub import activities
from hub import models as m
from hub.database import HubError
from hub.publishing import current, publish
from hub.screening import month_bounds
from hub.web.audit import record
from hub.web.calendar import CalendarRefused, NewActivity, build, rows
from hub.web.guard import Ctx, route
from hub.web.routes.publish import NoSigningKey
from sync.messages import MessageError


def _stations(ctx: Ctx) -> tuple[str, ...]:
    """The stations the form offers: the account's own, or every station the hub knows."""
    if not ctx.user.all_stations:
        return tuple(ctx.user.stations)
    with ctx.wb.engine.connect() as conn:
        return tuple(r[0] for r in conn.execute(select(m.stations.c.station).order_by(m.stations.c.station)))


def calendar(ctx: Ctx, error: str = "", status: int = 200, typed: NewActivity | None = None) -> Response:
    scope = (ctx.station,) if ctx.station else ctx.scope
    published = current(ctx.wb.store, "calendar")
    month = ctx.request.query_params.get("month", "") or datetime.now(ZoneInfo(ctx.wb.tz)).strftime("%Y-%m")
    since, until = month_bounds(month, ctx.wb.tz)          # a bad month: ScreeningError, a page saying so
    counts = activities.counts(ctx.wb.engine, since, until, ctx.station)
    return ctx.render("activities.html", status_code=status, month=month, counts=counts,
                      activities=rows(published[1] if published else None, activities.station_counts(ctx.wb.engine),
                                      scope),
                      version=published[0] if published else 0, offered=_stations(ctx), error=error,
                      typed=typed, action=f"/s/{ctx.station}/activities/new" if ctx.station else "/activities/new")


def create(ctx: Ctx) -> Response:
    back = f"/s/{ctx.station}/activities" if ctx.station else "/activities"
    chosen = tuple(s.strip() for s in ctx.form.getlist("stations") if isinstance(s, str) and s.strip())
    typed = NewActivity(ctx.field("title"), ctx.field("place"), ctx.field("day"), ctx.field("start"),
                        ctx.field("end"), ctx.field("capacity"), chosen)

    def refuse(msgid: str, **values) -> Response:
        return calendar(ctx, ctx._(msgid, **values), 400, typed)

    outside = [s for s in chosen if not ctx.user.may_see(s)]
    if outside:
        return refuse("Station {station} is not in your account's scope. Nothing was changed.", station=outside[0][:64])
    if not chosen and not ctx.user.all_stations:
        return refuse("Choose the stations the activity is for (your account may publish for its own stations only).")
    if ctx.wb.signing_key is None:
        raise NoSigningKey("the workbench has no document signing key (start it with --signing-key); "
                           "kiosks refuse unsigned documents, so nothing was published")
    published = current(ctx.wb.store, "calendar")
    version = published[0] if published else 0
    try:
        based_on = int(ctx.field("based_on", "-1"))
    except ValueError:
        based_on = -1
    stale = "The calendar was changed (now version {now}) after this page showed version {seen}. " \
            "Nothing was published; check the list and add the activity again."
    if based_on != version:
        return refuse(stale, now=version, seen=based_on)
    sent = True
    try:
        body = build(typed, published[1] if published else None, ctx.wb.tz)
        publish(ctx.wb.store, "calendar", body, version=version + 1, signing_key=ctx.wb.signing_key,
                **dataclasses.asdict(ctx.wb.broker))
    except CalendarRefused as exc:
        return refuse(exc.msgid, **exc.values)
    except HubError:
        sent = False                     # stored with its version; the kiosks get it once the broker is back
    except MessageError as exc:
        now = current(ctx.wb.store, "calendar")
        if now and now[0] != version:    # another clerk published in between
            return refuse(stale, now=now[0], seen=version)
        return refuse("Not published: the kiosks would refuse this calendar ({reason}).", reason=str(exc))
    added = body["activities"][-1]
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, "activity.add", ctx.station, added["id"],
               {"calendar": version}, {"calendar": version + 1, **added})
    if not sent:
        return ctx.redirect(back, ctx._("Saved; the kiosks will see it when the broker is reachable again."))
    return ctx.redirect(back, ctx._("Published the calendar (version {version}) with {title}.",
                                    version=version + 1, title=added["title"]))


ROUTES = [
    route("/activities", calendar, role="district"),
    route("/activities/new", create, methods=("POST",), role="district"),
    route("/s/{station}/activities", calendar),
    route("/s/{station}/activities/new", create, methods=("POST",)),
]
