"""Issue 11, item 12: QR tokens at the real kiosk (offscreen shell, camera source reading frames
that the real ``yizhan sim qr`` drew).

Before: a token signed to expire in year 6325 was accepted (no maximum lifetime at verification),
a token was valid at every station, and nothing remembered a used one. Now the lifetime is capped,
a token may be bound to its station, and a one-time token is journaled when used and refused
again, also after a restart.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest

from kiosk.i18n import gettext
from kiosk.identify_sources import IdentitySources
from kiosk.settings import DeviceSettings, load_settings
from kiosk.tokens import token_key

SUBJECT = "ab" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_lifetime_token(key: bytes, station: str) -> str:
    """A token signed with the real key but expiring in year 6325 (as a careless tool would issue)."""
    now = int(__import__("time").time())
    body = b64(json.dumps({"e": 137_500_000_000, "i": now, "k": "r", "s": SUBJECT, "t": station},
                          separators=(",", ":"), sort_keys=True).encode())
    signed = f"YZ1.{body}"
    return f"{signed}.{b64(hmac.new(token_key(key), signed.encode(), hashlib.sha256).digest()[:16])}"


def sim_qr(out, key_hex: str, *extra: str, text: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["YIZHAN_DISTRICT_KEY"] = key_hex
    args = [sys.executable, "-m", "app.cli", "sim", "qr", "--out", str(out), "--frames", "3", "--blank", "1"]
    args += ["--text", text] if text else ["--subject", SUBJECT, *extra]
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr


class Kiosk:
    """A kiosk over one data directory; ``show(folder)`` holds the frames in front of its camera."""

    def __init__(self, data_dir, station: str) -> None:
        from app.kiosk_app import HeadlessShell
        from kiosk.context import build_context

        self.settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data_dir), "YIZHAN_STATION_ID": station})
        self.ctx = build_context(self.settings)
        self.h = HeadlessShell(self.ctx)

    def show(self, folder) -> str:
        """Screen reached, or the identify screen's message, after the camera read ``folder``."""
        h = self.h
        h.shell.home()
        h.screen("home").choose("records")
        devices = {"camera": DeviceSettings(driver="opencv", port=str(folder), options={"fps": 20})}
        sources = IdentitySources(dataclasses.replace(self.settings, devices=devices), self.ctx.services["identity"],
                                  self.ctx.status, post=h.post, on_event=h.shell.on_identity_event)
        sources.start()
        try:
            assert h.pump_until(lambda: h.shell.manager.current != "identify" or bool(h.screen("identify").message),
                                20)
            return h.shell.manager.current if h.shell.manager.current != "identify" else h.screen("identify").message
        finally:
            sources.stop()
            h.shell.home()

    def close(self) -> None:
        self.h.close()
        self.ctx.close()


@pytest.fixture()
def station_a(tmp_path):
    kiosk = Kiosk(tmp_path / "a", "st-a")
    yield kiosk
    kiosk.close()


@pytest.mark.slow
def test_lifetime_binding_and_one_time_use(tmp_path, station_a):
    key = station_a.settings.secrets.district_key
    forever, bound_b, once = tmp_path / "forever", tmp_path / "bound-b", tmp_path / "once"
    sim_qr(forever, key.hex(), text=forged_lifetime_token(key, "st-a"))
    sim_qr(bound_b, key.hex(), "--station", "st-b", "--bound")
    sim_qr(once, key.hex(), "--station", "st-a", "--one-time")

    assert station_a.show(forever) == gettext("This QR code is not valid here. Please use your card or ask the staff.")
    assert station_a.show(bound_b) == gettext(
        "This QR code belongs to another station. Please use it there, or ask the staff.")
    assert station_a.show(once) in ("consent", "greeting")
    assert station_a.show(once) == gettext("This QR code has already been used. Please ask the staff for a new one.")
    assert station_a.ctx.journal.count("token_used") == 1

    data_dir = station_a.settings.data_dir
    station_a.close()                                  # the kiosk restarts: the use is remembered
    again = Kiosk(data_dir.parent / data_dir.name, "st-a")
    station_a.h, station_a.ctx = again.h, again.ctx
    assert again.show(once) == gettext("This QR code has already been used. Please ask the staff for a new one.")
