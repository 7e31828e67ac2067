"""Time-bank facts kept up to date as records arrive, so reading them costs what the answer holds.

:func:`apply` runs inside the transaction that stores new records (``HubStore``, reviews): it adds
each new ledger movement once (by movement id) and moves its hours between two account balances,
and keeps the services, volunteers, shifts, pending reviews and per-station counts beside them
(``hub/models.py``), and which person each health, service and consent record names
(``hub_person_records``, :mod:`hub.people`). Migrations 0006 and 0008 build these tables from the
records a hub already held (:func:`rebuild_in`, :func:`index_people_in`).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from hub.database import copy_new
from hub import people

log = logging.getLogger(__name__)

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


def _first(rows: Iterable[dict], key: str) -> list[dict]:
    """One row per key, the first one seen."""
    out: dict[Any, dict] = {}
    for r in rows:
        out.setdefault(r[key], r)
    return list(out.values())


def _insert(conn: Connection, table: str, rows: Sequence[dict], tail: str, returning: bool = False) -> list[Any]:
    """``INSERT INTO table (…) VALUES (…), (…) <tail>`` in multi-row statements of plain driver SQL.

    Built as text: compiling hundreds of rows through SQLAlchemy costs more than the insert, and
    one statement per chunk spares PostgreSQL a round trip per row. ``tail`` is the ON CONFLICT
    clause (the same syntax on SQLite and PostgreSQL); with ``returning`` the first column of the
    RETURNING rows is returned.
    """
    if not rows:
        return []
    cols = list(rows[0])
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join([ph] * len(cols))})"
    out: list[Any] = []
    for i in range(0, len(rows), CHUNK):
        part = rows[i:i + CHUNK]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([one] * len(part))} {tail}"
        result = conn.exec_driver_sql(sql, tuple(r[c] for r in part for c in cols))
        if returning:
            out += [r[0] for r in result.fetchall()]
    return out


def _upsert_first(conn: Connection, table: str, key: str, rows: list[dict]) -> None:
    """Insert by key; on a conflict each column keeps its stored value, filled from the new row when empty."""
    rows = _first(rows, key)
    if rows:
        sets = ", ".join(f"{c} = coalesce({table}.{c}, excluded.{c})" for c in rows[0] if c != key)
        _insert(conn, table, rows, f"ON CONFLICT ({key}) DO UPDATE SET {sets}")


def _movements(conn: Connection, rows: list[dict]) -> None:
    """Keep movements by (station, movement id); a movement moves hours once, however many stations
    hold it (the first one stored counts)."""
    rows = _first(rows, "movement_id")
    # No conflict target: the key is (station, movement_id) since migration 0009, the movement id
    # alone in the migrations before it that rebuild these tables (0006).
    new = set(_insert(conn, "hub_movements", rows, "ON CONFLICT DO NOTHING RETURNING movement_id", returning=True))
    held: dict[str, int] = defaultdict(int)
    ids = sorted(new)
    for i in range(0, len(ids), CHUNK):
        for (mid,) in conn.execute(select(m.movements.c.movement_id).where(m.movements.c.movement_id.in_(
                ids[i:i + CHUNK]))):
            held[mid] += 1
    delta: dict[str, int] = defaultdict(int)
    pairs = set()
    for r in rows:
        if r["movement_id"] in new and held[r["movement_id"]] == 1:
            delta[r["debit"]] -= r["micro_hours"]
            delta[r["credit"]] += r["micro_hours"]
            pairs.update({(r["debit"], r["station"]), (r["credit"], r["station"])})
    _insert(conn, "hub_accounts", [{"account": a, "micro_hours": h} for a, h in sorted(delta.items())],
            "ON CONFLICT (account) DO UPDATE SET micro_hours = hub_accounts.micro_hours + excluded.micro_hours")
    _insert(conn, "hub_account_stations", [{"account": a, "station": s} for a, s in sorted(pairs)],
            "ON CONFLICT (account, station) DO NOTHING")


def _rebounds(conn: Connection, rows: list[dict]) -> None:
    latest: dict[str, dict] = {}
    for r in rows:
        if r["volunteer_id"] not in latest or r["rebound_ts"] >= latest[r["volunteer_id"]]["rebound_ts"]:
            latest[r["volunteer_id"]] = r
    newer = "hub_volunteers.rebound_ts IS NULL OR excluded.rebound_ts >= hub_volunteers.rebound_ts"
    sets = ", ".join(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE hub_volunteers.{c} END"
                     for c in ("rebound_card_uid", "rebound_person_key", "rebound_ts"))
    _insert(conn, "hub_volunteers", list(latest.values()), f"ON CONFLICT (volunteer_id) DO UPDATE SET {sets}")


def advance_station(conn: Connection, station: str, added: int, new_seqs: Iterable[int] = ()) -> None:
    """Count ``added`` new records of a station and move its ``through`` over every seq now held in a row.

    ``new_seqs``: those of the new records, if known; a batch that continues the station's run moves
    ``through`` over them without reading them back.
    """
    row = conn.execute(select(m.station_counts.c.through).where(m.station_counts.c.station == station)).first()
    through = int(row[0]) if row else 0
    for s in sorted(new_seqs):
        if s == through + 1:
            through = s
        elif s > through + 1:
            break
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
    _insert(conn, "hub_station_counts", [{"station": station, "records": added, "through": through}],
            "ON CONFLICT (station) DO UPDATE SET records = hub_station_counts.records + excluded.records, "
            "through = CASE WHEN excluded.through > hub_station_counts.through THEN excluded.through "
            "ELSE hub_station_counts.through END")


def apply(conn: Connection, rows: Iterable[Row], count_stations: bool = True, timebank: bool = True,
          persons: bool = True) -> list[dict[str, str]]:
    """Bring the maintained tables up to date with newly stored records (inside the storing transaction);
    returns the ``hub_person_records`` rows added (who each record names, for the caller's own use).

    Args:
        rows: records that were just inserted (each only once).
        count_stations: also count them per station and advance ``through``.
        timebank, persons: keep the time-bank facts, and ``hub_person_records`` (a migration made
            before one of them existed turns it off).
    """
    per_station: dict[str, list[int]] = defaultdict(list)
    todo: dict[str, list[dict]] = defaultdict(list)
    for rid, station, seq, kind, ts, payload in rows:
        per_station[station].append(int(seq))
        facts, named = timebank and kind in KINDS, persons and kind in people.KINDS
        if not (facts or named):
            continue
        try:
            p = json.loads(payload) if isinstance(payload, str) else payload
            if named:
                todo["people"] += people.named(rid, station, kind, ts, p)
            if facts:
                _collect(todo, rid, station, int(seq), kind, ts, p)
        except (ValueError, TypeError, KeyError, AttributeError, InvalidOperation) as exc:
            log.error("hub record %s (%s) is unreadable: %s", rid, kind, exc)
    if todo["people"] and not copy_new(conn, "hub_person_records", todo["people"]):
        _insert(conn, "hub_person_records", todo["people"], "ON CONFLICT DO NOTHING")
    if todo["movements"]:
        _movements(conn, todo["movements"])
    for name, table, key in (("services", "hub_services", "service_id"),
                             ("confirmations", "hub_services", "service_id"),
                             ("registrations", "hub_volunteers", "volunteer_id"),
                             ("check_ins", "hub_shifts", "shift_id"), ("check_outs", "hub_shifts", "shift_id"),
                             ("reviews", "hub_reviews", "record_id")):
        if todo[name]:
            _upsert_first(conn, table, key, todo[name])
    closed = sorted({r["shift_id"] for r in todo["check_outs"]})
    for i in range(0, len(closed), CHUNK):
        conn.execute(m.shifts.update().where(m.shifts.c.shift_id.in_(closed[i:i + CHUNK])).values(closed=True))
    if todo["rebounds"]:
        _rebounds(conn, todo["rebounds"])
    if count_stations:
        for station, seqs in sorted(per_station.items()):
            advance_station(conn, station, len(seqs), seqs)
    return todo["people"]


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


def _rebuild(conn: Connection, timebank: bool = True, persons: bool = True) -> int:
    names = dict(conn.execute(select(m.station_counts.c.station, m.station_counts.c.name)).all())
    for table in (MAINTAINED if timebank else ()) + ((m.person_records,) if persons else ()):
        conn.execute(table.delete())
    done = 0
    r = m.records
    for kind in dict.fromkeys((KINDS if timebank else ()) + (people.KINDS if persons else ())):
        last: tuple[str, str] | None = None
        while True:
            q = select(r.c.id, r.c.station, r.c.seq, r.c.kind, r.c.ts, r.c.payload).where(r.c.kind == kind)
            if last is not None:
                # ts >= … lets the (kind, ts) index start at the last page; the rest breaks ties by id.
                q = q.where((r.c.ts >= last[0]) & ((r.c.ts > last[0]) | (r.c.id > last[1])))
            rows = conn.execute(q.order_by(r.c.ts, r.c.id).limit(5000)).all()
            if not rows:
                break
            apply(conn, [tuple(x) for x in rows], count_stations=False, timebank=timebank, persons=persons)
            done += len(rows)
            last = (rows[-1][4], rows[-1][0])
    if not timebank:
        return done
    for station, count in conn.execute(select(r.c.station, func.count()).group_by(r.c.station)).all():
        conn.execute(insert(m.station_counts).values(station=station, records=0, through=0, name=names.get(station)))
        advance_station(conn, station, int(count))
    return done


def rebuild(engine: Engine) -> int:
    """Rebuild every maintained table from the stored records (one transaction); returns records read.

    Migrations 0006 and 0008 do this once for a hub that already held records; ``yizhan bench growth``
    does it after writing history in bulk.
    """
    with engine.begin() as conn:
        done = _rebuild(conn)
    checkpoint(engine)
    return done


def rebuild_in(conn: Connection) -> int:
    """The time-bank tables of :func:`rebuild` inside a transaction the caller holds (migration 0006's,
    made before ``hub_person_records``)."""
    return _rebuild(conn, persons=False)


def index_people_in(conn: Connection) -> int:
    """Fill ``hub_person_records`` from the stored records inside the caller's transaction (migration 0008)."""
    return _rebuild(conn, timebank=False)


def checkpoint(engine: Engine) -> None:
    """Fold a large rebuild's write-ahead log into the SQLite file at once, not in a later reader."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()            # outside a transaction: a checkpoint cannot run inside one
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
