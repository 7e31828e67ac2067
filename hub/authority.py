"""Authority for every effect: what a station's records may change at the hub (``docs/authority.md``).

The door (:mod:`kiosk.schema`) says whether a payload is well formed; this module says whether the
station that sent it may have that effect. :func:`check` runs inside the storing transaction on the
records of a batch that are new, before they are stored; a record it refuses is set aside as a
dead letter, refused in the ack as ``authority``, and reaches no fold.

Evidence is looked up by primary key or an indexed column (costs follow the batch, not history);
a record earlier in the same batch counts as evidence for a later one (a check-out and its earn).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from hub import family
from hub import models as m
from kiosk.community.kinds import event_id
from kiosk.timebank.kinds import ISSUED, NAMESPACE, SPENT, volunteer_account

#: (record id, kind, payload) of the batch's records checked so far, by id (evidence for later ones).
Seen = dict[str, tuple[str, dict[str, Any]]]
Rule = Callable[[Connection, str, dict[str, Any], Seen], str]


def _record(conn: Connection, station: str, rid: str, kind: str, seen: Seen) -> dict[str, Any] | None:
    """The payload of the station's record ``rid`` of ``kind``: from this batch or the hub's store."""
    if rid in seen:
        k, p = seen[rid]
        return p if k == kind else None
    row = conn.execute(select(m.records.c.kind, m.records.c.payload).where(
        (m.records.c.station == station) & (m.records.c.id == rid))).first()
    if row is None or row[0] != kind:
        return None
    try:
        payload = json.loads(row[1])
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _request(conn: Connection, request_id: str, station: str, seen: Seen) -> dict[str, Any] | None:
    """The hub's row of a request, or the request the same batch carries (as a row-like dict)."""
    row = conn.execute(select(m.service_requests).where(m.service_requests.c.request_id == request_id)).mappings().first()
    if row is not None:
        return dict(row)
    for kind, p in seen.values():
        if kind == "service_request" and p.get("request_id") == request_id:
            return {"request_id": request_id, "station": station, "person_key": p["person_key"], "volunteer_id": None,
                    "priority_account": p.get("priority_account", ""), "hours": 1.0}
    return None


def _hours(value: Any) -> Decimal:
    return Decimal(str(value))


def _movement(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    kind, ref = p["kind"], p["reference"]
    if kind in ("transfer", "adjust"):
        return f"a {kind} movement is made only at the hub"
    if kind == "earn":
        if p["debit"] != ISSUED or not p["credit"].startswith("volunteer:"):
            return "an earn moves hours from the bank to a volunteer"
        if p["movement_id"] != str(uuid.uuid5(NAMESPACE, f"earn:{ref}")):
            return "an earn's id does not match its evidence"
        vid = p["credit"].split(":", 1)[1]
        if p.get("source") == "shift":
            ev = _record(conn, station, str(uuid.uuid5(NAMESPACE, f"out:{ref}:{station}")), "volunteer_check_out", seen)
            what = "a check-out of that shift at this station"
        else:
            ev = _record(conn, station, str(uuid.uuid5(NAMESPACE, f"confirm:{ref}")), "service_confirmation", seen)
            what = "a confirmation of that service at this station"
        if ev is None or ev.get("volunteer_id") != vid:
            return f"an earn needs {what}, for the same volunteer"
        if _hours(p["hours"]) > _hours(ev.get("hours", 0)):
            return f"an earn of {p['hours']} h exceeds the {ev.get('hours', 0)} h its evidence gives"
        return ""
    # spend: banked hours used by a priority request of this station
    if p["credit"] != SPENT or p["movement_id"] != event_id("use", ref):
        return "a spend moves a request's hours to the bank"
    req = _request(conn, ref, station, seen)
    if req is None or req["station"] != station:
        return "hours are used only for a request of this station"
    linked = {volunteer_account(e["volunteer_id"]) for e in family.state(conn, [req["person_key"]]) if e["linked"]}
    if p["debit"] != req["priority_account"] and p["debit"] not in linked:
        return "hours are used only from the request's priority account or a linked volunteer's"
    if _hours(p["hours"]) > _hours(req["hours"] or 0):
        return "a spend exceeds the request's hours"
    return ""


def _cancel(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    req = _request(conn, p["request_id"], station, seen)
    if req is None or req["station"] != station:
        return "a request is cancelled only at the station where it was asked"
    return ""


def _done(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    req = _request(conn, p["request_id"], station, seen)
    if req is None:
        return "no such request"
    if req["station"] != station and p["volunteer_id"] != req["volunteer_id"]:
        return "a request is marked done only by its assigned volunteer or at the station where it was asked"
    if p["service_id"] != event_id("service", p["request_id"]):
        return "a done mark names its request's own service"
    return ""


def _confirmation(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    row = conn.execute(select(m.service_requests.c.person_key).where(
        m.service_requests.c.service_id == p["service_id"])).first()
    if row is not None and row[0] != p["resident_key"]:
        return "a request's service is confirmed only by the resident who asked"
    return ""


def _registered_elsewhere(conn: Connection, station: str, volunteer_id: str, seen: Seen) -> bool:
    """True when a kiosk of another station registered the volunteer (a volunteer of the district's
    roster, registered by no kiosk, belongs to no one station)."""
    if any(k == "volunteer_registered" and p.get("volunteer_id") == volunteer_id for k, p in seen.values()):
        return False
    row = conn.execute(select(m.volunteers.c.registered_record_id).where(
        m.volunteers.c.volunteer_id == volunteer_id)).first()
    return row is not None and row[0] is not None and _record(
        conn, station, row[0], "volunteer_registered", seen) is None


def _own_volunteer(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    if _registered_elsewhere(conn, station, p["volunteer_id"], seen):
        return "the volunteer is registered at another station"
    return ""


def _registration(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    if _registered_elsewhere(conn, station, p["volunteer_id"], seen):
        return "this volunteer is registered at another station"
    return ""


def _check_out(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    row = conn.execute(select(m.shifts.c.volunteer_id).where(m.shifts.c.shift_id == p["shift_id"])).first()
    if row is not None and row[0] is not None and row[0] != p["volunteer_id"]:
        return "a shift is closed only for the volunteer who checked in"
    return ""


def _activity_cancel(conn: Connection, station: str, p: dict[str, Any], seen: Seen) -> str:
    t = m.activity_events
    row = conn.execute(select(t.c.station).where(
        (t.c.activity_id == p["activity_id"]) & (t.c.person_key == p["person_key"]) & (t.c.event == "signup"))
        .order_by(t.c.at.desc()).limit(1)).first()
    mine = any(k == "activity_signup" and q.get("activity_id") == p["activity_id"]
               and q.get("person_key") == p["person_key"] for k, q in seen.values())
    if not mine and (row is None or row[0] != station):
        return "a sign-up is cancelled only at the station that holds it"
    return ""


#: kind -> rule; kinds not named here affect only what their own station holds.
RULES: dict[str, Rule] = {
    "ledger_movement": _movement,
    "request_cancelled": _cancel,
    "request_done": _done,
    "service_confirmation": _confirmation,
    "family_linked": _own_volunteer,
    "family_unlinked": _own_volunteer,
    "card_rebound": _own_volunteer,
    "volunteer_registered": _registration,
    "volunteer_check_out": _check_out,
    "activity_cancelled": _activity_cancel,
}


def check(conn: Connection, station: str, records: Sequence[tuple[int, Any]]) -> dict[int, str]:
    """Which of a batch's records ``(index, record)``, just inserted into ``hub_records``, the station
    may not send: index -> why. Each refused one is taken out of ``hub_records`` at once (so it is
    evidence for nothing), in the caller's transaction.

    Records need ``id``, ``kind`` and ``payload_json`` (already checked by the door)."""
    refused: dict[int, str] = {}
    seen: Seen = {}
    for index, r in records:
        rule = RULES.get(r.kind)
        if rule is None:
            if r.kind in ("service_request", "activity_signup"):
                seen[r.id] = (r.kind, json.loads(r.payload_json))
            continue
        payload = json.loads(r.payload_json)
        why = rule(conn, station, payload, seen)
        if why:
            refused[index] = why
            conn.execute(delete(m.records).where((m.records.c.station == station) & (m.records.c.id == r.id)))
        else:
            seen[r.id] = (r.kind, payload)
    return refused
