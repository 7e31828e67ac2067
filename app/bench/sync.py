"""``yizhan bench sync --records 10000``: outbox drain through a real Mosquitto into the hub, against raw paho.

It journals N synthetic records, starts Mosquitto (free port, stopped by PID) and a hub process
(SQLite file), runs the publisher until the hub has acknowledged every batch, and counts what the
hub stored. In the same run it measures plain paho QoS-1 publish→subscribe of N messages of the
same per-record size. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from kiosk.settings import load_settings
from app.bench.fill import fill
from app.demo_hub import HubProcess, LocalBroker
from sync.mqtt import raw_qos1_rate
from sync.publisher import Publisher


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench sync``."""
    parser.add_argument("--records", type=int, default=10000, help="records to drain")
    parser.add_argument("--batch-size", type=int, default=500, help="records per MQTT message")
    parser.add_argument("--window", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def _hub_counts(db: Path, station: str) -> tuple[int, int, int]:
    con = sqlite3.connect(db)
    try:
        rows, ids, seqs = con.execute("SELECT count(*), count(DISTINCT id), count(DISTINCT seq) FROM hub_records "
                                      "WHERE station = ?", (station,)).fetchone()
    finally:
        con.close()
    return rows, ids, seqs


def bench(records: int, batch_size: int, workdir: Path, window: int = 4) -> dict:
    """Run the benchmark in ``workdir``; returns the result fields."""
    station = "bench-001"
    data = workdir / "kiosk"
    fill(data, records, station)
    journal = data / "journal.sqlite3"
    payload_bytes = sqlite3.connect(journal).execute(
        "SELECT avg(length(CAST(payload AS BLOB))) FROM records").fetchone()[0] or 0
    per_record = int(payload_bytes) + 150           # envelope fields of one record on the wire
    broker = LocalBroker(workdir / "mosquitto").start()
    hub = None
    try:
        db = workdir / "hub.sqlite3"
        hub = HubProcess(str(db), broker.host, broker.port, name="hub-bench", log_file=workdir / "hub.log").start()
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
        rows, ids, seqs = _hub_counts(db, station)
        raw = raw_qos1_rate(broker.host, broker.port, records, per_record)
    finally:
        if hub:
            hub.stop()
        broker.stop()
    rate = records / seconds
    return {"records": records, "batch_size": batch_size, "window": window, "seconds": round(seconds, 3),
            "records_per_s": round(rate, 1), "raw_qos1_msgs_per_s": round(raw["msgs_per_s"], 1),
            "ratio": round(rate / raw["msgs_per_s"], 2), "lost": records - ids,
            "duplicates": (rows - ids) + (ids - seqs), "resends": resends, "record_bytes": per_record,
            "raw_lost": raw["lost"]}


def run(args: argparse.Namespace) -> int:
    """Run and print one JSON object."""
    tmp = Path(tempfile.mkdtemp(prefix="yizhan-bench-sync-"))
    try:
        result = bench(args.records, args.batch_size, tmp, args.window)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1
