"""Hub side of service requests: the queue per station, staff assignment and cancellation, overdue
flags, and the ``requests`` document kiosks read.

Kiosk records (``service_request``, ``request_claimed``, ``request_done``, ``request_cancelled`` and
the time bank's ``service_confirmation`` of a request's service) become rows of
``hub_request_events`` in the transaction that stores them (:func:`apply_records`); staff actions
add events of their own. A request's row in ``hub_service_requests`` is folded from all its events
(:func:`_fold`), so events arriving late or twice, from any station, give the same state.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from hub import activities, family, wishes
from hub.volunteer_pick import AssignError, check_assignment
from kiosk.community.kinds import (
    ASSIGNED, CANCEL_REASONS, CANCELLED, CONFIRMED, DONE, REQUESTED, event_id,
)

log = logging.getLogger(__name__)

#: Record kinds this module folds into requests.
KINDS = ("service_request", "request_claimed", "request_done", "request_cancelled", "service_confirmation")
#: A request waiting this long for a volunteer, or assigned this long without being done, is overdue.
WAIT_LIMIT = timedelta(hours=24)
DO_LIMIT = timedelta(hours=48)
#: Closed requests stay in the kiosks' document this long (the resident sees the outcome).
KEEP_CLOSED = timedelta(days=7)
OPEN_STATES = (REQUESTED, ASSIGNED, DONE)


class RequestsError(Exception):
    """A staff action the hub cannot carry out; the text says why."""


class UnknownRequest(RequestsError):
    """No request with that id or number."""


class WrongState(RequestsError):
    """The request's state does not allow the action (e.g. assigning a done request)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _insert_event(conn: Connection, row: dict[str, Any]) -> bool:
    t = m.request_events
    if conn.execute(select(t.c.id).where((t.c.station == row["station"]) & (t.c.id == row["id"]))).first():
        return False
    conn.execute(m.request_events.insert().values(**row))
    return True


def apply_records(conn: Connection, records: Iterable[Any], arrived: datetime | None = None) -> set[str]:
    """Fold freshly stored kiosk records into requests, inside the caller's transaction.

    Args:
        records: objects with ``id``, ``station``, ``kind``, ``ts`` and ``payload_json``.
        arrived: when the hub received them (activity seats are ordered by it); default now.

    Returns:
        The ids of the requests that changed ("" stands for the wish board or activity sign-ups).
    """
    changed: set[str] = set()
    records = list(records)
    in_batch = {event_id("service", json.loads(r.payload_json)["request_id"]): json.loads(r.payload_json)["request_id"]
                for r in records if r.kind == "service_request"}
    for r in records:
        if r.kind not in KINDS:
            continue
        p = json.loads(r.payload_json)
        if r.kind == "service_confirmation":
            row = conn.execute(select(m.service_requests.c.request_id).where(
                m.service_requests.c.service_id == p.get("service_id"))).first()
            request_id = row[0] if row else in_batch.get(p.get("service_id"))
            if request_id is None:
                continue                  # an ordinary time-bank service, not a request's
            event, actor = "confirmed", p.get("resident_key", "")
        else:
            request_id = p.get("request_id", "")
            event = {"service_request": "requested", "request_claimed": "claimed", "request_done": "done",
                     "request_cancelled": "cancelled"}[r.kind]
            actor = p.get("volunteer_id") or p.get("by") or p.get("person_key", "")
        if _insert_event(conn, {"id": r.id, "request_id": request_id, "event": event, "actor": str(actor)[:64],
                                "station": r.station, "at": r.ts, "detail": r.payload_json}):
            changed.add(request_id)
    for request_id in changed:
        _fold(conn, request_id)
    if wishes.apply_records(conn, records) + activities.apply_records(conn, records, arrived or _now()) \
            + family.apply_records(conn, records):
        changed.add("")                   # the wish board, a sign-up or a family link changed: the document is due
    return changed


def _fold(conn: Connection, request_id: str) -> None:
    events = conn.execute(select(m.request_events).where(m.request_events.c.request_id == request_id)
                          .order_by(m.request_events.c.at, m.request_events.c.id)).mappings().all()
    asked = next((e for e in events if e["event"] == "requested"), None)
    if asked is None:
        return                            # its request has not arrived yet; folded when it does
    p = json.loads(asked["detail"])
    row: dict[str, Any] = {
        "request_id": request_id, "station": asked["station"], "number": p["number"],
        "person_key": p["person_key"], "display_name": p.get("display_name", ""),
        "service_type": p["service_type"], "service_name": p["service_name"],
        "service_id": event_id("service", request_id), "when_label": p.get("when_label", ""),
        "slot_start": p.get("slot_start", ""), "note": p.get("note", ""), "priority": bool(p.get("priority")),
        "priority_account": p.get("priority_account", ""), "hours": 1.0, "state": REQUESTED,
        "volunteer_id": None, "rating": None, "cancel_reason": None, "cancelled_by": None,
        "requested_at": asked["at"], "assigned_at": None, "done_at": None, "closed_at": None}
    for e in events:
        d = json.loads(e["detail"])
        state = row["state"]
        if e["event"] == "claimed" and state == REQUESTED or e["event"] == "assigned" and state in (REQUESTED, ASSIGNED):
            row.update(state=ASSIGNED, volunteer_id=d["volunteer_id"], assigned_at=e["at"])
        elif e["event"] == "done" and state in (REQUESTED, ASSIGNED):
            row.update(state=DONE, volunteer_id=d["volunteer_id"], done_at=e["at"], hours=d.get("hours", 1.0))
        elif e["event"] == "confirmed" and state in (REQUESTED, ASSIGNED, DONE):
            row.update(state=CONFIRMED, rating=d.get("rating"), closed_at=e["at"])
        elif e["event"] == "cancelled" and state in (REQUESTED, ASSIGNED):
            row.update(state=CANCELLED, cancel_reason=d.get("reason", ""), cancelled_by=d.get("by", ""),
                       closed_at=e["at"])
    exists = conn.execute(select(m.service_requests.c.request_id)
                          .where(m.service_requests.c.request_id == request_id)).first()
    if exists:
        conn.execute(m.service_requests.update().where(m.service_requests.c.request_id == request_id).values(**row))
    else:
        conn.execute(m.service_requests.insert().values(**row))


# --- staff actions ---------------------------------------------------------------------------------

def find(engine: Engine, ref: str, station: str | None = None) -> dict[str, Any]:
    """A request by id, or by its number (with ``station`` when two stations share a number).

    Raises:
        UnknownRequest: none, or the number is ambiguous.
    """
    t = m.service_requests
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(or_(t.c.request_id == ref, t.c.number == ref))).mappings().all()
    rows = [r for r in rows if station is None or r["station"] == station or r["request_id"] == ref]
    if len(rows) != 1:
        raise UnknownRequest(f"no request {ref!r}" if not rows else
                             f"request number {ref!r} is used at several stations; give --station")
    return dict(rows[0])


def _staff_event(engine: Engine, ref: str, station: str | None, event: str, by: str, detail: dict[str, Any],
                 allowed: tuple[str, ...]) -> dict[str, Any]:
    row = find(engine, ref, station)
    if row["state"] not in allowed:
        raise WrongState(f"request {row['number']} at {row['station']} is {row['state']}; cannot be {event}")
    with engine.begin() as conn:
        _insert_event(conn, {"id": str(uuid.uuid4()), "request_id": row["request_id"], "event": event,
                             "actor": by[:64], "station": "hub", "at": _stamp(_now()),
                             "detail": json.dumps(detail, ensure_ascii=False)})
        _fold(conn, row["request_id"])
    return find(engine, row["request_id"])


def assign(engine: Engine, ref: str, volunteer_id: str, by: str = "staff", station: str | None = None) -> dict[str, Any]:
    """Staff assign (or re-assign) a volunteer to a request not done yet.

    Raises:
        UnknownRequest, WrongState, RequestsError (no such volunteer, or the resident who asked).
    """
    if not volunteer_id.strip():
        raise RequestsError("name the volunteer to assign")
    try:
        check_assignment(engine, find(engine, ref, station), volunteer_id)
    except AssignError as exc:
        raise RequestsError(str(exc)) from None
    return _staff_event(engine, ref, station, "assigned", by, {"volunteer_id": volunteer_id.strip(), "by": by},
                        (REQUESTED, ASSIGNED))


def cancel(engine: Engine, ref: str, reason: str, by: str = "staff", station: str | None = None) -> dict[str, Any]:
    """Staff cancel a request not done yet, with one of :data:`CANCEL_REASONS`.

    Raises:
        UnknownRequest, WrongState, RequestsError (unknown reason).
    """
    if reason not in CANCEL_REASONS:
        raise RequestsError(f"reason must be one of {', '.join(CANCEL_REASONS)}")
    return _staff_event(engine, ref, station, "cancelled", by, {"reason": reason, "by": "staff"},
                        (REQUESTED, ASSIGNED))


# --- queries -----------------------------------------------------------------------------------------

def overdue(row: dict[str, Any], now: datetime) -> bool:
    """Waiting too long for a volunteer, assigned too long without being done, or past its slot."""
    def at(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None
    if row["state"] == REQUESTED and now - at(row["requested_at"]) > WAIT_LIMIT:
        return True
    if row["state"] == ASSIGNED and now - at(row["assigned_at"] or row["requested_at"]) > DO_LIMIT:
        return True
    slot = at(row["slot_start"])
    return row["state"] in (REQUESTED, ASSIGNED) and slot is not None and slot < now


def queue(engine: Engine, station: str | None = None, states: tuple[str, ...] = OPEN_STATES,
          now: datetime | None = None) -> list[dict[str, Any]]:
    """Requests in ``states`` (default the open ones), priority first, then oldest first; each with
    an ``overdue`` flag. A linked family member's open request is priority while the volunteer has
    banked hours for it (``family_priority``, :func:`hub.family.with_priority`)."""
    now = now or _now()
    t = m.service_requests
    q = select(t).where(t.c.state.in_(states))
    if station:
        q = q.where(t.c.station == station)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q.order_by(t.c.requested_at)).mappings()]
        family.with_priority(conn, rows, OPEN_STATES)
    for r in rows:
        r["overdue"] = overdue(r, now)
        r.setdefault("family_priority", False)
    return sorted(rows, key=lambda r: not r["priority"])


def document_body(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """The ``requests`` document: every open request (a linked family member's with the priority it
    has now) and those closed within :data:`KEEP_CLOSED`, the wish board
    (:func:`hub.wishes.document_entries`), pooled sign-ups and the family links."""
    now = now or _now()
    t = m.service_requests
    since = _stamp(now - KEEP_CLOSED)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(t).where(or_(t.c.state.in_(OPEN_STATES), t.c.closed_at >= since))
                                              .order_by(t.c.requested_at)).mappings()]
        family.with_priority(conn, rows, OPEN_STATES)
        links = family.state(conn)
        names = dict(conn.execute(select(m.station_counts.c.station, m.station_counts.c.name)
                                  .where(m.station_counts.c.name.is_not(None))).all())
    keys = ("number", "station", "service_type", "service_name", "state", "when_label", "note", "priority",
            "priority_account", "person_key", "display_name", "requested_at", "hours")
    out = []
    for r in rows:
        entry = {"id": r["request_id"], **{k: r[k] for k in keys}}
        if names.get(r["station"]):
            entry["station_name"] = names[r["station"]]
        if r["volunteer_id"]:
            entry["volunteer_id"] = r["volunteer_id"]
        out.append(entry)
    return {"requests": out, "wishes": wishes.document_entries(engine), "activities": activities.pooled(engine),
            "family": links}
