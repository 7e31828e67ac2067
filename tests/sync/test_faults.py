"""Fault tests: real Mosquitto, real hub processes, the publisher as a process killed at random.

Each test ends with the hub database holding every record exactly once.
"""
from __future__ import annotations

import random
import signal
import sqlite3
import threading

import pytest

from app.demo_hub import HubProcess
from sync.messages import Ack, WireRecord, decode_ack, encode_batch
from sync.mqtt import MqttLink
from sync.publisher import LINE_OFFLINE, Publisher
from tests.support.services import wait_for
from tests.sync.helpers import (PublisherProcess, assert_exactly_once, fill_journal, hub_rows, load, outbox_depth,
                                settle, station_config, wait_drained)

pytestmark = pytest.mark.services


@pytest.fixture()
def hub_db(tmp_path):
    return tmp_path / "hub.sqlite3"


@pytest.fixture()
def hubs(tmp_path, mosquitto, hub_db):
    """Start hub processes on the test broker; all are stopped by PID afterwards."""
    started: list[HubProcess] = []

    def start(name: str = "hub-1") -> HubProcess:
        hub = HubProcess(str(hub_db), mosquitto.host, mosquitto.port, name=name,
                         log_file=tmp_path / f"{name}.log", extra_args=["--reconnect-max", "1"]).start()
        started.append(hub)
        return hub
    yield start
    for hub in started:
        hub.stop()


@pytest.fixture()
def kiosk(tmp_path, mosquitto):
    """(data_dir, config) of a station 'st-a' pointing at the test broker."""
    data = tmp_path / "kiosk-a"
    data.mkdir()
    return data, station_config(tmp_path / "st-a.toml", "st-a", mosquitto.port, batch_size=10)


def test_broker_stopped_and_restarted_during_a_drain(kiosk, hubs, mosquitto, hub_db):
    data, config = kiosk
    ids = fill_journal(data, "st-a", 400)
    hubs()
    pub = PublisherProcess(data, config, "--batch-size", "2").start()
    try:
        assert wait_for(lambda: len(hub_rows(hub_db, "st-a")) >= 20, 30)
        mosquitto.stop()
        stored_while_down = len(hub_rows(hub_db, "st-a"))
        assert stored_while_down < len(ids), "the drain finished before the broker went down"
        settle(0.5)
        mosquitto.start()
        assert wait_drained(data, hub_db, "st-a", len(ids)), "the drain did not finish after the restart"
    finally:
        pub.stop()
    assert_exactly_once(hub_db, "st-a", ids)


def test_network_cut_longer_than_the_ack_timeout(tmp_path, kiosk, hubs, mosquitto, hub_db):
    data, config = kiosk
    ids = fill_journal(data, "st-a", 100)
    hubs()
    settings = load(config, data)
    pub = Publisher(settings, batch_size=2, window=1, reconnect_min_s=1, reconnect_max_s=1, poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: len(hub_rows(hub_db, "st-a")) >= 10, 30)
        mosquitto.stop()
        assert wait_for(lambda: not pub.status().connected, 10)
        settle(settings.sync.ack_timeout_s * 2.5)      # a batch in flight outlives its ack timeout
        status = pub.status()
        assert not status.connected and status.queue_depth > 0
        assert status.line == LINE_OFFLINE
        mosquitto.start()
        assert wait_drained(data, hub_db, "st-a", len(ids)), "the drain did not finish after the cut"
        assert wait_for(lambda: pub.status().queue_depth == 0, 10)
        assert pub.status().connected and pub.status().last_ack is not None
    finally:
        pub.stop()
    assert_exactly_once(hub_db, "st-a", ids)


def test_publisher_sigkilled_at_random_moments_during_a_drain(kiosk, hubs, hub_db):
    data, config = kiosk
    ids = fill_journal(data, "st-a", 2400, urgent_every=97)
    hubs()
    rng = random.Random(20261122)
    mid_drain_kills = 0
    for _ in range(24):
        pub = PublisherProcess(data, config, "--batch-size", "1", "--window", "1").start()
        settle(rng.uniform(0.01, 0.2))
        stored = len(hub_rows(hub_db, "st-a"))
        pub.kill()
        mid_drain_kills += 0 < stored < len(ids)
    assert mid_drain_kills >= 20, f"only {mid_drain_kills} kills happened during the drain"
    pub = PublisherProcess(data, config, "--batch-size", "50").start()
    try:
        assert wait_drained(data, hub_db, "st-a", len(ids)), "the final run did not finish the drain"
    finally:
        pub.stop()
    assert_exactly_once(hub_db, "st-a", ids)


def test_hub_sigkilled_mid_batch(kiosk, hubs, hub_db):
    data, config = kiosk
    ids = fill_journal(data, "st-a", 900)
    hub = hubs("hub-1")
    pub = PublisherProcess(data, config, "--batch-size", "30").start()
    mid_drain = 0
    try:
        for target in (100, 400, 700):
            assert wait_for(lambda: len(hub_rows(hub_db, "st-a")) >= target, 30)
            hub.stop(signal.SIGKILL)
            # On a fast machine the last records may all land before a kill; what matters is that
            # kills do land mid-drain (counted) and that every record ends up stored exactly once.
            mid_drain += len(hub_rows(hub_db, "st-a")) < len(ids)
            hub = hubs("hub-1")
        assert wait_drained(data, hub_db, "st-a", len(ids)), "the drain did not finish after the hub restarts"
    finally:
        pub.stop()
    assert mid_drain >= 1, "no kill landed while records were still on their way"
    assert_exactly_once(hub_db, "st-a", ids)


def test_duplicated_deliveries_are_stored_once_and_acked_each_time(mosquitto, hubs, hub_db):
    hubs()
    acks: list[Ack] = []
    got = threading.Event()

    def on_ack(station, suffix, payload, retained):
        acks.append(decode_ack(payload))
        got.set()
    link = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="dup-test", base_topic="yizhan/v1",
                    station="st-d")
    link.subscribe("ack", on_ack)
    link.start()
    try:
        assert link.wait_connected(10)
        settle(0.2)                                             # SUBACK before the first publish
        records = [WireRecord(f"rec-{i}", "st-d", i + 1, "visit", "2026-11-22T08:00:00.000+00:00",
                              '{"person_key":"k","role":"resident","source":"qr"}') for i in range(5)]
        raw = encode_batch("st-d", "batch-1", records)
        for _ in range(3):
            link.publish("records", raw).wait_for_publish(5)
        assert wait_for(lambda: len(acks) == 3, 15)
    finally:
        link.stop()
    assert [(a.batch_id, a.stored + a.duplicates) for a in acks] == [("batch-1", 5)] * 3
    assert sum(a.stored for a in acks) == 5
    assert sorted(r[1] for r in hub_rows(hub_db, "st-d")) == [1, 2, 3, 4, 5]


def test_two_hub_processes_share_the_load(tmp_path, mosquitto, hubs, hub_db):
    hubs("hub-1")
    hubs("hub-2")
    stations = {}
    procs = []
    for name in ("st-a", "st-b"):
        data = tmp_path / name
        data.mkdir()
        config = station_config(tmp_path / f"{name}.toml", name, mosquitto.port, batch_size=5)
        stations[name] = (data, fill_journal(data, name, 200))
        procs.append(PublisherProcess(data, config).start())
    try:
        for name, (data, ids) in stations.items():
            assert wait_drained(data, hub_db, name, len(ids)), f"{name} did not drain"
    finally:
        for p in procs:
            p.stop()
    for name, (_data, ids) in stations.items():
        assert_exactly_once(hub_db, name, ids)
    con = sqlite3.connect(hub_db)
    per_hub = dict(con.execute("SELECT hub, count(*) FROM hub_records GROUP BY hub").fetchall())
    con.close()
    assert set(per_hub) == {"hub-1", "hub-2"}, f"one hub did all the work: {per_hub}"


def test_urgent_records_leave_first(tmp_path, kiosk, hubs, hub_db):
    data, config = kiosk
    ids = fill_journal(data, "st-a", 60, urgent_every=20)
    hubs()
    settings = load(config, data)
    pub = Publisher(settings, batch_size=5, window=1, poll_s=0.05)
    pub.start()
    try:
        assert wait_drained(data, hub_db, "st-a", len(ids))
    finally:
        pub.stop()
    con = sqlite3.connect(hub_db)
    order = [row[0] for row in con.execute("SELECT kind FROM hub_records ORDER BY rowid")]
    con.close()
    assert order[:3] == ["admin_event"] * 3 and "admin_event" not in order[3:]
    assert outbox_depth(data) == 0
