"""My tasks (我的任务): the volunteer's assigned requests and the open ones they may take on; marking
one done hands over to the resident's card (confirm and rate on the service screen)."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.community.errors import RequestError
from kiosk.community.kinds import ASSIGNED, NOTE_PHRASES, REQUESTED
from kiosk.community.lists import page_of, volunteer_order
from kiosk.community.requests import RequestView
from kiosk.timebank.errors import VolunteerError
from screens import theme
from screens.base import KioskScreen
from screens.pager import fill_pager
from screens.widgets import KButton, KLabel, Surface

CARD_HEIGHT_DP = 124


class TasksScreen(KioskScreen):
    """The volunteer's task list; actions: take on an open request, mark an own task done."""

    personal = True
    message = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._items: list[RequestView] = []

    def enter(self, **_params) -> None:
        self.message = ""
        self.refresh()

    def refresh(self) -> None:
        """Read the tasks again."""
        person = self.ctx.session.person
        try:
            mine, free = self.ctx.services["community"].tasks(person) if person else ([], [])
        except VolunteerError as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
            mine, free = [], []
        self.show(mine, free)

    def show(self, mine: list[RequestView], free: list[RequestView], page: int = 1) -> None:
        """Own tasks first, then this station's open requests, then other stations' (priority first
        within each); a page at a time."""
        self._items = volunteer_order(mine, free, self.ctx.settings.station.id)
        self.turn(page)

    def turn(self, number: int) -> None:
        """Show page ``number`` of the list."""
        box = self.ids.cards
        box.clear_widgets()
        page = page_of(self._items, number)
        if not self._items:
            box.add_widget(KLabel(text=self._("No tasks right now. Thank you!"), role="title", size_hint_y=None,
                                  height=dp(64)))
        for view in page.items:
            box.add_widget(self._card(view))
        fill_pager(self.ids.pager, page, self._, self.turn)

    def _where(self, view: RequestView) -> str:
        if view.station == self.ctx.settings.station.id:
            return self._("This station")
        return view.station_name or view.station

    def _card(self, view: RequestView) -> Surface:
        card = Surface(bg_color=theme.CARD, padding=(dp(24), dp(8)), spacing=dp(16), size_hint_y=None,
                       height=dp(CARD_HEIGHT_DP))
        text = BoxLayout(orientation="vertical")
        head = f"{view.number}  {view.service_name}  {view.display_name}"
        if view.priority:
            head += "  " + self._("Priority")
        text.add_widget(KLabel(text=head, role="title", bold=True, size_hint_y=None, height=dp(64)))
        line = self._("{where} · {when}", where=self._where(view),
                      when=view.when_label or self._("As soon as possible"))
        if view.note in NOTE_PHRASES:
            line = self._("{line} · {note}", line=line, note=self._(NOTE_PHRASES[view.note]))
        text.add_widget(KLabel(text=line, role="body", color=theme.INK_SOFT, size_hint_y=None, height=dp(44)))
        card.add_widget(text)
        if view.state == ASSIGNED:
            action = KButton(text=self._("Mark done"), icon="check", bg_color=theme.OK)
            action.bind(on_release=lambda _b, v=view: self.mark_done(v))
        else:
            action = KButton(text=self._("I will do it"), icon="hand", bg_color=theme.VOLUNTEER)
            action.bind(on_release=lambda _b, v=view: self.claim(v))
        action.size_hint_x = None
        action.width = dp(280)
        action.pos_hint = {"center_y": 0.5}
        card.add_widget(action)
        return card

    def claim(self, view: RequestView) -> None:
        """Take on an open request."""
        try:
            self.ctx.services["community"].claim(self.ctx.session.person, view.request_id)
        except (RequestError, VolunteerError) as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
        else:
            self.message = ""
        self.refresh()

    def mark_done(self, view: RequestView) -> None:
        """Mark the task done and hand over to the resident's card on the service screen."""
        try:
            pending = self.ctx.services["community"].mark_done(self.ctx.session.person, view.request_id)
        except (RequestError, VolunteerError) as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
            return
        self.nav.go("service", request=view, pending=pending)

    def reset(self) -> None:
        self.message = ""
        self._items = []
        if "cards" in self.ids:
            self.ids.cards.clear_widgets()
            self.ids.pager.clear_widgets()

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "empty"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state == "empty":
            self.show([], [])
            return
        here = self.ctx.settings.station.id
        self.show([RequestView("r1", "1130-01", here, "purchase", "代购", "", "", ASSIGNED, False, "", "V0001", "",
                               "王*明", "2026-11-30T08:00", 1.0)],
                  [RequestView("r2", "1130-02", "demo-002", "errand", "代办", "", "receipt", REQUESTED, True,
                               "volunteer:V0003", "", "", "张*英", "2026-11-30T08:30", 1.0, "张江二号驿站"),
                   RequestView("r3", "1130-03", here, "haircut", "上门理发", "12-01 09:00-11:00", "", REQUESTED, False,
                               "", "", "", "刘*", "2026-11-30T09:00", 1.0),
                   RequestView("r4", "1130-04", "demo-003", "receive", "代收", "", "", REQUESTED, False, "", "", "",
                               "赵*", "2026-11-30T09:30", 0.5, "张江三号驿站")])


Builder.load_file(str(Path(__file__).with_name("tasks.kv")))
