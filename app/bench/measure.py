"""``yizhan bench measure``: the device's last byte → the result screen drawn, per driver.

Each simulator speaks its real protocol on a pty, paced at the real baud rate; the kiosk's device
manager, driver, assessment, journal write (fsync) and shell (offscreen window) do the rest. "Last
byte" is when the simulator handed its final byte to the pty; "drawn" is the first buffer swap with
the result screen showing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from app.kiosk_app import HeadlessShell, start_device_services
from drivers import driver_names
from drivers.readings import MealContext
from drivers.sim.bp import PUSH_PROTOCOLS, BpSimulator
from drivers.sim.glucose import GlucoseSimulator
from kiosk.context import build_context
from kiosk.session import Person
from kiosk.settings import DeviceSettings, load_settings

#: Every registered blood-pressure and glucose driver (each has a simulator, see drivers/sim/).
BP = tuple(driver_names("bp"))
GLUCOSE = tuple(driver_names("glucose"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench measure``."""
    parser.add_argument("--runs", type=int, default=20, help="measurements per driver (median reported)")
    parser.add_argument("--drivers", default=",".join(BP + GLUCOSE), help="comma-separated driver names")


def _one_driver(name: str, runs: int, tmp: Path) -> dict:
    kind = "bp" if name in BP else "glucose"
    if kind == "bp":
        sim = BpSimulator(name, link=str(tmp / name), step_s=0.02).start()
    else:
        sim = GlucoseSimulator(name, link=str(tmp / name)).start()
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp / f"data-{name}")})
    settings = dataclasses.replace(settings, devices={kind: DeviceSettings(driver=name, port=sim.path)})
    ctx = build_context(settings)
    h = HeadlessShell(ctx)
    start_device_services(ctx, h.post)
    samples = []
    try:
        if not h.pump_until(lambda: ctx.status.get(kind).get("state") == "connected", 10):
            return {"error": "device did not connect"}
        person = Person(role="resident", person_key="cd" * 32, display_name="测*甲", source="bench")
        for i in range(runs):
            h.shell.end_session()
            ctx.session.identify(person)
            h.shell.go("measure", kind=kind, context=MealContext.RANDOM)
            h.frames(2)
            push = kind == "bp" and name in PUSH_PROTOCOLS
            if kind == "bp" and not push:
                sim.queue_reading(120 + i % 30, 78 + i % 10, 70)
            elif kind == "glucose":
                sim.add_reading(mg_dl=90 + i, when=datetime.now() + timedelta(minutes=i))
            h.screen("measure").start()
            if push:       # these monitors send the line when the person's measurement ends, while the kiosk waits
                h.frames(2)
                sim.queue_reading(120 + i % 30, 78 + i % 10, 70)
            if not h.pump_until(lambda: h.shell.manager.current == "result", 30):
                return {"error": f"no result in run {i}: {h.screen('measure').error_text}"}
            switched = len(h.flips)
            h.pump_until(lambda: len(h.flips) > switched, 5)
            samples.append(h.flips[switched] - sim.port.last_write_at)
    finally:
        h.close()
        ctx.close()
        sim.stop()
    return {"median_ms": round(statistics.median(samples) * 1000, 1),
            "p90_ms": round(sorted(samples)[max(0, int(len(samples) * 0.9) - 1)] * 1000, 1),
            "runs": len(samples)}


def run(args: argparse.Namespace) -> int:
    """Measure every driver and print one JSON object."""
    names = [n for n in args.drivers.split(",") if n]
    per_driver = {}
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-") as tmp:
        for name in names:
            per_driver[name] = _one_driver(name, args.runs, Path(tmp))
    medians = [d["median_ms"] for d in per_driver.values() if "median_ms" in d]
    print(json.dumps({"last_byte_to_result_drawn": per_driver, "target_median_ms": 50,
                      "target_met": bool(medians) and max(medians) <= 50}))
    return 0
