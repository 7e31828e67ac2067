"""``yizhan kiosk``: run the kiosk, its screen tour, or check its configuration."""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import importlib
import os
import sys
import tempfile
from pathlib import Path

from app.demo import DemoRig
from app.kiosk_app import FontMissing, run_app
from kiosk.context import build_context
from kiosk.journal import JournalError
from kiosk.journald import setup_journald
from kiosk.logs import setup_logging
from kiosk.settings import (
    DEMO_ADMIN_PIN,
    PIN_MAX_DIGITS,
    PIN_MIN_DIGITS,
    ConfigError,
    hash_pin,
    load_settings,
    pin_format_ok,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan kiosk``."""
    parser.add_argument("--demo", action="store_true",
                        help="demo mode: simulated devices, config/demo.toml, data in ./data")
    parser.add_argument("--config", metavar="FILE", help="station file (default $YIZHAN_CONFIG, else config/station.toml here, else /etc/yizhan/station.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (overrides the config; $YIZHAN_DATA_DIR)")
    parser.add_argument("--check-config", action="store_true", help="validate the settings, print problems, exit")
    parser.add_argument("--tour", metavar="DIR",
                        help="render every screen offscreen into DIR/<screen>.png and exit (in a throwaway data "
                             "directory unless --data-dir is given, so a running kiosk is never disturbed)")
    parser.add_argument("--windowed", action="store_true", help="a window even if the config says fullscreen")
    parser.add_argument("--no-hub", action="store_true",
                        help="demo mode without the local broker and hub (records queue in the journal)")
    parser.add_argument("--hash-pin", action="store_true", help="read an admin PIN and print its hash for secrets.toml")
    parser.add_argument("--first-frame-marker", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run ``yizhan kiosk``. Exit codes: 0 ok, 2 bad settings, 3 data directory or journal, 4 font."""
    if args.hash_pin:
        pin = getpass.getpass("admin PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        if not pin_format_ok(pin):
            print(f"yizhan: the PIN must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits", file=sys.stderr)
            return 2
        print(hash_pin(pin))
        return 0
    if args.tour and not args.data_dir:
        # The tour starts its own simulators and writes its own journal: never in a running kiosk's data.
        with tempfile.TemporaryDirectory(prefix="yizhan-tour-") as scratch:
            args.data_dir = scratch
            return run(args)
    if args.data_dir:
        os.environ["YIZHAN_DATA_DIR"] = args.data_dir
    try:
        settings = load_settings(args.config, demo=args.demo)
    except ConfigError as exc:
        print("yizhan: the settings have problems:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"settings OK: station {settings.station.id} from {settings.source}; data in {settings.data_dir}")
        return 0

    try:
        log_path = setup_logging(settings.data_dir)
    except OSError as exc:
        print(f"yizhan: cannot write to the data directory {settings.data_dir}: {exc.strerror or exc}. "
              "Create it and make it writable for this user, or set --data-dir.", file=sys.stderr)
        return 3
    setup_journald(STATION=settings.station.id)
    rig = hub = None
    if args.demo:
        rig = DemoRig(settings)
        settings = rig.start()
        if not args.tour and not args.no_hub:
            settings, hub = _demo_hub(settings)
    try:
        ctx = build_context(settings)
    except JournalError as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        if rig:
            rig.stop()
        return 3
    if rig:
        ctx.services["demo"] = rig
    if hub:
        ctx.services["demo_hub"] = hub
    try:
        if args.demo and not args.tour:
            print(f"Yizhan demo: data in {settings.data_dir}, log {log_path}; admin PIN {settings_pin_hint(settings)} "
                  f"(hold the clock in the header for {settings.ui.admin_hold_s:g} s)", flush=True)
        if not args.tour and not has_display():
            print(NO_DISPLAY, flush=True)
        return run_app(ctx, tour_dir=Path(args.tour) if args.tour else None, windowed=args.windowed or args.demo,
                       first_frame_marker=args.first_frame_marker)
    except FontMissing as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 4
    finally:
        ctx.close()


NO_DISPLAY = ("Yizhan: no display (DISPLAY and WAYLAND_DISPLAY are not set), so the kiosk draws offscreen and "
              "no window appears. To see it, start it from a desktop session or a terminal with DISPLAY set "
              "(e.g. DISPLAY=:0 make run), or render every screen to PNG files with `make tour`.")


def has_display(env=os.environ) -> bool:
    """True if SDL will open a visible window (an X or Wayland display, or an explicit video driver)."""
    driver = env.get("SDL_VIDEODRIVER", "")
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or driver not in ("", "offscreen", "dummy"))


#: The demo's local broker, hub and workbench. That module pulls in the whole hub (SQLAlchemy, the web
#: workbench), which a station never runs, so it is loaded by name in demo mode only, as the CLI loads
#: its commands.
DEMO_HUB = "app.demo_hub"


def _demo_hub(settings):
    """Demo mode with Mosquitto installed: a local broker and hub, so records can be seen arriving."""
    demo_hub = importlib.import_module(DEMO_HUB)
    try:
        services = demo_hub.start_demo_services(settings.data_dir, settings.station.id)
    except demo_hub.DemoError as exc:
        print(f"yizhan: demo hub not started ({exc}); the kiosk queues records instead", file=sys.stderr)
        return settings, None
    if services is None:
        print("yizhan: Mosquitto is not installed; the kiosk queues records instead", file=sys.stderr)
        return settings, None
    print(f"Yizhan demo hub: broker 127.0.0.1:{services.port}, database {services.db_path} "
          f"(yizhan hub stations --db {services.db_path})", flush=True)
    if services.web:
        accounts = demo_hub.ACCOUNTS
        print(f"Yizhan workbench: {services.web.url}  sign in as {accounts[0][0]} (street office) or "
              f"{accounts[1][0]} (station {settings.station.id}), password {accounts[0][1]}", flush=True)
    sync = dataclasses.replace(settings.sync, enabled=True, host=services.host, port=services.port,
                               document_public_key=services.public_key)
    return dataclasses.replace(settings, sync=sync), services


def settings_pin_hint(settings) -> str:
    """The demo PIN, shown only in demo mode."""
    return DEMO_ADMIN_PIN if settings.demo else "(set by the station)"
