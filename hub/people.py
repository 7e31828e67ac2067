"""A person's records at the hub, found by person key through an indexed table, not payload scans.

Records of :data:`KINDS` name a person in ``person_key`` or ``resident_key`` (keyed hashes, 64 hex
digits). ``hub_person_records`` holds one row per (key, record), written by :func:`hub.ledger.apply`
in the transaction that stores the record, so the workbench's resident search (a key prefix is a
range of the primary key), a resident's page and a consent withdrawal cost what the person has,
not what the hub holds. An erased health record loses its row: afterwards nothing at the hub links
the person to it.

(Expression indexes on the payload were the other way; PostgreSQL cannot index a JSON payload
holding ``\\u0000`` — it refuses to extract text from it — and would refuse such a record's insert.)
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from hub import models as m

#: Kinds that hold a person's health data (erased when consent is withdrawn).
HEALTH_KINDS = ("bp_measurement", "glucose_measurement", "health_alert", "care_consent")
#: Kinds shown on a resident's page besides the health kinds.
SERVICE_KINDS = ("service_confirmation", "service_follow_up", "consent", "visit")
#: A kiosk's record of a consent withdrawal.
WITHDRAWAL_KIND = "consent_withdrawn"
#: Every kind whose records are indexed by the people they name.
KINDS = HEALTH_KINDS + SERVICE_KINDS + (WITHDRAWAL_KIND,)
#: The payload fields that name a person.
FIELDS = ("person_key", "resident_key")


def named(rid: str, station: str, kind: str, ts: str, payload: dict[str, Any]) -> list[dict[str, str]]:
    """The ``hub_person_records`` rows of one stored record: one per distinct key it names."""
    keys = {str(payload[f]) for f in FIELDS if isinstance(payload.get(f), str) and payload[f]}
    return [{"person_key": k[:64], "station": station, "record_id": rid, "kind": kind, "ts": ts} for k in sorted(keys)]


def rows_of(conn: Connection, key: str, kinds: tuple[str, ...], stations: tuple[str, ...] | None = None,
            prefix: bool = False, payload: bool = False) -> list[tuple[str, str, str, str, str, Any]]:
    """``(station, id, kind, ts, person key, payload text or None)`` of the records of ``kinds``
    naming the person ``key`` (or, with ``prefix``, anyone whose key starts so), each record once,
    newest first. ``key`` is lower-case hex (checked by the caller)."""
    p = m.person_records.c
    match = and_(p.person_key >= key, p.person_key < key + "g") if prefix else p.person_key == key  # "g" > any hex
    cols = [p.station, p.record_id, p.kind, p.ts, p.person_key]
    q = select(*cols, m.records.c.payload).join(m.records, and_(m.records.c.station == p.station,
                                                               m.records.c.id == p.record_id)) \
        if payload else select(*cols)
    q = q.where(match & p.kind.in_(kinds))
    if stations is not None:
        q = q.where(p.station.in_(stations))
    seen: set[tuple[str, str]] = set()
    found = []
    for row in conn.execute(q.order_by(p.ts.desc(), p.person_key)):
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            found.append((*row[:5], row[5] if payload else None))
    return found


def erase(conn: Connection, targets: list[tuple[str, str]], by: str) -> None:
    """Erase these ``(station, record id)`` health records in place — the payload becomes
    ``{"erased":"<by>"}`` (:data:`hub.models.LIVE`) — and drop every row linking a person to them."""
    p = m.person_records.c
    for station in sorted({s for s, _ in targets}):
        ids = sorted(rid for s, rid in targets if s == station)
        for i in range(0, len(ids), 400):
            chunk = ids[i:i + 400]
            conn.execute(update(m.records).where((m.records.c.station == station) & m.records.c.id.in_(chunk))
                         .values(payload=m.erased_payload(by)))
            conn.execute(delete(m.person_records).where((p.station == station) & p.record_id.in_(chunk)))


def apply_withdrawals(conn: Connection, named: list[dict[str, str]]) -> None:
    """A consent withdrawal a station sends erases, at once, that person's health records held by
    *that station* (by person key), and any that station delivers later. What other stations hold
    is erased only when the district confirms it: staff record the withdrawal at the workbench for
    those stations (``consent_withdrawals``), which erases their records and those they deliver
    later (see ``docs/authority.md``). An erased record keeps its row with the payload
    ``{"erased":"<withdrawal id>"}`` (:data:`hub.models.LIVE`). ``named``: who the records just
    stored name (:func:`hub.ledger.apply`)."""
    withdrawn = {(n["station"], n["person_key"]): n["record_id"] for n in named if n["kind"] == WITHDRAWAL_KIND}
    health = [n for n in named if n["kind"] in HEALTH_KINDS and (n["station"], n["person_key"]) not in withdrawn]
    p = m.person_records.c
    if health:
        keys = sorted({n["person_key"] for n in health})
        for person, station, rid in conn.execute(select(p.person_key, p.station, p.record_id).where(
                p.person_key.in_(keys) & (p.kind == WITHDRAWAL_KIND))):
            withdrawn.setdefault((station, person), rid)
        cw = m.consent_withdrawals.c
        for wid, person, scope in conn.execute(select(cw.id, cw.person_key, cw.stations).where(
                cw.person_key.in_(keys))):
            erase(conn, [(n["station"], n["record_id"]) for n in health if n["person_key"] == person
                         and (n["station"], person) not in withdrawn
                         and (scope == "*" or n["station"] in scope.split(","))], f"hub-withdrawal-{wid}")
    for (station, person), by in sorted(withdrawn.items()):
        erase(conn, [(s, rid) for s, rid, *_ in rows_of(conn, person, HEALTH_KINDS, (station,))], by)
