"""Volunteer: status after a tap, check in (team and activity) or out, with big confirmations; the way
to the volunteer's tasks (service requests)."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import OptionProperty, StringProperty

from kiosk.i18n import N_, Joined
from kiosk.timebank.errors import NotRegistered, VolunteerError
from kiosk.timebank.results import (CheckedInElsewhere, CheckedOut, Ignored, NeedsCheckIn, NotAVolunteer,
                                    ServiceSummary, VolunteerStatus)
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton


class VolunteerScreen(KioskScreen):
    """The volunteer's own page: state, hours, balance, recent services, and the next action."""

    personal = True
    phase = OptionProperty("status", options=["status", "choose", "done"])
    hello = StringProperty("")
    shift = StringProperty("")
    hours = StringProperty("")
    balance = StringProperty("")
    recent = StringProperty("")
    primary_text = StringProperty("")
    big = StringProperty("")
    big_caption = StringProperty("")
    message = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._team = ""
        self._activity = ""
        self._pending_choice = None

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "status_panel", "choose_panel", "done_panel")

    def _offer_actions(self, offered: bool) -> None:
        # No volunteer action for a card that is not a volunteer's: refused up front, not after a form.
        # Set on every refresh, not on a change of primary_text: the first visit after start-up may be
        # a non-volunteer's, when the text is already "" and no change would fire.
        for name in ("primary_button", "record_button", "tasks_button"):
            self.set_shown(name, offered)

    def enter(self, **_params) -> None:
        self.phase = "status"
        self.on_phase(self, self.phase)
        self.message = ""
        self.refresh()

    def refresh(self) -> None:
        """Read the volunteer's status from the time bank."""
        person = self.ctx.session.person
        if person is None:
            return
        try:
            st = self.ctx.services["timebank"].status(person)
        except NotRegistered:
            self.hello = self._("{name}, hello!", name=person.display_name or self._("Resident"))
            self.shift = self._("This card is not registered as a volunteer. Please ask the staff to register "
                                "you (administration → Register a volunteer); then tap your card again.")
            self.hours = self.balance = self.recent = ""
            self.primary_text = ""
            self._offer_actions(False)
            return
        self._show_status(st)

    def _show_status(self, st) -> None:
        self.hello = self._("{name}, hello!", name=st.display_name)
        if st.checked_in_since:
            since = st.checked_in_since.astimezone().strftime("%H:%M")
            self.shift = self._("Checked in since {time} · {team}", time=since, team=st.team_name)
            self.primary_text = self._("Check out")
        else:
            self.shift = self._("Not checked in · {team}", team=st.team_name)
            self.primary_text = self._("Check in")
        self._offer_actions(True)
        self.hours = self._("{h} hours this month", h=_hours(st.hours_this_month))
        pending = self._(" (+{h} to be confirmed)", h=_hours(st.pending_hours)) if st.pending_hours else ""
        self.balance = self._("Time bank balance {h} hours", h=_hours(st.balance)) + pending
        self.recent = Joined("\n", [self._("{date} {service} {h} hours", date=self._("{month}/{day}", month=s.at.astimezone().month,
                                                                                   day=s.at.astimezone().day),
                                            service=s.service_name, h=_hours(s.hours))
                                    + ("" if s.confirmed else self._(" (waiting for the resident to confirm)"))
                                    for s in st.recent_services[:3]])

    # -- actions ------------------------------------------------------------------------------------
    def primary(self) -> None:
        """Check in (after choosing a team) or check out."""
        person = self.ctx.session.person
        if person is None:
            return
        try:
            result = self.ctx.services["timebank"].tap(person)
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or N_("The volunteer service could not be "
                                                                   "recorded. Please ask the staff."))
            return
        if isinstance(result, NeedsCheckIn):
            self._choose(result)
        elif isinstance(result, CheckedOut):
            self.big = _hours(result.hours)
            self.big_caption = (self._("Checked out. {h} hours this shift, to be reviewed by staff.", h=self.big)
                                if result.needs_review else self._("Checked out. Hours this shift:"))
            if not result.needs_review and result.hours <= 0:       # say why a shift earned nothing
                self.big_caption = self._("Checked out after {m} minutes: a shift earns hours from {h} hours on.",
                                          m=result.raw_minutes,
                                          h=_hours(float(self.ctx.services["timebank"].rules.min_hours)))
            self.phase = "done"
        elif isinstance(result, Ignored):
            self.message = self._("You just did that a moment ago.")
        elif isinstance(result, CheckedInElsewhere):
            self.message = self._("Your shift is still open at {station}.", station=result.station)
        elif isinstance(result, NotAVolunteer):
            self.message = self._(result.message)

    def _choose(self, needs) -> None:
        self._pending_choice = needs
        self._team = needs.default_team or (needs.teams[0].id if needs.teams else "")
        self._activity = needs.activities[0].id if needs.activities else ""
        self._fill_choices()
        self.phase = "choose"

    def _fill_choices(self) -> None:
        needs = self._pending_choice
        for box_id, items, current, setter in (("teams", needs.teams, self._team, self.pick_team),
                                               ("activities", needs.activities[:4], self._activity,
                                                self.pick_activity)):
            box = self.ids[box_id]
            box.clear_widgets()
            for item in items:
                chosen = item.id == current
                button = KButton(text=item.name, icon="check" if chosen else "",
                                 bg_color=theme.VOLUNTEER if chosen else theme.NEUTRAL)
                button.bind(on_release=lambda _b, i=item.id, f=setter: f(i))
                box.add_widget(button)

    def pick_team(self, team_id: str) -> None:
        self._team = team_id
        self._fill_choices()

    def pick_activity(self, activity_id: str) -> None:
        self._activity = activity_id
        self._fill_choices()

    def confirm_check_in(self) -> None:
        """Start the shift with the chosen team and activity."""
        try:
            done = self.ctx.services["timebank"].check_in(self.ctx.session.person, self._team, self._activity)
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or N_("The volunteer service could not be "
                                                                   "recorded. Please ask the staff."))
            self.phase = "status"
            return
        self.big = done.since.astimezone().strftime("%H:%M")
        self.big_caption = self._("Checked in with {team}. Thank you!", team=done.team_name)
        self.phase = "done"

    def reset(self) -> None:
        self.hello = self.shift = self.hours = self.balance = self.recent = self.big = ""
        self.message = self.big_caption = ""
        self._pending_choice = None

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "choose", "done"]

    def load_demo(self, state: str = "") -> None:
        from datetime import datetime, timedelta, timezone

        now = datetime.now(timezone.utc)
        services = (ServiceSummary("s0", "陪同就医", now - timedelta(hours=3), 2.0, False, None),
                    ServiceSummary("s1", "代购", now - timedelta(days=1), 1.0, True, 5),
                    ServiceSummary("s2", "上门探访", now - timedelta(days=3), 1.5, True, 4))
        self.enter()
        self._show_status(VolunteerStatus("V0001", "李*华", "orange", "暖心橙", now - timedelta(hours=2), 12.5,
                                          46.0, None, 1.5, services))
        if state == "choose":
            catalog = self.ctx.services["timebank"].catalog()
            self._choose(NeedsCheckIn("V0001", "李*华", tuple(catalog.teams), tuple(catalog.activities), "orange"))
        elif state == "done":
            self.big = "09:02"
            self.big_caption = self._("Checked in with {team}. Thank you!", team="暖心橙")
            self.phase = "done"


def _hours(value: float) -> str:
    """Hours as shown: 2, 2.5, 12.25."""
    return f"{value:g}"


Builder.load_file(str(Path(__file__).with_name("volunteer.kv")))
