"""``yizhan probe bp``: list the BP drivers, or take one reading and print one JSON object.

Output and exit codes follow the form every probe shares (``app.probe``): one JSON object on
stdout; 0 reading printed, 1 the device failed, 2 usage or configuration error (unknown driver,
bad pattern, missing --port, a bad number such as ``--timeout nan``).
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from app.probe import ProbeUsageError, fail, seconds, succeed, whole
from drivers import UnknownDriver, driver_names, load_driver
from drivers.bp_common import DriverConfigError
from drivers.errors import DriverError
from drivers.readings import BloodPressureReading, Unit
from kiosk.health import assess_bp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan probe bp``."""
    parser.add_argument("--list", action="store_true", help="print the BP driver names, one per line")
    parser.add_argument("--driver", help="driver name (see --list)")
    parser.add_argument("--port", help="pyserial URL or device path")
    parser.add_argument("--baud", help="override the driver's baud rate")
    parser.add_argument("--pattern", help="ascii-line: regular expression with named groups sys, dia[, pulse]")
    parser.add_argument("--timeout", default="120",
                        help="seconds to wait for a whole measurement (default 120)")


def reading_json(reading: BloodPressureReading) -> dict[str, Any]:
    """A reading as plain JSON values with units."""
    out: dict[str, Any] = {
        "systolic": {"value": reading.systolic, "unit": reading.unit.value},
        "diastolic": {"value": reading.diastolic, "unit": reading.unit.value},
        "pulse": None if reading.pulse is None else {"value": reading.pulse, "unit": Unit.PER_MIN.value},
        "device": {"driver": reading.device.driver, "model": reading.device.model,
                   "serial": reading.device.serial, "firmware": reading.device.firmware},
        "taken_at": reading.taken_at.isoformat() if reading.taken_at else None,
        "device_seq": reading.device_seq,
        "flags": sorted(reading.flags),
    }
    assessment = assess_bp(reading.systolic, reading.diastolic)
    out["category"] = assessment.category
    out["urgent"] = assessment.urgent
    return out


def _fail(code: int, message: str, exc: BaseException | None = None) -> int:
    if exc is None:
        return fail("bp", code, "UsageError" if code == 2 else "Error", message)
    return fail("bp", code, type(exc).__name__, message, user_key=getattr(exc, "user_key", None), detail=str(exc))


def run(args: argparse.Namespace) -> int:
    """List drivers or take one reading."""
    if args.list:
        for name in driver_names("bp"):
            print(name)
        return 0
    if not args.driver or not args.port:
        return _fail(2, "give --driver NAME and --port URL (or --list)")
    try:
        timeout = seconds(args.timeout)
        baud = whole(args.baud, "--baud", 300, 4_000_000)
    except ProbeUsageError as exc:
        return _fail(2, str(exc))
    try:
        cls = load_driver("bp", args.driver)
    except UnknownDriver as exc:
        return _fail(2, str(exc))
    except ImportError as exc:
        return _fail(2, f"driver {args.driver!r} is not installed: {exc}")
    # The whole-measurement budget, as the option the line monitors read and the class limit the
    # command-driven modules use.
    options: dict[str, Any] = {"wait_s": timeout}
    if args.pattern:
        options["pattern"] = args.pattern
    try:
        device = cls(args.port, baudrate=baud, options=options)
    except DriverConfigError as exc:
        return _fail(2, exc.user_message, exc)
    if hasattr(device, "MEASURE_TIMEOUT"):
        device.MEASURE_TIMEOUT = timeout
    t0 = time.perf_counter()
    try:
        device.open()
        t1 = time.perf_counter()
        try:
            reading = device.measure()
        finally:
            device.close()
        t2 = time.perf_counter()
    except DriverError as exc:
        return _fail(1, exc.user_message, exc)
    out = {"driver": args.driver, "port": args.port, **reading_json(reading)}
    timings = {"open": round((t1 - t0) * 1000, 3), "measure": round((t2 - t1) * 1000, 3)}
    if getattr(device, "last_timing", None):
        last_byte, parsed = device.last_timing
        timings["last_byte_to_parsed"] = round((parsed - last_byte) * 1000, 3)
    out["timings_ms"] = timings
    return succeed("bp", out)
