"""我有心愿 / 我有建议: a picture category, then a stock phrase — no typing; the wish goes to the
station's wish board, the suggestion to its suggestion box."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import OptionProperty, StringProperty

from kiosk.community.errors import RequestError
from kiosk.community.wishes import CATEGORIES, SUGGESTION, WISH
from kiosk.i18n import N_
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton

TITLES = {WISH: N_("Make a wish"), SUGGESTION: N_("Make a suggestion")}
TILE_HEIGHT_DP = 132


class WishScreen(KioskScreen):
    """category → phrase → done."""

    personal = True
    phase = OptionProperty("category", options=["category", "phrase", "done"])
    title = StringProperty("")
    subject = StringProperty("")
    message = StringProperty("")
    result = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._kind = WISH
        self._category = ""

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "category_panel", "phrase_panel", "done_panel")

    def enter(self, kind: str = WISH, **_params) -> None:
        self._kind = kind if kind in CATEGORIES else WISH
        self._category = ""
        self.title = self._(TITLES[self._kind])
        self.message = self.subject = self.result = ""
        self.phase = "category"
        self.on_phase(self, self.phase)
        box = self.ids.categories
        box.clear_widgets()
        for key, (text, icon, _phrases) in CATEGORIES[self._kind].items():
            b = KButton(text=self._(text), icon=icon, bg_color=theme.HELP, font_role="title",
                        height=dp(TILE_HEIGHT_DP))
            b.bind(on_release=lambda _b, k=key: self.pick_category(k))
            box.add_widget(b)

    def pick_category(self, category: str) -> None:
        """A category tile was tapped: offer its phrases."""
        self._category = category
        text, _icon, phrases = CATEGORIES[self._kind][category]
        self.subject = self._(text)
        box = self.ids.phrases
        box.clear_widgets()
        for key, phrase in phrases.items():
            b = KButton(text=self._(phrase), icon="check", bg_color=theme.RECORDS, font_role="title",
                        height=dp(TILE_HEIGHT_DP))
            b.bind(on_release=lambda _b, k=key: self.send(k))
            box.add_widget(b)
        self.phase = "phrase"

    def send(self, phrase: str) -> None:
        """A phrase was tapped: post the wish or suggestion."""
        try:
            self.ctx.services["wishes"].post(self.ctx.session.person, self.ctx.session.id, self._kind,
                                             self._category, phrase)
        except RequestError as exc:
            self.message = self._(exc.message)
            return
        self.result = self._("Thank you! The station staff will put it on the wish board; you will see "
                             "what happens under “My requests”.") if self._kind == WISH else \
            self._("Thank you! The station staff will read it and answer under “My requests”.")
        self.phase = "done"

    def reset(self) -> None:
        self._category = ""
        self.title = self.subject = self.message = self.result = ""

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "phrase", "suggestion", "done"]

    def load_demo(self, state: str = "") -> None:
        self.enter(kind=SUGGESTION if state == "suggestion" else WISH)
        if state == "phrase":
            self.pick_category("class")
        elif state == "done":
            self.result = self._("Thank you! The station staff will put it on the wish board; you will see "
                                 "what happens under “My requests”.")
            self.phase = "done"


Builder.load_file(str(Path(__file__).with_name("wish.kv")))
