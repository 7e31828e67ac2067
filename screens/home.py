"""Home: the station's service tiles, chosen and ordered by the hub's ``config`` document."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

from kiosk.community.home import announcement, home_tiles
from kiosk.documents import current_documents
from kiosk.i18n import N_
from screens import (
    theme,
    voice,  # noqa: F401  (registers ViewToggles for home.kv)
)
from screens.base import KioskScreen
from screens.widgets import Pressable

#: tile -> (title, subtitle, icon, colour, where it leads; services needing identification go
#: through the identify screen)
TILES = {
    "health": (N_("Health check"), N_("Blood pressure · blood glucose"), "heart", theme.HEALTH, "identify"),
    "request": (N_("Ask for help"), N_("Errands, home services · my requests"), "hand", theme.ACCENT, "identify"),
    "volunteer": (N_("Volunteers"), N_("Check in and out · my tasks"), "volunteer", theme.VOLUNTEER, "identify"),
    "records": (N_("My records"), N_("Your past results and trends"), "records", theme.NEUTRAL, "identify"),
    "activities": (N_("Events"), N_("This week · sign up by card"), "volunteer", theme.RECORDS, "activities"),
    "info": (N_("Information"), N_("Opening hours · guide · canteen"), "document", theme.WARN, "info"),
    "help": (N_("Help"), N_("How to use · call a staff member"), "help", theme.HELP, "help"),
}
TILE_TARGETS = {name: spec[4] for name, spec in TILES.items()}


class HomeTile(Pressable):
    """A home-screen tile: icon above a title and a one-line explanation."""

    text = StringProperty("")
    subtitle = StringProperty("")
    icon = StringProperty("")


class HomeScreen(KioskScreen):
    """The start screen: greeting and the station's tiles."""

    cols = NumericProperty(2)
    #: the hub catalog's announcement (公告), "" for none
    notice = StringProperty("")
    #: the line under the tiles: the announcement, else how to identify
    footer = StringProperty("")
    footer_icon = StringProperty("card")

    def on_kv_post(self, _base_widget) -> None:
        self.on_notice(self, self.notice)

    def on_notice(self, _instance, text: str) -> None:
        self.footer = self._("Notice: {text}", text=text) if text else \
            self._("You can use your ID card, citizen card or a QR code")
        self.footer_icon = "warning" if text else "card"

    def enter(self, **_params) -> None:
        self.fill_tiles()

    def fill_tiles(self) -> None:
        """Build the tiles the station's configuration asks for (those this kiosk has screens for)."""
        if self.ctx is None or self.nav is None:
            return
        try:
            documents = current_documents(self.ctx.settings.data_dir)
        except OSError:
            documents = {}
        config = (documents.get("config") or {}).get("body")
        self.notice = announcement((documents.get("catalog") or {}).get("body"))
        names = [t for t in home_tiles(config) if TILE_TARGETS[t] == "identify" or self.nav.has_screen(TILE_TARGETS[t])]
        box = self.ids.tiles
        box.clear_widgets()
        self.cols = 2 if len(names) <= 4 else 3
        for name in names:
            text, subtitle, icon, colour, _target = TILES[name]
            tile = HomeTile(text=self._(text), subtitle=self._(subtitle), icon=icon, bg_color=colour)
            tile.bind(on_release=lambda _t, n=name: self.choose(n))
            box.add_widget(tile)

    def choose(self, service: str) -> None:
        """A tile was tapped."""
        self.ctx.session.begin(service)
        target = TILE_TARGETS[service]
        if target == "identify":
            self.nav.go("identify", purpose=service)
        else:
            self.nav.go(target)

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "notice"]

    def load_demo(self, state: str = "") -> None:
        self.enter()
        if state == "notice":
            self.notice = "本周六上午九点在二楼活动室举办高血压健康讲座，欢迎参加"


Builder.load_file(str(Path(__file__).with_name("home.kv")))
