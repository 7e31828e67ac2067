"""Ask for help (四代 and home services): a picture tile, when, an optional stock-phrase note, then the
request number in big figures and a printed slip."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, OptionProperty, StringProperty

from kiosk.community.errors import RequestError
from kiosk.community.kinds import ASAP, NOTE_PHRASES
from kiosk.community.requests import RequestView
from kiosk.community.slips import print_in_background, request_slip
from kiosk.i18n import N_
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton

TILE_HEIGHT_DP = 132
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class RequestScreen(KioskScreen):
    """choose (service tiles) → when → note and send → done (number, slip)."""

    personal = True
    phase = OptionProperty("choose", options=["choose", "when", "note", "done"])
    title = StringProperty("")
    summary = StringProperty("")
    number = StringProperty("")
    message = StringProperty("")
    print_text = StringProperty("")
    priority_text = StringProperty("")
    can_print = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._service = self._when = self._note = ""
        self._view = None

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "choose_panel", "when_panel", "note_panel", "done_panel")

    def enter(self, **_params) -> None:
        self._service = self._when = self._note = ""
        self._view = None
        self.message = self.number = self.summary = self.priority_text = self.title = ""
        self.phase = "choose"
        self.on_phase(self, self.phase)
        box = self.ids.services
        box.clear_widgets()
        for s in self.ctx.services["community"].services()[:8]:
            b = KButton(text=s.name, icon=s.icon, bg_color=theme.VOLUNTEER, font_role="title",
                        height=dp(TILE_HEIGHT_DP))
            b.bind(on_release=lambda _b, i=s.id: self.pick_service(i))
            box.add_widget(b)

    def pick_service(self, service_id: str) -> None:
        """A tile was tapped: ask when."""
        self._service = service_id
        self.message = self.title = ""
        box = self.ids.whens
        box.clear_widgets()
        options = [(ASAP, self._("As soon as possible"))]
        options += [(s.id, self._("{weekday} {label}", weekday=self._(WEEKDAYS[s.start.weekday()]), label=s.label))
                    for s in self.ctx.services["community"].slots(service_id)]
        self._when_texts = dict(options)
        for value, text in options:
            b = KButton(text=text, icon="clock", bg_color=theme.RECORDS if value == ASAP else theme.HEALTH)
            b.bind(on_release=lambda _b, v=value: self.pick_when(v))
            box.add_widget(b)
        self.phase = "when"

    def pick_when(self, when: str) -> None:
        """A time was tapped: offer the note phrases and the send button."""
        self._when = when
        self._note = ""
        self._fill_notes()
        self.phase = "note"

    def _fill_notes(self) -> None:
        name = next((s.name for s in self.ctx.services["community"].services() if s.id == self._service), "")
        self.summary = self._("{service} · {when}", service=name, when=self._when_texts.get(self._when, ""))
        self.title = self.summary
        box = self.ids.notes
        box.clear_widgets()
        for key, text in NOTE_PHRASES.items():
            chosen = key == self._note
            b = KButton(text=self._(text), icon="check" if chosen else "",
                        bg_color=theme.RECORDS if chosen else theme.NEUTRAL)
            b.bind(on_release=lambda _b, k=key: self.pick_note(k))
            box.add_widget(b)

    def pick_note(self, note: str) -> None:
        """Choose (or, tapped again, drop) a stock phrase."""
        self._note = "" if note == self._note else note
        self._fill_notes()

    def send(self) -> None:
        """Journal the request and show its number."""
        try:
            view = self.ctx.services["community"].ask(self.ctx.session.person, self.ctx.session.id, self._service,
                                                       self._when, self._note)
        except RequestError as exc:
            self.message = self._(exc.message)
            return
        self._show_done(view)

    def _show_done(self, view) -> None:
        self._view = view
        self.number = view.number
        self.priority_text = self._("Your banked volunteer hours put this request at the front of the queue.") \
            if view.priority else ""
        self.title = ""
        self.can_print = "printer" in self.ctx.services
        self.print_text = self._("Print a slip")
        self.phase = "done"

    def print_slip(self) -> None:
        """Print the request slip (worker thread); the button says how it went."""
        printer = self.ctx.services.get("printer")
        if printer is None or self._view is None:
            self.print_text = self._("No printer here")
            return
        slip = request_slip(self._view, station_name=self.ctx.settings.station.name,
                            when_text=self._when_texts.get(self._when, ""), lang=self.ctx.session.lang,
                            now=datetime.now())
        self.print_text = self._("Printing…")

        def done(error_key: str) -> None:
            self.print_text = self._("Printed — please take your slip") if not error_key else \
                self._("The printer is not working. Please ask the staff.")
        print_in_background(printer, slip, self.nav.post, done)

    def back(self) -> None:
        """One step back (from the first step: to the greeting)."""
        previous = {"when": "choose", "note": "when"}.get(self.phase)
        if previous is None:
            self.nav.go("greeting")
        elif previous == "when":
            self.pick_service(self._service)
        else:
            self.title = ""
            self.phase = previous

    def reset(self) -> None:
        self._service = self._when = self._note = ""
        self._view = None
        self.summary = self.number = self.message = self.priority_text = self.title = ""

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "when", "note", "done"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state in ("when", "note"):
            self.pick_service("purchase")
        if state == "note":
            self.pick_when(ASAP)
            self.pick_note("call_first")
        if state == "done":
            self.pick_service("purchase")
            self.pick_when(ASAP)
            self._show_done(RequestView("demo", "1130-03", "demo", "purchase", "代购", "", "", "requested", True,
                                        "volunteer:V0001", "", "", "王*明", "", 1.0))

Builder.load_file(str(Path(__file__).with_name("request.kv")))
