"""``yizhan bench web``: workbench page times over a large hub, and kiosk alert → open page.

It fills a hub database in bulk (default 10^6 records over 100 stations: measurements, alerts,
follow-ups, shifts and ledger movements, half a year), serves the workbench, and times the 今日 page
and the alert list of random stations (p50/p95 over HTTP, signed in). Then it starts Mosquitto and a
hub process on the same database, opens a 今日 page in headless Chromium, journals urgent readings
at a kiosk whose publisher runs, and times each alert until its row is on the open page (median).
Prints one JSON object with the goals and whether they were met.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.demo_hub import HubProcess, LocalBroker
from drivers.readings import BloodPressureReading, DeviceInfo
from hub.store import HubStore
from hub.web.accounts import add_user
from hub.web.app import Workbench, create_app
from hub.web.server import BackgroundServer
from hub.web.tour import chromium, sign_in
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.journal import Journal
from kiosk.settings import load_settings
from sync.publisher import Publisher

GOAL_P95_MS = 300.0
GOAL_ALERT_S = 5.0
PASSWORD = "bench-password-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench web``."""
    parser.add_argument("--records", type=int, default=1_000_000, help="hub records to generate")
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--alerts", type=int, default=5, help="kiosk alerts timed to the open page")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def station_id(i: int) -> str:
    """The bench's station names."""
    return f"sh-bench-{i:03d}"


def fill(db: Path, records: int, stations: int, now: datetime) -> dict[str, int]:
    """Bulk-insert synthetic hub records (plain SQLite executemany; the schema comes from the hub)."""
    HubStore(str(db)).close()
    rng = random.Random(7)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")      # one bulk transaction; the hub turns WAL back on
    con.execute("PRAGMA synchronous=OFF")
    counts: dict[str, int] = {}
    seqs = [0] * stations
    span = 180 * 86400
    rows = []

    def flush():
        con.executemany("INSERT INTO hub_records (id, station, seq, kind, ts, payload, batch_id, hub, received_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'bench', 'bench', ?)", rows)
        rows.clear()
    for _ in range(records):
        s = rng.randrange(stations)
        seqs[s] += 1
        when = now - timedelta(seconds=rng.randrange(span))
        ts = when.isoformat(timespec="milliseconds")
        key = f"{rng.randrange(40_000):064x}"
        r = rng.random()
        if r < 0.86:
            kind = "bp_measurement"
            payload = {"person_key": key, "systolic": 130, "diastolic": 85, "pulse": 70, "category": "bp_high_normal",
                       "level": 1, "urgent": False, "device_driver": "sim", "device_model": "bench"}
        elif r < 0.94:
            kind = "glucose_measurement"
            payload = {"person_key": key, "mmol_l": 6.0, "device_value": 6.0, "device_unit": "mmol/L",
                       "category": "glu_normal", "level": 0, "urgent": False, "device_driver": "sim",
                       "device_model": "bench"}
        elif r < 0.95:
            kind = "health_alert"
            payload = {"person_key": key, "measurement_id": str(uuid.uuid4()), "measurement_kind": "bp_measurement",
                       "category": "bp_grade3", "level": 3, "values": "185/112 mm[Hg]"}
        elif r < 0.955:
            kind = "service_follow_up"
            payload = {"service_id": str(uuid.uuid4()), "volunteer_id": f"v-{rng.randrange(500)}",
                       "resident_key": key, "rating": 2, "service_type": "errand"}
        elif r < 0.975:
            kind = "visit"
            payload = {"person_key": key, "source": "idcard", "role": "resident"}
        else:
            kind = "ledger_movement"
            vid = f"v-{rng.randrange(500)}"
            payload = {"movement_id": str(uuid.uuid4()), "kind": "earn", "debit": "bank:issued",
                       "credit": f"volunteer:{vid}", "hours": 1.0, "reference": str(uuid.uuid4()), "source": "shift",
                       "team": "red", "at_station": station_id(s), "note": ""}
        counts[kind] = counts.get(kind, 0) + 1
        rows.append((str(uuid.uuid4()), station_id(s), seqs[s], kind, ts, json.dumps(payload, separators=(",", ":")),
                     ts))
        if len(rows) >= 20000:
            flush()
    flush()
    con.executemany("INSERT INTO hub_stations (station, state, last_seen, last_batch_at, queue_depth, warn) "
                    "VALUES (?, 'online', ?, ?, 0, 0)",
                    [(station_id(i), now.isoformat(), now.isoformat()) for i in range(stations)])
    con.commit()
    con.close()
    return counts


def _client(url: str):
    import requests
    http = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', http.get(url + "/login").text).group(1)
    http.post(url + "/login", data={"username": "bench", "password": PASSWORD, "csrf": token})
    return http


def _times(http, url: str, paths: list[str]) -> dict[str, float]:
    ms = []
    for path in paths:
        t0 = time.perf_counter()
        resp = http.get(url + path)
        ms.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status_code}")
    ms.sort()
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1),
            "n": len(ms)}


def _alert_latency(tmp: Path, db: Path, url: str, alerts: int) -> list[float]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    station = station_id(0)
    broker = LocalBroker(tmp / "mosquitto").start()
    hub = HubProcess(str(db), broker.host, broker.port, log_file=tmp / "hub.log").start()
    data_dir = tmp / "kiosk"
    data_dir.mkdir(exist_ok=True)
    (tmp / "station.toml").write_text(f'version = 1\n[station]\nid = "{station}"\n[sync]\nenabled = true\n'
                                      f'host = "127.0.0.1"\nport = {broker.port}\n')
    settings = load_settings(tmp / "station.toml", env={"YIZHAN_DISTRICT_KEY": "ab" * 32, "YIZHAN_ADMIN_PIN": "246813",
                                                        "YIZHAN_DATA_DIR": str(data_dir)})
    journal = Journal(data_dir / Journal.FILENAME, station)
    publisher = Publisher(settings, poll_s=0.05)
    publisher.start()
    driver = chromium()
    out = []
    try:
        sign_in(driver, url, "bench", PASSWORD)
        driver.get(f"{url}/s/{station}/today")
        device = DeviceInfo(driver="bench", model="bench", serial="B1")
        for i in range(alerts):
            reading = BloodPressureReading(186, 112 + i, 80, device, taken_at=datetime.now().replace(microsecond=0),
                                           device_seq=1000 + i)
            t0 = time.monotonic()
            _m, alert = record_measurement(journal, f"{i:064x}", reading, assess_bp(186, 112 + i), station_id=station)
            publisher.wake()
            WebDriverWait(driver, 30, 0.05).until(
                lambda d, a=alert.id: d.find_elements(By.CSS_SELECTOR, f'tr[data-alert="{a}"]'))
            out.append(time.monotonic() - t0)
            time.sleep(0.5)
    finally:
        driver.quit()
        publisher.stop()
        journal.close()
        hub.stop()
        broker.stop()
    return out


def run(args: argparse.Namespace) -> int:
    """Fill, serve, time; print the JSON result."""
    tmp = Path(tempfile.mkdtemp(prefix="yizhan-bench-web-"))
    db = tmp / "hub.sqlite3"
    now = datetime.now(timezone.utc)
    t0 = time.monotonic()
    counts = fill(db, args.records, args.stations, now)
    fill_s = time.monotonic() - t0
    wb = Workbench(db=str(db), secure_cookies=False)
    add_user(wb.engine, "bench", PASSWORD, "district", actor="bench")
    server = BackgroundServer(create_app(wb)).start()
    rng = random.Random(3)
    try:
        http = _client(server.url)
        picks = [station_id(rng.randrange(args.stations)) for _ in range(args.requests)]
        _times(http, server.url, [f"/s/{s}/today" for s in picks[:5]])          # warm caches
        today = _times(http, server.url, [f"/s/{s}/today" for s in picks])
        alert_list = _times(http, server.url, [f"/s/{s}/alerts" for s in picks])
        polled = _times(http, server.url, [f"/s/{s}/today/alerts" for s in picks])
        latency = _alert_latency(tmp, db, server.url, args.alerts) if args.alerts else []
    finally:
        server.stop()
        wb.store.close()
    median = round(statistics.median(latency), 2) if latency else None
    result = {
        "bench": "web", "records": args.records, "stations": args.stations, "kinds": counts,
        "fill_s": round(fill_s, 1), "db_mb": round(db.stat().st_size / 2**20, 1),
        "today": today, "alert_list": alert_list, "today_alert_fragment": polled,
        "alert_to_visible_s": {"median": median, "all": [round(x, 2) for x in latency]},
        "goals": {"page_p95_ms": GOAL_P95_MS, "alert_to_visible_s": GOAL_ALERT_S},
        "met": {"today_p95": today["p95_ms"] <= GOAL_P95_MS, "alert_list_p95": alert_list["p95_ms"] <= GOAL_P95_MS,
                "alert_to_visible": median is not None and median <= GOAL_ALERT_S},
    }
    print(json.dumps(result, ensure_ascii=False))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
