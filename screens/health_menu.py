"""Choose a test: blood pressure or glucose."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.i18n import N_
from screens.base import KioskScreen

NOT_CONNECTED = N_("Not connected — please ask the staff")


class HealthMenuScreen(KioskScreen):
    """Two big tiles; each says when its device is not connected."""

    personal = True
    bp_hint = StringProperty("")
    glucose_hint = StringProperty("")

    def enter(self, **_params) -> None:
        devices = self.ctx.services.get("devices")
        bp_ok = devices is None or devices.available("bp")
        glucose_ok = devices is None or devices.available("glucose")
        self.bp_hint = self._("About one minute") if bp_ok else self._(NOT_CONNECTED)
        self.glucose_hint = self._("Measure on the meter first") if glucose_ok else self._(NOT_CONNECTED)

    def choose(self, kind: str) -> None:
        """A tile was tapped."""
        if kind == "bp":
            self.nav.go("measure", kind="bp")
        else:
            self.nav.go("glucose_context")


Builder.load_file(str(Path(__file__).with_name("health_menu.kv")))
