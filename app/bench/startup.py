"""``yizhan bench startup``: the kiosk's cold start to the first drawn frame of the home screen and its
idle RSS, next to a minimal one-label Kivy app measured the same way in the same run.

Each run spawns a fresh process (offscreen: DISPLAY unset), takes the time from spawn to the line the
app prints on its first buffer swap, waits for it to settle, reads VmRSS from /proc, and stops it by PID.

The kiosk starts as a station runs it: from byte-compiled modules (the Debian package ships them
compiled, as pip does Kivy's). The project's packages are compiled first, and the children run
without ``PYTHONDONTWRITEBYTECODE``: with it and no cache, every start compiled some 120 project
modules from source (about 0.2 s of the first frame) that the one-label app never pays.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The project's packages (byte-compiled before measuring, as installed).
PACKAGES = ("app", "drivers", "hub", "kiosk", "screens", "sync")
ROOT = Path(__file__).resolve().parents[2]

MINIMAL_APP = r"""
import os, sys, time
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
from kivy.config import Config
Config.set("graphics", "width", "1280")
Config.set("graphics", "height", "800")
from kivy.app import App
from kivy.core.window import Window
from kivy.uix.label import Label

class Minimal(App):
    def build(self):
        return Label(text="hello")
    def on_start(self):
        Window.bind(on_flip=self.flip)
    def flip(self, *args):
        Window.unbind(on_flip=self.flip)
        print(f"FIRST_FRAME {time.time():.6f}", flush=True)

Minimal().run()
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench startup``."""
    parser.add_argument("--runs", type=int, default=5, help="runs of each app (median reported)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading RSS")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _measure(cmd: list[str], env: dict[str, str], settle: float, timeout: float = 60.0) -> tuple[float, float]:
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = start + timeout
        while True:
            line = proc.stdout.readline()
            if line.startswith("FIRST_FRAME"):
                first = float(line.split()[1]) - start
                break
            if not line and proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{' '.join(cmd[:4])} exited or hung before drawing a frame")
        time.sleep(settle)
        return first, _rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args: argparse.Namespace) -> int:
    """Measure and print one JSON object."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "PYTHONDONTWRITEBYTECODE")}
    env.setdefault("KIVY_NO_CONSOLELOG", "1")
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)
    kiosk_first, kiosk_rss, base_first, base_rss = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-") as tmp:
        env["KIVY_HOME"] = os.path.join(tmp, "kivy")
        # Demo mode (simulated devices, all services) but without the demo's own broker and hub
        # processes, which a real station does not start.
        kiosk_cmd = [sys.executable, "-m", "app.cli", "kiosk", "--demo", "--no-hub", "--windowed", "--data-dir",
                     os.path.join(tmp, "data"), "--first-frame-marker"]
        minimal_path = os.path.join(tmp, "minimal_app.py")   # Kivy's App needs a source file, not -c
        with open(minimal_path, "w", encoding="utf-8") as fh:
            fh.write(MINIMAL_APP)
        minimal_cmd = [sys.executable, minimal_path]
        for _ in range(args.runs):          # interleaved so drift affects both alike
            f, r = _measure(minimal_cmd, env, args.settle)
            base_first.append(f)
            base_rss.append(r)
            f, r = _measure(kiosk_cmd, env, args.settle)
            kiosk_first.append(f)
            kiosk_rss.append(r)
    result = {
        "runs": args.runs,
        "kiosk_first_frame_s": round(statistics.median(kiosk_first), 3),
        "kiosk_idle_rss_mb": round(statistics.median(kiosk_rss), 1),
        "minimal_first_frame_s": round(statistics.median(base_first), 3),
        "minimal_idle_rss_mb": round(statistics.median(base_rss), 1),
    }
    result["startup_ratio"] = round(result["kiosk_first_frame_s"] / result["minimal_first_frame_s"], 2)
    result["rss_ratio"] = round(result["kiosk_idle_rss_mb"] / result["minimal_idle_rss_mb"], 2)
    result["targets"] = {"startup_ratio_max": 2.5, "kiosk_idle_rss_mb_max": 220}
    result["targets_met"] = result["startup_ratio"] <= 2.5 and result["kiosk_idle_rss_mb"] <= 220
    print(json.dumps(result))
    return 0
