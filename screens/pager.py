"""The page buttons of a kiosk list (上一页 · 第 1/2 页 · 下一页): shown only when the list has
more than one page; a button that has no page to go to is not there (hidden means gone)."""
from __future__ import annotations

from collections.abc import Callable

from kivy.metrics import dp
from kivy.uix.widget import Widget

from kiosk.community.lists import Page
from screens import theme
from screens.widgets import KButton, KLabel

PAGER_HEIGHT_DP = 80


def fill_pager(box, page: Page, tr: Callable[..., str], turn: Callable[[int], None]) -> None:
    """Put the page buttons of ``page`` into ``box`` (emptied and 0 high for a single page).

    Args:
        tr: the screen's translate function (``KioskScreen._``).
        turn: called with the page number to show.
    """
    box.clear_widgets()
    if page.count <= 1:
        return
    if page.has_prev:
        back = KButton(text=tr("Previous page"), icon="back", bg_color=theme.NEUTRAL, height=dp(PAGER_HEIGHT_DP))
        back.bind(on_release=lambda _b: turn(page.number - 1))
        box.add_widget(back)
    else:
        box.add_widget(Widget())
    box.add_widget(KLabel(text=tr("Page {n} of {count}", n=page.number, count=page.count), role="title",
                          halign="center"))
    if page.has_next:
        more = KButton(text=tr("Next page"), icon="forward", bg_color=theme.VOLUNTEER, height=dp(PAGER_HEIGHT_DP))
        more.bind(on_release=lambda _b: turn(page.number + 1))
        box.add_widget(more)
    else:
        box.add_widget(Widget())
