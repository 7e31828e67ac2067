"""Every glucometer driver against its simulator over a real pty, in-process and via ``yizhan``."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from drivers import driver_names, load_driver
from drivers.errors import ConnectionFailed, DeviceTimeout, DriverError, InvalidResponse
from drivers.glucose_common import MeterSilent, NoNewReading
from drivers.readings import MealContext, RangeFlag, Unit
from drivers.sim.glucose import GlucoseSimulator
from tests.drivers.helpers_replay import recordings, replay
from tests.support.services import stop_pid, wait_for

PROTOCOLS = driver_names("glucose")
#: (driver, recording) of every registered meter's RECORDED conversations.
RECORDINGS = recordings("glucose")
YIZHAN = str(Path(sys.executable).with_name("yizhan"))


def fast(protocol: str, port: str, **options):
    """The driver with short per-read and measurement timeouts for tests."""
    cls = load_driver("glucose", protocol)
    fast_cls = type(f"Fast{cls.__name__}", (cls,), {"TIMEOUT": 0.5})
    options.setdefault("measure_timeout", 3.0)
    options.setdefault("poll_interval", 0.1)
    return fast_cls(port, options=options)


def measure_guarded(dev, since, limit: float = 30.0):
    """Run measure on a thread; fail (not hang) if it never returns."""
    box: dict = {}

    def work():
        try:
            box["reading"] = dev.measure(since=since)
        except BaseException as exc:      # handed to the test thread below
            box["error"] = exc
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), "driver hung"
    if "error" in box:
        raise box["error"]
    return box["reading"]


def test_every_registered_meter_has_recordings():
    assert {"astm", "onetouch-ultra2", "sd-codefree"} <= set(PROTOCOLS)
    for name in PROTOCOLS:
        assert load_driver("glucose", name).RECORDED, f"{name} has no recorded conversation"


@pytest.mark.parametrize(("name", "recording"), RECORDINGS, ids=[f"{r[0]}-{i}" for i, r in enumerate(RECORDINGS)])
def test_each_meter_reads_its_recorded_conversation(monkeypatch, name, recording):
    cls = type(f"Fast{name}", (load_driver("glucose", name),), {"TIMEOUT": 0.5})
    reading, port = replay(monkeypatch, cls, recording, measure_timeout=3.0, poll_interval=0.1)
    assert (reading.device_value, reading.taken_at) == recording.reading
    assert reading.device.driver == name
    assert port.written == [host for host, _ in recording.exchanges]       # exactly the recorded commands


@pytest.fixture(params=PROTOCOLS)
def sim(request, tmp_path):
    s = GlucoseSimulator(request.param, link=str(tmp_path / "ttyGLU")).start()
    yield s
    s.stop()


def session_start() -> datetime:
    return datetime.now().replace(microsecond=0) - timedelta(minutes=2)


def test_end_to_end_newest_after_since(sim):
    since = session_start()
    sim.add_reading(mmol_l=5.1, when=since - timedelta(days=1))
    sim.add_reading(mg_dl=140, when=since + timedelta(minutes=1), meal=MealContext.BEFORE_MEAL)
    sim.add_reading(mg_dl=99, when=since - timedelta(hours=1))
    with fast(sim.protocol, sim.path) as dev:
        reading = measure_guarded(dev, since)
    assert reading.device_value == 140 and reading.device_unit is Unit.MG_DL and reading.mmol_l == 7.8
    assert reading.device.driver == sim.protocol
    assert reading.taken_at.replace(second=0) == (since + timedelta(minutes=1)).replace(second=0)
    assert reading.device_seq == 3                 # the newest of three records
    assert "/dev/pts/" not in reading.device.model


def test_reading_arrives_while_waiting(sim):
    since = session_start()
    with fast(sim.protocol, sim.path, measure_timeout=10.0) as dev:
        timer = threading.Timer(0.5, lambda: sim.add_reading(mmol_l=12.0))
        timer.start()
        reading = measure_guarded(dev, since)
        timer.join()
    assert reading.mmol_l == 12.0


def test_control_solution_ignored(sim):
    since = session_start()
    sim.add_reading(mg_dl=110, when=since + timedelta(minutes=1))
    sim.add_reading(mg_dl=250, when=since + timedelta(minutes=2), control=True)
    with fast(sim.protocol, sim.path) as dev:
        assert measure_guarded(dev, since).device_value == 110


@pytest.mark.parametrize("fault", ["garbage", "bad_checksum", "truncated"])
def test_one_off_faults_recover(sim, fault):
    since = session_start()
    sim.add_reading(mg_dl=126, when=since + timedelta(minutes=1))
    sim.add_reading(mg_dl=90, when=since - timedelta(minutes=5))
    sim.inject(fault)
    with fast(sim.protocol, sim.path) as dev:
        assert measure_guarded(dev, since).device_value == 126


def test_nak_storm_gives_typed_error_or_recovers(sim):
    since = session_start()
    sim.add_reading(mg_dl=126, when=since + timedelta(minutes=1))
    sim.inject("nak_storm")
    with fast(sim.protocol, sim.path) as dev:
        try:
            reading = measure_guarded(dev, since)
        except DriverError as exc:
            assert not isinstance(exc, NoNewReading), exc
        else:
            assert reading.device_value == 126


def test_silent_meter_times_out_typed(sim):
    sim.inject("silent")
    with fast(sim.protocol, sim.path, measure_timeout=1.0) as dev, pytest.raises(MeterSilent):
        measure_guarded(dev, session_start())


def test_no_new_reading(sim):
    since = session_start()
    sim.add_reading(mg_dl=100, when=since - timedelta(minutes=10))
    with fast(sim.protocol, sim.path, measure_timeout=1.0) as dev, pytest.raises(NoNewReading) as err:
        measure_guarded(dev, since)
    assert err.value.user_key == "glucose_measure_first"


def test_hi_reading(tmp_path):
    with GlucoseSimulator("astm") as s:
        s.add_reading(flag=RangeFlag.HIGH)
        with fast("astm", s.path) as dev:
            reading = measure_guarded(dev, session_start())
    assert reading.range_flag is RangeFlag.HIGH and reading.mmol_l == 33.3


def test_unplug_mid_transfer_then_replug(sim):
    since = session_start()
    for minute in range(1, 8):
        sim.add_reading(mg_dl=100 + minute, when=since + timedelta(minutes=minute))
    sim.inject("unplug_mid")
    dev = fast(sim.protocol, sim.path)
    dev.open()
    try:
        with pytest.raises((ConnectionFailed, DeviceTimeout, InvalidResponse)):
            measure_guarded(dev, since)
    finally:
        dev.close()
    # The driver may notice the broken transfer a moment before the simulator's thread pulls the plug.
    assert wait_for(lambda: not sim.port.plugged, 5)
    sim.inject("replug")
    with fast(sim.protocol, sim.path) as dev:          # the stable link points at the new pty
        assert measure_guarded(dev, since).device_value == 107


def probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([YIZHAN, "probe", "glucose", *args], capture_output=True, text=True, timeout=timeout)


def test_probe_reads_each_simulator(sim):
    since = session_start()
    sim.add_reading(mmol_l=6.5, when=since + timedelta(minutes=1))
    out = probe("--driver", sim.protocol, "--port", sim.path, "--since", since.isoformat(),
                "--context", "fasting", "--timeout", "5")
    assert out.returncode == 0, out.stderr + out.stdout
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["value"] == 6.5 and result["unit"] == "mmol/L"
    assert result["device_value"] == 117 and result["device_unit"] == "mg/dL"
    assert result["category"] == "glu_ifg" and result["urgent"] is False
    assert result["device"]["driver"] == sim.protocol
    assert set(result["timings_ms"]) == {"open", "read", "total"}


def test_probe_list():
    out = probe("--list")
    assert out.returncode == 0
    assert out.stdout.split() == ["astm", "onetouch-ultra2", "sd-codefree"]


@pytest.mark.parametrize("args", [
    ["--driver", "nope", "--port", "/dev/null"],
    ["--driver", "astm"],
    ["--driver", "astm", "--port", "/dev/null", "--since", "yesterday"],
    ["--driver", "astm", "--port", "/dev/null", "--context", "brunch"],
])
def test_probe_usage_errors_exit_2(args):
    assert probe(*args).returncode == 2


def test_probe_device_error_exit_1(tmp_path):
    with GlucoseSimulator("onetouch-ultra2") as s:
        s.inject("silent")
        out = probe("--driver", "onetouch-ultra2", "--port", s.path, "--timeout", "1")
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["ok"] is False and result["user_key"] == "glucose_meter_silent"
    assert "血糖仪" in result["message_zh"]


def test_probe_bad_port_exit_1():
    out = probe("--driver", "astm", "--port", "/dev/does-not-exist", "--timeout", "1")
    assert out.returncode == 1 and json.loads(out.stdout)["error"] == "ConnectionFailed"


def test_sim_cli_with_stdin_commands(tmp_path):
    sim = subprocess.Popen([YIZHAN, "sim", "glucose", "--protocol", "sd-codefree", "--reading", "5.5",
                            "--link", str(tmp_path / "ttySD")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(sim.stdout.readline())
        assert info["port"] == str(tmp_path / "ttySD") and info["baud"] == 38400
        first = json.loads(probe("--driver", "sd-codefree", "--port", info["port"], "--timeout", "5").stdout)
        assert first["value"] == 5.5
        sim.stdin.write("reading 8.9\n")
        sim.stdin.flush()
        reply = json.loads(sim.stdout.readline())
        assert reply["ok"] is True and reply["command"] == "reading 8.9"
        since = (datetime.now() - timedelta(minutes=1)).isoformat()
        second = json.loads(probe("--driver", "sd-codefree", "--port", info["port"], "--since", since,
                                  "--timeout", "5").stdout)
        assert second["value"] == 8.9
        sim.stdin.write("fault nonsense\n")
        sim.stdin.flush()
        assert "error" in json.loads(sim.stdout.readline())
    finally:
        stop_pid(sim)
    assert sim.returncode == 0
