"""Time-bank facts kept up to date as records arrive, so reading them costs what the answer holds.

:func:`apply` runs inside the transaction that stores new records (``HubStore``, reviews): it adds
each new ledger movement once (by movement id) and moves its hours between two account balances,
and keeps the services, volunteers, shifts, pending reviews and per-station counts beside them
(``hub/models.py``). :func:`ensure` builds these tables from the records already stored when a hub
meets a database older than them (once, then :data:`LEDGER_VERSION` is recorded).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m

log = logging.getLogger(__name__)

#: Bumped when the maintained tables change meaning; a hub then rebuilds them from the records.
LEDGER_VERSION = "1"
MICRO = Decimal(1_000_000)
#: Rows per multi-row statement (well under SQLite's and PostgreSQL's parameter limits).
CHUNK = 400
KINDS = ("ledger_movement", "volunteer_service", "service_confirmation", "volunteer_registered", "card_rebound",
         "volunteer_check_in", "volunteer_check_out")

#: (record id, station, seq, kind, ts, payload JSON text)
Row = tuple[str, str, int, str, str, str]


def to_micro(hours: Any) -> int:
    """Hours as an exact integer of millionths (``1.25`` → ``1250000``)."""
    return int((Decimal(str(hours)) * MICRO).to_integral_value())


def to_hours(micro: int | None) -> Decimal:
    """Millionths back to hours."""
    return Decimal(int(micro or 0)) / MICRO


def _dialect_insert(conn: Connection, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert(table)
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table)
    return insert(table)


def _first(rows: Iterable[dict], key: str) -> list[dict]:
    """One row per key, the first one seen."""
    out: dict[Any, dict] = {}
    for r in rows:
        out.setdefault(r[key], r)
    return list(out.values())


def _chunks(rows: Sequence[dict]) -> Iterable[Sequence[dict]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _keep_first(table, stmt, key: str) -> dict:
    """ON CONFLICT set: each column keeps its stored value, filled from the new row when empty."""
    return {c.name: func.coalesce(table.c[c.name], stmt.excluded[c.name]) for c in table.columns if c.name != key}


def _upsert_first(conn: Connection, table, key: str, rows: list[dict]) -> None:
    for part in _chunks(_first(rows, key)):
        stmt = _dialect_insert(conn, table).values(list(part))
        conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=_keep_first(table, stmt, key)))


def _movements(conn: Connection, rows: list[dict]) -> None:
    fresh: list[dict] = []
    for part in _chunks(_first(rows, "movement_id")):
        stmt = _dialect_insert(conn, m.movements).values(list(part)).on_conflict_do_nothing(
            index_elements=["movement_id"]).returning(m.movements.c.movement_id)
        new = {r[0] for r in conn.execute(stmt)}
        fresh += [r for r in part if r["movement_id"] in new]
    delta: dict[str, int] = defaultdict(int)
    pairs = set()
    for r in fresh:
        delta[r["debit"]] -= r["micro_hours"]
        delta[r["credit"]] += r["micro_hours"]
        pairs.update({(r["debit"], r["station"]), (r["credit"], r["station"])})
    accounts = [{"account": a, "micro_hours": h} for a, h in delta.items()]
    for part in _chunks(accounts):
        stmt = _dialect_insert(conn, m.accounts).values(list(part))
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["account"], set_={"micro_hours": m.accounts.c.micro_hours + stmt.excluded.micro_hours}))
    for part in _chunks([{"account": a, "station": s} for a, s in sorted(pairs)]):
        conn.execute(_dialect_insert(conn, m.account_stations).values(list(part)).on_conflict_do_nothing())


def _rebounds(conn: Connection, rows: list[dict]) -> None:
    latest: dict[str, dict] = {}
    for r in rows:
        if r["volunteer_id"] not in latest or r["rebound_ts"] >= latest[r["volunteer_id"]]["rebound_ts"]:
            latest[r["volunteer_id"]] = r
    t = m.volunteers
    for part in _chunks(list(latest.values())):
        stmt = _dialect_insert(conn, t).values(list(part))
        newer = (t.c.rebound_ts.is_(None)) | (stmt.excluded.rebound_ts >= t.c.rebound_ts)
        conn.execute(stmt.on_conflict_do_update(index_elements=["volunteer_id"], set_={
            c: case((newer, stmt.excluded[c]), else_=t.c[c])
            for c in ("rebound_ts", "rebound_card_uid", "rebound_person_key")}))


def advance_station(conn: Connection, station: str, added: int) -> None:
    """Count ``added`` new records of a station and move its ``through`` over every seq now held in a row."""
    row = conn.execute(select(m.station_counts.c.through).where(m.station_counts.c.station == station)).first()
    through = int(row[0]) if row else 0
    while True:
        seqs = [s for (s,) in conn.execute(select(m.records.c.seq).where(
            (m.records.c.station == station) & (m.records.c.seq > through)).order_by(m.records.c.seq).limit(1000))]
        start = through
        for s in seqs:
            if s == through + 1:
                through = s
            elif s > through + 1:
                break
        if through == start or len(seqs) < 1000 or through != seqs[-1]:
            break
    stmt = _dialect_insert(conn, m.station_counts).values(station=station, records=added, through=through)
    conn.execute(stmt.on_conflict_do_update(index_elements=["station"], set_={
        "records": m.station_counts.c.records + stmt.excluded.records,
        "through": case((stmt.excluded.through > m.station_counts.c.through, stmt.excluded.through),
                        else_=m.station_counts.c.through)}))


def apply(conn: Connection, rows: Iterable[Row], count_stations: bool = True) -> None:
    """Bring the maintained tables up to date with newly stored records (inside the storing transaction).

    Args:
        rows: records that were just inserted (each only once).
        count_stations: also count them per station and advance ``through``.
    """
    per_station: dict[str, int] = defaultdict(int)
    todo: dict[str, list[dict]] = defaultdict(list)
    for rid, station, seq, kind, ts, payload in rows:
        per_station[station] += 1
        if kind not in KINDS:
            continue
        try:
            p = json.loads(payload) if isinstance(payload, str) else payload
            _collect(todo, rid, station, int(seq), kind, ts, p)
        except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
            log.error("hub record %s (%s) is unreadable: %s", rid, kind, exc)
    if todo["movements"]:
        _movements(conn, todo["movements"])
    for name, table, key in (("services", m.services, "service_id"), ("confirmations", m.services, "service_id"),
                             ("registrations", m.volunteers, "volunteer_id"), ("check_ins", m.shifts, "shift_id"),
                             ("check_outs", m.shifts, "shift_id"), ("reviews", m.reviews, "record_id")):
        if todo[name]:
            _upsert_first(conn, table, key, todo[name])
    if todo["check_outs"]:
        for part in _chunks(_first(todo["check_outs"], "shift_id")):
            conn.execute(m.shifts.update().where(m.shifts.c.shift_id.in_([r["shift_id"] for r in part]))
                         .values(closed=True))
    if todo["rebounds"]:
        _rebounds(conn, todo["rebounds"])
    if count_stations:
        for station, added in sorted(per_station.items()):
            advance_station(conn, station, added)


def _collect(todo: dict[str, list[dict]], rid: str, station: str, seq: int, kind: str, ts: str,
             p: dict[str, Any]) -> None:
    if kind == "ledger_movement":
        todo["movements"].append({
            "movement_id": p["movement_id"], "record_id": rid, "station": station, "seq": seq, "ts": ts,
            "kind": p["kind"], "debit": p["debit"], "credit": p["credit"], "micro_hours": to_micro(p["hours"]),
            "source": p.get("source", ""), "team": p.get("team", ""), "at_station": p.get("at_station", ""),
            "reference": p["reference"]})
    elif kind == "volunteer_service":
        todo["services"].append({
            "service_id": p["service_id"], "record_id": rid, "station": station, "ts": ts,
            "volunteer_id": p["volunteer_id"], "team": p["team"], "service_type": p["service_type"],
            "service_name": p["service_name"], "micro_hours": to_micro(p["hours"])})
    elif kind == "service_confirmation":
        todo["confirmations"].append({
            "service_id": p["service_id"], "confirmed_record_id": rid, "confirmed_station": station,
            "confirmed_ts": ts, "confirmed_volunteer_id": p["volunteer_id"], "rating": int(p["rating"]),
            "confirmed_micro_hours": to_micro(p["hours"])})
    elif kind == "volunteer_registered":
        todo["registrations"].append({
            "volunteer_id": p["volunteer_id"], "name": p["name"], "team": p["team"], "card_uid": p.get("card_uid", ""),
            "person_key": p.get("person_key", ""), "registered_ts": ts, "registered_record_id": rid})
    elif kind == "card_rebound":
        todo["rebounds"].append({"volunteer_id": p["volunteer_id"], "rebound_ts": ts,
                                 "rebound_card_uid": p.get("new_card_uid", ""),
                                 "rebound_person_key": p.get("new_person_key", "")})
    elif kind == "volunteer_check_in":
        todo["check_ins"].append({"shift_id": p["shift_id"], "volunteer_id": p["volunteer_id"], "station": station,
                                  "ts": ts, "record_id": rid, "since": p["at"], "team": p["team"],
                                  "activity": p["activity"], "closed": False})
    elif kind == "volunteer_check_out":
        todo["check_outs"].append({"shift_id": p["shift_id"], "volunteer_id": p["volunteer_id"], "closed": True})
        if p.get("needs_review"):
            todo["reviews"].append({
                "record_id": rid, "shift_id": p["shift_id"], "station": station, "ts": ts,
                "volunteer_id": p["volunteer_id"], "since": p["since"], "until": p["until"],
                "proposed_hours": repr(float(p.get("proposed_hours", 0.0))), "team": p["team"],
                "activity": p["activity"]})


MAINTAINED = (m.movements, m.accounts, m.account_stations, m.services, m.volunteers, m.shifts, m.reviews,
              m.station_counts)


def _rebuild(conn: Connection) -> int:
    names = dict(conn.execute(select(m.station_counts.c.station, m.station_counts.c.name)).all())
    for table in MAINTAINED:
        conn.execute(table.delete())
    done = 0
    r = m.records
    for kind in KINDS:
        last: tuple[str, str] | None = None
        while True:
            q = select(r.c.id, r.c.station, r.c.seq, r.c.kind, r.c.ts, r.c.payload).where(r.c.kind == kind)
            if last is not None:
                # ts >= … lets the (kind, ts) index start at the last page; the rest breaks ties by id.
                q = q.where((r.c.ts >= last[0]) & ((r.c.ts > last[0]) | (r.c.id > last[1])))
            rows = conn.execute(q.order_by(r.c.ts, r.c.id).limit(5000)).all()
            if not rows:
                break
            apply(conn, [tuple(x) for x in rows], count_stations=False)
            done += len(rows)
            last = (rows[-1][4], rows[-1][0])
    for station, count in conn.execute(select(r.c.station, func.count()).group_by(r.c.station)).all():
        conn.execute(insert(m.station_counts).values(station=station, records=0, through=0, name=names.get(station)))
        advance_station(conn, station, int(count))
    return done


def rebuild(engine: Engine) -> int:
    """Rebuild every maintained table from the stored records (in one transaction); returns records read."""
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        done = _rebuild(conn)
        _set_version(conn)
    return done


def _set_version(conn: Connection) -> None:
    stmt = _dialect_insert(conn, m.hub_meta).values(key="ledger", value=LEDGER_VERSION)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": LEDGER_VERSION}))


def ensure(engine: Engine) -> None:
    """Build the maintained tables from the stored records if this database predates them (once)."""
    q = select(m.hub_meta.c.value).where(m.hub_meta.c.key == "ledger")
    with engine.connect() as conn:
        if conn.execute(q).scalar() == LEDGER_VERSION:
            return
    with engine.begin() as conn:
        if conn.execute(q).scalar() == LEDGER_VERSION:
            return
        done = _rebuild(conn)
        _set_version(conn)
    if done:
        log.info("built the hub's time-bank tables from %d stored records", done)
