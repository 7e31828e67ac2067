"""家属优先 (family priority): a volunteer links family members, whose requests then go to the front
of the queue while the volunteer has banked hours. The family member taps their own card here,
with the volunteer present; a link can be removed again."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import OptionProperty, StringProperty

from kiosk.community.errors import RequestError
from kiosk.community.family import FamilyMember
from kiosk.identity import Identified
from kiosk.speech import sentences
from kiosk.speech.prompts import prompt
from kiosk.timebank.errors import VolunteerError
from screens import theme
from screens.base import KioskScreen
from screens.i18n import tr
from screens.widgets import KButton, KLabel, Surface

CARD_HEIGHT_DP = 112
#: What the screen says in each phase.
class FamilyScreen(KioskScreen):
    """list → card (the family member's card) → done; list → remove (confirm) → list."""

    personal = True
    phase = OptionProperty("list", options=["list", "card", "done", "remove"])
    message = StringProperty("")
    result = StringProperty("")
    subject = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._removing: FamilyMember | None = None

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "list_panel", "card_panel", "done_panel", "remove_panel")
        self.fill_demo_cards("demo_bar", *(("resident", "volunteer") if phase == "card" else ()))

    def enter(self, **_params) -> None:
        self.message = self.result = self.subject = ""
        self._removing = None
        self.phase = "list"
        self.on_phase(self, self.phase)
        self.refresh()

    def _family(self):
        return self.ctx.services["community"].family

    def refresh(self) -> None:
        """Read the volunteer's linked family members again."""
        person = self.ctx.session.person
        try:
            members = self._family().members(person) if person else []
        except (RequestError, VolunteerError) as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
            members = []
        self.show(members)

    def show(self, members: list[FamilyMember]) -> None:
        """One card per linked family member, each with its remove button."""
        box = self.ids.cards
        box.clear_widgets()
        if not members:
            box.add_widget(KLabel(text=self._("No family members linked yet."), role="title", size_hint_y=None,
                                  height=dp(64)))
        for m in members[:3]:
            card = Surface(bg_color=theme.CARD, padding=(dp(24), dp(8)), spacing=dp(16), size_hint_y=None,
                           height=dp(CARD_HEIGHT_DP))
            card.add_widget(KLabel(text=self._("Family member {name} · linked {date}", name=m.display_name,
                                               date=m.since[:10]), role="title", pos_hint={"center_y": 0.5}))
            remove = KButton(text=self._("Remove"), icon="back", bg_color=theme.DANGER, size_hint_x=None,
                             width=dp(240), pos_hint={"center_y": 0.5})
            remove.bind(on_release=lambda _b, x=m: self.ask_remove(x))
            card.add_widget(remove)
            box.add_widget(card)

    def add(self) -> None:
        """添加家属: ask for the family member's card."""
        self.message = ""
        self.phase = "card"
        self.nav.speak_screen()

    def on_identity(self, item) -> None:
        """The family member's card (the session stays the volunteer's)."""
        outcome = getattr(item, "outcome", None)
        if self.phase != "card":
            return
        if not isinstance(outcome, Identified):
            if outcome is not None and hasattr(outcome, "message"):
                self.message = self._(outcome.message)
            return
        try:
            member = self._family().link(self.ctx.session.person, outcome.person)
        except (RequestError, VolunteerError) as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
            return
        self.result = self._("{name} is linked as your family member. Their requests go to the front of the "
                             "queue while you have banked hours.", name=member.display_name)
        self.message = ""
        self.phase = "done"
        self.nav.speak_screen()

    def ask_remove(self, member: FamilyMember) -> None:
        """A remove button: confirm first."""
        self._removing = member
        self.subject = self._("Remove {name} from your family members?", name=member.display_name)
        self.message = ""
        self.phase = "remove"

    def remove(self) -> None:
        """Confirmed: remove the link."""
        if self._removing is not None:
            try:
                self._family().unlink(self.ctx.session.person, self._removing.family_key)
            except (RequestError, VolunteerError) as exc:
                self.message = self._(getattr(exc, "message", "") or RequestError.message)
        self._removing = None
        self.phase = "list"
        self.refresh()

    def back_to_list(self) -> None:
        """Back to the list of family members."""
        self.message = ""
        self.phase = "list"
        self.refresh()

    def speech(self):
        """The phase's sentence."""
        key = f"family.{self.phase}"
        return key, sentences.fixed_lines(prompt(key), tr.lang)

    def reset(self) -> None:
        self.message = self.result = self.subject = ""
        self._removing = None
        if "cards" in self.ids:
            self.ids.cards.clear_widgets()

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "empty", "card", "done", "remove"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        members = [FamilyMember("0" * 64, "王*明", "2026-11-28T09:30:00+08:00"),
                   FamilyMember("1" * 64, "张*英", "2026-11-30T10:05:00+08:00")]
        self.show([] if state == "empty" else members)
        if state == "card":
            self.phase = "card"
        elif state == "done":
            self.result = self._("{name} is linked as your family member. Their requests go to the front of the "
                                 "queue while you have banked hours.", name="王*明")
            self.phase = "done"
        elif state == "remove":
            self.ask_remove(members[1])


Builder.load_file(str(Path(__file__).with_name("family.kv")))
