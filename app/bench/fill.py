"""``yizhan bench fill --records N --data-dir DIR``: journal N realistic synthetic records.

The mix follows a station day: identifications (``visit``), consents, blood-pressure and glucose
readings, a few admin events and rare urgent alerts. Person keys are HMACs of made-up numbers;
no real ID number is ever generated.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.journal import Journal, JournalError, verify_journal
from kiosk.records import AdminEvent, ConsentDecision, Visit
from app.bench.records import BenchAlert, BenchBloodPressure, BenchGlucose


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench fill``."""
    parser.add_argument("--records", type=int, default=1000, help="how many records to journal")
    parser.add_argument("--data-dir", required=True, help="data directory (journal.sqlite3 is created inside)")
    parser.add_argument("--station", default="bench-001", help="station id written into the records")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same records)")


def _payload(rng: random.Random, people: list[str], when: datetime):
    key = rng.choice(people)
    roll = rng.random()
    stamp = when.isoformat(timespec="seconds")
    if roll < 0.30:
        return Visit(person_key=key, source=rng.choice(["idcard", "pcsc", "qr"]), role="resident",
                     document_kind="resident_id", age_band=rng.choice(["60-69", "70-79", "80+"]),
                     gender=rng.choice(["F", "M"]))
    if roll < 0.35:
        return ConsentDecision(person_key=key, granted=rng.random() < 0.95)
    if roll < 0.70:
        sys_ = rng.randint(100, 175)
        return BenchBloodPressure(key, sys_, rng.randint(60, min(110, sys_ - 20)), rng.randint(55, 100),
                                  "high" if sys_ >= 140 else "normal", "omron_hbp9030", stamp)
    if roll < 0.95:
        value = round(rng.uniform(4.0, 12.0), 1)
        return BenchGlucose(key, value, rng.choice(["fasting", "after_meal", "random"]),
                            "high" if value >= 7.0 else "normal", "sd_codefree", stamp)
    if roll < 0.995:
        return AdminEvent(action=rng.choice(["login", "devices_checked", "settings_viewed"]), detail="")
    return BenchAlert(key, "bp_crisis", f"{rng.randint(180, 210)}/{rng.randint(110, 130)}")


def fill(data_dir: Path | str, records: int, station: str = "bench-001", seed: int = 1) -> dict:
    """Journal ``records`` synthetic records into ``<data_dir>/journal.sqlite3``.

    Returns:
        ``{"records", "seconds", "journal"}``.
    """
    rng = random.Random(seed)
    people = [hashlib.sha256(f"bench-person-{i}".encode()).hexdigest() for i in range(max(10, records // 5))]
    path = Path(data_dir) / Journal.FILENAME
    start = datetime.now(timezone.utc) - timedelta(seconds=records * 30)
    t0 = time.perf_counter()
    with Journal(path, station) as journal:
        for i in range(records):
            when = start + timedelta(seconds=i * 30)
            journal.append(_payload(rng, people, when), created_at=when)
    return {"records": records, "seconds": round(time.perf_counter() - t0, 3), "journal": str(path)}


def run(args: argparse.Namespace) -> int:
    """Fill and print one JSON object; a damaged, empty or newer journal is refused with the kiosk's
    message (exit code 3) and left untouched."""
    path = Path(args.data_dir) / Journal.FILENAME
    try:
        if path.exists():
            verify_journal(path)
        result = fill(args.data_dir, args.records, args.station, args.seed)
    except JournalError as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result))
    return 0
