"""``yizhan probe glucose``: take one reading from a glucometer and print ONE JSON object.

``--list`` prints the driver names. Otherwise the probe opens ``--port`` with ``--driver``,
fetches the newest reading after ``--since`` and prints value (mmol/L), the meter's own value
and unit, the range flag, the screening category for ``--context``, device info and timings.
Output and exit codes follow the form every probe shares (``app.probe``): 0 success, 1 device
error (with ``user_key``, ``detail`` and the Chinese ``message_zh``), 2 usage (a bad number such as
``--timeout nan`` included).
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime

from app.probe import ProbeUsageError, fail, seconds, succeed, whole
from drivers import UnknownDriver, driver_names, load_driver
from drivers.errors import DriverError
from drivers.readings import MealContext
from kiosk.health import assess_glucose
from kiosk.i18n import gettext

CONTEXTS = ("fasting", "after_meal_2h", "random")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan probe glucose``."""
    parser.add_argument("--list", action="store_true", help="print the glucometer driver names and exit")
    parser.add_argument("--driver", help="driver name (see --list)")
    parser.add_argument("--port", help="pyserial URL: /dev/serial/by-id/..., hwgrep://VID:PID, "
                                       "socket://host:port or a pty path")
    parser.add_argument("--baud", help="baud rate (default: the model's)")
    parser.add_argument("--since", help="ISO time; only a reading taken after it counts (default: any)")
    parser.add_argument("--context", choices=CONTEXTS, default="random",
                        help="meal context for the screening category (default random)")
    parser.add_argument("--timeout", default="30",
                        help="seconds to wait for a new reading on the meter (default 30)")


def _usage(message: str) -> int:
    return fail("glucose", 2, "UsageError", message)


def run(args: argparse.Namespace) -> int:
    """Probe once; see the module docstring for output and exit codes."""
    if args.list:
        for name in driver_names("glucose"):
            print(name)
        return 0
    if not args.driver or not args.port:
        return _usage("--driver and --port are required (or --list)")
    try:
        cls = load_driver("glucose", args.driver)
    except UnknownDriver as exc:
        return _usage(str(exc))
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            return _usage(f"--since is not an ISO date-time: {args.since!r}")
    try:
        timeout = seconds(args.timeout)
        baud = whole(args.baud, "--baud", 300, 4_000_000)
    except ProbeUsageError as exc:
        return _usage(str(exc))

    started = time.monotonic()
    device = cls(args.port, baudrate=baud, options={"measure_timeout": timeout})
    try:
        device.open()
        opened = time.monotonic()
        try:
            reading = device.measure(since=since)
        finally:
            device.close()
    except DriverError as exc:
        message = exc.user_message or str(exc)
        return fail("glucose", 1, type(exc).__name__, message, driver=args.driver, port=args.port,
                    user_key=exc.user_key, detail=str(exc), message_zh=gettext(message),
                    elapsed_ms=round((time.monotonic() - started) * 1000, 1))
    done = time.monotonic()
    assessment = assess_glucose(reading.mmol_l, MealContext(args.context))
    info = reading.device
    return succeed("glucose", {
        "driver": args.driver, "port": args.port,
        "value": reading.mmol_l, "unit": "mmol/L",
        "device_value": reading.device_value, "device_unit": reading.device_unit.value,
        "range_flag": reading.range_flag.value if reading.range_flag else None,
        "taken_at": reading.taken_at.isoformat() if reading.taken_at else None,
        "record": reading.device_seq,
        "meal": reading.meal.value if reading.meal else None,
        "context": args.context, "category": assessment.category, "level": assessment.level.name,
        "urgent": assessment.urgent, "title": assessment.title, "title_zh": gettext(assessment.title),
        "device": {"driver": info.driver, "model": info.model, "serial": info.serial, "firmware": info.firmware},
        "timings_ms": {"open": round((opened - started) * 1000, 1), "read": round((done - opened) * 1000, 1),
                       "total": round((done - started) * 1000, 1)},
    })
