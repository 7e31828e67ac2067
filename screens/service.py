"""A volunteer records a service done for a resident — or has marked a requested task done on the task
list — and the resident taps a card to confirm it and rates it on the 5-level 好差评 scale with five
big faces and words."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import OptionProperty, StringProperty

from kiosk.community.errors import NotRequester, RequestError
from kiosk.i18n import N_
from kiosk.identity import Identified
from kiosk.timebank.errors import VolunteerError
from kiosk.timebank.kinds import RATINGS
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton

DURATIONS = (30, 60, 90, 120)
SERVICE_FAILED = N_("The volunteer service could not be recorded. Please ask the staff.")


class ServiceScreen(KioskScreen):
    """Record → resident confirms by card → rating → thank you."""

    personal = True
    phase = OptionProperty("choose", options=["choose", "confirm", "rate", "done"])
    summary = StringProperty("")
    message = StringProperty("")
    result = StringProperty("")
    duration_prompt = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._service = ""
        self._minutes = 60
        self._pending = None
        self._resident = None
        self._request = None

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "choose_panel", "confirm_panel", "rate_panel", "done_panel")
        if phase == "confirm":
            self.fill_demo_cards("demo_bar", "resident", "permit")

    def enter(self, request=None, pending=None, **_params) -> None:
        """Without parameters: choose what was done. With the ``request`` a volunteer marked done on
        the task list and its ``pending`` service: straight to the resident's card."""
        self.phase = "choose"
        self.on_phase(self, self.phase)
        self.message = ""
        self._pending = self._resident = None
        self._request = request
        if request is not None:
            self._pending = pending
            self.summary = self._("Request {number}: {service}", number=request.number, service=request.service_name)
            self.phase = "confirm"
            return
        services = self.ctx.services["timebank"].catalog().resident_services
        self._services = services[:6]
        self._service = self._services[0].id if self._services else ""
        self._fill()

    def _fill(self) -> None:
        box = self.ids.services
        box.clear_widgets()
        for s in self._services:
            chosen = s.id == self._service
            b = KButton(text=s.name, icon="check" if chosen else "", bg_color=theme.RECORDS if chosen else theme.NEUTRAL)
            b.bind(on_release=lambda _b, i=s.id: self._pick_service(i))
            box.add_widget(b)
        box = self.ids.durations
        box.clear_widgets()
        fixed = self._fixed_hours()
        # A service the catalog counts at fixed hours does not ask how long it took (it would not count).
        self.set_shown("durations", fixed is None)
        self.duration_prompt = (self._("How long did it take?") if fixed is None else
                                self._("This service counts {h} hours.", h=f"{fixed:g}"))
        for m in DURATIONS:
            chosen = m == self._minutes
            b = KButton(text=self._("{m} min", m=m), icon="check" if chosen else "",
                        bg_color=theme.RECORDS if chosen else theme.NEUTRAL)
            b.bind(on_release=lambda _b, v=m: self._pick_minutes(v))
            box.add_widget(b)

    def _fixed_hours(self) -> float | None:
        chosen = next((s for s in self._services if s.id == self._service), None)
        return chosen.hours if chosen is not None else None

    def _pick_service(self, service_id: str) -> None:
        self._service = service_id
        self._fill()

    def _pick_minutes(self, minutes: int) -> None:
        self._minutes = minutes
        self._fill()

    def record(self) -> None:
        """Journal the service; then wait for the resident's card."""
        try:
            fixed = self._fixed_hours()
            minutes = self._minutes if fixed is None else round(fixed * 60)
            self._pending = self.ctx.services["timebank"].record_service(self.ctx.session.person, self._service,
                                                                         minutes)
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or SERVICE_FAILED)
            return
        self.summary = self._("{service}, {h} hours", service=self._pending.service_name,
                              h=f"{self._pending.hours:g}")
        self.phase = "confirm"
        self.nav.speak_screen()

    def on_identity(self, item) -> None:
        """The resident's card while waiting for confirmation."""
        outcome = getattr(item, "outcome", None)
        if self.phase != "confirm" or not isinstance(outcome, Identified):
            if outcome is not None and hasattr(outcome, "message"):
                self.message = self._(outcome.message)
            return
        if self._request is not None and outcome.person.person_key != self._request.person_key:
            self.message = self._(NotRequester.message)
            return
        self._resident = outcome.person
        self.message = ""
        self.phase = "rate"

    def rate(self, rating: int) -> None:
        """The resident tapped a face."""
        try:
            if self._request is not None:
                done = self.ctx.services["community"].confirm(self._request.request_id, self._resident, rating)
            else:
                done = self.ctx.services["timebank"].confirm_service(self._pending.service_id, self._resident, rating)
        except (VolunteerError, RequestError) as exc:
            self.message = self._(getattr(exc, "message", "") or SERVICE_FAILED)
            return
        self.result = self._("Thank you! You rated it “{word}”.", word=self._(RATINGS[rating]))
        if done.follow_up:
            self.result += "\n" + self._("A staff member will contact you about this service.")
        self._resident = None
        self.phase = "done"

    def back(self) -> None:
        """Back to where the service came from: the task list or the volunteer's page."""
        self.nav.go("tasks" if self._request is not None else "volunteer")

    def reset(self) -> None:
        self._pending = self._resident = self._request = None
        self.summary = self.message = self.result = ""

    def speech(self):
        """What was done; then the resident is asked to confirm with their card."""
        return ("service.confirm" if self.phase == "confirm" else "service"), None

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "confirm", "rate", "done"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state:
            self.summary = self._("{service}, {h} hours", service="代购", h="1")
            self.result = self._("Thank you! You rated it “{word}”.", word=self._("Very satisfied"))
            self.phase = state


Builder.load_file(str(Path(__file__).with_name("service.kv")))
