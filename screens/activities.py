"""近期活动: this week's activities as large cards; a card tap signs up (or waits on the list when
full), cancels before the start, or marks attendance at the event; a reminder slip can be printed."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from drivers.printer_escpos import Slip
from kiosk.community.activities import CHECK_IN_EARLY, Activity, ActivityError
from kiosk.community.errors import RequestError
from kiosk.community.slips import print_in_background
from kiosk.i18n import N_, Joined, Translator
from kiosk.identity import Identified
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton, KLabel, Surface

SHOWN = 3
#: What a resident whose waitlisted sign-up moved up to a seat reads (the greeting says it too).
PROMOTED_TEXT = N_("Good news: a place has freed up. You are signed up now.")
#: The person's own status on an activity's card.
MINE_WORDS = {"seat": N_("You are signed up"), "waitlist": N_("You are on the waitlist"),
              "attended": N_("Attended")}
CARD_HEIGHT_DP = 128
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class ActivitiesScreen(KioskScreen):
    """list → card (tap your card) → done (signed up / waitlisted / attended / cancelled)."""

    personal = True
    phase = OptionProperty("list", options=["list", "card", "done"])
    subject = StringProperty("")
    result = StringProperty("")
    message = StringProperty("")
    print_text = StringProperty("")
    can_cancel = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._chosen: Activity | None = None

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "list_panel", "card_panel", "done_panel")
        self.fill_demo_cards("demo_bar", *(("resident", "volunteer") if phase == "card" else ()))

    def enter(self, promoted: str = "", **_params) -> None:
        """The list; with ``promoted`` (an activity id, from the greeting's notice) that activity's
        sign-up, moved up from the waitlist, with the reminder slip to print."""
        self._chosen = None
        self.message = self.result = ""
        self.phase = "list"
        self.on_phase(self, self.phase)
        items = self.ctx.services["activities"].upcoming(self.ctx.session.person)
        self.show(items)
        chosen = next((a for a in items if a.id == promoted and a.mine == "seat"), None) if promoted else None
        if chosen is not None:
            self._chosen = chosen
            self.subject = Joined(" · ", (chosen.title, self._when(chosen)))
            self._done(self._(PROMOTED_TEXT), can_cancel=True)

    def _done(self, result, can_cancel: bool) -> None:
        self.result = result
        self.can_cancel = can_cancel
        self.print_text = self._("Print a reminder")
        self._fill_done_actions()
        self.phase = "done"

    def show(self, items: list[Activity]) -> None:
        """Fill the list with the soonest activities."""
        box = self.ids.cards
        box.clear_widgets()
        if not items:
            box.add_widget(KLabel(text=self._("No activities this week."), role="title", size_hint_y=None,
                                  height=dp(64)))
        for a in items[:SHOWN]:
            box.add_widget(self._card(a))

    def _when(self, a: Activity) -> str:
        local = a.start.astimezone()
        return self._("{weekday} {date} {start}-{end}", weekday=self._(WEEKDAYS[local.weekday()]),
                      date=local.strftime("%m-%d"), start=local.strftime("%H:%M"),
                      end=a.end.astimezone().strftime("%H:%M"))

    def _card(self, a: Activity) -> Surface:
        card = Surface(bg_color=theme.CARD, padding=(dp(24), dp(8)), spacing=dp(16), size_hint_y=None,
                       height=dp(CARD_HEIGHT_DP))
        text = BoxLayout(orientation="vertical")
        text.add_widget(KLabel(text=a.title, role="title", bold=True, size_hint_y=None, height=dp(64)))
        seats = self._("Full — waitlist open") if a.full else \
            self._("{n} places left", n=a.capacity - a.taken)
        if a.mine:
            seats = self._("Moved up: signed up") if a.promoted and a.mine == "seat" \
                else self._(MINE_WORDS[a.mine])
        text.add_widget(KLabel(text=Joined(" · ", (self._when(a), a.place, seats)), role="body", color=theme.INK_SOFT,
                               size_hint_y=None, height=dp(44)))
        card.add_widget(text)
        action = KButton(text=self._("Sign up / attend"), icon="card", bg_color=theme.HEALTH,
                         size_hint_x=None, width=dp(300), pos_hint={"center_y": 0.5})
        action.bind(on_release=lambda _b, v=a: self.choose(v))
        card.add_widget(action)
        return card

    def choose(self, activity: Activity) -> None:
        """An activity's button: act at once for an identified person, else ask for the card."""
        self._chosen = activity
        self.subject = Joined(" · ", (activity.title, self._when(activity)))
        self.message = ""
        if self.ctx.session.person is not None:
            self._act(self.ctx.session.person)
        else:
            self.phase = "card"

    def on_identity(self, item) -> None:
        """A card tapped while the card prompt shows."""
        outcome = getattr(item, "outcome", None)
        if self.phase != "card" or not isinstance(outcome, Identified):
            if outcome is not None and hasattr(outcome, "message"):
                self.message = self._(outcome.message)
            return
        self.ctx.session.identify(outcome.person)
        self._act(outcome.person)

    def _act(self, person) -> None:
        service = self.ctx.services["activities"]
        now = datetime.now().astimezone()
        a = self._chosen
        try:
            current = next((x for x in service.upcoming(person) if x.id == a.id), a)
            if current.mine in ("seat", "waitlist") and now >= current.start - CHECK_IN_EARLY:
                service.attend(person, a.id)
                self.result = self._("Welcome! Your attendance is recorded.")
                self.can_cancel = False
            elif current.mine in ("seat", "waitlist"):
                told = current.promoted and any(p.id == a.id for p in service.promotions(person))
                self.result = self._(PROMOTED_TEXT) if told else self._("You are signed up.") \
                    if current.mine == "seat" else self._("You are on the waitlist.")
                if told:
                    service.promotion_told(person, a.id)
                self.can_cancel = True
            elif current.mine == "attended":
                self.result = self._("Welcome! Your attendance is recorded.")
                self.can_cancel = False
            else:
                done = service.sign_up(person, a.id)
                self._chosen = done
                self.result = self._("Signed up. See you there!") if done.mine == "seat" else \
                    self._("The activity is full; you are on the waitlist. Tap your card here again to see whether a place has freed up.")
                self.can_cancel = False
        except (ActivityError, RequestError) as exc:
            self.message = self._(exc.message)
            self.phase = "card" if self.phase == "card" else "list"
            return
        self.print_text = self._("Print a reminder")
        self._fill_done_actions()
        self.phase = "done"

    def _fill_done_actions(self) -> None:
        box = self.ids.done_actions
        box.clear_widgets()
        specs = [(self.print_text, "printer", theme.RECORDS, self.print_reminder)]
        if self.can_cancel:
            specs.append((self._("Cancel sign-up"), "back", theme.DANGER, self.cancel))
        specs.append((self._("All activities"), "list", theme.HELP, self.back_to_list))
        specs.append((self._("Done"), "home", theme.NEUTRAL, self.nav.finish))
        for text, icon, colour, action in specs:
            b = KButton(text=text, icon=icon, bg_color=colour)
            b.bind(on_release=lambda _b, f=action: f())
            box.add_widget(b)

    def back_to_list(self) -> None:
        """The list again, with the identified person's status on each card."""
        self.message = ""
        self.phase = "list"
        self.show(self.ctx.services["activities"].upcoming(self.ctx.session.person))

    def cancel(self) -> None:
        """Cancel the sign-up (before the start)."""
        try:
            self.ctx.services["activities"].cancel(self.ctx.session.person, self._chosen.id)
        except (ActivityError, RequestError) as exc:
            self.message = self._(exc.message)
            return
        self.result = self._("Your sign-up is cancelled.")
        self.can_cancel = False
        self._fill_done_actions()

    def print_reminder(self) -> None:
        """Print a reminder slip: what, when, where."""
        printer = self.ctx.services.get("printer")
        person = self.ctx.session.person
        if printer is None or self._chosen is None:
            self.print_text = self._("No printer here")
            self._fill_done_actions()
            return
        t = Translator(self.ctx.session.lang)
        a = self._chosen
        slip = Slip(station=self.ctx.settings.station.name, name=person.display_name if person else "",
                    time=datetime.now().strftime("%Y-%m-%d %H:%M"), readings=(a.title, self._when(a), a.place),
                    title=t._(N_("Activity reminder")), advice=t._(N_("Please come on time and bring your card.")),
                    note="")
        self.print_text = self._("Printing…")

        def done(error_key: str) -> None:
            self.print_text = self._("Printed — please take your slip") if not error_key else \
                self._("The printer is not working. Please ask the staff.")
            self._fill_done_actions()
        print_in_background(printer, slip, self.nav.post, done)
        self._fill_done_actions()

    def reset(self) -> None:
        self._chosen = None
        self.subject = self.result = self.message = ""

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "card", "done", "empty", "mine", "promoted"]

    def load_demo(self, state: str = "") -> None:
        from datetime import timedelta
        now = datetime.now().astimezone().replace(hour=9, minute=0, second=0, microsecond=0)
        items = [Activity("a1", "健康讲座：冬季防跌倒", "驿站活动室", now + timedelta(days=1), now + timedelta(days=1, hours=1),
                          40, 12, 0),
                 Activity("a2", "书法班", "二楼教室", now + timedelta(days=2), now + timedelta(days=2, hours=2), 20, 20, 3),
                 Activity("a3", "法律咨询日", "驿站大厅", now + timedelta(days=3), now + timedelta(days=3, hours=3), 30, 5, 0)]
        self.enter()
        if state in ("mine", "promoted"):
            items[0] = replace(items[0], taken=40, waiting=1, mine="waitlist")
            items[1] = replace(items[1], waiting=2, mine="seat", promoted=True)
        self.show([] if state == "empty" else items)
        if state == "promoted":
            self._chosen = items[1]
            self.subject = Joined(" · ", (items[1].title, self._when(items[1])))
            self._done(self._(PROMOTED_TEXT), can_cancel=True)
        if state in ("card", "done"):
            self._chosen = items[0]
            self.subject = Joined(" · ", (items[0].title, self._when(items[0])))
            self.phase = "card"
        if state == "done":
            self.result = self._("Signed up. See you there!")
            self.print_text = self._("Print a reminder")
            self.can_cancel = False
            self._fill_done_actions()
            self.phase = "done"


Builder.load_file(str(Path(__file__).with_name("activities.kv")))
