"""``yizhan doctor``: every check on a working station, and a clear failure for each fault an installer meets."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.doctor import CHECK_NAMES
from drivers.sim.bp import BpSimulator
from drivers.sim.idcard import IdCardSimulator
from drivers.sim.printer import PrinterSimulator
from app.cli import main as yizhan
from kiosk.journal import Journal
from kiosk.records import Visit
from tests.support.broker import PASSWORDS, make_certs
from tests.sync.test_broker_config import secured_broker  # noqa: F401  (fixture)
from kiosk.settings import hash_pin

PIN_HASH = hash_pin("246813")      # admin PINs have 6-12 digits and are stored hashed (issue 11)


@pytest.fixture()
def station(tmp_path, mosquitto):
    """A station whose devices are simulators on ptys and whose broker is a real Mosquitto."""
    dev = tmp_path / "dev"
    dev.mkdir()
    sims = {"idcard": IdCardSimulator(link=str(dev / "idcard")).start(),
            "bp": BpSimulator("maibobo", link=str(dev / "bp")).start(),
            "printer": PrinterSimulator(link=str(dev / "printer"))}
    sims["printer"].start()
    data = tmp_path / "data"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'district_key = "{"cd" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\nmqtt_password = "pw"\n')
    secrets.chmod(0o600)
    cfg = tmp_path / "station.toml"
    cfg.write_text(f"""version = 1
[station]
id = "doc-001"
[paths]
data_dir = "{data}"
secrets_file = "{secrets}"
[sync]
enabled = true
host = "{mosquitto.host}"
port = {mosquitto.port}
username = "doc-001"
[devices.idcard]
driver = "sam"
port = "{dev / 'idcard'}"
baudrate = 115200
[devices.bp]
driver = "maibobo"
port = "{dev / 'bp'}"
[devices.printer]
driver = "escpos"
port = "{dev / 'printer'}"
""")
    with Journal(data / Journal.FILENAME, "doc-001") as j:
        j.append(Visit(person_key="k1", source="demo", role="resident"))
    yield {"config": cfg, "sims": sims, "secrets": secrets, "broker": mosquitto}
    for sim in sims.values():
        sim.stop()


def _doctor(capsys, cfg) -> tuple[int, dict]:
    code = yizhan(["doctor", "--json", "--config", str(cfg)])
    return code, json.loads(capsys.readouterr().out)


def _by_name(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["checks"]}


def test_a_working_station_reports_every_check_and_is_healthy(station, capsys):
    code, doc = _doctor(capsys, station["config"])
    checks = _by_name(doc)
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)
    assert code == 0 and doc["healthy"], doc
    for name in ("settings", "secrets", "devices", "printer_paper", "broker", "disk", "journal", "outbox"):
        assert checks[name]["status"] == "ok", checks[name]
    assert set(checks["devices"]["details"]) == {"idcard", "bp", "printer"}
    assert checks["outbox"]["details"]["backlog"] == 1
    assert checks["tls_certificate"]["status"] == "skip"      # this broker has no TLS listener


def test_an_unplugged_device_fails_clearly(station, capsys):
    station["sims"]["bp"].stop()
    code, doc = _doctor(capsys, station["config"])
    devices = _by_name(doc)["devices"]
    assert code == 1 and not doc["healthy"]
    assert devices["status"] == "fail" and "bp (" in devices["message"] and "idcard" not in devices["message"]
    assert devices["details"]["idcard"]["state"] == "connected"


def test_the_broker_down_fails_clearly(station, capsys):
    station["broker"].stop()
    code, doc = _doctor(capsys, station["config"])
    broker = _by_name(doc)["broker"]
    assert code == 1 and broker["status"] == "fail"
    assert f"cannot connect to the MQTT broker {station['broker'].host}:{station['broker'].port}" in broker["message"]


def test_a_readable_secrets_file_fails_clearly(station, capsys):
    os.chmod(station["secrets"], 0o644)
    code, doc = _doctor(capsys, station["config"])
    checks = _by_name(doc)
    # The settings themselves refuse such a file now (issue 11, item 9), naming the same fix.
    failed = checks.get("secrets") or checks["settings"]
    assert code in (1, 2) and failed["status"] == "fail"
    assert "0644" in json.dumps(failed) and f"chmod 600 {station['secrets']}" in json.dumps(failed)


def test_paper_out_and_text_output(station, capsys):
    station["sims"]["printer"].paper = "out"
    assert yizhan(["doctor", "--config", str(station["config"])]) == 1
    out = capsys.readouterr().out
    assert "NOT healthy" in out and "✘ printer_paper" in out and "out of paper" in out


def test_bad_settings_exit_2_with_every_problem(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('version = 1\n[station]\nid = "a b"\n[ui]\nwidht = 3\n')
    assert yizhan(["doctor", "--json", "--config", str(cfg)]) == 2
    doc = json.loads(capsys.readouterr().out)
    errors = doc["checks"][0]["details"]["errors"]
    assert doc["checks"][0]["status"] == "fail" and any("widht" in e for e in errors) and any("station.id" in e for e in errors)


def test_the_demo_reports_every_check(tmp_path, capsys):
    code = yizhan(["doctor", "--demo", "--json", "--data-dir", str(tmp_path / "demo")])
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)
    assert code == 0 and _by_name(doc)["devices"]["status"] == "ok"


def test_the_kiosk_summary_uses_its_own_device_states_and_link(station):
    from app.doctor import kiosk_device_states, run_checks, summary
    from kiosk.settings import load_settings
    settings = load_settings(station["config"])
    states = kiosk_device_states(settings, {"idcard": {"state": "connected"}, "bp": {"state": "disconnected",
                                                                                   "detail": "went away"}})
    assert states["printer"]["state"] == "unchecked"          # the kiosk opens the printer only to print
    station["broker"].stop()                                 # not contacted: the kiosk's link state is used
    checks = {c.name: c for c in run_checks(settings, device_states=states, broker_connected=True)}
    assert checks["broker"].status == "ok" and checks["printer_paper"].status == "skip"
    doc = summary(list(checks.values()))
    assert doc["ok"] is False and doc["checks"]["devices"] == "fail" and "went away" in doc["failing"]["devices"]


def _tls_station(tmp_path, broker, ca, user="st-a") -> Path:
    secrets = tmp_path / "tls-secrets.toml"
    secrets.write_text(f'district_key = "{"cd" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\nmqtt_password = "{PASSWORDS[user]}"\n')
    secrets.chmod(0o600)
    cfg = tmp_path / "tls.toml"
    cfg.write_text(f'version = 1\n[station]\nid = "{user}"\n[paths]\ndata_dir = "{tmp_path / "tls-data"}"\n'
                   f'secrets_file = "{secrets}"\n[sync]\nenabled = true\nhost = "127.0.0.1"\n'
                   f'port = {broker.tls_port}\ntls = true\nca_file = "{ca}"\nusername = "{user}"\n')
    return cfg


def test_tls_broker_certificate_expiry_and_a_wrong_ca(tmp_path, secured_broker, capsys):
    code, doc = _doctor(capsys, _tls_station(tmp_path, secured_broker, secured_broker.ca))
    checks = _by_name(doc)
    # Connected over TLS (whether the shipped grants cover every subscription is tests/sync/test_broker_grants.py's).
    assert "connect_ms" in checks["broker"]["details"], checks["broker"]
    tls = checks["tls_certificate"]
    assert tls["status"] == "warn" and "expires in 2 days" in tls["message"]      # the test CA signs for 2 days
    other = tmp_path / "other"
    other.mkdir()
    make_certs(other)
    code, doc = _doctor(capsys, _tls_station(tmp_path, secured_broker, other / "ca.crt"))
    tls = _by_name(doc)["tls_certificate"]
    assert code == 1 and tls["status"] == "fail" and "certificate is not valid" in tls["message"]
    assert _by_name(doc)["broker"]["status"] == "fail"


def test_doctor_warns_when_the_machines_zone_is_not_the_districts(tmp_path):
    """A machine on UTC in a district on Asia/Shanghai: a warning naming both and the fix."""
    import subprocess
    import sys
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'district_key = "{"cd" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\n')
    secrets.chmod(0o600)
    config = tmp_path / "station.toml"
    config.write_text(f'version = 1\n[station]\nid = "st-tz"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                      f'secrets_file = "{secrets}"\n[sync]\nenabled = false\n')

    def zone_check(machine: str) -> dict:
        out = subprocess.run([sys.executable, "-m", "app.cli", "doctor", "--json", "--config", str(config)],
                             capture_output=True, text=True, env={**os.environ, "TZ": machine})
        return _by_name(json.loads(out.stdout))["time_zone"]
    utc = zone_check("UTC")
    assert utc["status"] == "warn" and "UTC" in utc["message"] and "Asia/Shanghai" in utc["message"], utc
    assert zone_check("Asia/Shanghai")["status"] == "ok"
