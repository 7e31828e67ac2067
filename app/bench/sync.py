"""``yizhan bench sync --records 10000 [--db URL]``: outbox drain through a real Mosquitto into the hub, against raw paho.

It journals N synthetic records, starts Mosquitto (free port, stopped by PID) and a hub process,
runs the publisher until the hub has acknowledged every batch, and counts what the hub stored.
With ``--db URL`` (PostgreSQL) the same drain runs once into a SQLite hub and once into that
database (a fresh schema, dropped afterwards), side by side.

The reference is plain paho QoS-1 publish→subscribe of messages of the same per-record size. A
reference that lost messages measures nothing (the broker dropped what its queues could not
hold), so it is repeated with fewer messages until one run delivers all; if none does, no ratio
is printed and ``ratio_refused`` says why. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from app.bench.fill import fill
from app.demo_hub import HubProcess, LocalBroker
from hub import models as m
from hub.store import HubStore
from kiosk.settings import load_settings
from sync.mqtt import raw_qos1_rate
from sync.publisher import Publisher

#: Reference sizes tried after a lossy one (each must deliver every message).
REFERENCE_SIZES = (20_000, 10_000, 5_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench sync``."""
    parser.add_argument("--records", type=int, default=10000, help="records to drain")
    parser.add_argument("--batch-size", type=int, default=500, help="records per MQTT message")
    parser.add_argument("--window", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--db", default="", help="also drain into this hub database (postgresql://…), "
                                                 "side by side with SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def _hub_counts(db: str, station: str) -> tuple[int, int, int]:
    store = HubStore(db)
    try:
        r = m.records
        with store.engine.connect() as conn:
            rows, ids, seqs = conn.execute(select(func.count(), func.count(r.c.id.distinct()),
                                                  func.count(r.c.seq.distinct())).where(r.c.station == station)).one()
    finally:
        store.close()
    return rows, ids, seqs


class _PgSchema:
    """A throw-away schema in a PostgreSQL database, so a run never meets an earlier one's rows."""

    def __init__(self, url: str) -> None:
        import psycopg2
        self.url = url
        self.name = f"yizhan_bench_{uuid.uuid4().hex[:10]}"
        self.con = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        self.con.autocommit = True
        self.con.cursor().execute(f"CREATE SCHEMA {self.name}")
        sep = "&" if "?" in url else "?"
        self.scoped = f"{url}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        self.con.cursor().execute(f"DROP SCHEMA {self.name} CASCADE")
        self.con.close()


def drain(db: str, data: Path, broker: LocalBroker, batch_size: int, window: int, workdir: Path,
          station: str) -> dict:
    """Drain a filled journal into a hub on ``db``; records/s, losses, duplicates, resends."""
    journal = data / "journal.sqlite3"
    con = sqlite3.connect(journal)
    try:
        records = con.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        con.close()
    hub = HubProcess(db, broker.host, broker.port, name="hub-bench", log_file=workdir / "hub.log",
                     extra_args=["--record-kinds", "app.bench.records"]).start()
    try:
        env = {"YIZHAN_DATA_DIR": str(data), "YIZHAN_STATION_ID": station}
        settings = load_settings(demo=True, env=env)
        settings = dataclasses.replace(settings, sync=dataclasses.replace(
            settings.sync, enabled=True, host=broker.host, port=broker.port, batch_size=batch_size))
        publisher = Publisher(settings, journal, poll_s=0.05, window=window)
        t0 = time.perf_counter()
        publisher.start()
        deadline = time.monotonic() + 600
        while publisher.status().queue_depth or publisher.status().last_ack is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        resends = publisher.status().resends
        publisher.stop()
    finally:
        hub.stop()
    rows, ids, seqs = _hub_counts(db, station)
    return {"seconds": round(seconds, 3), "records_per_s": round(records / seconds, 1), "lost": records - ids,
            "duplicates": (rows - ids) + (ids - seqs), "resends": resends}


def reference(broker: LocalBroker, records: int, per_record: int) -> dict:
    """The raw paho QoS-1 rate, from the largest run (up to ``records``) that lost nothing."""
    tried = []
    for count in (records, *(n for n in REFERENCE_SIZES if n < records)):
        raw = raw_qos1_rate(broker.host, broker.port, count, per_record)
        tried.append({"messages": count, "lost": raw["lost"]})
        if raw["lost"] == 0:
            return {"raw_qos1_msgs_per_s": round(raw["msgs_per_s"], 1), "raw_messages": count, "raw_lost": 0,
                    "raw_tried": tried}
    return {"raw_qos1_msgs_per_s": None, "raw_messages": None, "raw_lost": tried[-1]["lost"], "raw_tried": tried}


def ratio(records_per_s: float, ref: dict) -> dict:
    """``{"ratio": drain/raw}``, or ``{"ratio": None, "ratio_refused": why}`` when no reference run was whole."""
    raw = ref.get("raw_qos1_msgs_per_s")
    if raw:
        return {"ratio": round(records_per_s / raw, 2)}
    lost = ", ".join(f"{t['lost']} of {t['messages']}" for t in ref.get("raw_tried", []))
    return {"ratio": None, "ratio_refused": f"the raw paho reference lost messages in every run ({lost}): the "
                                            "broker dropped what its queues could not hold, so it is no reference"}


def bench(records: int, batch_size: int, workdir: Path, window: int = 4, db_url: str = "") -> dict:
    """Run the benchmark in ``workdir``; returns the result fields."""
    station = "bench-001"
    data = workdir / "kiosk"
    fill(data, records, station)
    journal = data / "journal.sqlite3"
    payload_bytes = sqlite3.connect(journal).execute(
        "SELECT avg(length(CAST(payload AS BLOB))) FROM records").fetchone()[0] or 0
    per_record = int(payload_bytes) + 150           # envelope fields of one record on the wire
    if db_url:
        shutil.copytree(data, workdir / "kiosk-pg")      # the same journal, untouched, for the second drain
    broker = LocalBroker(workdir / "mosquitto").start()
    try:
        result: dict = {"records": records, "batch_size": batch_size, "window": window, "record_bytes": per_record}
        lite = drain(str(workdir / "hub.sqlite3"), data, broker, batch_size, window, workdir, station)
        result.update(lite)
        if db_url:
            schema = _PgSchema(db_url)
            try:
                pg = drain(schema.scoped, workdir / "kiosk-pg", broker, batch_size, window, workdir, station)
            finally:
                schema.drop()
            result["postgresql"] = pg
            result["postgresql_vs_sqlite"] = round(pg["records_per_s"] / lite["records_per_s"], 2)
        result.update(reference(broker, records, per_record))
    finally:
        broker.stop()
    result.update(ratio(result["records_per_s"], result))
    return result


def run(args: argparse.Namespace) -> int:
    """Run and print one JSON object; exit 1 when the drain lost or doubled a record."""
    tmp = Path(tempfile.mkdtemp(prefix="yizhan-bench-sync-"))
    try:
        result = bench(args.records, args.batch_size, tmp, args.window, args.db)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    runs = [result, result.get("postgresql") or {}]
    return 0 if all(r.get("lost", 0) == 0 and r.get("duplicates", 0) == 0 for r in runs) else 1
