"""Build Yizhan's Debian packages with ``dpkg-deb`` (``make deb``): ``yizhan``, ``yizhan-station``, ``yizhan-hub``.

* ``yizhan`` — the application in ``/opt/yizhan/app`` (the packages, ``config/``, README) and a
  virtualenv in ``/opt/yizhan/venv`` holding every dependency from ``pyproject.toml``, built with
  Debian's ``/usr/bin/python3`` so the kiosk user can run it; ``/usr/bin/yizhan``.
* ``yizhan-station`` — the kiosk's units (cage session, nightly backup), udev rules, the sysusers
  and tmpfiles entries, the annotated settings file, the kiosk sysctl, and the maintainer scripts.
* ``yizhan-hub`` — ``yizhan-hub@.service``, the web workbench and SQLite backup units, sysusers,
  tmpfiles and ``/etc/yizhan/hub.env``.

The virtualenv is built at its staging path and its scripts rewritten to ``/opt/yizhan/venv`` (as
dh-virtualenv does); the application is found through a relative ``.pth``, so the same files also
run from a throwaway install root. ``--venv bare`` skips the dependencies (a seconds-long build for
the tests of contents and maintainer scripts); the packages to ship use ``--venv full``.

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

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: What goes into /opt/yizhan/app (the packages the console script and the .pth need, and data).
APP_DIRS = ("app", "drivers", "hub", "kiosk", "screens", "sync", "config")
APP_FILES = ("pyproject.toml", "README.md")
SYSTEM_PYTHON = "/usr/bin/python3"
MAINTAINER = "Yizhan maintainers <yizhan@localhost>"
#: Debian packages the virtualenv's wheels need at run time.
CORE_DEPENDS = ("python3 (>= 3.11)", "python3 (<< 3.12)", "python3-venv", "libpcsclite1", "libgl1", "libegl1",
                "libgl1-mesa-dri", "libmtdev1", "ca-certificates")
STATION_DEPENDS = ("cage", "xwayland", "pcscd", "systemd", "udev")
HUB_DEPENDS = ("systemd",)
HUB_RECOMMENDS = ("mosquitto", "postgresql-client")
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


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "station.toml", "*.egg-info"))


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


def build_venv(stage: Path, mode: str) -> None:
    """Create ``/opt/yizhan/venv`` under ``stage``; ``full`` installs every dependency."""
    venv = stage / "opt/yizhan/venv"
    if not Path(SYSTEM_PYTHON).exists():
        raise BuildError(f"{SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv")
    _run([SYSTEM_PYTHON, "-m", "venv", *(["--without-pip"] if mode == "bare" else []), str(venv)])
    if mode == "full":
        meta = project()
        deps = list(meta["dependencies"]) + list(meta.get("optional-dependencies", {}).get("postgres", []))
        _run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-compile", "--upgrade", "pip"])
        _run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-compile", *deps])
        _run([str(venv / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "pip"])
    site = next((venv / "lib").glob("python3.*/site-packages"))
    # Relative to site-packages: the same tree runs from /opt and from a throwaway install root.
    (site / "yizhan-app.pth").write_text(os.path.relpath(stage / "opt/yizhan/app", site) + "\n")
    module, _, function = project()["scripts"]["yizhan"].partition(":")
    script = venv / "bin/yizhan"
    script.write_text(f"#!/opt/yizhan/venv/bin/python\nimport sys\nfrom {module} import {function}\n"
                      f"sys.exit({function}())\n")
    script.chmod(0o755)
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
    # Byte-code compiled with the installed paths, so tracebacks name /opt/yizhan/….
    _run([str(venv / "bin/python"), "-m", "compileall", "-q", "-j", "0", "-s", prefix, "-p", "/",
          str(stage / "opt/yizhan/app"), str(site)], stdout=subprocess.DEVNULL)


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


def stage_core(stage: Path, version: str, venv: str) -> None:
    """The ``yizhan`` package: application and virtualenv."""
    app = stage / "opt/yizhan/app"
    app.mkdir(parents=True)
    for d in APP_DIRS:
        if (ROOT / d).is_dir():
            _copy_tree(ROOT / d, app / d)
    for f in APP_FILES:
        shutil.copyfile(ROOT / f, app / f)
    build_venv(stage, venv)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/yizhan").symlink_to("/opt/yizhan/venv/bin/yizhan")
    _control(stage, "yizhan", version, list(CORE_DEPENDS),
             "Yizhan citizen-station kiosk and district hub (application and its virtualenv)")


def station_settings() -> str:
    """``config/example.toml`` as the installed ``/etc/yizhan/station.toml``: secrets through the credential."""
    text = (ROOT / "config/example.toml").read_text(encoding="utf-8")
    return text.replace("# Annotated station file. Copy it to config/station.toml (or point YIZHAN_CONFIG at it) and edit.",
                        "# /etc/yizhan/station.toml, installed from Yizhan's annotated example: edit it for this station.\n"
                        "# Secrets go into /etc/credstore/yizhan-station.toml (mode 0600 root), which systemd hands to\n"
                        "# the kiosk as a credential.")


def stage_station(stage: Path, version: str) -> None:
    """The ``yizhan-station`` package."""
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


def stage_hub(stage: Path, version: str) -> None:
    """The ``yizhan-hub`` package."""
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
    stages = {"yizhan": lambda s: stage_core(s, version, venv), "yizhan-station": lambda s: stage_station(s, version),
              "yizhan-hub": lambda s: stage_hub(s, version)}
    debs = []
    for name in packages:
        stage = work / name
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
