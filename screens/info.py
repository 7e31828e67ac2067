"""Station information (驿站信息), no identification needed: opening hours, service windows, the
affairs guide and the canteen menu, from the hub's ``config`` document."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import OptionProperty, StringProperty

from kiosk.community.info import HOW, GuideItem, StationInfo, station_info
from kiosk.documents import current_documents
from kiosk.i18n import N_, Joined
from screens import theme
from screens.base import KioskScreen
from screens.widgets import KButton, KLabel, Surface

SECTIONS = {"hours": (N_("Opening hours"), "clock"), "windows": (N_("Service windows"), "person"),
            "guide": (N_("Affairs guide"), "document"), "canteen": (N_("Canteen"), "bag")}
#: Cards on one page of the windows or the guide: two fit under the section buttons in every seeing mode.
PAGE_SIZE = 2
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class InfoScreen(KioskScreen):
    """Four sections chosen by buttons; the windows and the guide page two at a time."""

    section = OptionProperty("hours", options=list(SECTIONS))
    page_text = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._info = StationInfo()
        self._page = 0
        self._next = KButton(icon="list", bg_color=theme.RECORDS)
        self._next.bind(on_release=lambda _b: self.next_page())

    def enter(self, **_params) -> None:
        try:
            config = (current_documents(self.ctx.settings.data_dir).get("config") or {}).get("body")
        except OSError:
            config = None
        self.show(station_info(config), "hours")

    def show(self, info: StationInfo, section: str) -> None:
        """Show ``section`` of ``info`` from its first page."""
        self._info = info
        self.pick(section)

    def pick(self, section: str) -> None:
        """A section button was tapped."""
        self.section = section
        self._page = 0
        self._fill()

    def next_page(self) -> None:
        """The next page of the windows or the guide (back to the first after the last)."""
        pages = max(1, -(-len(self._paged()) // PAGE_SIZE))
        self._page = (self._page + 1) % pages
        self._fill()

    def _paged(self) -> tuple:
        """What the current section shows a page at a time (nothing for hours and the canteen)."""
        return {"windows": self._info.windows, "guide": self._info.guide}.get(self.section, ())

    def _this_page(self) -> list:
        return list(self._paged()[self._page * PAGE_SIZE:(self._page + 1) * PAGE_SIZE])

    def _fill(self) -> None:
        bar = self.ids.sections
        bar.clear_widgets()
        for key, (text, icon) in SECTIONS.items():
            chosen = key == self.section
            b = KButton(text=self._(text), icon=icon, bg_color=theme.RECORDS if chosen else theme.NEUTRAL)
            b.bind(on_release=lambda _b, k=key: self.pick(k))
            bar.add_widget(b)
        box = self.ids.content
        box.clear_widgets()
        rows = {"hours": self._hours, "windows": self._windows, "guide": self._guide,
                "canteen": self._canteen}[self.section]()
        if not rows:
            rows = [self._line(self._("The station has not published this yet. Please ask the staff."))]
        for row in rows:
            box.add_widget(row)
        pages = -(-len(self._paged()) // PAGE_SIZE)
        self.page_text = self._("Next page ({page}/{pages})", page=self._page + 1, pages=pages) if pages > 1 else ""
        if self._next.parent is not None:
            self.ids.actions.remove_widget(self._next)
        if self.page_text:
            self._next.text = self.page_text
            self.ids.actions.add_widget(self._next)

    def _line(self, text: str, role: str = "title") -> KLabel:
        return KLabel(text=text, role=role, wrap=True)

    def _card(self, title: str, body: str) -> Surface:
        card = Surface(orientation="vertical", bg_color=theme.CARD, padding=(dp(24), dp(8)), size_hint_y=None,
                       height=dp(128))
        card.add_widget(KLabel(text=title, role="title", bold=True, size_hint_y=None, height=dp(64)))
        card.add_widget(KLabel(text=body, role="body", color=theme.INK_SOFT, size_hint_y=None, height=dp(48)))
        return card

    def _hours(self) -> list:
        return [self._line(f"{days}   {time}") for days, time in self._info.hours]

    def _windows(self) -> list:
        return [self._card(name, does) for name, does in self._this_page()]

    def _guide(self) -> list:
        items: list[GuideItem] = self._this_page()
        return [self._card(g.name, self._("{how} · bring: {things}", how=self._(HOW[g.how]),
                                          things="、".join(g.bring) or self._("nothing")))
                for g in items]

    def _canteen(self) -> list:
        rows = []
        if self._info.canteen_hours:
            rows.append(self._line(self._("Meals served {hours}", hours=self._info.canteen_hours)))
        today = datetime.now().isoweekday()
        for day in (today, today % 7 + 1):
            dishes = self._info.menu.get(day)
            if dishes:
                word = self._("Today") if day == today else self._("Tomorrow")
                rows.append(self._card(Joined(" · ", (word, self._(WEEKDAYS[day - 1]))), "、".join(dishes)))
        return rows

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "windows", "guide", "canteen", "empty"]

    def load_demo(self, state: str = "") -> None:
        days = {str(d): ["红烧狮子头", "番茄炒蛋", "清炒时蔬", "紫菜蛋花汤"] for d in range(1, 8)}
        info = station_info({"info": {
            "hours": [{"days": "周一至周五", "time": "08:30-17:00"}, {"days": "周六", "time": "09:00-12:00"},
                      {"days": "周日、法定节假日", "time": "休息"}],
            "windows": [{"name": "1号窗口", "does": "社保、医保、养老服务"}, {"name": "2号窗口", "does": "居住证、计生、民政"},
                        {"name": "志愿服务台", "does": "四代服务、微心愿、活动报名"},
                        {"name": "3号窗口", "does": "残联、退役军人服务"}],
            "guide": [{"name": "老年人综合津贴", "how": "on_the_spot", "bring": ["身份证", "社保卡"]},
                      {"name": "居住证办理", "how": "accepted", "bring": ["身份证", "租房合同", "照片"]},
                      {"name": "医保报销", "how": "accepted", "bring": ["社保卡", "发票", "病历"]},
                      {"name": "敬老卡", "how": "on_the_spot", "bring": ["身份证"]}],
            "canteen": {"hours": "11:00-13:00", "menu": days}}})
        self.show(StationInfo() if state == "empty" else info, state if state in SECTIONS else "hours")


Builder.load_file(str(Path(__file__).with_name("info.kv")))
