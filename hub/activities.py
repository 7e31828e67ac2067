"""Hub side of 近期活动: publishing the ``calendar`` document (no past or overlapping times), pooling
sign-ups across stations, and counting 场次 (sessions held) and 人次 (attendances).

Who holds a seat and who waits is decided the same way at every kiosk from the queue the hub
publishes (:func:`pooled`): active sign-ups ordered by when the hub received them (issue 22: not
by the kiosk's clock or waitlist flag). When a seat holder cancels, the first waiting sign-up moves up at
every station alike, wherever the two people signed up.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from sync.documents import check_calendar
from sync.messages import SchemaError

KINDS = {"activity_signup": "signup", "activity_cancelled": "cancel", "activity_attended": "attend"}


def apply_records(conn: Connection, records: Iterable[Any], arrived: datetime) -> int:
    """Keep freshly stored activity records (inside the storing transaction); returns how many.

    A sign-up or cancellation is timed by the hub's arrival (``arrived``, one microsecond apart in
    the batch's order), not by the kiosk's clock: a back-dated sign-up gains no seat. Attendance
    keeps the kiosk's time (场次 and 人次 are counted by the day it happened)."""
    added = 0
    for i, r in enumerate(records):
        event = KINDS.get(r.kind)
        if event is None:
            continue
        p = json.loads(r.payload_json)
        t = m.activity_events
        if conn.execute(select(t.c.id).where((t.c.station == r.station) & (t.c.id == r.id))).first():
            continue
        at = r.ts if event == "attend" else (arrived + timedelta(microseconds=i)).astimezone(timezone.utc).isoformat()
        conn.execute(m.activity_events.insert().values(id=r.id, activity_id=p["activity_id"], station=r.station,
                                                       person_key=p["person_key"], event=event, at=at))
        added += 1
    return added


def check_new_calendar(body: Any, published: dict[str, Any] | None, now: datetime | None = None) -> None:
    """A calendar the hub may publish: well formed, no overlaps at one place, and no activity that is
    new or moved to a time already past.

    Raises:
        SchemaError: naming the activity.
    """
    if not isinstance(body, dict) or not isinstance(body.get("activities"), list):
        raise SchemaError("a calendar is an object with a list of activities")
    check_calendar(body["activities"])
    now = now or datetime.now(timezone.utc)
    before = {a["id"]: a for a in (published or {}).get("activities", [])}
    for a in body["activities"]:
        old = before.get(a["id"])
        if (old is None or old["start"] != a["start"]) and datetime.fromisoformat(a["start"]) < now:
            raise SchemaError(f"activity {a['id']} ({a['title'][:30]}) starts in the past")


def _when(ts: str) -> datetime:
    when = datetime.fromisoformat(ts)
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _queues(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Per activity, the active sign-ups in seat order: by the hub's arrival time of each sign-up
    (whatever the kiosk said about seats or time)."""
    t, r = m.activity_events, m.records
    rows = conn.execute(select(t.c.activity_id, t.c.person_key, t.c.station, t.c.event, t.c.at, r.c.payload)
                        .select_from(t.outerjoin(r, (r.c.id == t.c.id) & (r.c.station == t.c.station)))
                        .where(t.c.event.in_(("signup", "cancel"))).order_by(t.c.at, t.c.id)).all()
    signups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cancels: dict[tuple[str, str], int] = {}
    for activity_id, key, station, event, at, payload in rows:
        if event == "cancel":             # counted, not ordered: a cancel can share its sign-up's time stamp
            cancels[(activity_id, key)] = cancels.get((activity_id, key), 0) + 1
            continue
        waitlisted = bool(json.loads(payload).get("waitlisted")) if payload else False
        signups.setdefault((activity_id, key), []).append(
            {"key": key, "station": station, "waitlisted": waitlisted, "at": at})
    active = {pair: entries[-1] for pair, entries in signups.items() if len(entries) > cancels.get(pair, 0)}
    out: dict[str, list[dict[str, Any]]] = {}
    for (activity_id, _key), entry in active.items():
        out.setdefault(activity_id, []).append(entry)
    for entries in out.values():
        entries.sort(key=lambda e: (_when(e["at"]), e["key"]))
    return out


def pooled(engine: Engine) -> list[dict[str, Any]]:
    """Per activity: active sign-ups by station (sign-ups minus cancellations), attendances, and the
    seat order of the active sign-ups (``queue``: person key, station, waitlisted, time), for the
    ``requests`` document's ``activities`` list."""
    t = m.activity_events
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.activity_id, t.c.station, t.c.event, func.count())
                            .group_by(t.c.activity_id, t.c.station, t.c.event)).all()
        queues = _queues(conn)
    out: dict[str, dict[str, Any]] = {}
    for activity_id, station, event, n in rows:
        entry = out.setdefault(activity_id, {"id": activity_id, "signed": {}, "attended": 0})
        if event == "attend":
            entry["attended"] += n
        else:
            entry["signed"][station] = entry["signed"].get(station, 0) + (n if event == "signup" else -n)
    for entry in out.values():
        entry["signed"] = {k: max(0, v) for k, v in entry["signed"].items()}
        entry["queue"] = queues.get(entry["id"], [])
    return sorted(out.values(), key=lambda e: e["id"])


def counts(engine: Engine, since: str, until: str, station: str | None = None) -> dict[str, int]:
    """场次 (activities with at least one attendance) and 人次 (attendances) between two ISO stamps."""
    t = m.activity_events
    q = select(func.count(func.distinct(t.c.activity_id)), func.count()).where(
        (t.c.event == "attend") & (t.c.at >= since) & (t.c.at < until))
    if station:
        q = q.where(t.c.station == station)
    with engine.connect() as conn:
        sessions, attendances = conn.execute(q).one()
    return {"sessions": sessions, "attendances": attendances}


def station_counts(engine: Engine) -> dict[str, dict[str, dict[str, int]]]:
    """Per activity and station: active sign-ups (sign-ups minus cancellations) and attendances,
    ``{activity_id: {station: {"signed": n, "attended": n}}}`` (for the workbench's calendar)."""
    t = m.activity_events
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.activity_id, t.c.station, t.c.event, func.count())
                            .group_by(t.c.activity_id, t.c.station, t.c.event)).all()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for activity_id, station, event, n in rows:
        entry = out.setdefault(activity_id, {}).setdefault(station, {"signed": 0, "attended": 0})
        if event == "attend":
            entry["attended"] += n
        else:
            entry["signed"] += n if event == "signup" else -n
    for stations in out.values():
        for entry in stations.values():
            entry["signed"] = max(0, entry["signed"])
    return out
