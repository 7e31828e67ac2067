"""The shipped broker set-up (config/mosquitto/): TLS listener, password file, per-station ACL."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import pytest

from app.demo_hub import HubProcess
from sync.messages import WireRecord, decode_ack, encode_batch
from sync.mqtt import MqttLink
from sync.publisher import Publisher
from tests.support.services import Mosquitto, free_port, wait_for
from tests.sync.helpers import ROOT, fill_journal, hub_rows, outbox_depth, station_config

SHIPPED = ROOT / "config" / "mosquitto"
TS = "2026-11-22T08:00:00.000+00:00"
PASSWORDS = {"hub": "hub-secret", "st-a": "a-secret", "st-b": "b-secret"}

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto_passwd") or not shutil.which("openssl"),
                                reason="mosquitto-clients (mosquitto_passwd) and openssl are needed")


def _run(*cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(folder):
    """A throwaway CA and a server certificate for 127.0.0.1."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=Yizhan test CA", cwd=folder)
    _run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)
    for name in ("server.key", "ca.crt", "server.crt"):
        os.chmod(folder / name, 0o644)


@pytest.fixture()
def secured_broker(tmp_path):
    """The shipped mosquitto.conf and ACL with this test's paths, ports and password file."""
    etc = tmp_path / "etc"
    etc.mkdir()
    make_certs(etc)
    shutil.copy(SHIPPED / "acl", etc / "acl")
    passwd = etc / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        _run("mosquitto_passwd", "-b", str(passwd), user, password, cwd=etc)
    for path in (passwd, etc / "acl"):
        os.chmod(path, 0o644)
    plain, tls = free_port(), free_port()
    conf = (SHIPPED / "mosquitto.conf").read_text()
    assert "listener 1883 127.0.0.1" in conf and "listener 8883\n" in conf and "acl_file" in conf
    conf = (conf.replace("/etc/mosquitto/yizhan", str(etc))
            .replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
            .replace("listener 8883\n", f"listener {tls} 127.0.0.1\n")
            .replace("persistence true", "persistence false")
            .replace("persistence_location /var/lib/mosquitto/", "")
            + f"log_dest file {tmp_path / 'broker' / 'mosquitto.log'}\n"
            # Run as the test's own user: the files live in a private temporary directory.
            + f"user {pwd.getpwuid(os.getuid()).pw_name}\n")
    broker = Mosquitto(tmp_path / "broker", port=plain, config=conf).start()
    broker.tls_port = tls
    broker.ca = etc / "ca.crt"
    assert wait_for(lambda: _tls_port_open(tls), 10)
    yield broker
    broker.stop()


def _tls_port_open(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def station_link(broker, user, password=None):
    return MqttLink(host="127.0.0.1", port=broker.tls_port, client_id=f"kiosk-{user}", base_topic="yizhan/v1",
                    station=user, tls=True, ca_file=str(broker.ca), username=user,
                    password=PASSWORDS[user] if password is None else password, reconnect_max_s=1)


def rec(station, i):
    return WireRecord(f"{station}-{i}", station, i, "visit", TS, '{"person_key":"k","role":"resident","source":"qr"}')


def test_station_cannot_publish_or_listen_under_another_station(tmp_path, secured_broker):
    db = tmp_path / "hub.sqlite3"
    os.environ["YIZHAN_MQTT_PASSWORD"] = PASSWORDS["hub"]
    try:
        hub = HubProcess(str(db), "127.0.0.1", secured_broker.port, log_file=tmp_path / "hub.log",
                         extra_args=["--username", "hub"]).start()
    finally:
        del os.environ["YIZHAN_MQTT_PASSWORD"]
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
    os.environ["YIZHAN_MQTT_PASSWORD"] = PASSWORDS["hub"]
    try:
        hub = HubProcess(str(db), "127.0.0.1", secured_broker.port, log_file=tmp_path / "hub.log",
                         extra_args=["--username", "hub"]).start()
    finally:
        del os.environ["YIZHAN_MQTT_PASSWORD"]
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
