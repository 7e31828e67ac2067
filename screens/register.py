"""Staff registers a volunteer: the volunteer's ID card gives the name and the person key, a
keypad takes the phone number, buttons the team. Reached from the admin screen (behind the PIN)."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import OptionProperty, StringProperty

from kiosk.i18n import N_
from kiosk.identity import Identified, Refused
from kiosk.privacy import mask_name
from kiosk.timebank.errors import VolunteerError
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton

PHONE_DIGITS = 11
FAILED = N_("The volunteer could not be registered. Please check and try again.")


class RegisterScreen(KioskScreen):
    """Tap → phone and team → registered."""

    personal = True
    phase = OptionProperty("tap", options=["tap", "details", "rebind", "done"])
    who = StringProperty("")
    phone = StringProperty("")
    phone_display = StringProperty("")
    message = StringProperty("")
    result = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._name = ""
        self._key = ""
        self._team = ""

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "tap_panel", "details_panel", "rebind_panel", "done_panel")
        self.set_shown("register_button", phase == "details")
        self.fill_demo_cards("demo_bar", *(("unregistered", "volunteer") if phase == "tap" else ()),
                             new_card=phase == "rebind")

    def on_kv_post(self, _base_widget) -> None:
        keypad = self.ids.keypad
        for key in "123456789" + "C0":
            label = self._("Clear") if key == "C" else key
            b = KButton(text=label, height=dp(66), bg_color=theme.NEUTRAL if key == "C" else theme.RECORDS)
            b.bind(on_release=lambda _b, k=("clear" if key == "C" else key): self.press(k))
            keypad.add_widget(b)
            if key == "C":
                self._clear_key = b

    def _sources(self, capture: bool) -> None:
        sources = self.ctx.services.get("identity_sources")
        if sources is not None:
            sources.capture_names = capture

    def enter(self, **_params) -> None:
        self._clear_key.text = self._("Clear")      # built once; follows the visit's language
        self.reset()
        self.phase = "tap"
        self.on_phase(self, self.phase)
        self._sources(True)

    def on_leave(self, *_args) -> None:
        self._sources(False)

    def on_identity(self, item) -> None:
        """The volunteer's ID card; in the rebind step, the new contactless card."""
        outcome = getattr(item, "outcome", None)
        if self.phase == "rebind":
            if isinstance(outcome, Refused) and outcome.reason == "unknown_card" and outcome.detail:
                self._rebind(outcome.detail)
            else:
                self.message = self._("Please tap the new card that is not registered yet.")
            return
        if self.phase != "tap":
            return
        if not isinstance(outcome, Identified) or not getattr(item, "full_name", ""):
            self.message = self._(getattr(outcome, "message", "") or
                                  N_("Please use the volunteer's resident ID card."))
            return
        if outcome.person.role == "volunteer":
            # Already registered: offer to replace a lost card with the next contactless card tapped.
            self._volunteer_id = outcome.person.volunteer_id
            self.who = outcome.person.display_name
            self._sources(False)
            self.message = ""
            self.phase = "rebind"
            return
        self._name, self._key = item.full_name, outcome.person.person_key
        self._sources(False)
        self.who = mask_name(self._name)
        self.message = ""
        self._teams = self.ctx.services["timebank"].catalog().teams
        self._team = self._teams[0].id if self._teams else ""
        self._fill_teams()
        self.phase = "details"

    def _fill_teams(self) -> None:
        box = self.ids.teams
        box.clear_widgets()
        for team in self._teams:
            chosen = team.id == self._team
            b = KButton(text=team.name, icon="check" if chosen else "",
                        bg_color=theme.VOLUNTEER if chosen else theme.NEUTRAL, height=70)
            b.bind(on_release=lambda _b, t=team.id: self._pick(t))
            box.add_widget(b)

    def _pick(self, team_id: str) -> None:
        self._team = team_id
        self._fill_teams()

    def on_phone(self, _instance, phone: str) -> None:
        self.phone_display = phone or self._("Mobile number")
        if len(phone) == PHONE_DIGITS and self.message == self._("Please enter the 11-digit mobile number."):
            self.message = ""                   # the number is complete now: the reminder goes

    def press(self, key: str) -> None:
        """Phone keypad: a digit or 'clear'."""
        if key == "clear":
            self.phone = ""
        elif key.isdigit() and len(self.phone) < PHONE_DIGITS:
            self.phone += key

    def register(self) -> None:
        """Journal the registration (synced to the hub; usable here at once)."""
        if len(self.phone) != PHONE_DIGITS:
            self.message = self._("Please enter the 11-digit mobile number.")
            return
        try:
            volunteer = self.ctx.services["timebank"].register_volunteer(self._name, self.phone, self._team,
                                                                         person_key=self._key,
                                                                         registered_by="admin")
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or FAILED)
            return
        self.result = self._("{name} is registered as volunteer {id}.", name=self.who, id=volunteer.id)
        self._name = self._key = ""
        self.message = ""
        self.phase = "done"

    def _rebind(self, uid: str) -> None:
        try:
            self.ctx.services["timebank"].rebind_card(self._volunteer_id, new_card_uid=uid)
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or FAILED)
            return
        self.result = self._("{name}'s new card is ready; the old one no longer works here.", name=self.who)
        self.phase = "done"

    def reset(self) -> None:
        self._volunteer_id = ""
        self._sources(False)
        self._name = self._key = ""
        self.who = self.phone = self.message = self.result = ""
        self.on_phone(self, "")

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "details", "rebind"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state == "rebind":
            self.who = "李*华"
            self.phase = "rebind"
        if state == "details":
            self.who = "王*明"
            self.phone = "1391234"
            self._teams = self.ctx.services["timebank"].catalog().teams
            self._team = self._teams[1].id
            self._fill_teams()
            self.phase = "details"


Builder.load_file(str(Path(__file__).with_name("register.kv")))
