"""Consent for health services (PIPL: health data is sensitive personal information), asked once."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from screens.base import KioskScreen


class ConsentScreen(KioskScreen):
    """Plain-language consent; agreeing or declining is journaled, and declining keeps other services."""

    personal = True

    def decide(self, granted: bool) -> None:
        """Record the decision and go on to the greeting."""
        person = self.ctx.session.person
        if person is not None:
            self.ctx.services["identity"].record_consent(person, granted)
        self.ctx.session.scratch["consent"] = granted
        self.nav.go("greeting")


Builder.load_file(str(Path(__file__).with_name("consent.kv")))
