"""Issue 11, items 9 and 18: secrets and data files on the kiosk's disk, through the real
``yizhan`` command.

* A secrets file other users may read or change, or one holding a plaintext ``admin_pin``, is
  refused by ``--check-config`` and at start (it passed silently before).
* Files the kiosk, ``bench fill`` and the hub create are private under a loose umask: the journal
  and its WAL 0600, the log 0640 at most, the hub database without any bit for other users (they
  were 0644).
* On a full disk the first demo start leaves no empty ``secrets.toml`` behind (a 0-byte file made
  every later start fail), and a zero-length journal that should hold records is refused.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.settings import hash_pin

YIZHAN = [sys.executable, "-m", "app.cli"]
KEY = "ab" * 32


def run(*args, umask: int = 0o022, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    env.update(env_extra or {})
    return subprocess.run([*YIZHAN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env,
                          preexec_fn=lambda: os.umask(umask))


def station(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text('version = 1\n[station]\nid = "st-sec"\n[ui]\nfullscreen = false\n')
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_unsafe_secrets_are_refused_by_check_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    secrets = data / "secrets.toml"
    secrets.write_text(f'district_key = "{KEY}"\nadmin_pin = "2468"\n')
    secrets.chmod(0o666)
    res = run("kiosk", "--config", station(tmp_path), "--data-dir", data, "--check-config")
    assert res.returncode == 2, res.stdout
    assert "chmod 600" in res.stderr and "0666" in res.stderr
    secrets.chmod(0o600)
    res = run("kiosk", "--config", station(tmp_path), "--data-dir", data, "--check-config")
    assert res.returncode == 2 and "admin_pin: a plaintext PIN is refused" in res.stderr

    secrets.write_text(f'district_key = "{KEY}"\nadmin_pin_hash = "{hash_pin("246813")}"\n')
    for loose in (0o640, 0o604, 0o620):
        secrets.chmod(loose)
        res = run("kiosk", "--config", station(tmp_path), "--data-dir", data, "--check-config")
        assert res.returncode == 2 and f"{loose:04o}" in res.stderr, (loose, res.stderr)
    secrets.chmod(0o600)
    res = run("kiosk", "--config", station(tmp_path), "--data-dir", data, "--check-config")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_short_pins_and_earlier_pin_hashes_are_refused(tmp_path):
    res = subprocess.run([*YIZHAN, "kiosk", "--hash-pin"], input="2468\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "6 to 12 digits" in res.stderr
    res = subprocess.run([*YIZHAN, "kiosk", "--hash-pin"], input="246813\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("scrypt$")

    data = tmp_path / "data"
    data.mkdir()
    earlier = "pbkdf2_sha256$200000$00112233445566778899aabbccddeeff$" + "00" * 32
    secrets = data / "secrets.toml"
    secrets.write_text(f'district_key = "{KEY}"\nadmin_pin_hash = "{earlier}"\n')
    secrets.chmod(0o600)
    res = run("kiosk", "--config", station(tmp_path), "--data-dir", data, "--check-config")
    assert res.returncode == 2 and "yizhan kiosk --hash-pin" in res.stderr and "6 digits" in res.stderr


def _start_and_stop_the_demo(data: Path) -> None:
    """Start the demo kiosk under umask 000 until its first frame is drawn (it has made its secrets,
    journal and log by then), then stop it with SIGTERM as systemd does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    proc = subprocess.Popen([*YIZHAN, "kiosk", "--demo", "--no-hub", "--data-dir", str(data), "--first-frame-marker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: os.umask(0o000))
    try:
        for line in proc.stdout:
            if line.startswith("FIRST_FRAME"):
                break
        else:
            pytest.fail(f"the kiosk ended before its first frame: {proc.stderr.read()[-2000:]}")
        proc.terminate()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_data_files_are_private_under_a_loose_umask(tmp_path):
    data = tmp_path / "data"
    _start_and_stop_the_demo(data)
    assert mode(data / "secrets.toml") == 0o600
    assert mode(data / "journal.sqlite3") == 0o600
    assert mode(data / "logs" / "yizhan.log") & 0o037 == 0
    assert mode(data / "logs") & 0o027 == 0
    readable = [str(p.relative_to(data)) for p in data.rglob("*") if not p.is_symlink() and mode(p) & 0o007]
    assert not readable, f"files other users may use: {readable}"

    bench = tmp_path / "bench"
    res = run("bench", "fill", "--records", "5", "--data-dir", bench, umask=0o000)
    assert res.returncode == 0, res.stderr
    assert mode(bench / "journal.sqlite3") == 0o600

    hub_db = tmp_path / "hub.sqlite3"
    res = run("hub", "migrate", "--db", hub_db, umask=0o000)
    assert res.returncode == 0, res.stderr
    assert hub_db.exists() and mode(hub_db) & 0o007 == 0, oct(mode(hub_db))


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (a full disk on demand); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root; the test rig runs tests as root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill_up(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; returns the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_full_disk_on_first_start_leaves_no_empty_secrets(tiny_disk):
    data = tiny_disk / "data"
    data.mkdir()
    filler = fill_up(tiny_disk)
    res = run("kiosk", "--demo", "--data-dir", data, "--check-config")
    assert res.returncode == 2 and "No space left on device" in res.stderr, res.stderr
    assert not (data / "secrets.toml").exists()
    assert [p.name for p in data.iterdir()] == []
    filler.unlink()
    res = run("kiosk", "--demo", "--data-dir", data, "--check-config")
    assert res.returncode == 0, res.stderr
    assert (data / "secrets.toml").stat().st_size > 0


def test_an_empty_secrets_file_left_by_an_earlier_version_is_replaced_in_demo(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secrets.toml").write_bytes(b"")
    res = run("kiosk", "--demo", "--data-dir", data, "--check-config")
    assert res.returncode == 0, res.stderr


def test_a_zero_length_journal_is_refused_untouched(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "journal.sqlite3").write_bytes(b"")
    res = run("kiosk", "--demo", "--no-hub", "--data-dir", data, "--tour", tmp_path / "tour")
    assert res.returncode == 3 and "empty (0 bytes)" in res.stderr and "Traceback" not in res.stderr
    assert (data / "journal.sqlite3").stat().st_size == 0
