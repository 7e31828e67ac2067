"""Identify: ask the person to place a card or show a QR code, then greet them."""
from __future__ import annotations

import math
from pathlib import Path

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty

from kiosk.i18n import N_
from kiosk.identify_sources import SourceProblem
from kiosk.identity import REFUSALS, Identified, Refused
from kiosk.speech.sentences import Line, speakable
from screens import theme
from screens.base import KioskScreen
from screens.i18n import tr

PURPOSE_TITLES = {
    "health": N_("Health check"),
    "volunteer": N_("Volunteers"),
    "records": N_("My records"),
    "request": N_("Ask for help"),
    "session": N_("Screening day"),
}
HINT_STEP_S = 0.2
HINT_PERIOD_S = 1.4
READER_OFFLINE = N_("The card reader is not connected. Please ask the staff, or use a QR code.")


class IdentifyScreen(KioskScreen):
    """The identification prompt. Identity events arrive through :meth:`on_identity`."""

    purpose = StringProperty("")
    purpose_title = StringProperty("")
    message = StringProperty("")
    message_color = ColorProperty(theme.CARD)
    message_text_color = ColorProperty(theme.INK)
    message_is_error = BooleanProperty(False)
    hint_offset = NumericProperty(0)
    preview = ObjectProperty(None, allownone=True)
    #: Called after the greeting is drawn for an identification (benchmark hook).
    greeted_hook = ObjectProperty(None, allownone=True)

    def enter(self, purpose: str = "", **_params) -> None:
        self.purpose = purpose or self.ctx.session.purpose
        self.purpose_title = self._(PURPOSE_TITLES.get(self.purpose, N_("Identify yourself")))
        self.fill_demo_cards("demo_bar", "resident", "volunteer", "expired")
        state = self.ctx.status.get("idcard").get("state")
        self.show_message(self._(READER_OFFLINE) if state == "disconnected" else "", error=state == "disconnected")

    def on_enter(self, *_args) -> None:
        """Start the card hint animation: the arrow bobs up and down.

        Stepped at 5 frames a second, not 60: every frame redraws the whole window, and on a kiosk
        without a GPU a full frame costs tens of milliseconds of CPU that card reads and the
        greeting should get instead.
        """
        self._hint_phase = 0.0
        Clock.unschedule(self._hint_step)
        Clock.schedule_interval(self._hint_step, HINT_STEP_S)

    def _hint_step(self, _dt) -> None:
        self._hint_phase = (self._hint_phase + HINT_STEP_S / HINT_PERIOD_S) % 1.0
        self.hint_offset = 18 * (0.5 - 0.5 * math.cos(2 * math.pi * self._hint_phase))

    def on_leave(self, *_args) -> None:
        Clock.unschedule(self._hint_step)

    # -- events from the identity sources (UI thread) ---------------------------------------------
    def on_identity(self, item) -> None:
        """An :class:`IdentityEvent` or a :class:`SourceProblem` from a worker."""

        if isinstance(item, SourceProblem):
            self.show_message(self._(item.message) if item.message else
                              self._("The card could not be read. Please take it away and place it again."),
                              error=True)
            self.nav.speak_screen()
            return
        outcome = item.outcome
        if isinstance(outcome, Refused):
            self.show_message(self._(outcome.message), error=True)
            self.nav.speak_screen()
            return
        if isinstance(outcome, Identified):
            session = self.ctx.session
            session.identify(outcome.person)
            if outcome.consent_given is False:
                session.scratch["consent"] = False
            wants_health = (self.purpose or session.purpose) in ("health", "records")
            if outcome.needs_consent and wants_health:
                self.nav.go("consent")
            else:
                self.nav.go("greeting")
            if self.greeted_hook is not None:
                self.greeted_hook(item)

    def show_preview(self, frame) -> None:
        """Show a camera frame (BGR numpy array) in the QR panel; UI thread only."""
        height, width = frame.shape[:2]
        texture = self.preview
        if texture is None or texture.size != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="bgr")
            texture.flip_vertical()
        texture.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.preview = texture
        self.ids.preview_image.texture = texture
        self.ids.preview_image.opacity = 1
        self.ids.qr_icon.opacity = 0

    def show_message(self, text: str, error: bool = False) -> None:
        """Show a status line under the prompt; errors use the danger colour and stay readable."""
        self.message = text
        self.message_is_error = error
        self.message_color = theme.DANGER if error else theme.CARD
        self.message_text_color = theme.ON_DARK if error else theme.INK

    def reset(self) -> None:
        self.show_message("")

    def speech(self):
        """The card prompt; after a failed read, the message shown (already translated)."""
        if self.message and self.message_is_error:
            return "identify.message", [Line(speakable(self.message, tr.lang))]
        return "identify", None

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "error", "expired", "offline"]

    def load_demo(self, state: str = "") -> None:
        self.enter(purpose="health")
        if state == "error":
            self.show_message(self._("The card could not be read. Please take it away and place it again."),
                              error=True)
        elif state == "expired":
            self.show_message(self._(REFUSALS["document_expired"]), error=True)
        elif state == "offline":
            self.show_message(self._(READER_OFFLINE), error=True)


Builder.load_file(str(Path(__file__).with_name("identify.kv")))
