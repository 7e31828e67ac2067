"""`yizhan bench fill`, `yizhan bench sync`, `yizhan bench web`, `yizhan bench startup` (small) and the demo
services: they run and count honestly."""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import urllib.request

import pytest

from kiosk.records import payload_class
from app.demo_hub import start_demo_services
from sync.publisher import Publisher
from tests.hub.conftest import pg_schema_url  # noqa: F401  (fixture)
from tests.support.services import port_open, wait_for
from tests.sync.helpers import ENV, ROOT, fill_journal, hub_rows, load, outbox_depth, station_config

pytestmark = pytest.mark.slow


def yizhan(*args):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **ENV}, timeout=300)


def test_bench_fill_journals_realistic_records(tmp_path):
    out = yizhan("bench", "fill", "--records", "400", "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["records"] == 400
    con = sqlite3.connect(tmp_path / "journal.sqlite3")
    kinds = dict(con.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall())
    pending = con.execute("SELECT count(*) FROM outbox WHERE state = 'ready'").fetchone()[0]
    con.close()
    assert sum(kinds.values()) == 400 == pending
    assert {"visit", "bench.bp", "bench.glucose"} <= set(kinds)
    for kind in set(kinds) - {"bench.bp", "bench.glucose", "bench.alert"}:
        payload_class(kind)                       # a registered record kind (else UnknownRecordKind)


def test_bench_sync_small_run_counts_lost_and_duplicates():
    out = yizhan("bench", "sync", "--records", "300", "--batch-size", "50")
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["records"] == 300 and result["lost"] == 0 and result["duplicates"] == 0
    assert result["raw_lost"] == 0
    assert {"seconds", "records_per_s", "raw_qos1_msgs_per_s", "ratio"} <= set(result)


def test_bench_sync_side_by_side_with_postgresql_stores_every_record_once_in_both(pg_schema_url):
    base = pg_schema_url.split("?")[0]             # the bench makes (and drops) a schema of its own
    out = yizhan("bench", "sync", "--records", "600", "--batch-size", "100", "--db", base)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["lost"], result["duplicates"]) == (0, 0)
    assert (result["postgresql"]["lost"], result["postgresql"]["duplicates"]) == (0, 0)
    assert result["postgresql_vs_sqlite"] == round(result["postgresql"]["records_per_s"] / result["records_per_s"], 2)


def test_bench_startup_measures_the_kiosk_and_the_one_label_app():
    out = yizhan("bench", "startup", "--runs", "1", "--settle", "0.5")
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kiosk_idle_rss_mb"] > result["minimal_idle_rss_mb"] > 0
    assert result["kiosk_first_frame_s"] > 0 and result["minimal_first_frame_s"] > 0
    assert result["targets_met"] == (result["startup_ratio"] <= 2.5 and result["kiosk_idle_rss_mb"] <= 220)


def test_bench_web_small_run_reports_page_times_and_alert_latency():
    out = yizhan("bench", "web", "--records", "3000", "--stations", "5", "--requests", "5", "--alerts", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["records"] == 3000 and sum(result["kinds"].values()) == 3000
    assert result["today"]["n"] == 5 and result["today"]["p95_ms"] >= result["today"]["p50_ms"] > 0
    assert len(result["alert_to_visible_s"]["all"]) == 1
    assert set(result["met"]) == {"today_p95", "alert_list_p95", "alert_to_visible"}


def test_demo_services_receive_records_and_stop(tmp_path):
    services = start_demo_services(tmp_path)
    assert services is not None
    data = tmp_path / "kiosk"
    data.mkdir()
    ids = fill_journal(data, "demo-001", 25)
    settings = load(station_config(tmp_path / "d.toml", "demo-001", services.port), data)
    settings = dataclasses.replace(settings, sync=dataclasses.replace(settings.sync,
                                                                      document_public_key=services.public_key))
    pub = Publisher(settings, poll_s=0.05)
    pub.start()
    hub_proc, broker_proc, web_proc = services.hub.proc, services.broker.proc, services.web.proc
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 30)
        login = urllib.request.urlopen(services.web.url + "login", timeout=10)
        assert login.status == 200 and "驿站工作台" in login.read().decode("utf-8")
        # The demo hub signs its roster with its own key; the demo kiosk verifies and applies it.
        assert wait_for(lambda: pub.status().applied_versions.get("roster", 0) >= 1, 30), \
            (tmp_path / "demo-hub" / "publish.log").read_text()
    finally:
        pub.stop()
        services.stop()
    assert sorted(r[0] for r in hub_rows(services.db_path, "demo-001")) == sorted(ids)
    assert hub_proc.poll() is not None and broker_proc.poll() is not None and web_proc.poll() is not None
    assert not port_open(services.host, services.port)


def test_bench_sync_refuses_a_ratio_against_a_reference_that_lost_messages(tmp_path):
    from app.bench.sync import ratio, reference
    from app.demo_hub import LocalBroker
    # A broker that drops the reference's messages: by its size limit, not by load (a broker that drops
    # under load keeps up when the machine is slow enough, and then this test would lose nothing).
    broker = LocalBroker(tmp_path / "mosquitto", message_size_limit=100).start()
    try:
        ref = reference(broker, 3000, 400)
    finally:
        broker.stop()
    assert ref["raw_lost"] == 3000 and ref["raw_qos1_msgs_per_s"] is None
    verdict = ratio(5000.0, ref)
    assert verdict["ratio"] is None and "lost" in verdict["ratio_refused"] and "3000" in verdict["ratio_refused"]
    assert ratio(5000.0, {"raw_qos1_msgs_per_s": 10000.0})["ratio"] == 0.5


def test_bench_growth_small_run_prints_every_figure_and_an_honest_verdict():
    out = yizhan("bench", "growth", "--hub-sizes", "300", "--kiosk-sizes", "2000,4000", "--shifts", "300")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == (0 if result["met"] else 1), out.stderr[-2000:]
    (hub,) = result["hub"]
    assert hub["report_rows"] > 10 and hub["report_peak_rss_mb"] > 0 and hub["roster_s"] >= 0
    assert hub["resident_records"] == 20 and hub["resident_ms"] > 0      # the regular resident's page, by key
    assert hub["resident_found"] >= 1                                  # found by the first 8 characters of the key
    assert [(k["records"], k["shifts"]) for k in result["kiosk"]] == [(2000, 300), (4000, 300)]
    for case in result["kiosk"]:
        assert all(case[f] > 0 for f in ("identify_ms", "tap_status_ms", "journal_open_ms"))
    assert len(result["targets"]) == 6 and result["met"] == all(t["met"] for t in result["targets"])
    assert all(t["met"] == (t["value"] <= t["limit"]) for t in result["targets"])
