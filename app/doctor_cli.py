"""``yizhan doctor [--json] [--config FILE] [--demo]``: one command that says whether this station is healthy.

Exit codes: 0 healthy (warnings allowed), 1 a check failed, 2 the settings are invalid.
``--demo`` starts the demo's simulated devices and checks against them.
"""
from __future__ import annotations

import argparse
import json
import os

from app.demo import DemoRig
from app.doctor import FAIL, OK, Check, report, run_checks
from kiosk.settings import ConfigError, load_settings

MARKS = {"ok": "✔", "warn": "!", "fail": "✘", "skip": "-"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan doctor``."""
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--config", metavar="FILE", help="station file (default $YIZHAN_CONFIG, else config/station.toml here, else /etc/yizhan/station.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (overrides the settings)")
    parser.add_argument("--demo", action="store_true", help="check the demo set-up (starts its simulated devices)")


def _print(doc: dict) -> None:
    print(f"Yizhan doctor — station {doc['station']}: {'healthy' if doc['healthy'] else 'NOT healthy'}")
    print(f"  {doc['version']}")
    for c in doc["checks"]:
        print(f"  {MARKS[c['status']]} {c['name']:<16} {c['message']}")


def run(args: argparse.Namespace) -> int:
    """Run every check and print the result."""
    env = dict(os.environ)
    if args.data_dir:
        env["YIZHAN_DATA_DIR"] = args.data_dir
    try:
        settings = load_settings(args.config, demo=args.demo, env=env)
    except ConfigError as exc:
        doc = report("?", [Check("settings", FAIL, "the settings have problems", {"errors": exc.errors})])
        if args.json:
            print(json.dumps(doc, ensure_ascii=False, indent=1))
        else:
            _print(doc)
            print("\n".join(f"      {e}" for e in exc.errors))
        return 2
    rig = None
    if args.demo:
        rig = DemoRig(settings)
        settings = rig.start()
    try:
        checks = [Check("settings", OK, f"settings valid ({settings.source})")] + run_checks(settings, env=env)
    finally:
        if rig:
            rig.stop()
    doc = report(settings.station.id, checks)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        _print(doc)
    return 0 if doc["healthy"] else 1
