"""The MQTT wrapper: topic rules without a broker; availability, reconnect and logging with one."""
from __future__ import annotations

import logging
import signal
import subprocess
import sys

import pytest

from sync.status import decode_status
from sync.mqtt import MqttLink, NotConnected, TopicError
from sync.publisher import Publisher, status_text
from kiosk.i18n import Translator
from tests.support.services import wait_for
from tests.sync.helpers import ENV, ROOT, fill_journal, load, station_config


def link(port=1, **kw):
    return MqttLink(host="127.0.0.1", port=port, client_id="t", base_topic="yizhan/v1", station="st-a", **kw)


def test_topics_are_prefixed_and_wildcards_rejected():
    lk = link()
    assert lk.topic("records") == "yizhan/v1/st-a/records"
    assert lk.topic("roster", station="_all") == "yizhan/v1/_all/roster"
    assert lk.topic_filter("records", "+", share="hub") == "$share/hub/yizhan/v1/+/records"
    assert lk.split_topic("yizhan/v1/st-b/ack") == ("st-b", "ack")
    assert lk.split_topic("other/v1/st-b/ack") is None
    for bad in ("#", "+", "a/#", "", "a//b", "Records", "a b"):
        with pytest.raises(TopicError):
            lk.topic(bad)
    for station in ("+", "#", "st/a", "", "_x"):
        with pytest.raises(TopicError):
            lk.topic("records", station=station)
    with pytest.raises(TopicError):
        lk.topic_filter("records", "#")
    with pytest.raises(TopicError):
        MqttLink(host="h", port=1, client_id="c", base_topic="yizhan/#", station="s")


def test_publish_while_disconnected_raises_and_queues_nothing():
    lk = link()
    with pytest.raises(NotConnected):
        lk.publish("records", b"{}")


def test_birth_online_and_last_will_offline_after_sigkill(tmp_path, mosquitto):
    data = tmp_path / "kiosk"
    data.mkdir()
    fill_journal(data, "st-a", 3)
    config = station_config(tmp_path / "a.toml", "st-a", mosquitto.port)
    statuses = []
    watch = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="watch", base_topic="yizhan/v1",
                     station="st-a")
    watch.subscribe("status", lambda *m: statuses.append(decode_status(m[2], "st-a")))
    watch.start()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "sync", "--data-dir", str(data), "--config",
                             str(config)], cwd=ROOT, env={**__import__("os").environ, **ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("sync:")
        assert wait_for(lambda: any(s.state == "online" for s in statuses), 10)
        online = next(s for s in statuses if s.state == "online")
        assert online.queue == 3 and online.app
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        assert wait_for(lambda: statuses[-1].state == "offline", 20), statuses   # keepalive 5 s x 1.5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        watch.stop()
    # retained: a newcomer sees the last state at once
    late = []
    again = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="late", base_topic="yizhan/v1",
                     station="st-a")
    again.subscribe("status", lambda *m: late.append((decode_status(m[2]).state, m[3])))
    again.start()
    try:
        assert wait_for(lambda: late, 10)
    finally:
        again.stop()
    assert late[0] == ("offline", True)


def test_logs_once_when_unreachable_and_once_when_back(tmp_path, mosquitto, caplog):
    caplog.set_level(logging.INFO, logger="sync.mqtt")
    lk = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="x", base_topic="yizhan/v1", station="st-a",
                  reconnect_min_s=1, reconnect_max_s=1)
    lk.start()
    try:
        assert lk.wait_connected(10)
        mosquitto.stop()
        assert wait_for(lambda: not lk.connected, 10)
        wait_for(lambda: False, 2.5)                      # several failed reconnect attempts
        mosquitto.start()
        assert lk.wait_connected(10)
    finally:
        lk.stop()
    msgs = [r.getMessage() for r in caplog.records if r.name == "sync.mqtt"]
    assert sum("unreachable" in m for m in msgs) == 1, msgs
    assert sum("reachable again" in m for m in msgs) == 1, msgs


def test_status_text_in_chinese_and_english(tmp_path):
    data = tmp_path / "kiosk"
    data.mkdir()
    fill_journal(data, "st-a", 12)
    pub = Publisher(load(station_config(tmp_path / "a.toml", "st-a", 1), data))
    try:
        status = pub.status()
        assert not status.connected and status.queue_depth == 12 and status.oldest_unsynced is not None
        assert status_text(status) == "离线，12 条待上传"
        assert status_text(status, Translator("en")) == "Offline, 12 records queued"
        assert not status.queue_warn
    finally:
        pub.stop()
