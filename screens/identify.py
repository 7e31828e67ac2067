"""Identify: ask the person to place a card or show a QR code."""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import ColorProperty, NumericProperty, StringProperty

from kiosk.i18n import N_
from screens import theme
from screens.base import KioskScreen

PURPOSE_TITLES = {
    "health": N_("Health check"),
    "volunteer": N_("Volunteers"),
    "records": N_("My records"),
    "session": N_("Health-check day"),
}


class IdentifyScreen(KioskScreen):
    """The identification prompt. Card and QR sources report into :meth:`show_message`."""

    purpose = StringProperty("")
    purpose_title = StringProperty("")
    message = StringProperty("")
    message_color = ColorProperty(theme.CARD)
    message_text_color = ColorProperty(theme.INK)
    hint_offset = NumericProperty(0)
    personal = False

    def enter(self, purpose: str = "", **_params) -> None:
        self.purpose = purpose or self.ctx.session.purpose
        self.purpose_title = self._(PURPOSE_TITLES.get(self.purpose, N_("Identify yourself")))
        self.show_message("")

    def on_enter(self, *_args) -> None:
        """Start the card hint animation (a gentle up-and-down of the arrow)."""
        Animation.cancel_all(self, "hint_offset")
        anim = Animation(hint_offset=18, duration=0.7, t="in_out_sine") + \
            Animation(hint_offset=0, duration=0.7, t="in_out_sine")
        anim.repeat = True
        anim.start(self)

    def on_leave(self, *_args) -> None:
        Animation.cancel_all(self, "hint_offset")

    def show_message(self, text: str, error: bool = False) -> None:
        """Show a status line under the prompt; errors use the danger colour and stay readable."""
        self.message = text
        self.message_color = theme.DANGER if error else theme.CARD
        self.message_text_color = theme.ON_DARK if error else theme.INK

    def reset(self) -> None:
        self.show_message("")

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "error"]

    def load_demo(self, state: str = "") -> None:
        self.enter(purpose="health")
        if state == "error":
            self.show_message(self._("The card could not be read. Please take it away and place it again."),
                              error=True)


Builder.load_file(str(Path(__file__).with_name("identify.kv")))
