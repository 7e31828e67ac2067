"""The shipped broker set-up (config/mosquitto/) started for a test: TLS, dynamic-security users.

``SecuredBroker(tmp_path).start()`` runs Mosquitto with the shipped ``mosquitto.conf`` (paths, ports
and the run-as user changed for the test), creates the plugin's file with the shipped
``yizhan-broker`` script, and adds the hub and station logins of :data:`PASSWORDS` with it.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.services import Mosquitto, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "mosquitto"
SCRIPT = SHIPPED / "yizhan-broker"
ADMIN_PASSWORD = "admin-secret"
PASSWORDS = {"hub": "hub-secret", "st-a": "a-secret", "st-b": "b-secret"}


def tools_missing() -> str:
    """Why the secured broker cannot run here ('' when it can)."""
    for tool in ("mosquitto", "mosquitto_ctrl", "openssl"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return ""


def _run(*cmd, cwd, env=None):
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=60, env=env)


def make_certs(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=Yizhan test CA", cwd=folder)
    _run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class SecuredBroker:
    """Mosquitto with the shipped configuration; ``port`` is the loopback listener, ``tls_port`` the
    stations' TLS listener, ``ca`` the CA certificate."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = Path(tmp_path)
        self.etc = self.tmp / "etc"
        self.port, self.tls_port = free_port(), free_port()
        self.ca = self.etc / "ca.crt"
        self.broker: Mosquitto | None = None

    def script(self, *args: str, password: str | None = None) -> None:
        """Run the shipped ``yizhan-broker`` script against this broker."""
        env = dict(os.environ, YIZHAN_BROKER_ADMIN_PASSWORD=ADMIN_PASSWORD, YIZHAN_BROKER_HOST="127.0.0.1",
                   YIZHAN_BROKER_PORT=str(self.port))
        if password is not None:
            env["YIZHAN_BROKER_PASSWORD"] = password
        _run(str(SCRIPT), *args, cwd=self.tmp, env=env)

    def start(self) -> SecuredBroker:
        """Start the broker and create the hub and station logins with the shipped script."""
        self.etc.mkdir(parents=True, exist_ok=True)
        make_certs(self.etc)
        self.script("init", str(self.etc / "dynamic-security.json"))
        conf = (SHIPPED / "mosquitto.conf").read_text()
        assert "listener 1883 127.0.0.1" in conf and "listener 8883\n" in conf and "dynamic_security" in conf
        conf = (conf.replace("/etc/mosquitto/yizhan", str(self.etc))
                .replace("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1")
                .replace("listener 8883\n", f"listener {self.tls_port} 127.0.0.1\n")
                .replace("persistence true", "persistence false")
                .replace("persistence_location /var/lib/mosquitto/", "")
                + f"log_dest file {self.tmp / 'broker' / 'mosquitto.log'}\n"
                # Run as the test's own user: the files live in a private temporary directory.
                + f"user {pwd.getpwuid(os.getuid()).pw_name}\n")
        self.broker = Mosquitto(self.tmp / "broker", port=self.port, config=conf).start()
        assert wait_for(lambda: _port_open(self.tls_port), 10)
        self.script("setup")
        for user, password in PASSWORDS.items():
            self.script("add-hub" if user == "hub" else "add-station", user, password=password)
        return self

    def stop(self) -> None:
        """Stop the broker by PID."""
        if self.broker:
            self.broker.stop()
            self.broker = None


class RawClient:
    """A bare paho client (what an attacker holding a station login would run).

    Args:
        broker: the secured broker; connects to its TLS listener.
        user, password: the login.
        client_id: the client id it claims.
    """

    def __init__(self, broker: SecuredBroker, user: str, password: str, client_id: str) -> None:
        self.connect_rc: str | None = None
        self.disconnects: list[str] = []
        self.subacks: dict[int, list[str]] = {}
        self.messages: list[tuple[str, bytes]] = []
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password)
        c.tls_set(ca_certs=str(broker.ca))
        c.on_connect = lambda cl, ud, fl, rc, pr: setattr(self, "connect_rc", str(rc))
        c.on_disconnect = lambda cl, ud, fl, rc, pr: self.disconnects.append(str(rc))
        c.on_subscribe = lambda cl, ud, mid, rcs, pr: self.subacks.__setitem__(mid, [str(r) for r in rcs])
        c.on_message = lambda cl, ud, m: self.messages.append((m.topic, m.payload))
        self.client = c
        c.connect("127.0.0.1", broker.tls_port, keepalive=10)
        c.loop_start()
        wait_for(lambda: self.connect_rc is not None, 10)

    def subscribe(self, topic_filter: str) -> list[str]:
        """Subscribe and return the broker's reason codes from the SUBACK."""
        _rc, mid = self.client.subscribe(topic_filter, qos=1)
        wait_for(lambda: mid in self.subacks, 5)
        return self.subacks.get(mid, ["no SUBACK"])

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
        time.sleep(0.05)


def start_hub(broker: SecuredBroker, db: Path, log_file: Path, name: str = "hub-test"):
    """``yizhan hub run`` with the hub login against the broker's loopback listener."""
    from app.demo_hub import HubProcess
    os.environ["YIZHAN_MQTT_PASSWORD"] = PASSWORDS["hub"]
    try:
        return HubProcess(str(db), "127.0.0.1", broker.port, name=name, log_file=log_file,
                          extra_args=["--username", "hub"]).start()
    finally:
        del os.environ["YIZHAN_MQTT_PASSWORD"]


def station_settings(tmp_path: Path, broker: SecuredBroker, station: str, data_dir: Path, *, login: str | None = None,
                     batch_size: int = 10):
    """Kiosk settings for ``station`` over the broker's TLS listener with the login ``login``
    (default: the station's own)."""
    from kiosk.settings import load_settings
    from tests.sync.helpers import ENV, station_config
    user = login or station
    config = station_config(tmp_path / f"{station}-{user}.toml", station, broker.tls_port, batch_size=batch_size,
                            extra=f'tls = true\nca_file = "{broker.ca}"\nusername = "{user}"\n')
    return load_settings(config, env={**ENV, "YIZHAN_DATA_DIR": str(data_dir),
                                      "YIZHAN_MQTT_PASSWORD": PASSWORDS[user]})
