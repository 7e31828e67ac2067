"""Screening day (健康筛查日): staff open it with their card; residents then tap one after another."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import OptionProperty, StringProperty

from kiosk.health_session import HealthCheckSession
from kiosk.i18n import N_
from kiosk.identity import Identified, Refused
from screens.base import KioskScreen

NEED_STAFF = N_("Only a staff member or volunteer can open the screening day.")


class HealthDayScreen(KioskScreen):
    """Open, run and close a health-check session; every measurement is attributed to it."""

    phase = OptionProperty("closed", options=["closed", "open", "summary"])
    counts = StringProperty("")
    message = StringProperty("")
    summary = StringProperty("")

    def _day(self) -> HealthCheckSession | None:
        day = self.ctx.services.get("health_day")
        return day if day is not None and day.is_open else None

    def enter(self, **_params) -> None:
        if self.phase != "summary" or self._day() is not None:
            self.phase = "open" if self._day() else "closed"
        self.on_phase(self, self.phase)
        self.message = ""
        self._refresh()

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "closed_panel", "open_panel", "summary_panel")
        self.fill_demo_cards("demo_bar", *{"closed": ("volunteer",), "summary": ("volunteer",),
                                                 "open": ("resident", "permit")}.get(phase, ()))

    def _refresh(self) -> None:
        day = self._day()
        if day is not None:
            t = day.tally
            self.counts = self._("{n} residents measured · {a} above normal · {u} urgent",
                                 n=len(t.residents), a=t.abnormal, u=t.urgent)

    def on_identity(self, item) -> None:
        """A card tapped while this screen shows."""
        outcome = getattr(item, "outcome", None)
        if isinstance(outcome, Refused):
            self.message = self._(outcome.message)
            return
        if not isinstance(outcome, Identified):
            self.message = self._(item.message) if getattr(item, "message", "") else ""
            return
        person = outcome.person
        day = self._day()
        if day is None:
            if person.role != "volunteer":
                self.message = self._(NEED_STAFF)
                return
            self.ctx.services["health_day"] = HealthCheckSession.open(self.ctx.journal, person.person_key,
                                                                      self.ctx.settings.station.id)
            self.phase = "open"
            self.message = ""
            self._refresh()
            self.nav.speak_screen()
            return
        day.attribute(person.person_key)
        session = self.ctx.session
        session.begin("session")
        session.identify(person)
        if outcome.needs_consent:
            session.scratch["after_consent"] = "health_menu"    # agreeing goes on with the day's measuring
            self.nav.go("consent")
        else:
            self.nav.go("health_menu")

    def close_day(self) -> None:
        """End the day: journal the summary and show it."""
        day = self._day()
        if day is None:
            return
        closed = day.close()
        self.summary = self._("{n} residents measured, {m} measurements, {a} above normal, {u} urgent",
                              n=closed.residents_measured, m=closed.measurements, a=closed.abnormal,
                              u=closed.urgent)
        self.phase = "summary"

    def speech(self):
        """Staff open the day; then each resident is asked for their card."""
        return ("health_day.open" if self.phase == "open" else "health_day"), None

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "open", "summary"]

    def load_demo(self, state: str = "") -> None:
        self.phase = {"": "closed", "open": "open", "summary": "summary"}[state]
        self.on_phase(self, self.phase)
        self.counts = self._("{n} residents measured · {a} above normal · {u} urgent", n=23, a=7, u=1)
        self.summary = self._("{n} residents measured, {m} measurements, {a} above normal, {u} urgent",
                              n=41, m=58, a=12, u=2)


Builder.load_file(str(Path(__file__).with_name("health_day.kv")))
