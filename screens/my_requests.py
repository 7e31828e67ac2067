"""My requests (我的请求): how each of the resident's requests stands; confirm and rate a done one with
five faces, or cancel an open one with a reason."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.community.errors import RequestError
from kiosk.community.kinds import ASSIGNED, CANCEL_REASONS, DONE, REQUESTED, STATE_WORDS
from kiosk.community.lists import page_of, resident_order
from kiosk.community.requests import RequestView
from kiosk.community.wishes import CLAIMED, FULFILLED, WISH, WISH_STATE_WORDS, WishView, describe
from kiosk.timebank.errors import VolunteerError
from kiosk.timebank.kinds import RATINGS
from screens import service, theme  # noqa: F401  (service: registers the RateFace rule)
from screens.base import KioskScreen
from screens.pager import fill_pager
from screens.widgets import KButton, KLabel, Surface

RESIDENT_REASONS = ("not_needed", "solved", "time")
CARD_HEIGHT_DP = 124
CARD_PADDING_DP = 8


class MyRequestsScreen(KioskScreen):
    """list → rate (a done request) | cancel (an open one) → done."""

    personal = True
    phase = OptionProperty("list", options=["list", "rate", "cancel", "done"])
    subject = StringProperty("")
    message = StringProperty("")
    result = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._current: RequestView | None = None
        self._items: list = []

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "list_panel", "rate_panel", "cancel_panel", "done_panel")

    def enter(self, **_params) -> None:
        self.message = ""
        self._current = None
        self.phase = "list"
        self.on_phase(self, self.phase)
        person = self.ctx.session.person
        if person is None:
            self.show([])
            return
        self.show(self.ctx.services["community"].mine(person), self.ctx.services["wishes"].mine(person))

    def show(self, views: list[RequestView], wishes: list[WishView] = ()) -> None:
        """Fill the list: a done request waiting for confirmation first, then open ones, then wishes
        and suggestions, closed ones last; a page at a time."""
        self._items = resident_order(views, wishes)
        self.turn(1)

    def turn(self, number: int) -> None:
        """Show page ``number`` of the list."""
        box = self.ids.cards
        box.clear_widgets()
        page = page_of(self._items, number)
        if not self._items:
            box.add_widget(KLabel(text=self._("You have no requests yet."), role="title", size_hint_y=None,
                                  height=dp(64)))
        for item in page.items:
            box.add_widget(self._card(item) if isinstance(item, RequestView) else self._wish_card(item))
        fill_pager(self.ids.pager, page, self._, self.turn)

    def _wish_card(self, wish: WishView) -> Surface:
        card = Surface(orientation="vertical", bg_color=theme.CARD, padding=(dp(24), dp(CARD_PADDING_DP)),
                       size_hint_y=None, height=dp(CARD_HEIGHT_DP))
        _category, phrase = describe(wish)
        head = self._("Wish: {what}", what=self._(phrase)) if wish.kind == WISH else \
            self._("Suggestion: {what}", what=self._(phrase))
        card.add_widget(KLabel(text=head, role="title", bold=True, size_hint_y=None, height=dp(64)))
        state = self._(WISH_STATE_WORDS[wish.state], who=wish.claimed_by, note=wish.note)
        card.add_widget(KLabel(text=state, role="body", color=theme.INK_SOFT, size_hint_y=None, height=dp(44)))
        return card

    def _card(self, view: RequestView) -> Surface:
        card = Surface(bg_color=theme.CARD, padding=(dp(24), dp(CARD_PADDING_DP)), spacing=dp(16), size_hint_y=None,
                       height=dp(CARD_HEIGHT_DP))
        text = BoxLayout(orientation="vertical")
        text.add_widget(KLabel(text=f"{view.number}  {view.service_name}", role="title", bold=True, size_hint_y=None,
                               height=dp(64)))
        when = view.when_label or self._("As soon as possible")
        text.add_widget(KLabel(text=self._("{state} · {when}", state=self._(STATE_WORDS[view.state]), when=when),
                               role="body", color=theme.INK_SOFT, size_hint_y=None, height=dp(44)))
        card.add_widget(text)
        action = None
        if view.state == DONE:
            action = KButton(text=self._("Confirm and rate"), icon="check", bg_color=theme.OK)
            action.bind(on_release=lambda _b, v=view: self.start_rate(v))
        elif view.state in (REQUESTED, ASSIGNED):
            action = KButton(text=self._("Cancel it"), icon="back", bg_color=theme.NEUTRAL)
            action.bind(on_release=lambda _b, v=view: self.start_cancel(v))
        if action is not None:
            action.size_hint_x = None
            action.width = dp(300)
            action.pos_hint = {"center_y": 0.5}
            card.add_widget(action)
        return card

    def start_rate(self, view: RequestView) -> None:
        """The resident confirms a done request: show the five faces."""
        self._current = view
        self.subject = f"{view.number}  {view.service_name}"
        self.message = ""
        self.phase = "rate"

    def rate(self, rating: int) -> None:
        """A face was tapped."""
        try:
            done = self.ctx.services["community"].confirm(self._current.request_id, self.ctx.session.person, rating)
        except (RequestError, VolunteerError) as exc:
            self.message = self._(getattr(exc, "message", "") or RequestError.message)
            return
        self.result = self._("Thank you! You rated it “{word}”.", word=self._(RATINGS[rating]))
        if done.follow_up:
            self.result += "\n" + self._("A staff member will contact you about this service.")
        self.phase = "done"

    def start_cancel(self, view: RequestView) -> None:
        """Ask why the request is cancelled."""
        self._current = view
        self.subject = f"{view.number}  {view.service_name}"
        self.message = ""
        box = self.ids.reasons
        box.clear_widgets()
        for key in RESIDENT_REASONS:
            b = KButton(text=self._(CANCEL_REASONS[key]), bg_color=theme.NEUTRAL)
            b.bind(on_release=lambda _b, k=key: self.cancel(k))
            box.add_widget(b)
        self.phase = "cancel"

    def cancel(self, reason: str) -> None:
        """Cancel the request with ``reason``."""
        try:
            self.ctx.services["community"].cancel(self.ctx.session.person, self._current.request_id, reason)
        except RequestError as exc:
            self.message = self._(exc.message)
            return
        self.result = self._("Request {number} is cancelled.", number=self._current.number)
        self.phase = "done"

    def reset(self) -> None:
        self._current = None
        self._items = []
        self.subject = self.message = self.result = ""
        if "cards" in self.ids:
            self.ids.cards.clear_widgets()
            self.ids.pager.clear_widgets()

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "empty", "rate", "cancel", "done"]

    def load_demo(self, state: str = "") -> None:
        demo = [RequestView("r3", "1130-03", "demo", "purchase", "代购", "", "call_first", DONE, False, "", "V0001",
                            "", "王*明", "2026-11-30T09:00", 1.0),
                RequestView("r2", "1129-01", "demo", "haircut", "上门理发", "12-01 09:00-11:00", "", ASSIGNED, False,
                            "", "V0002", "", "王*明", "2026-11-29T09:00", 1.0),
                RequestView("r1", "1120-02", "demo", "receive", "代收", "", "", "confirmed", False, "", "V0001", "",
                            "王*明", "2026-11-20T09:00", 0.5)]
        wishes = [WishView("w1", WISH, "class", "phone", FULFILLED, "张江科技公司", "手机课 12月5日 开课", "2026-11-29T10:00"),
                  WishView("w2", WISH, "daily", "walker", CLAIMED, "暖心橙志愿队", "", "2026-11-10T10:00")]
        self.enter()
        self.show([] if state == "empty" else demo, [] if state == "empty" else wishes)
        if state == "rate":
            self.start_rate(demo[0])
        elif state == "cancel":
            self.start_cancel(demo[1])
        elif state == "done":
            self.result = self._("Thank you! You rated it “{word}”.", word=self._(RATINGS[5]))
            self.phase = "done"


Builder.load_file(str(Path(__file__).with_name("my_requests.kv")))
