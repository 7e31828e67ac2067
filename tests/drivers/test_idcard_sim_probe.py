"""``yizhan sim idcard`` and ``yizhan probe idcard`` as real subprocesses, plus simulator controls."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator, SimulatorError, run_command
from kiosk.privacy import contains_id_number, mask_id_number, mask_name, person_key
from tests.support.services import stop_pid

VENV_BIN = Path(sys.executable).parent
YIZHAN = str(VENV_BIN / "yizhan")
KEY_HEX = "a1" * 32


def run_probe(port: str, *extra: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "YIZHAN_DISTRICT_KEY"}
    full_env.update(env or {})
    return subprocess.run([YIZHAN, "probe", "idcard", "--port", port, *extra], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.fixture()
def sim(tmp_path):
    simulator = IdCardSimulator(link=str(tmp_path / "ttyIDCARD")).start()
    yield simulator
    simulator.stop()


@pytest.fixture()
def sim_process(tmp_path):
    """``yizhan sim idcard`` as a child process; yields (process, first JSON line)."""
    proc = subprocess.Popen([YIZHAN, "sim", "idcard", "--link", str(tmp_path / "ttySIM")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    try:
        hello = json.loads(proc.stdout.readline())
        yield proc, hello
    finally:
        stop_pid(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


def command(proc: subprocess.Popen, line: str) -> dict:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def assert_no_full_number(text: str) -> None:
    assert not contains_id_number(text)
    for card in SAMPLE_CARDS.values():
        assert card.expected.number not in text


@pytest.mark.parametrize("key", ["resident", "hmt_permit", "foreign_2017", "foreign_2023"])
def test_probe_reads_every_kind(sim, key):
    sim.present(key)
    result = run_probe(sim.path, "--timeout", "5", env={"YIZHAN_DISTRICT_KEY": KEY_HEX})
    assert result.returncode == 0, result.stderr
    assert_no_full_number(result.stdout)
    out = json.loads(result.stdout)
    doc = SAMPLE_CARDS[key].expected
    assert out["kind"] == key
    assert out["name"] == mask_name(doc.display_name) and out["number"] == mask_id_number(doc.number)
    assert out["birth_year"] == doc.birth_date.year
    assert out["gender"] == doc.gender.name.lower()
    assert out["valid_from"] == doc.valid_from.isoformat()
    assert out["check_digit_ok"] == doc.check_digit_ok
    assert out["person_key"] == person_key(bytes.fromhex(KEY_HEX), doc.number)
    assert set(out["timings_ms"]) == {"find", "select", "read", "total"}
    assert out["timings_ms"]["total"] >= out["timings_ms"]["read"] > 0
    assert out["photo_present"] is True
    assert out["sam_id"] == "05.01-1000-123456789-987654321"
    assert result.stderr == ""


def test_probe_long_term_expired_and_without_key(sim):
    sim.present("resident")
    out = json.loads(run_probe(sim.path, "--timeout", "5").stdout)
    assert out["valid_until"] is None and out["long_term"] is True and out["expired"] is False
    assert "person_key" not in out and "YIZHAN_DISTRICT_KEY" in out["person_key_missing"]
    sim.present("resident_expired")
    out = json.loads(run_probe(sim.path, "--timeout", "5", "--fingerprint").stdout)
    assert out["expired"] is True and out["valid_until"] == "2020-04-01"
    sim.present("resident_bad_check")
    out = json.loads(run_probe(sim.path, "--timeout", "5").stdout)
    assert out["check_digit_ok"] is False


def test_probe_key_file(sim, tmp_path):
    sim.present("resident")
    hex_file = tmp_path / "key.hex"
    hex_file.write_text(KEY_HEX + "\n")
    toml_file = tmp_path / "secrets.toml"
    toml_file.write_text(f'district_key = "{KEY_HEX}"\n')
    expected = person_key(bytes.fromhex(KEY_HEX), SAMPLE_CARDS["resident"].expected.number)
    for path in (hex_file, toml_file):
        out = json.loads(run_probe(sim.path, "--timeout", "5", "--key-file", str(path)).stdout)
        assert out["person_key"] == expected


@pytest.mark.parametrize(("content", "message"), [("not hex", "not hex"), ("abcd", "shorter than 16 bytes")])
def test_probe_bad_key_is_a_usage_error(sim, tmp_path, content, message):
    path = tmp_path / "key"
    path.write_text(content)
    result = run_probe(sim.path, "--key-file", str(path))
    assert result.returncode == 2
    assert message in result.stderr and json.loads(result.stdout)["ok"] is False   # the probes' one form
    assert len(result.stderr.strip().splitlines()) == 1


def test_probe_no_card_is_a_device_error(sim):
    result = run_probe(sim.path, "--timeout", "0.3")
    assert result.returncode == 1
    assert "no card" in result.stderr and json.loads(result.stdout)["error"] == "DeviceTimeout"
    assert len(result.stderr.strip().splitlines()) == 1


def test_probe_missing_port(tmp_path):
    result = run_probe(str(tmp_path / "nothing"), "--timeout", "0.3")
    assert result.returncode == 1
    assert "ConnectionFailed" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_probe_usage_errors(sim):
    assert run_probe(sim.path, "--baud", "14400").returncode == 2
    assert run_probe(sim.path, "--timeout", "0").returncode == 2
    assert subprocess.run([YIZHAN, "probe", "idcard"], capture_output=True).returncode == 2


def test_probe_read_failure_is_a_device_error(sim):
    sim.present("resident")
    sim.fault("read")
    result = run_probe(sim.path, "--timeout", "5")
    assert result.returncode == 1 and "ReadFailed" in result.stderr


def test_sim_cli_prints_port_and_takes_commands(sim_process):
    proc, hello = sim_process
    assert Path(hello["port"]).exists() and hello["baudrate"] == 115200
    assert set(SAMPLE_CARDS) <= set(hello["kinds"])
    answer = command(proc, "present foreign_2017")
    assert answer["ok"] is True and answer["card"] == "foreign_2017"
    result = run_probe(hello["port"], "--timeout", "5")
    assert json.loads(result.stdout)["kind"] == "foreign_2017"
    assert command(proc, "present nobody")["ok"] is False
    assert command(proc, "fault nonsense")["ok"] is False
    assert command(proc, "fault read")["faults"] == ["read@read"]
    assert command(proc, "clear")["faults"] == []
    assert command(proc, "unplug")["plugged"] is False
    assert run_probe(hello["port"], "--timeout", "0.3").returncode == 1
    assert command(proc, "replug")["plugged"] is True
    assert json.loads(run_probe(hello["port"], "--timeout", "5").stdout)["kind"] == "foreign_2017"
    assert command(proc, "remove")["card"] is None
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    assert proc.wait(10) == 0
    assert not Path(hello["port"]).exists()          # the link is cleaned up


def test_sim_cli_schedule(tmp_path):
    proc = subprocess.Popen([YIZHAN, "sim", "idcard", "--schedule", "0.3", "--kinds", "hmt_permit", "--no-pace"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = json.loads(proc.stdout.readline())["port"]
        result = run_probe(port, "--timeout", "5")
        assert json.loads(result.stdout)["kind"] == "hmt_permit"
        assert proc.poll() is None           # end of stdin does not stop a scheduled simulator
    finally:
        stop_pid(proc)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def test_sim_cli_rejects_unknown_kinds():
    result = subprocess.run([YIZHAN, "sim", "idcard", "--kinds", "resident,alien"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 2 and "alien" in result.stderr


def test_run_command_parsing(sim):
    assert run_command(sim, "present resident")["card"] == "resident"
    assert run_command(sim, "fault checksum on read")["faults"] == ["checksum@read"]
    assert run_command(sim, "fault silent")["faults"][-1] == "silent"
    assert run_command(sim, "") == {}
    for bad in ("present", "fault checksum at read", "fault checksum on nowhere", "dance"):
        with pytest.raises(SimulatorError):
            run_command(sim, bad)
