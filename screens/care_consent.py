"""Sharing with the family-doctor team (家庭医生团队): a consent of its own, separate from the health-record
consent, asked after a reading that needs follow-up; the same screen changes or withdraws it."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk import care
from kiosk.i18n import N_
from screens.base import KioskScreen

#: The current answer as the screen says it.
NOW = {True: N_("You share your screening results with your family doctor team."),
       False: N_("You do not share your screening results with the care team."),
       None: N_("You have not decided yet.")}


class CareConsentScreen(KioskScreen):
    """Yes or no to sharing; each answer is journaled (``care_consent``), the newest one counts."""

    personal = True
    current = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._back = "greeting"

    def enter(self, back: str = "", **_params) -> None:
        self._back = back or self._back
        person = self.ctx.session.person
        answer = care.care_consent(self.ctx.journal, person.keys) if person is not None else None
        self.current = self._(NOW[answer])

    def decide(self, granted: bool) -> None:
        """Journal the answer (a withdrawal is a "no") and go back where the resident came from."""
        person = self.ctx.session.person
        if person is not None:
            care.record_care_consent(self.ctx.journal, person.person_key, granted)
        self.nav.go(self._back)

    def reset(self) -> None:
        self.current = ""
        self._back = "greeting"

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "given"]

    def load_demo(self, state: str = "") -> None:
        self.current = self._(NOW[True] if state == "given" else NOW[None])


Builder.load_file(str(Path(__file__).with_name("care_consent.kv")))
