"""`yizhan kiosk` failure modes: a clear message naming the problem and the fix, a non-zero exit,
no traceback, and the journal never deleted or rewritten."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from kiosk.journal import SCHEMA_VERSION, Journal

YIZHAN = [sys.executable, "-m", "app.cli"]


def run(*args, env_extra=None, timeout=60, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_")}
    env.pop("DISPLAY", None)
    env.update(env_extra or {})
    return subprocess.run([*YIZHAN, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def test_check_config_ok_and_broken(tmp_path):
    ok = run("kiosk", "--demo", "--data-dir", str(tmp_path / "d"), "--check-config")
    assert ok.returncode == 0 and "settings OK: station demo-001" in ok.stdout
    bad = tmp_path / "station.toml"
    bad.write_text('[station]\nid = "x y"\n[ui]\nwidth = "wide"\n', encoding="utf-8")
    res = run("kiosk", "--config", str(bad), "--data-dir", str(tmp_path / "d2"), "--check-config")
    assert res.returncode == 2
    assert "station.id" in res.stderr and "ui.width" in res.stderr and "district_key" in res.stderr
    assert "Traceback" not in res.stderr


def test_data_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    res = run("kiosk", "--demo", "--data-dir", str(blocker / "d"), "--tour", str(tmp_path / "t"))
    assert res.returncode in (2, 3), res.stderr
    assert "Traceback" not in res.stderr
    assert str(blocker) in res.stderr


def test_newer_and_corrupt_journals_stop_the_kiosk_untouched(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    journal = data / Journal.FILENAME
    Journal(journal, "demo-001").close()
    db = sqlite3.connect(journal)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    before = journal.read_bytes()
    res = run("kiosk", "--demo", "--data-dir", str(data), "--tour", str(tmp_path / "t"))
    assert res.returncode == 3 and "newer" in res.stderr and "Traceback" not in res.stderr
    assert journal.read_bytes() == before

    journal.write_bytes(b"\0garbage" * 512)
    res = run("kiosk", "--demo", "--data-dir", str(data), "--tour", str(tmp_path / "t"))
    assert res.returncode == 3 and "left untouched" in res.stderr and "Traceback" not in res.stderr
    assert journal.read_bytes() == b"\0garbage" * 512


@pytest.mark.slow
@pytest.mark.timeout(900)       # renders every state to a PNG: ran over 300 s on the 2-core machine under load
def test_tour_writes_one_png_per_screen_state_without_touching_the_demo_data(tmp_path):
    """`make tour` beside a running `make run`: the tour works in a throwaway data directory, so the
    live demo's ./data (its journal, its device links) is left exactly as it was."""
    import json
    live = tmp_path / "data"
    (live / "dev").mkdir(parents=True)
    (live / "dev" / "bp").symlink_to("/dev/pts/ptmx")
    (live / "journal.sqlite3").write_bytes(b"the live demo's journal")
    before = sorted((p.relative_to(live), p.is_symlink()) for p in live.rglob("*"))
    scratch = tmp_path / "tmp"                 # the tour's own temporary folder, so nothing else shares it
    scratch.mkdir()
    out = tmp_path / "tour"
    res = run("kiosk", "--demo", "--tour", str(out), timeout=900, cwd=tmp_path, env_extra={"TMPDIR": str(scratch)})
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted((p.relative_to(live), p.is_symlink()) for p in live.rglob("*")) == before
    assert (live / "journal.sqlite3").read_bytes() == b"the live demo's journal"
    assert not list(scratch.glob("yizhan-tour-*"))                      # the throwaway data was thrown away
    from screens import tour_plan
    names = sorted(p.name for p in out.glob("*.png"))
    assert sorted(step[3] for step in tour_plan()) == names
    spoken = json.loads((out / "spoken.json").read_text(encoding="utf-8"))     # what each state says
    assert sorted(spoken) == names
    assert spoken["result-urgent.png"]["text"].startswith("您的血压是一百八十六，一百一十二。")
    assert spoken["result-urgent-large.png"]["look"] == "large"
    assert spoken["home-en.png"]["text"].startswith("Welcome.")
    assert spoken["home-idle.png"]["prompt"] == "idle_warning"
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000     # a real, non-blank picture


@pytest.mark.slow
def test_start_up_without_a_display_says_so_and_keeps_kivy_noise_off_the_console(tmp_path):
    """`make run` on a machine without a display: one line says nothing will appear and how to see
    it; Kivy's "Older configuration version" chatter is not on the console."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen([*YIZHAN, "kiosk", "--demo", "--no-hub", "--data-dir", str(tmp_path / "d"),
                             "--first-frame-marker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        out = []
        for line in proc.stdout:
            out.append(line)
            if line.startswith("FIRST_FRAME"):
                break
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    stdout = "".join(out)
    assert "no display" in stdout and "make tour" in stdout and "DISPLAY=" in stdout, stdout
    assert "Older configuration version" not in err + stdout and "Upgrading configuration" not in err + stdout, err
    assert "Deprecated property" not in err, err
