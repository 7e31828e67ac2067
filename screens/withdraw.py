"""Staff record a person's consent withdrawal: the person taps their card, staff confirm, and the
person's health records are erased here (the hub deletes its copies when the withdrawal arrives).
Reached from the admin screen (behind the PIN)."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import OptionProperty, StringProperty

from kiosk.identity import Identified
from kiosk.journal import ERASABLE_KINDS
from screens.base import KioskScreen


class WithdrawScreen(KioskScreen):
    """Tap → confirm (how many health records) → withdrawn and erased."""

    personal = True
    phase = OptionProperty("tap", options=["tap", "confirm", "done"])
    summary = StringProperty("")
    result = StringProperty("")
    message = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key = ""

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "tap_panel", "confirm_panel", "done_panel")
        self.set_shown("withdraw_button", phase == "confirm")
        self.fill_demo_cards("demo_bar", *(("resident", "permit") if phase == "tap" else ()))

    def enter(self, **_params) -> None:
        self._key = ""
        self.message = ""
        self.phase = "tap"
        self.on_phase(self, self.phase)

    def on_identity(self, item) -> None:
        """The person's card while waiting for it."""
        outcome = getattr(item, "outcome", None)
        if self.phase != "tap":
            return
        if not isinstance(outcome, Identified):
            self.message = self._(getattr(outcome, "message", "") or getattr(item, "message", "")) \
                if (getattr(outcome, "message", "") or getattr(item, "message", "")) else ""
            return
        person = outcome.person
        self._key = person.person_key
        count = sum(len(self.ctx.journal.records(k, where={"person_key": self._key}, limit=100_000))
                    for k in ERASABLE_KINDS)
        self.summary = self._("{name} has {n} health records here. Withdrawing consent deletes them here and "
                              "at the district hub; they cannot be restored.", name=person.display_name, n=count)
        self.message = ""
        self.phase = "confirm"

    def withdraw(self) -> None:
        """Journal the withdrawal and erase the health records."""
        if not self._key:
            return
        erased = self.ctx.services["identity"].withdraw_consent(self._key, by="staff")
        self._key = ""
        self.result = self._("Consent withdrawn; {n} health records deleted.", n=erased)
        self.phase = "done"

    def reset(self) -> None:
        self._key = ""
        self.summary = self.result = self.message = ""

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "confirm", "done"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        self.summary = self._("{name} has {n} health records here. Withdrawing consent deletes them here and "
                              "at the district hub; they cannot be restored.", name="王*明", n=12)
        self.result = self._("Consent withdrawn; {n} health records deleted.", n=12)
        if state:
            self.phase = state


Builder.load_file(str(Path(__file__).with_name("withdraw.kv")))
