"""The kiosk session as installed: cage (headless) runs the real kiosk as an unprivileged user.

A screenshot (grim) must show the home screen filling the output; ``kill -9`` of the kiosk must bring
it back; a hung kiosk (SIGSTOP) must stop the watchdog pings and be restarted. The supervisor stands
in for systemd with the unit's Type=notify, Restart=always and WatchdogSec semantics.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from tests.deploy.supervisor import Supervisor
from kiosk.settings import hash_pin

pytestmark = pytest.mark.deploy

PIN_HASH = hash_pin("246813")      # admin PINs have 6-12 digits and are stored hashed (issue 11)

ROOT = Path(__file__).resolve().parents[2]
SESSION = ROOT / "deploy/cage/yizhan-session"
USER = "nobody"                 # any unprivileged user; cage refuses root
WATCHDOG_S = 6.0
PAGE, HEADER, HEALTH = (0xF6, 0xF2, 0xEA), (0x7A, 0x1F, 0x1F), (0x00, 0x56, 0x4A)


def _readable_copy(src: str, dst: str) -> None:
    """A hard link where the file is readable by all (fast, same file system), else a copy that is."""
    if os.stat(src).st_mode & 0o004:
        try:
            os.link(src, dst)
            return
        except OSError:                       # another file system
            pass
    shutil.copy2(src, dst)
    os.chmod(dst, os.stat(dst).st_mode | 0o444)


def _stage(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """``src`` copied to ``dst`` so that any user can read it, whatever the modes above ``src``."""
    shutil.copytree(src, dst, copy_function=_readable_copy, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", *skip))
    for d, _dirs, _files in os.walk(dst):
        os.chmod(d, 0o755)


@pytest.fixture()
def rig():
    """Directories the kiosk user can reach (pytest's own tmp is root-only), removed afterwards.

    What the kiosk user runs (the session script, this checkout's packages, the virtualenv's
    libraries) is staged there too: the checkout itself may sit in a directory only root may enter.
    """
    base = Path(tempfile.mkdtemp(prefix="yizhan-cage-", dir="/tmp"))
    base.chmod(0o755)
    _stage(ROOT, base / "checkout", skip=(".*", "tests", "docs", "dist", "build", "tour", "*.egg-info"))
    _stage(Path(sysconfig.get_paths()["purelib"]), base / "site-packages")
    user = pwd.getpwnam(USER)
    run, data = base / "run", base / "data"
    for d in (run, data):
        d.mkdir(mode=0o700)
        os.chown(d, user.pw_uid, user.pw_gid)
    secrets = base / "secrets.toml"
    secrets.write_text(f'district_key = "{"ab" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\n')
    secrets.chmod(0o600)
    os.chown(secrets, user.pw_uid, user.pw_gid)
    config = base / "station.toml"
    config.write_text(f'version = 1\n[station]\nid = "cage-001"\n[paths]\ndata_dir = "{data}"\n'
                      f'secrets_file = "{secrets}"\n[ui]\nfullscreen = true\n')
    yield {"base": base, "run": run, "data": data, "config": config, "checkout": base / "checkout",
           "site": base / "site-packages"}
    shutil.rmtree(base, ignore_errors=True)


def _screenshot(run: Path) -> tuple[int, int, bytes]:
    """grim's capture of the whole output as raw RGB."""
    ppm = subprocess.run(["runuser", "-u", USER, "--", "env", f"XDG_RUNTIME_DIR={run}", "WAYLAND_DISPLAY=wayland-0",
                          "grim", "-t", "ppm", "-"], capture_output=True, check=True, timeout=20).stdout
    magic, size, _maxval, pixels = ppm.split(b"\n", 3)
    width, height = map(int, size.split())
    return width, height, pixels


def _pixel(shot, x: int, y: int) -> tuple[int, int, int]:
    width, _height, pixels = shot
    i = (y * width + x) * 3
    return tuple(pixels[i:i + 3])


def _near(a, b, tolerance: int = 6) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b))


def _home_fills_the_output(run: Path, timeout: float = 30.0) -> None:
    """The next frames show the home screen over the whole output (the first may still be composing)."""
    deadline = time.monotonic() + timeout
    while True:
        shot = _screenshot(run)
        try:
            _assert_home(shot)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _assert_home(shot) -> None:
    width, height, _ = shot
    assert (width, height) == (1280, 720)                              # the headless output
    for x, y in ((2, 2), (width - 3, 2), (width // 2, 2)):            # the header reaches every top edge
        assert _near(_pixel(shot, x, y), HEADER), (x, y, _pixel(shot, x, y))
    for x, y in ((2, height - 3), (width - 3, height // 2), (width // 2, 130)):   # the page to the bottom and sides
        assert _near(_pixel(shot, x, y), PAGE), (x, y, _pixel(shot, x, y))
    assert _near(_pixel(shot, 100, 300), HEALTH)                       # the health tile (top left) of the home screen


def _kiosk_pid(pgid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            if cmd[0].endswith(b"python3") and b"app.cli" in cmd and os.getpgid(int(entry.name)) == pgid:
                return int(entry.name)
        except (OSError, ProcessLookupError):
            continue
    return None


def test_cage_session_fills_the_output_and_comes_back(rig):
    # Debian's python3 (readable by the kiosk user) with this checkout and its virtualenv's libraries
    # (both staged where the kiosk user can read them), as the package's /opt/yizhan/venv provides them.
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": str(rig["run"]), "WLR_BACKENDS": "headless",
           "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman", "YIZHAN": "/usr/bin/python3 -m app.cli",
           "YIZHAN_CONFIG": str(rig["config"]), "KIVY_HOME": str(rig["data"] / "kivy"),
           "XDG_CACHE_HOME": str(rig["data"] / "cache"), "PYTHONPATH": f"{rig['checkout']}:{rig['site']}"}
    session = rig["checkout"] / SESSION.relative_to(ROOT)
    sup = Supervisor(["runuser", "-u", USER, "--", str(session)], env, rig["base"] / "notify.sock",
                     watchdog_s=WATCHDOG_S, restart_s=1.0, log=rig["base"] / "session.log").start()
    try:
        assert sup.wait("ready", 1, 90), (rig["base"] / "session.log").read_text()[-3000:]
        _home_fills_the_output(rig["run"])
        assert sup.wait("ping", 2, 3 * WATCHDOG_S)                     # the UI thread feeds the watchdog

        pid = _kiosk_pid(sup.proc.pid)
        assert pid and pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name == USER
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        assert sup.wait("ready", 2, 90)
        print(f"kill -9 -> home screen again in {sup.last('ready') - killed:.1f} s")
        _home_fills_the_output(rig["run"])

        hung = time.monotonic()
        os.kill(_kiosk_pid(sup.proc.pid), signal.SIGSTOP)              # a hung UI thread stops the pings
        assert sup.wait("watchdog", 1, 3 * WATCHDOG_S)
        assert sup.wait("ready", 3, 90)
        print(f"hung kiosk -> watchdog restart -> home screen again in {sup.last('ready') - hung:.1f} s")
        assert sup.count("exit") == 2
    finally:
        sup.stop()
