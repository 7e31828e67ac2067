"""Issue 11, item 15: ``systemctl stop`` (SIGTERM) and Ctrl-C (SIGINT) quit a fullscreen
production kiosk cleanly within 5 s: the journal is closed (SQLite removes its WAL file on the last
clean close), the ID card reader is released, the exit code is 0. Before, SDL turned the signal into
a window-close request that the kiosk refuses in fullscreen, and only SIGKILL ended it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from drivers.sim.idcard import IdCardSimulator
from tests.support.services import stop_pid

STATION = """version = 1
[station]
id = "st-stop"
[ui]
fullscreen = true
[devices.idcard]
driver = "sam"
port = "{port}"
baudrate = 115200
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_fullscreen_kiosk_stops_cleanly_on_a_signal(tmp_path, sig):
    sim = IdCardSimulator(link=str(tmp_path / "idcard"), baudrate=115200).start()
    config = tmp_path / "station.toml"
    config.write_text(STATION.format(port=sim.path))
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    env.update(YIZHAN_DISTRICT_KEY="11" * 32, YIZHAN_ADMIN_PIN="246813")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "kiosk", "--config", str(config), "--data-dir",
                             str(data), "--first-frame-marker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("FIRST_FRAME"):      # e.g. the "no display" notice
            line = proc.stdout.readline()
        assert line.startswith("FIRST_FRAME"), proc.stderr.read()
        journal = data / "journal.sqlite3"
        deadline = time.monotonic() + 20
        while not (data / "journal.sqlite3-wal").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)                                   # the reader is polled: the device is in use
        proc.send_signal(sig)
        t0 = time.monotonic()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the kiosk ignored {sig.name} for 5 s")
        print(f"{sig.name}: stopped in {time.monotonic() - t0:.2f} s")
        assert code == 0, proc.stderr.read()
        assert journal.exists() and not (data / "journal.sqlite3-wal").exists(), "journal not closed cleanly"
        log = (data / "logs" / "yizhan.log").read_text(encoding="utf-8")
        assert f"stopping on {sig.name}" in log and "Traceback" not in log
    finally:
        stop_pid(proc, timeout=1, sig=signal.SIGKILL)
        sim.stop()
