"""Residents at the hub: found by person key only (the hub never holds a name or an ID number),
their measurements and services, and the withdrawal of consent that erases their health records.

Person keys are keyed hashes (64 hex digits); a search needs at least the first 8 of them.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from hub import models as m

#: Kinds that hold a person's health data (erased when consent is withdrawn).
HEALTH_KINDS = ("bp_measurement", "glucose_measurement", "health_alert")
#: Kinds shown on a resident's page besides the health kinds.
SERVICE_KINDS = ("service_confirmation", "service_follow_up", "consent", "visit")
_KEY_FIELDS = ("person_key", "resident_key")
_PREFIX_RE = re.compile(r"[0-9a-f]{8,64}")


class ResidentError(Exception):
    """A resident request that cannot be done; the text says why."""

    user_key = "resident_error"


def check_key(text: str) -> str:
    """A person key (or its first 8+ hex digits), lower-cased.

    Raises:
        ResidentError: not 8-64 hex digits (a name or an ID number is refused).
    """
    key = text.strip().lower()
    if not _PREFIX_RE.fullmatch(key):
        raise ResidentError("search by person key: 8 to 64 hex digits (never a name or an ID number)")
    return key


def _matching(engine: Engine, key: str, kinds: tuple[str, ...], stations: tuple[str, ...] | None):
    like = [m.records.c.payload.like(f'%"{f}":"{key}%') for f in _KEY_FIELDS]
    q = (select(m.records.c.station, m.records.c.id, m.records.c.kind, m.records.c.ts, m.records.c.payload)
         .where(m.records.c.kind.in_(kinds) & (like[0] | like[1])).order_by(m.records.c.ts.desc()))
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    with engine.connect() as conn:
        for row in conn.execute(q).all():
            p = json.loads(row.payload)
            if any(str(p.get(f, "")).startswith(key) for f in _KEY_FIELDS):
                yield row, p


def find(engine: Engine, text: str, stations: tuple[str, ...] | None, limit: int = 50) -> list[dict[str, Any]]:
    """Person keys starting with ``text`` seen at the stations, with visit counts and last time.

    Raises:
        ResidentError: the search text is not a key prefix.
    """
    key = check_key(text)
    people: dict[str, dict[str, Any]] = {}
    for row, p in _matching(engine, key, HEALTH_KINDS + SERVICE_KINDS, stations):
        pk = next(str(p[f]) for f in _KEY_FIELDS if str(p.get(f, "")).startswith(key))
        e = people.setdefault(pk, {"person_key": pk, "records": 0, "last": row.ts, "stations": set()})
        e["records"] += 1
        e["stations"].add(row.station)
    return sorted(people.values(), key=lambda e: e["last"], reverse=True)[:limit]


def history(engine: Engine, person_key: str, stations: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """A resident's measurements, alerts and services at the stations, newest first."""
    key = check_key(person_key)
    if len(key) != 64:
        raise ResidentError("a resident's page needs the whole person key (64 hex digits)")
    return [{"station": row.station, "id": row.id, "kind": row.kind, "ts": row.ts, "payload": p}
            for row, p in _matching(engine, key, HEALTH_KINDS + SERVICE_KINDS, stations)]


def withdraw_consent(engine: Engine, person_key: str, stations: tuple[str, ...] | None, actor: str,
                     audit=None) -> int:
    """Record a consent withdrawal and erase the person's health records at the stations: each keeps
    its row (station, id, seq, kind, time) with the payload ``{"erased":"hub-withdrawal-<n>"}``, so no
    station's sequence gets a hole, and nothing of the person stays in it.

    Args:
        stations: where the withdrawing staff member may act (None: every station).
        audit: ``audit(conn, before, after)`` called in the same transaction (the workbench's log).

    Returns:
        how many records were erased.

    Raises:
        ResidentError: not a whole person key.
    """
    key = check_key(person_key)
    if len(key) != 64:
        raise ResidentError("a consent withdrawal needs the whole person key (64 hex digits)")
    doomed = [(row.station, row.id, row.kind) for row, p in _matching(engine, key, HEALTH_KINDS, stations)
              if p.get("person_key") == key]
    with engine.begin() as conn:
        where = "*" if stations is None else ",".join(stations)
        withdrawal = conn.execute(insert(m.consent_withdrawals).values(
            person_key=key, at=datetime.now(timezone.utc), by=actor, stations=where, deleted=len(doomed)))
        tombstone = m.erased_payload(f"hub-withdrawal-{withdrawal.inserted_primary_key[0]}")
        for station in sorted({d[0] for d in doomed}):
            ids = [d[1] for d in doomed if d[0] == station]
            for i in range(0, len(ids), 500):
                conn.execute(update(m.records).where((m.records.c.station == station)
                                                     & m.records.c.id.in_(ids[i:i + 500])).values(payload=tombstone))
        if audit is not None:
            audit(conn, {"records": len(doomed), "kinds": sorted({d[2] for d in doomed})}, {"records": 0})
    return len(doomed)
