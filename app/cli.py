"""The ``yizhan`` command: ``kiosk``, ``sim``, ``probe``, ``sync``, ``hub``, ``bench``.

Each group dispatches to the module that owns the work; every module exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported lazily so that a field
tool like ``yizhan probe bp`` does not load Kivy.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from kiosk.version import describe

#: group -> name -> (module, one-line help)
COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "sim": {
        "idcard": ("drivers.sim.idcard", "resident ID card reader (SAM protocol) on a pty"),
        "pcsc": ("drivers.sim.pcsc", "virtual contactless card for vsmartcard's vpcd"),
        "qr": ("app.sim_qr", "QR frame source: generated images or a video file"),
        "bp": ("drivers.sim.bp", "blood-pressure monitor on a pty"),
        "glucose": ("drivers.sim.glucose", "glucometer on a pty"),
    },
    "probe": {
        "idcard": ("app.probe.idcard", "read one ID card and print JSON"),
        "pcsc": ("app.probe.pcsc", "read one contactless card UID and print JSON"),
        "qr": ("app.probe.qr", "decode one QR token and print JSON"),
        "bp": ("app.probe.bp", "take one blood-pressure reading and print JSON"),
        "glucose": ("app.probe.glucose", "take one glucose reading and print JSON"),
    },
    "bench": {
        "startup": ("app.bench.startup", "kiosk cold start and idle RSS against a minimal Kivy app"),
        "identify": ("app.bench.identify", "card placed to greeting drawn, against wire time"),
        "personkey": ("app.bench.personkey", "one person-key derivation, and a stolen key's search cost"),
        "measure": ("app.bench.measure", "device's last byte to result screen drawn, per driver"),
        "sync": ("app.bench.sync", "outbox drain through Mosquitto into the hub, against raw QoS 1"),
        "growth": ("app.bench.growth", "hub report and kiosk lookups over 10^4..10^6 records of history"),
        "fill": ("app.bench.fill", "journal N realistic synthetic records"),
        "web": ("app.bench.web", "workbench page times over 10^6 hub records, kiosk alert to open page"),
        "voice": ("app.bench.voice", "screen shown to audio start (cached, synthesised), synthesis RTF, cache size"),
    },
}
#: Files the kiosk, the hub and the tools create are never readable by other users (0640 at most;
#: the journal and secrets are 0600 whatever the umask).
UMASK = 0o027

#: Top-level commands that are one module each.
SINGLE: dict[str, tuple[str, str]] = {
    "kiosk": ("app.main", "run the kiosk (add --demo for simulated devices)"),
    "sync": ("app.sync_cli", "run the outbox publisher alone"),
    "hub": ("hub.cli", "the district hub: run, stations, publish, report"),
    "doctor": ("app.doctor_cli", "check this station: settings, secrets, devices, broker, disk, journal, outbox"),
    "backup": ("app.backup_cli", "online backup of the journal to a directory, with checksum and manifest"),
    "restore": ("app.backup_cli", "restore a journal backup into an empty data directory"),
    "seal-secrets": ("app.seal_cli", "seal the station's secrets to its TPM (systemd-creds); erase the plaintext"),
    "migrate": ("app.migrate_cli", "bring the journal's schema up to date (backs it up first); for package upgrades"),
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class _Version(argparse.Action):
    """``--version``: the package version and git describe (computed only when asked)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the package version and the build (git describe), then exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(describe())
        parser.exit()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only the module of the command named in ``argv`` is imported (so a
    kiosk start or a probe does not load OpenCV, pyscard and paho for the other commands); every
    available command is still listed in ``--help``."""
    argv = sys.argv[1:] if argv is None else argv
    words = [a for a in argv if not a.startswith("-")][:2]
    parser = argparse.ArgumentParser(prog="yizhan", description="Yizhan citizen-station kiosk and hub")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in SINGLE.items():
        if _available(module):
            p = sub.add_parser(name, help=help_, description=help_)
            if words[:1] == [name]:
                importlib.import_module(module).add_arguments(p)
            p.set_defaults(_module=module)
    for group, commands in COMMANDS.items():
        present = {n: c for n, c in commands.items() if _available(c[0])}
        if not present:
            continue
        gp = sub.add_parser(group, help=f"{group} commands: {', '.join(present)}")
        gsub = gp.add_subparsers(dest="target", required=True, metavar="TARGET")
        for name, (module, help_) in present.items():
            p = gsub.add_parser(name, help=help_, description=help_)
            if words[:2] == [group, name]:
                importlib.import_module(module).add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``yizhan`` console script (runs under :data:`UMASK` at least; the caller's
    umask is restored on return, for callers that run a command in their own process)."""
    caller = os.umask(0)
    os.umask(caller | UMASK)               # never looser than the caller's umask
    try:
        args = build_parser(argv).parse_args(argv)
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(caller)


if __name__ == "__main__":
    sys.exit(main())
