"""Residents at the hub: found by person key only (the hub never holds a name or an ID number),
their measurements and services, and the withdrawal of consent that erases their health records.

Person keys are keyed hashes (64 hex digits); a search needs at least the first 8 of them.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from hub import models as m
from hub import care, people
from hub.people import HEALTH_KINDS, SERVICE_KINDS

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


def find(engine: Engine, text: str, stations: tuple[str, ...] | None, limit: int = 50) -> list[dict[str, Any]]:
    """Person keys starting with ``text`` seen at the stations, with visit counts and last time.

    Raises:
        ResidentError: the search text is not a key prefix.
    """
    key = check_key(text)
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for station, _id, _kind, ts, pk, _ in people.rows_of(conn, key, HEALTH_KINDS + SERVICE_KINDS, stations,
                                                            prefix=True):
            e = found.setdefault(pk, {"person_key": pk, "records": 0, "last": ts, "stations": set()})
            e["records"] += 1
            e["stations"].add(station)
    return sorted(found.values(), key=lambda e: e["last"], reverse=True)[:limit]


def history(engine: Engine, person_key: str, stations: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """A resident's measurements, alerts and services at the stations, newest first."""
    key = check_key(person_key)
    if len(key) != 64:
        raise ResidentError("a resident's page needs the whole person key (64 hex digits)")
    with engine.connect() as conn:
        return [{"station": station, "id": rid, "kind": kind, "ts": ts, "payload": json.loads(payload)}
                for station, rid, kind, ts, _, payload in people.rows_of(conn, key, HEALTH_KINDS + SERVICE_KINDS,
                                                                        stations, payload=True)]


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
    with engine.begin() as conn:
        doomed = [(station, rid, kind) for station, rid, kind, *_ in
                  people.rows_of(conn, key, HEALTH_KINDS, stations)]
        where = "*" if stations is None else ",".join(stations)
        withdrawal = conn.execute(insert(m.consent_withdrawals).values(
            person_key=key, at=datetime.now(timezone.utc), by=actor, stations=where, deleted=len(doomed)))
        people.erase(conn, [d[:2] for d in doomed], f"hub-withdrawal-{withdrawal.inserted_primary_key[0]}")
        care.refresh(conn, [key])
        if audit is not None:
            audit(conn, {"records": len(doomed), "kinds": sorted({d[2] for d in doomed})}, {"records": 0})
    return len(doomed)
