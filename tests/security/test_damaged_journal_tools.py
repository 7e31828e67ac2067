"""Issue 11, items 16 and 20: the tools that open a kiosk's journal check it the way the kiosk does.

Before, ``yizhan sync`` on a damaged journal synced what it could, logged a traceback every second
and wrote into the damaged file on exit; ``yizhan bench fill`` printed a traceback. Now both refuse
at start with the kiosk's message (exit code 3), and the file stays byte for byte as it was.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from kiosk.journal import _META_CHECKED, Journal
from kiosk.records import Visit

YIZHAN = [sys.executable, "-m", "app.cli"]


def run(*args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    env.update(YIZHAN_DISTRICT_KEY="cd" * 32, YIZHAN_ADMIN_PIN="246813")
    return subprocess.run([*YIZHAN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def damaged_journal(data_dir):
    """A real journal with records, then a page in the middle overwritten (a bad sector)."""
    data_dir.mkdir()
    path = data_dir / Journal.FILENAME
    with Journal(path, "st-dmg") as journal:
        for i in range(400):
            journal.append(Visit(person_key=f"{i:064x}", source="idcard", role="resident"))
    # The sector goes bad overnight: the next open is the first of a new day, which checks the file.
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '2000-01-01' WHERE key = ?", (_META_CHECKED,))
    db.commit()
    db.close()
    raw = bytearray(path.read_bytes())
    raw[8192:12288] = b"\xa5" * 4096
    path.write_bytes(bytes(raw))
    return path


@pytest.fixture()
def station(tmp_path, mosquitto):
    config = tmp_path / "station.toml"
    config.write_text(f'version = 1\n[station]\nid = "st-dmg"\n[sync]\nenabled = true\nhost = "{mosquitto.host}"\n'
                      f'port = {mosquitto.port}\nack_timeout_s = 1\n')
    return config


@pytest.mark.parametrize("damage", ["page", "zero_length", "garbage"])
def test_sync_refuses_a_damaged_journal_and_leaves_it_unchanged(tmp_path, station, damage):
    data = tmp_path / "data"
    if damage == "page":
        path = damaged_journal(data)
    else:
        data.mkdir()
        path = data / Journal.FILENAME
        path.write_bytes(b"" if damage == "zero_length" else b"\0garbage" * 2048)
    before = path.read_bytes()
    others = sorted(p.name for p in data.iterdir())
    res = run("sync", "--data-dir", data, "--config", station, timeout=30)
    assert res.returncode == 3, (res.stdout, res.stderr[-2000:])
    assert "left untouched" in res.stderr and "Traceback" not in res.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == others       # no -wal or -shm created beside it


def test_bench_fill_gives_the_kiosks_message_on_a_corrupt_journal(tmp_path):
    data = tmp_path / "data"
    path = damaged_journal(data)
    before = path.read_bytes()
    res = run("bench", "fill", "--records", "10", "--data-dir", data)
    assert res.returncode == 3 and "Traceback" not in res.stderr
    assert res.stderr.startswith("yizhan: ") and "left untouched" in res.stderr
    assert path.read_bytes() == before
    kiosk = run("kiosk", "--demo", "--no-hub", "--data-dir", data, "--tour", tmp_path / "tour")
    assert kiosk.returncode == 3 and kiosk.stderr.startswith("yizhan: ")
    assert res.stderr.split("(")[0] == kiosk.stderr.split("(")[0]   # the same sentence (the detail may differ)
