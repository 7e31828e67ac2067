"""The publisher as the kiosk runs it in-process: live appends, order, the queue warning, restart."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from kiosk.journal import Journal
from kiosk.settings import ConfigError, load_settings
from kiosk.records import Visit
from app.demo_hub import HubProcess
from sync.status import decode_status
from sync.mqtt import MqttLink
from sync.publisher import Publisher
from tests.support.services import wait_for
from tests.sync.helpers import ROOT, fill_journal, hub_rows, load, outbox_depth, station_config


@pytest.fixture()
def hub(tmp_path, mosquitto):
    h = HubProcess(str(tmp_path / "hub.sqlite3"), mosquitto.host, mosquitto.port, log_file=tmp_path / "hub.log").start()
    yield tmp_path / "hub.sqlite3"
    h.stop()


def test_records_journaled_while_running_arrive_in_order(tmp_path, mosquitto, hub):
    data = tmp_path / "kiosk"
    data.mkdir()
    ids = fill_journal(data, "st-a", 200)
    pub = Publisher(load(station_config(tmp_path / "a.toml", "st-a", mosquitto.port, batch_size=7), data),
                    window=4, poll_s=5.0)
    pub.start()
    try:
        with Journal(data / Journal.FILENAME, "st-a") as journal:
            for i in range(30):
                ids.append(journal.append(Visit(person_key=f"{i:064x}", source="qr", role="volunteer")).record.id)
                pub.wake()                                 # poll_s is long: only wake() makes this quick
        assert wait_for(lambda: outbox_depth(data) == 0, 20)
    finally:
        pub.stop()
    con = sqlite3.connect(hub)
    seqs = [row[0] for row in con.execute("SELECT seq FROM hub_records ORDER BY rowid")]
    con.close()
    assert seqs == list(range(1, 231)), "records were committed out of order"
    assert sorted(r[0] for r in hub_rows(hub, "st-a")) == sorted(ids)


def test_queue_warning_in_status_and_retained_message(tmp_path, mosquitto):
    data = tmp_path / "kiosk"
    data.mkdir()
    fill_journal(data, "st-a", 8)
    statuses = []
    watch = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="w", base_topic="yizhan/v1", station="st-a")
    watch.subscribe("status", lambda *m: statuses.append(decode_status(m[2], "st-a")))
    watch.start()
    config = station_config(tmp_path / "a.toml", "st-a", mosquitto.port, extra="queue_warn = 5")
    pub = Publisher(load(config, data), poll_s=0.05)               # no hub: nothing is acknowledged
    pub.start()
    try:
        assert wait_for(lambda: any(s.state == "online" for s in statuses), 10)
        assert wait_for(lambda: pub.status().connected, 5)
        status = pub.status()
        assert status.queue_warn and status.queue_depth == 8 and status.last_ack is None
        online = next(s for s in statuses if s.state == "online")
        assert online.warn and online.queue == 8 and online.oldest is not None
    finally:
        pub.stop()
        watch.stop()
    assert wait_for(lambda: statuses[-1].state == "offline", 5)     # a clean stop says offline too
    assert outbox_depth(data) == 8                                  # nothing dropped without an ack


def test_restart_resends_what_was_in_flight(tmp_path, mosquitto, hub):
    data = tmp_path / "kiosk"
    data.mkdir()
    ids = fill_journal(data, "st-a", 40)
    settings = load(station_config(tmp_path / "a.toml", "st-a", mosquitto.port, batch_size=10), data)
    with sqlite3.connect(data / Journal.FILENAME) as con:              # a previous run died with a batch in flight
        con.execute("UPDATE outbox SET state = 'inflight', batch_id = 'lost', attempts = 1 WHERE seq <= 10")
    pub = Publisher(settings, poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 20)
    finally:
        pub.stop()
    assert sorted(r[0] for r in hub_rows(hub, "st-a")) == sorted(ids)


def test_yizhan_sync_asks_only_for_the_secrets_the_publisher_uses(tmp_path, mosquitto):
    """The publisher needs no district key and no admin PIN (the kiosk does); it runs without them."""
    data = tmp_path / "kiosk"
    data.mkdir()
    fill_journal(data, "st-a", 2)
    config = station_config(tmp_path / "a.toml", "st-a", mosquitto.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_")}
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={**env, "YIZHAN_DATA_DIR": str(data)})
    assert any("admin_pin_hash: missing" in e for e in info.value.errors)        # the kiosk still insists
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "sync", "--data-dir", str(data), "--config", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert line.startswith("sync: station st-a"), err
    assert outbox_depth(data) == 2                          # nothing acknowledged: no hub here
