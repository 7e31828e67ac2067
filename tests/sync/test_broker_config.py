"""The shipped broker set-up (config/mosquitto/): TLS listener, password file, per-station ACL."""
from __future__ import annotations

import os

import pytest

from app.demo_hub import HubProcess
from sync.messages import WireRecord, decode_ack, encode_batch
from sync.mqtt import MqttLink
from sync.publisher import Publisher
from tests.support.broker import PASSWORDS, RawClient, SecuredBroker, tools_missing
from tests.support.services import wait_for
from tests.sync.helpers import fill_journal, hub_rows, outbox_depth, station_config

TS = "2026-11-22T08:00:00.000+00:00"

pytestmark = [pytest.mark.services, pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "-")]


@pytest.fixture()
def secured_broker(tmp_path):
    """The shipped mosquitto.conf and yizhan-broker script with this test's paths and ports."""
    broker = SecuredBroker(tmp_path).start()
    yield broker
    broker.stop()


def start_hub(tmp_path, broker, db):
    os.environ["YIZHAN_MQTT_PASSWORD"] = PASSWORDS["hub"]
    try:
        return HubProcess(str(db), "127.0.0.1", broker.port, log_file=tmp_path / "hub.log",
                          extra_args=["--username", "hub"]).start()
    finally:
        del os.environ["YIZHAN_MQTT_PASSWORD"]


def station_link(broker, user, password=None):
    return MqttLink(host="127.0.0.1", port=broker.tls_port, client_id=f"kiosk-{user}", base_topic="yizhan/v1",
                    station=user, tls=True, ca_file=str(broker.ca), username=user,
                    password=PASSWORDS[user] if password is None else password, reconnect_max_s=1)


def rec(station, i):
    return WireRecord(f"{station}-{i}", station, i, "visit", TS, '{"person_key":"k","role":"resident","source":"qr"}')


def test_station_cannot_publish_or_listen_under_another_station(tmp_path, secured_broker):
    db = tmp_path / "hub.sqlite3"
    hub = start_hub(tmp_path, secured_broker, db)
    a, b = station_link(secured_broker, "st-a"), station_link(secured_broker, "st-b")
    acks = {"a": [], "a-spying-on-b": [], "b": []}
    a.subscribe("ack", lambda *m: acks["a"].append(decode_ack(m[2])))
    a.subscribe("ack", lambda *m: acks["a-spying-on-b"].append(m), station="st-b")
    b.subscribe("ack", lambda *m: acks["b"].append(decode_ack(m[2])))
    try:
        for link in (a, b):
            link.start()
            assert link.wait_connected(10), link.last_error
        wait_for(lambda: False, 0.3)                                          # SUBACKs
        a.publish("records", encode_batch("st-b", "forged", [rec("st-b", 99)]), station="st-b").wait_for_publish(5)
        a.publish("records", encode_batch("st-a", "a-own", [rec("st-a", 1)])).wait_for_publish(5)
        b.publish("records", encode_batch("st-b", "b-own", [rec("st-b", 1)])).wait_for_publish(5)
        assert wait_for(lambda: acks["a"] and acks["b"], 15), acks
        wait_for(lambda: False, 0.3)
    finally:
        a.stop()
        b.stop()
        hub.stop()
    assert [x.batch_id for x in acks["a"]] == ["a-own"] and [x.batch_id for x in acks["b"]] == ["b-own"]
    assert acks["a-spying-on-b"] == [], "station A read station B's acks"
    assert sorted(r[0] for r in hub_rows(db)) == ["st-a-1", "st-b-1"], "a forged record reached the hub"


def test_wrong_password_is_refused(secured_broker):
    link = station_link(secured_broker, "st-a", password="wrong")
    link.start()
    try:
        assert not link.wait_connected(1.5)
        assert link.last_error
    finally:
        link.stop()


def test_publisher_over_tls_with_password(tmp_path, secured_broker):
    db = tmp_path / "hub.sqlite3"
    hub = start_hub(tmp_path, secured_broker, db)
    data = tmp_path / "kiosk"
    data.mkdir()
    ids = fill_journal(data, "st-a", 30)
    config = station_config(tmp_path / "a.toml", "st-a", secured_broker.tls_port,
                            extra=f'tls = true\nca_file = "{secured_broker.ca}"\nusername = "st-a"\n')
    from kiosk.settings import load_settings
    from tests.sync.helpers import ENV
    settings = load_settings(config, env={**ENV, "YIZHAN_DATA_DIR": str(data), "YIZHAN_MQTT_PASSWORD": "a-secret"})
    pub = Publisher(settings, poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 30), pub.status()
    finally:
        pub.stop()
        hub.stop()
    assert sorted(r[0] for r in hub_rows(db, "st-a")) == sorted(ids)


# --- issue 11 items 1 and 2: a station login against the broker -----------------------------------

STOLEN_FILTERS = ["$share/hub/yizhan/v1/+/records", "$share/hub/yizhan/v1/st-b/records", "yizhan/v1/+/records",
                  "yizhan/v1/#", "#", "yizhan/v1/st-b/ack", "yizhan/v1/+/ack", "$share/x/yizhan/v1/st-a/ack",
                  "yizhan/v1/+/status"]


def test_a_station_login_cannot_join_the_hub_share_nor_subscribe_outside_its_prefix(tmp_path, secured_broker):
    db = tmp_path / "hub.sqlite3"
    hub = start_hub(tmp_path, secured_broker, db)
    thief = RawClient(secured_broker, "st-a", PASSWORDS["st-a"], "kiosk-st-a")
    b = station_link(secured_broker, "st-b")
    acks = []
    b.subscribe("ack", lambda *m: acks.append(decode_ack(m[2]).batch_id))
    try:
        assert thief.connect_rc == "Success"
        refused = {f: thief.subscribe(f) for f in STOLEN_FILTERS}
        own = thief.subscribe("yizhan/v1/st-a/ack") + thief.subscribe("yizhan/v1/_all/roster")
        b.start()
        assert b.wait_connected(10), b.last_error
        wait_for(lambda: False, 0.3)                                          # SUBACKs
        # With the thief in the hub's share group, the broker would hand it about half the batches.
        for i in range(12):
            b.publish("records", encode_batch("st-b", f"b-{i}", [rec("st-b", i + 1)])).wait_for_publish(5)
        assert wait_for(lambda: len(acks) == 12, 15), f"{len(acks)} of 12 batches acknowledged"
    finally:
        thief.close()
        b.stop()
        hub.stop()
    assert all(codes == ["Not authorized"] for codes in refused.values()), refused
    assert own == ["Granted QoS 1", "Granted QoS 1"]
    assert not [t for t, _ in thief.messages if "/st-b/" in t], "the thief received station B's traffic"
    assert len(hub_rows(db, "st-b")) == 12


@pytest.mark.parametrize("stolen_id", ["kiosk-st-b", "hub-demo"])
def test_a_station_login_cannot_take_over_another_client_id(tmp_path, secured_broker, stolen_id):
    db = tmp_path / "hub.sqlite3"
    os.environ["YIZHAN_MQTT_PASSWORD"] = PASSWORDS["hub"]
    try:
        hub = HubProcess(str(db), "127.0.0.1", secured_broker.port, name="hub-demo", log_file=tmp_path / "hub.log",
                         extra_args=["--username", "hub"]).start()
    finally:
        del os.environ["YIZHAN_MQTT_PASSWORD"]
    victim = RawClient(secured_broker, "st-b", PASSWORDS["st-b"], "kiosk-st-b")
    try:
        assert victim.connect_rc == "Success"
        thief = RawClient(secured_broker, "st-a", PASSWORDS["st-a"], stolen_id)
        thief.close()
        wait_for(lambda: False, 0.5)
        b_alive = not victim.disconnects
        # The hub still answers station B: its connection was not taken over either.
        acks = []
        victim.subscribe("yizhan/v1/st-b/ack")
        victim.client.on_message = lambda cl, ud, m: acks.append(m.payload)
        victim.client.publish("yizhan/v1/st-b/records", encode_batch("st-b", "after", [rec("st-b", 1)]), qos=1)
        assert wait_for(lambda: acks, 10), "the hub lost its connection"
    finally:
        victim.close()
        hub.stop()
    assert thief.connect_rc == "Not authorized", thief.connect_rc
    assert b_alive, f"station B was disconnected: {victim.disconnects}"
