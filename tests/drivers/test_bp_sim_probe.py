"""Every BP driver against its simulator over a real pty, and through ``yizhan probe bp`` as a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drivers import driver_names, load_driver
from drivers.bp_common import CuffLeak
from drivers.errors import (ConnectionFailed, DeviceReportedError, DeviceTimeout, InvalidChecksum, InvalidResponse,
                            MeasurementCancelled)
from drivers.sim.bp import PROTOCOLS, PUSH_PROTOCOLS, BpSimulator, parse_reading, pressure_profile
from tests.drivers.helpers_replay import recordings, replay
from tests.support.services import stop_pid

YIZHAN = str(Path(sys.executable).with_name("yizhan"))
PUSH = PUSH_PROTOCOLS
DRIVERS = driver_names("bp")
#: (driver, recording) of every registered monitor's RECORDED conversations.
RECORDINGS = recordings("bp")


def fast(name: str, timeout: float = 15.0):
    """The registered driver class with shorter timeouts (class attributes, not sleeps).

    Tests that succeed never wait for a timeout, so theirs are generous (other suites may load the
    machine); tests that expect a timeout pass a shorter one.
    """
    base = load_driver("bp", name)
    attrs = {"FRAME_TIMEOUT": timeout, "POLL": 0.02}
    for attr in ("ACK_TIMEOUT", "RESULT_WAIT"):
        if hasattr(base, attr):
            attrs[attr] = timeout / 2 if attr == "RESULT_WAIT" else timeout
    return type(f"Fast{base.__name__}", (base,), attrs)


@pytest.fixture(params=DRIVERS)
def sim(request, tmp_path):
    simulator = BpSimulator(request.param, link=tmp_path / "ttyBP").start()
    yield simulator
    simulator.stop()


def open_driver(sim: BpSimulator, timeout: float = 15.0, **options):
    options.setdefault("wait_s", timeout)
    dev = fast(sim.protocol, timeout)(sim.path, options=options)
    dev.open()
    return dev


def queue(sim: BpSimulator, reading=(128, 82, 71)) -> None:
    sim.queue_reading(*reading)


def test_every_registered_monitor_is_simulated_and_has_recordings():
    assert {"ascii-line", "maibobo", "oem-nibp", "omron-hbp9030"} <= set(DRIVERS)
    assert list(PROTOCOLS) == DRIVERS
    for name in DRIVERS:
        assert load_driver("bp", name).RECORDED, f"{name} has no recorded conversation"


@pytest.mark.parametrize(("name", "recording"), RECORDINGS, ids=[f"{r[0]}-{i}" for i, r in enumerate(RECORDINGS)])
def test_each_monitor_reads_its_recorded_conversation(monkeypatch, name, recording):
    reading, port = replay(monkeypatch, fast(name, timeout=3.0), recording, wait_s=3.0)
    assert (reading.systolic, reading.diastolic, reading.pulse) == recording.reading
    assert reading.device.driver == name
    assert port.written == [host for host, _ in recording.exchanges]       # exactly the recorded commands


def test_each_driver_reads_its_simulator(sim):
    dev = open_driver(sim)
    try:
        queue(sim)   # after open: line monitors push at once, command modules wait for start
        updates = []
        reading = dev.measure(updates.append)
    finally:
        dev.close()
    assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 71)
    assert reading.device.driver == sim.protocol
    if sim.protocol in PUSH:
        assert [u.stage for u in updates] == ["waiting"]
    else:
        pressures = [u.cuff_pressure for u in updates if u.stage in ("inflating", "deflating")][1:]
        assert pressures == pressure_profile(128, 82)
        assert updates[-1].stage in ("deflating", "done")


def test_two_readings_in_a_row(sim):
    dev = open_driver(sim)
    try:
        got = []
        for reading in [(150, 95, 80), (118, 76, 64)]:
            queue(sim, reading)
            r = dev.measure()
            got.append((r.systolic, r.diastolic, r.pulse))
    finally:
        dev.close()
    assert got == [(150, 95, 80), (118, 76, 64)]


FAULT_ERRORS = {
    "cuff_leak": DeviceReportedError,
    "bad_checksum": InvalidResponse,
    "truncated": InvalidResponse,
}


@pytest.mark.parametrize("fault", sorted(FAULT_ERRORS))
def test_faults_give_typed_errors(sim, fault):
    dev = open_driver(sim, timeout=1.0)
    silent_failure = fault == "cuff_leak" and getattr(sim.simulation, "error", True) is None
    try:
        sim.inject(fault)
        queue(sim)
        with pytest.raises(DeviceTimeout if silent_failure else FAULT_ERRORS[fault]) as info:
            dev.measure()
        if fault == "cuff_leak" and sim.protocol != "ascii-line" and not silent_failure:
            assert info.value.user_key == "bp_cuff_leak"
        if fault == "bad_checksum" and sim.protocol not in PUSH:
            assert isinstance(info.value, InvalidChecksum)
        # The next measurement works: nothing is left half-done.
        queue(sim, (131, 85, 70))
        assert dev.measure().systolic == 131
    finally:
        dev.close()


def test_garbage_on_the_line_is_skipped(sim):
    dev = open_driver(sim)
    try:
        sim.inject("garbage")
        queue(sim)
        assert dev.measure().diastolic == 82
    finally:
        dev.close()


def test_monitor_that_never_answers(sim):
    dev = open_driver(sim, timeout=0.5)
    try:
        sim.inject("silent")
        queue(sim)
        with pytest.raises(DeviceTimeout) as info:
            dev.measure()
        assert not isinstance(info.value, MeasurementCancelled)
    finally:
        dev.close()


@pytest.mark.parametrize("protocol", ["maibobo", "oem-nibp"])
def test_cancel_stops_the_module(tmp_path, protocol):
    with BpSimulator(protocol, step_s=0.02) as sim:
        dev = open_driver(sim)
        cancel = threading.Event()
        try:
            queue(sim)
            with pytest.raises(MeasurementCancelled) as info:
                dev.measure(lambda p: (p.cuff_pressure or 0) > 50 and cancel.set(), cancel)
            assert not isinstance(info.value, DeviceTimeout)      # a cancel is not a device failure
        finally:
            dev.close()
        stop = {"maibobo": bytes.fromhex("cc 80 03 03 01 03 00 02"), "oem-nibp": bytes.fromhex("3a 79 01 00 4c")}
        from tests.support.services import wait_for
        assert wait_for(lambda: stop[protocol] in sim.received, timeout=2)


@pytest.mark.parametrize("protocol", ["maibobo", "oem-nibp"])
def test_unplug_mid_measurement_then_fresh_open(tmp_path, protocol):
    with BpSimulator(protocol, link=tmp_path / "ttyUSB-bp", step_s=0.02) as sim:
        dev = open_driver(sim)
        try:
            queue(sim)
            with pytest.raises(ConnectionFailed):
                dev.measure(lambda p: (p.cuff_pressure or 0) > 50 and sim.unplug())
        finally:
            dev.close()
        sim.replug()
        dev = open_driver(sim)          # same link path, new pty
        try:
            queue(sim, (140, 90, 77))
            assert dev.measure().pulse == 77
        finally:
            dev.close()


def test_unplug_while_waiting_for_a_line(tmp_path):
    with BpSimulator("omron-hbp9030", link=tmp_path / "ttyOmron") as sim:
        dev = open_driver(sim, wait_s=5)
        try:
            threading.Timer(0.1, sim.unplug).start()
            with pytest.raises(ConnectionFailed):
                dev.measure()
        finally:
            dev.close()
        sim.replug()
        dev = open_driver(sim)
        try:
            queue(sim)
            assert dev.measure().systolic == 128
        finally:
            dev.close()


def test_open_missing_port():
    with pytest.raises(ConnectionFailed):
        fast("maibobo")("/nonexistent/ttyBP").open()


def test_parse_reading():
    assert parse_reading("128/82/71") == (128, 82, 71)
    assert parse_reading("128/82") == (128, 82, 72)
    with pytest.raises(ValueError):
        parse_reading("128-82")


# -- yizhan probe bp -------------------------------------------------------------------------
def probe(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([YIZHAN, "probe", "bp", *args], capture_output=True, text=True, timeout=timeout)


def test_probe_list():
    out = probe("--list")
    assert out.returncode == 0
    assert out.stdout.split() == DRIVERS


@pytest.mark.parametrize("protocol", DRIVERS)
def test_probe_reads_each_simulator(tmp_path, protocol):
    with BpSimulator(protocol, link=tmp_path / "ttyBP", push_every=0.2) as sim:
        sim.queue_reading(165, 102, 88)
        out = probe("--driver", protocol, "--port", sim.path, "--timeout", "10")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["systolic"] == {"value": 165, "unit": "mm[Hg]"}
    assert result["diastolic"] == {"value": 102, "unit": "mm[Hg]"}
    assert result["pulse"] == {"value": 88, "unit": "/min"}
    assert result["device"]["driver"] == protocol
    assert result["category"] == "bp_grade2" and result["urgent"] is False
    assert {"open", "measure", "last_byte_to_parsed"} <= set(result["timings_ms"])
    assert result["timings_ms"]["last_byte_to_parsed"] >= 0


def test_probe_device_error_exits_1(tmp_path):
    with BpSimulator("maibobo", link=tmp_path / "ttyBP") as sim:
        sim.inject("cuff_leak")
        out = probe("--driver", "maibobo", "--port", sim.path, "--timeout", "10")
    assert out.returncode == 1 and out.stderr.startswith("yizhan probe bp: error: ")   # the probes' one form
    err = json.loads(out.stdout)
    assert err["ok"] is False and err["user_key"] == "bp_cuff_leak" and err["error"] == "CuffLeak"
    assert err["message"] == CuffLeak.user_message


@pytest.mark.parametrize("args", [["--driver", "nope", "--port", "loop://"], ["--driver", "maibobo"],
                                  ["--driver", "ascii-line", "--port", "loop://", "--pattern", "(?P<sys>\\d+"]])
def test_probe_usage_errors_exit_2(args):
    out = probe(*args)
    assert out.returncode == 2 and json.loads(out.stdout)["error"]


def test_probe_missing_port_exits_1():
    out = probe("--driver", "oem-nibp", "--port", "/nonexistent/ttyBP")
    assert out.returncode == 1 and json.loads(out.stdout)["error"] == "ConnectionFailed"


# -- yizhan sim bp -----------------------------------------------------------------------------
def test_sim_cli_serves_and_takes_commands(tmp_path):
    link = tmp_path / "ttySim"
    proc = subprocess.Popen([YIZHAN, "sim", "bp", "--protocol", "oem-nibp", "--link", str(link),
                             "--reading", "150/95/80"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        hello = json.loads(proc.stdout.readline())
        assert hello["port"] == str(link) and hello["protocol"] == "oem-nibp"
        first = probe("--driver", "oem-nibp", "--port", str(link), "--timeout", "10")
        assert json.loads(first.stdout)["systolic"]["value"] == 150
        proc.stdin.write("fault cuff_leak\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["ok"] is True
        second = probe("--driver", "oem-nibp", "--port", str(link), "--timeout", "10")
        assert second.returncode == 1 and json.loads(second.stdout)["user_key"] == "bp_cuff_leak"
        proc.stdin.write("bogus\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["ok"] is False
    finally:
        stop_pid(proc)
    assert proc.returncode == 0
    assert not link.exists()
