"""Issue 11, item 13: a keyboard plugged into the public kiosk opens nothing. Before, F1 opened
Kivy's settings panel (which can change the window, the input and the logging configuration).

The kiosk App runs in its own process (offscreen window); every function key, Menu, Esc and the
usual shortcuts are dispatched through the Window as SDL delivers them; afterwards the window
holds only the kiosk's shell and the kiosk is still running.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
from kiosk.settings import load_settings
from kiosk.context import build_context
from app.kiosk_app import build_app, configure_kivy, install_stop_signals

settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": sys.argv[1]})
ctx = build_context(settings)
configure_kivy(ctx, windowed=True)
app = build_app(ctx)
install_stop_signals(app)
from kivy.clock import Clock
from kivy.core.window import Window

KEYS = [(k, 0, []) for k in range(282, 294)] + [(319, 0, []), (27, 41, []), (9, 43, ["alt"]),
        (285, 0, ["alt"]), (113, 20, ["ctrl"]), (13, 40, ["alt"]), (292, 0, ["shift"])]
result = {"opened": {}}

def press(_dt):
    for key, scancode, mods in KEYS:
        Window.dispatch("on_key_down", key, scancode, None, mods)
        Window.dispatch("on_keyboard", key, scancode, None, mods)
        Window.dispatch("on_key_up", key, scancode)
        extra = [type(w).__name__ for w in Window.children if w is not app.root]
        if extra:
            result["opened"][f"{'+'.join(mods + [str(key)])}"] = extra
    Clock.schedule_once(check, 0.5)

def check(_dt):
    result["children"] = [type(w).__name__ for w in Window.children]
    result["running"] = app.root is not None and app.root.parent is Window
    print("RESULT " + json.dumps(result), flush=True)
    app.stop()

Clock.schedule_once(press, 1.0)
app.run()
ctx.close()
"""


@pytest.mark.slow
def test_no_key_opens_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data")], capture_output=True, text=True,
                         timeout=120, env=env)
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, res.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    assert result["opened"] == {}, result
    assert result["children"] == ["Shell"], result
    assert result["running"]
