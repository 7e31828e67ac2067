"""Hub metrics and service readiness, against a real ``yizhan hub run`` process and a real Mosquitto.

The hub process gets a ``NOTIFY_SOCKET`` the test listens on, as systemd would give it: it must say
READY=1 once connected and keep pinging WATCHDOG=1. A kiosk publisher drains its outbox through the
broker with a doctor summary in its status; ``/metrics`` must then count the records per station,
the acks and their latency, the dead letter, the station online, its verdict and its clock offset.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from hub.store import HubStore
from sync.mqtt import MqttLink
from sync.publisher import Publisher
from tests.support.services import stop_pid, wait_for
from tests.sync.helpers import ROOT, fill_journal, load, outbox_depth, station_config

HEALTH = {"ok": False, "checks": {"devices": "fail", "disk": "ok"}, "failing": {"devices": "not answering: bp"}}


def _metric(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture()
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield path, sock
    sock.close()


def _messages(sock: socket.socket, seconds: float) -> list[str]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    return out


def test_hub_metrics_readiness_and_station_health(tmp_path, mosquitto, notify_socket):
    notify_path, notify = notify_socket
    db = tmp_path / "hub.sqlite3"
    env = dict(os.environ, PYTHONUNBUFFERED="1", NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
    hub = subprocess.Popen([sys.executable, "-m", "app.cli", "hub", "run", "--db", str(db), "--host", mosquitto.host,
                            "--port", str(mosquitto.port), "--name", "hub-m", "--metrics", "127.0.0.1:0"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [hub.stdout.readline()]
        while lines[-1] and "ready" not in lines[-1]:        # schema upgrade, metrics address, ready
            lines.append(hub.stdout.readline())
        port = int(re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", "".join(lines)).group(1))
        assert "ready" in lines[-1], lines
        got = _messages(notify, 1.5)
        assert got[0].startswith("READY=1\nSTATUS=connected to"), got
        assert got.count("WATCHDOG=1") >= 2, got          # pinged every half WatchdogSec (0.5 s)

        data = tmp_path / "kiosk"
        fill_journal(data, "st-m", 30)
        settings = load(station_config(tmp_path / "st-m.toml", "st-m", mosquitto.port), data)
        publisher = Publisher(settings, batch_size=10, status_interval_s=0.2)
        publisher.set_health(HEALTH)
        publisher.start()
        try:
            assert wait_for(lambda: outbox_depth(data) == 0, 30)
            assert wait_for(lambda: "st-m" in HubStore(str(db)).station_health(), 10)
        finally:
            publisher.stop()
        link = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="bad", base_topic="yizhan/v1", station="st-m")
        link.start()
        assert link.wait_connected(5)
        link.publish("records", b"{not json").wait_for_publish(5)
        link.stop()

        def scrape() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert wait_for(lambda: _metric(scrape(), "yizhan_hub_dead_letters_total") == 1, 10)
        text = scrape()
        assert _metric(text, "yizhan_hub_records_received_total", station="st-m") == 30
        assert _metric(text, "yizhan_hub_records_stored_total", station="st-m") == 30
        assert _metric(text, "yizhan_hub_batches_acked_total", station="st-m") == 3
        assert _metric(text, "yizhan_hub_ack_latency_seconds_count") == 3
        assert _metric(text, "yizhan_stations", state="offline") == 1          # the publisher said goodbye
        assert _metric(text, "yizhan_station_queue_depth", station="st-m") is not None
        assert _metric(text, "yizhan_station_healthy", station="st-m") == 0
        assert abs(_metric(text, "yizhan_station_clock_offset_seconds", station="st-m")) < 2
        health = HubStore(str(db)).station_health()["st-m"]
        assert health["healthy"] is False and health["health"]["failing"] == {"devices": "not answering: bp"}
    finally:
        stop_pid(hub)
        hub.stdout.close()
