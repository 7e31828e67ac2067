"""Greeting: 王*明，您好 — and the next steps for what the person came to do; news for the person
(a waitlisted activity sign-up that moved up to a seat) is told here, once."""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk import care
from kiosk.care_rules import RECHECK_DUE
from kiosk.community.activities import ActivityError
from kiosk.community.errors import RequestError
from kiosk.community.lists import waiting_for
from kiosk.i18n import N_, Joined
from kiosk.session import Person
from kiosk.speech import sentences
from kiosk.speech.prompts import prompt
from screens import theme
from screens.base import KioskScreen
from screens.i18n import tr
from screens.widgets import KButton

log = logging.getLogger(__name__)

#: purpose -> (button text, icon, target screen, colour) in the order offered
NEXT_STEPS = {
    "health": [(N_("Start the health check"), "heart", "health_menu", theme.HEALTH),
               (N_("My records"), "records", "records", theme.RECORDS)],
    "records": [(N_("My records"), "records", "records", theme.RECORDS),
                (N_("Start the health check"), "heart", "health_menu", theme.HEALTH)],
    "volunteer": [(N_("Volunteer service"), "volunteer", "volunteer", theme.VOLUNTEER),
                  (N_("My tasks"), "list", "tasks", theme.HELP)],
    "request": [(N_("Ask for help"), "hand", "request", theme.ACCENT),
                (N_("Make a wish"), "heart", "wish", theme.HELP),
                (N_("My requests"), "list", "my_requests", theme.VOLUNTEER)],
}
HEALTH_SCREENS = {"health_menu", "records"}
#: Said after the greeting when a waitlisted sign-up moved up (the screen shows which activity).
class GreetingScreen(KioskScreen):
    """Shows who was identified (masked) and offers the next steps."""

    personal = True
    hello = StringProperty("")
    subtitle = StringProperty("")
    facts = StringProperty("")
    note = StringProperty("")
    has_note = BooleanProperty(False)
    promotion = StringProperty("")
    has_promotion = BooleanProperty(False)
    #: "您的代购已完成，请确认": a done request waits for this person's confirmation
    waiting = StringProperty("")
    reminder = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._promoted = ""

    def on_kv_post(self, _base_widget) -> None:
        self.on_has_note(self, self.has_note)
        self.on_has_promotion(self, self.has_promotion)
        self.on_waiting(self, self.waiting)
        self.on_reminder(self, self.reminder)

    def on_waiting(self, _instance, text: str) -> None:
        self.set_shown("waiting_banner", bool(text))

    def on_reminder(self, _instance, text: str) -> None:
        self.set_shown("reminder_banner", bool(text))
        self.set_shown("facts_label", not text)         # the card's facts give way to what is due

    def on_has_note(self, _instance, shown: bool) -> None:
        self.set_shown("note_banner", shown)

    def on_has_promotion(self, _instance, shown: bool) -> None:
        # The news first, on its own: the next steps show once it is read ("Got it").
        self.set_shown("promotion_banner", shown)
        self.set_shown("actions", not shown)

    def enter(self, **_params) -> None:
        person = self.ctx.session.person
        if person is None:
            self.reset()
            return
        name = person.display_name or self._("Resident")
        self.hello = self._("{name}, hello!", name=name)
        if person.role == "volunteer":
            self.subtitle = self._("Volunteer · thank you for your service")
        else:
            self.subtitle = self._("Welcome to the citizen station")
        parts = []
        if person.masked_id:
            parts.append(self._("Card {number}", number=person.masked_id))
        if person.birth_year:
            parts.append(self._("Born {year}", year=person.birth_year))
        self.facts = Joined("   ", parts)
        declined = self.ctx.session.scratch.get("consent") is False
        self.has_note = declined
        self.note = self._("You did not agree to health data processing, so health checks are off. "
                           "Everything else is available.") if declined else ""
        self._tell_waiting(person)
        due = care.reminder(self.ctx.journal, person.keys, datetime.now(timezone.utc),
                            self.ctx.settings.volunteer.timezone) if not declined else None
        self.reminder = due.reminder(tr.lang) if due is not None else ""
        self._tell_promotion(person)
        self._build_actions(declined)

    def _tell_waiting(self, person: Person) -> None:
        """A request a volunteer marked done waits for this person's confirmation: say which."""
        service = self.ctx.services.get("community")
        try:
            done = waiting_for(service.mine(person)) if service is not None else []
        except (RequestError, OSError, ValueError) as exc:
            log.error("requests unavailable: %s", exc)
            done = []
        self.waiting = self._("Your {service} is done, please confirm it", service=done[0].service_name) \
            if done else ""

    def _tell_promotion(self, person: Person) -> None:
        """A waitlisted sign-up that moved up to a seat: say so, once (journaled as told)."""
        service = self.ctx.services.get("activities")
        try:
            promoted = service.promotions(person) if service is not None else []
        except (ActivityError, OSError, ValueError) as exc:
            log.error("activity promotions unavailable: %s", exc)
            promoted = []
        self._promoted = promoted[0].id if promoted else ""
        self.has_promotion = bool(promoted)
        self.promotion = self._("Good news: a place has freed up in “{title}” ({date} {time}). You are signed up "
                                "now.", title=promoted[0].title, date=promoted[0].start.astimezone().strftime("%m-%d"),
                                time=promoted[0].start.astimezone().strftime("%H:%M")) if promoted else ""
        for a in promoted:
            service.promotion_told(person, a.id)

    def dismiss_promotion(self) -> None:
        """"Got it": the next steps."""
        self.has_promotion = False

    def open_promotion(self) -> None:
        """The notice's button: the activity, with its reminder slip to print."""
        self.nav.go("activities", promoted=self._promoted)

    def _build_actions(self, declined: bool) -> None:
        box = self.ids.actions
        box.clear_widgets()
        purpose = self.ctx.session.purpose or "health"
        role = self.ctx.session.person.role if self.ctx.session.person else "resident"
        steps = list(NEXT_STEPS.get(purpose, NEXT_STEPS["health"]))
        if role == "volunteer" and purpose != "volunteer":
            steps += NEXT_STEPS["volunteer"][:1]
        shown = [(text, icon, target, colour) for text, icon, target, colour in steps
                 if not (declined and target in HEALTH_SCREENS) and self.nav.has_screen(target)]
        box.cols = 1 if len(shown) <= 2 and not self.waiting else 2      # two columns keep the name in view
        for text, icon, target, colour in shown:
            button = KButton(text=self._(text), icon=icon, bg_color=colour, font_role="title")
            button.bind(on_release=lambda _b, t=target: self.nav.go(t))
            box.add_widget(button)

    def speech(self):
        """"王某明，您好！" (the masked name; never a full one), then the prompt."""
        person = self.ctx.session.person
        lines = sentences.greeting(person.display_name if person else "", tr.lang)
        news = sentences.fixed_lines(prompt("greeting.promoted"), tr.lang) if self.has_promotion else []
        if self.reminder:
            news.append(sentences.Line(sentences.speakable(self.reminder, tr.lang), fixed=False))
        return "greeting", lines + news + sentences.fixed_lines(prompt("greeting"), tr.lang)

    def reset(self) -> None:
        self.hello = self.subtitle = self.facts = self.note = self.promotion = self.waiting = self.reminder = ""
        self.has_note = self.has_promotion = False
        self._promoted = ""
        if "actions" in self.ids:
            self.ids.actions.clear_widgets()

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "declined", "volunteer", "promoted", "waiting", "recheck"]

    def load_demo(self, state: str = "") -> None:
        if state == "volunteer":
            self.ctx.session.begin("volunteer")
            self.ctx.session.identify(Person(role="volunteer", person_key="1" * 64, display_name="李*华",
                                             source="demo", volunteer_id="V0001", team="orange"))
            self.enter()
            return
        self.ctx.session.begin("health")
        if state == "declined":
            self.ctx.session.scratch["consent"] = False
        self.ctx.session.identify(Person(role="resident", person_key="0" * 64, display_name="王*明",
                                         masked_id="310***********1234", birth_year=1950, source="demo"))
        self.enter()
        if state == "waiting":
            self.waiting = self._("Your {service} is done, please confirm it", service="代购")
            self._build_actions(False)
        if state == "recheck":
            self.reminder = care.Advice(RECHECK_DUE, date(2026, 12, 8), 2, overdue=True).reminder(tr.lang)
        if state == "promoted":
            self.promotion = self._("Good news: a place has freed up in “{title}” ({date} {time}). You are signed "
                                    "up now.", title="书法班", date="12-02", time="09:00")
            self.has_promotion = True


Builder.load_file(str(Path(__file__).with_name("greeting.kv")))
