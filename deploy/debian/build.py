"""Build Yizhan's Debian packages with ``dpkg-deb`` (``make deb``): ``yizhan``, ``yizhan-station``, ``yizhan-hub``.

* ``yizhan`` — a virtualenv in ``/opt/yizhan/venv`` (Debian's ``/usr/bin/python3``) holding the
  project installed as a wheel (its entry points, the driver registry, and its package data: the
  ``config`` defaults, broker files, templates, catalogs) and what a station and a hub both need;
  ``/usr/bin/yizhan``; README.
* ``yizhan-station`` — the kiosk's own dependencies (``yizhan[kiosk]``: Kivy, OpenCV, pyscard …) in
  ``/opt/yizhan/lib/station``, found through a ``.pth`` in the venv; the kiosk's units (cage session,
  nightly backup), udev rules, sysusers and tmpfiles entries, the annotated settings file, the kiosk
  sysctl, and the maintainer scripts.
* ``yizhan-hub`` — the hub's own dependencies (``yizhan[hub,postgres]``) in ``/opt/yizhan/lib/hub``;
  ``yizhan-hub@.service``, the web workbench and SQLite backup units, sysusers, tmpfiles,
  ``/etc/yizhan/hub.env``, and the broker set-up (``/usr/sbin/yizhan-broker``, the Mosquitto
  configuration in ``/usr/share/yizhan/mosquitto``).

Every dependency comes from the hashed locks (``lock/kiosk.txt``, ``lock/hub.txt``; ``make lock``).
Each package carries ``/usr/share/doc/<package>/copyright``, generated from the installed metadata
of what it bundles; a component with an unknown or non-free licence stops the build.
The virtualenv is built at its staging path and its scripts rewritten to ``/opt/yizhan/venv`` (as
dh-virtualenv does); the ``.pth`` lines are relative, so the same files also run from a throwaway
install root. ``--venv bare`` installs the project's wheel but none of its dependencies (a quick build
for the tests of contents and maintainer scripts); the packages to ship use ``--venv full``.

    python3 deploy/debian/build.py --out dist [--version 0.1.0] [--venv full|bare]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import licences  # noqa: E402  (siblings: this directory is sys.path[0] when run as a script)
import locks  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: What the wheel is built from (a copy of these, so the checkout gets no build/ or egg-info).
SOURCE_DIRS = ("app", "drivers", "hub", "kiosk", "screens", "sync", "config")
SOURCE_FILES = ("pyproject.toml", "README.md")
SYSTEM_PYTHON = "/usr/bin/python3"
MAINTAINER = "Yizhan maintainers <yizhan@localhost>"
VENV = "opt/yizhan/venv"
#: Where each package's own dependencies go (on sys.path through a .pth file in the venv).
LIBS = {"yizhan-station": "opt/yizhan/lib/station", "yizhan-hub": "opt/yizhan/lib/hub"}
LOCKS = {"yizhan-station": ROOT / "lock/kiosk.txt", "yizhan-hub": ROOT / "lock/hub.txt"}
#: Debian packages the wheels need at run time: the kiosk's (GL, PC/SC, touch) only on a station.
CORE_DEPENDS = ("python3 (>= 3.11)", "python3 (<< 3.12)", "python3-venv", "ca-certificates")
STATION_DEPENDS = ("libpcsclite1", "libgl1", "libegl1", "libgl1-mesa-dri", "libmtdev1", "cage", "xwayland", "pcscd",
                   "systemd", "udev")
HUB_DEPENDS = ("systemd",)
HUB_RECOMMENDS = ("mosquitto", "mosquitto-clients", "postgresql-client")
STATION_UNITS = ("yizhan-kiosk.service", "yizhan-backup.service", "yizhan-backup.timer")
HUB_UNITS = ("yizhan-hub@.service", "yizhan-hub-web.service", "yizhan-hub-backup.service", "yizhan-hub-backup.timer")


class BuildError(Exception):
    """The packages cannot be built; the message says what is missing."""


def project() -> dict:
    """``[project]`` of pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def schema_version() -> int:
    """The journal schema this source tree writes (read without importing the application)."""
    text = (ROOT / "kiosk" / "journal.py").read_text(encoding="utf-8")
    listed = re.search(r"^MIGRATIONS: list\[str\] = \[(.*?)\]", text, re.M | re.S)
    if not listed:
        raise BuildError("kiosk/journal.py: MIGRATIONS list not found")
    return len([m for m in listed.group(1).split(",") if m.strip()])


def _install(src: Path, dst: Path, mode: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    dst.chmod(mode)


def _run(cmd: list[str], **kw) -> None:
    try:
        subprocess.run(cmd, check=True, **kw)
    except FileNotFoundError as exc:
        raise BuildError(f"{cmd[0]} is not installed: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{' '.join(cmd[:4])}… failed with exit code {exc.returncode}") from exc


def git_describe() -> str:
    """``git describe`` of the checkout, or ``unknown`` outside one."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out or "unknown"


def python_dir() -> str:
    """``python3.11``: the venv's ``lib/`` directory name for Debian's Python."""
    out = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def builder(work: Path) -> Path:
    """A virtualenv with pip in ``work/builder`` (Debian's Python), which builds and installs wheels."""
    venv = work / "builder"
    if not (venv / "bin/python").exists():
        if not Path(SYSTEM_PYTHON).exists():
            raise BuildError(f"{SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv")
        _run([SYSTEM_PYTHON, "-m", "venv", str(venv)])
    return venv / "bin/python"


def build_wheel(work: Path) -> Path:
    """The project's wheel, built from a copy of the source with ``kiosk/build-info.txt`` (git describe)."""
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    for d in SOURCE_DIRS:
        shutil.copytree(ROOT / d, src / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "station.toml",
                                                                         "*.egg-info", "secrets.toml"))
    for f in SOURCE_FILES:
        shutil.copyfile(ROOT / f, src / f)
    (src / "kiosk/build-info.txt").write_text(git_describe() + "\n")
    out = work / "wheel"
    _run([str(builder(work)), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
         stdout=subprocess.DEVNULL)
    return next(out.glob("yizhan-*.whl"))


def _requirements(work: Path, name: str, blocks: list[str]) -> Path:
    path = work / f"{name}.txt"
    path.write_text("".join(b + "\n" for b in blocks))
    return path


def _relocate(stage: Path, venv: Path) -> None:
    """Rewrite the staging prefix out of the venv's scripts and symlinks (as dh-virtualenv does)."""
    prefix = str(stage)
    for path in list((venv / "bin").iterdir()) + [venv / "pyvenv.cfg"]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if prefix.encode() in data:
                path.write_bytes(data.replace(prefix.encode(), b""))
    for path in venv.rglob("*"):
        if path.is_symlink() and str(Path(os.readlink(path))).startswith(prefix):
            target = os.readlink(path)[len(prefix):]
            path.unlink()
            path.symlink_to(target)


def _compile(stage: Path, *dirs: Path) -> None:
    """Byte-code compiled with the installed paths, so tracebacks name /opt/yizhan/…."""
    _run([SYSTEM_PYTHON, "-m", "compileall", "-q", "-j", "0", "-s", str(stage), "-p", "/", *map(str, dirs)],
         stdout=subprocess.DEVNULL)


def _copyright(stage: Path, package: str, sites: list[Path]) -> None:
    rows = licences.components(sites)
    try:
        licences.check(rows)
    except licences.LicenceError as exc:
        raise BuildError(f"{package}: {exc}") from exc
    doc = stage / "usr/share/doc" / package / "copyright"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(licences.copyright_file(package, rows), encoding="utf-8")


def build_venv(stage: Path, wheel: Path, common: list[str], mode: str, work: Path) -> None:
    """``/opt/yizhan/venv`` under ``stage``: the project's wheel, and in ``full`` mode the common locked deps."""
    venv = stage / VENV
    _run([SYSTEM_PYTHON, "-m", "venv", str(venv)])
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-compile", "--no-deps"]
    if mode == "full":
        _run([*pip, "--require-hashes", "-r", str(_requirements(work, "common", common))])
    _run([*pip, str(wheel)])
    _run([str(venv / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "pip", "setuptools"])
    _relocate(stage, venv)
    site = venv / "lib" / python_dir() / "site-packages"
    _compile(stage, site)
    _copyright(stage, "yizhan", [site])


def build_libs(stage: Path, package: str, blocks: list[str], mode: str, work: Path) -> None:
    """A package's own dependencies in ``/opt/yizhan/lib/<role>``, on the venv's path through a ``.pth``."""
    lib = stage / LIBS[package]
    lib.mkdir(parents=True)
    if mode == "full":
        _run([str(builder(work)), "-m", "pip", "install", "-q", "--no-compile", "--no-deps", "--require-hashes",
              "--target", str(lib), "-r", str(_requirements(work, package, blocks))])
        shutil.rmtree(lib / "bin", ignore_errors=True)         # console scripts of libraries: not used
        _compile(stage, lib)
    site = Path("/") / VENV / "lib" / python_dir() / "site-packages"
    pth = stage / site.relative_to("/") / f"{package}.pth"
    pth.parent.mkdir(parents=True)
    # Relative to site-packages: the same tree runs from /opt and from a throwaway install root.
    pth.write_text(os.path.relpath(Path("/") / LIBS[package], site) + "\n")
    _copyright(stage, package, [lib])


def _control(stage: Path, name: str, version: str, depends: list[str], description: str,
             recommends: tuple[str, ...] = ()) -> None:
    size_kb = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    lines = [f"Package: {name}", f"Version: {version}", "Architecture: amd64", f"Maintainer: {MAINTAINER}",
             f"Installed-Size: {size_kb}", f"Depends: {', '.join(depends)}"]
    if recommends:
        lines.append(f"Recommends: {', '.join(recommends)}")
    lines += ["Section: misc", "Priority: optional", f"Description: {description}"]
    (stage / "DEBIAN").mkdir(exist_ok=True)
    (stage / "DEBIAN/control").write_text("\n".join(lines) + "\n")


def _scripts(stage: Path, package: str) -> None:
    module, _, function = project()["scripts"]["yizhan"].partition(":")
    for script in ("preinst", "postinst", "prerm", "postrm"):
        src = DEPLOY / "debian" / f"{package}.{script}"
        if src.exists():
            text = (src.read_text().replace("@SCHEMA_VERSION@", str(schema_version()))
                    .replace("@CLI_MODULE@", module).replace("@CLI_FUNCTION@", function))
            (stage / "DEBIAN" / script).write_text(text)
            (stage / "DEBIAN" / script).chmod(0o755)


def stage_core(stage: Path, version: str, venv: str, wheel: Path, common: list[str], work: Path) -> None:
    """The ``yizhan`` package: the virtualenv with the project's wheel."""
    app = stage / "opt/yizhan/app"
    app.mkdir(parents=True)
    shutil.copyfile(ROOT / "README.md", app / "README.md")
    build_venv(stage, wheel, common, venv, work)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/yizhan").symlink_to("/opt/yizhan/venv/bin/yizhan")
    _control(stage, "yizhan", version, list(CORE_DEPENDS),
             "Yizhan citizen-station kiosk and district hub (the application in its virtualenv)")


def station_settings() -> str:
    """``config/example.toml`` as the installed ``/etc/yizhan/station.toml``: secrets through the credential."""
    text = (ROOT / "config/example.toml").read_text(encoding="utf-8")
    return text.replace("# Annotated station file. Copy it to config/station.toml (or point YIZHAN_CONFIG at it) and edit.",
                        "# /etc/yizhan/station.toml, installed from Yizhan's annotated example: edit it for this station.\n"
                        "# Secrets go into /etc/credstore/yizhan-station.toml (mode 0600 root), which systemd hands to\n"
                        "# the kiosk as a credential.")


def stage_station(stage: Path, version: str, venv: str, blocks: list[str], work: Path) -> None:
    """The ``yizhan-station`` package."""
    build_libs(stage, "yizhan-station", blocks, venv, work)
    for unit in STATION_UNITS:
        _install(DEPLOY / "systemd" / unit, stage / "usr/lib/systemd/system" / unit, 0o644)
    _install(DEPLOY / "udev/70-yizhan.rules", stage / "usr/lib/udev/rules.d/70-yizhan.rules", 0o644)
    _install(DEPLOY / "sysusers/yizhan.conf", stage / "usr/lib/sysusers.d/yizhan.conf", 0o644)
    _install(DEPLOY / "tmpfiles/yizhan.conf", stage / "usr/lib/tmpfiles.d/yizhan.conf", 0o644)
    _install(DEPLOY / "sysctl/60-yizhan-kiosk.conf", stage / "usr/lib/sysctl.d/60-yizhan-kiosk.conf", 0o644)
    _install(DEPLOY / "cage/yizhan-session", stage / "usr/libexec/yizhan/yizhan-session", 0o755)
    example = stage / "usr/share/yizhan/station.toml.example"
    example.parent.mkdir(parents=True, exist_ok=True)
    example.write_text(station_settings(), encoding="utf-8")
    _control(stage, "yizhan-station", version, [f"yizhan (= {version})", *STATION_DEPENDS],
             "Yizhan kiosk station: cage kiosk session, udev names, backups")
    _scripts(stage, "yizhan-station")


def stage_hub(stage: Path, version: str, venv: str, blocks: list[str], work: Path) -> None:
    """The ``yizhan-hub`` package."""
    build_libs(stage, "yizhan-hub", blocks, venv, work)
    _install(ROOT / "config/mosquitto/yizhan-broker", stage / "usr/sbin/yizhan-broker", 0o755)
    _install(ROOT / "config/mosquitto/mosquitto.conf", stage / "usr/share/yizhan/mosquitto/yizhan.conf", 0o644)
    for unit in HUB_UNITS:
        _install(DEPLOY / "systemd" / unit, stage / "usr/lib/systemd/system" / unit, 0o644)
    _install(DEPLOY / "sysusers/yizhan-hub.conf", stage / "usr/lib/sysusers.d/yizhan-hub.conf", 0o644)
    _install(DEPLOY / "tmpfiles/yizhan-hub.conf", stage / "usr/lib/tmpfiles.d/yizhan-hub.conf", 0o644)
    _install(DEPLOY / "debian/hub.env.example", stage / "usr/share/yizhan/hub.env.example", 0o644)
    _control(stage, "yizhan-hub", version, [f"yizhan (= {version})", *HUB_DEPENDS],
             "Yizhan district hub: hub processes, web workbench, SQLite backups", HUB_RECOMMENDS)
    _scripts(stage, "yizhan-hub")


def build(out: Path, version: str, venv: str = "full", work: Path | None = None,
          packages: tuple[str, ...] = ("yizhan", "yizhan-station", "yizhan-hub")) -> list[Path]:
    """Stage and pack the packages; returns the ``.deb`` paths.

    Raises:
        BuildError: a tool or file is missing, or a step failed.
    """
    work = work or ROOT / "build/deb"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    try:
        common, kiosk_only, hub_only = locks.split(LOCKS["yizhan-station"], LOCKS["yizhan-hub"])
    except (OSError, ValueError) as exc:
        raise BuildError(f"the locks: {exc}") from exc
    wheel = build_wheel(work) if "yizhan" in packages else Path()
    stages = {"yizhan": lambda s: stage_core(s, version, venv, wheel, common, work),
              "yizhan-station": lambda s: stage_station(s, version, venv, kiosk_only, work),
              "yizhan-hub": lambda s: stage_hub(s, version, venv, hub_only, work)}
    debs = []
    for name in packages:
        stage = work / "stage" / name
        stage.mkdir(parents=True)
        stages[name](stage)
        deb = out / f"{name}_{version}_amd64.deb"
        compress = ["-Zgzip", "-z1"] if venv == "bare" else ["-Zzstd"]      # dpkg >= 1.21.18 (Debian 12)
        _run(["dpkg-deb", "--root-owner-group", *compress, "--build", str(stage), str(deb)], stdout=subprocess.DEVNULL)
        debs.append(deb)
    return debs


def main(argv: list[str] | None = None) -> int:
    """``make deb``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "dist"), help="where the .deb files go (default dist/)")
    parser.add_argument("--version", default=project()["version"], help="package version (default: pyproject's)")
    parser.add_argument("--venv", choices=("full", "bare"), default="full",
                        help="bare: no dependencies in the virtualenv (for tests of contents and scripts)")
    parser.add_argument("--work", help="staging directory (default build/deb)")
    parser.add_argument("--packages", default="yizhan,yizhan-station,yizhan-hub", help="comma-separated subset")
    args = parser.parse_args(argv)
    try:
        debs = build(Path(args.out), args.version, args.venv, Path(args.work) if args.work else None,
                     tuple(args.packages.split(",")))
    except BuildError as exc:
        print(f"make deb: {exc}", file=sys.stderr)
        return 1
    for deb in debs:
        print(f"{deb} ({deb.stat().st_size / 1024 ** 2:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
