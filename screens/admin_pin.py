"""Admin PIN pad, reached by holding the clock in the header."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import ColorProperty, StringProperty

from kiosk.settings import PIN_MIN_DIGITS
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton

MAX_DIGITS = 12


class PinKey(KButton):
    """A keypad key: large digit on navy."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("bg_color", theme.RECORDS)
        kwargs.setdefault("font_role", "title")
        kwargs.setdefault("height", dp(124))
        super().__init__(**kwargs)


class AdminPinScreen(KioskScreen):
    """Collects digits and asks the PIN gate; shows tries left and lockouts."""

    entered = StringProperty("")
    dots = StringProperty("")
    message = StringProperty("")
    message_color = ColorProperty(theme.INK_SOFT)

    def enter(self, **_params) -> None:
        self.entered = ""
        locked = self.ctx.pin_gate.locked_for()
        if locked:
            self._locked(locked)
        else:
            self.message = self._("Enter the admin PIN")
            self.message_color = theme.INK_SOFT

    def on_entered(self, _instance, value: str) -> None:
        self.dots = " ".join("●" for _ in value)

    def press(self, key: str) -> None:
        """A keypad key: a digit, 'clear' or 'ok'."""
        if key == "clear":
            self.entered = ""
        elif key == "ok":
            self.submit()
        elif key.isdigit() and len(self.entered) < MAX_DIGITS:
            self.entered += key

    def submit(self) -> None:
        """Check the entered PIN; open the admin screen on success."""
        pin, self.entered = self.entered, ""
        if len(pin) < PIN_MIN_DIGITS:
            self.message = self._("The admin PIN has at least {n} digits.", n=PIN_MIN_DIGITS)
            self.message_color = theme.DANGER
            return
        result = self.ctx.pin_gate.try_pin(pin)
        if result.ok:
            self.nav.go("admin")
        elif result.locked_for_s:
            self._locked(result.locked_for_s)
        else:
            self.message = self._("Wrong PIN. {n} tries left.", n=result.tries_left)
            self.message_color = theme.DANGER

    def _locked(self, seconds: float) -> None:
        self.message = self._("Too many wrong PINs. Locked: try again in {m} minutes.", m=max(1, round(seconds / 60)))
        self.message_color = theme.DANGER

    def reset(self) -> None:
        self.entered = ""
        self.message = ""

    def load_demo(self, state: str = "") -> None:
        self.enter()
        self.entered = "246"


Builder.load_file(str(Path(__file__).with_name("admin_pin.kv")))
