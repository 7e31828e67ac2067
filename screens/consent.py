"""Consent for health services (PIPL: health data is sensitive personal information), asked once."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import OptionProperty

from screens.base import KioskScreen


class ConsentScreen(KioskScreen):
    """Plain-language consent; agreeing or declining is journaled, and declining keeps other services."""

    personal = True
    phase = OptionProperty("ask", options=["ask", "decline"])

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "ask_panel", "decline_panel")
        self.set_shown("decline_button", phase == "ask")

    def enter(self, **_params) -> None:
        self.phase = "ask"
        self.on_phase(self, self.phase)

    def ask_decline(self) -> None:
        """不同意 was tapped: ask once more before recording a decline."""
        self.phase = "decline"

    def reset(self) -> None:
        self.phase = "ask"

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "decline"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state == "decline":
            self.ask_decline()

    def decide(self, granted: bool) -> None:
        """Record the decision and go on: to the greeting, or where the flow that asked wants an
        agreeing person to go (a health-check day's resident goes straight to the health menu)."""
        person = self.ctx.session.person
        if person is not None:
            self.ctx.services["identity"].record_consent(person, granted)
        scratch = self.ctx.session.scratch
        scratch["consent"] = granted
        after = scratch.pop("after_consent", "greeting")
        self.nav.go(after if granted else "greeting")


Builder.load_file(str(Path(__file__).with_name("consent.kv")))
