"""Shared styled widgets: every screen is built from these, never from Kivy's default grey ones.

``bg_color`` marks a widget that paints its own background; the elder-friendly audit uses it to
find the colour behind each piece of text. ``role`` on labels says which size rule applies.
"""
from __future__ import annotations

import time
import weakref
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import (BooleanProperty, ColorProperty, NumericProperty, OptionProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label

from drivers import linebreak
from screens import theme
from screens.look import EDGE, ContrastColours, contrast_bg, contrast_fg, look
from screens.charts import CuffGauge, TrendChart  # noqa: F401  (registered for kv)
from screens.icons import Icon  # noqa: F401  (registered for kv)

#: called on every accepted tap of a Pressable (the shell plays the tap tone)
TAP_LISTENERS: list = []
#: A finger's second tap this soon after a tap, at the same place (within this share of the window),
#: on another button — one that appeared there when the first tap changed the screen — is ignored: a
#: double tap never presses two buttons. The same button again (a keypad's "1", "1") still works.
TAP_GUARD_S = 0.6
TAP_GUARD_SPOS = 0.03
_last_tap: dict = {"at": -1e9, "spos": (-1.0, -1.0), "widget": None}
#: the guard's clock (a test sets the time between a double tap's two taps)
tap_clock = time.monotonic


def tap_guard_left() -> float:
    """Seconds until no touch anywhere can be taken for a double tap's second tap (0 when none)."""
    return max(0.0, TAP_GUARD_S - (tap_clock() - _last_tap["at"]))


def tap_guarded(widget, spos: tuple[float, float]) -> bool:
    """A touch on ``widget`` at normalised window position ``spos`` now would be ignored."""
    last = _last_tap["widget"]
    return (tap_clock() - _last_tap["at"] < TAP_GUARD_S
            and abs(spos[0] - _last_tap["spos"][0]) < TAP_GUARD_SPOS
            and abs(spos[1] - _last_tap["spos"][1]) < TAP_GUARD_SPOS
            and (last is None or last() is not widget))

ROLE_SP = {"small": theme.TEXT_SMALL_SP, "body": theme.TEXT_BODY_SP, "title": theme.TEXT_TITLE_SP,
           "headline": theme.TEXT_HEADLINE_SP, "figure": theme.TEXT_FIGURE_SP}


class KLabel(ContrastColours, Label):
    """Text in one of the theme's roles: small, body, title, headline, figure (key numbers).

    ``wrap``: wraps at its width and grows to its text height. ``fit``: takes its text's natural
    size (one line). Otherwise the text is laid out in the label's box, and the audit flags text
    that does not fit. The size follows 大字 (``look.scale``), the colour high contrast. While text
    is large, a reading-size label of fixed height (``size_hint_y: None`` and a height from kv)
    grows to its text when that needs more (never a hidden one of height 0, nor one whose box
    would overflow) and returns to its height after; any other label keeps the largest text that
    fits its box, at most large and at least ``SHRINK_FLOOR`` of standard (never under the audit's
    minimum).
    """

    SHRINK_FLOOR = 0.85
    STRETCH_ROLES = ("small", "body")

    CONTRAST = {"color": contrast_fg}
    role = OptionProperty("body", options=list(ROLE_SP))
    wrap = BooleanProperty(False)
    fit = BooleanProperty(False)
    #: False for the header's status texts: 大字 enlarges the page, not the header bar
    scales = BooleanProperty(True)
    #: a ``fit`` label in a button: the widest its large text may grow (0: no limit)
    max_width = NumericProperty(0)

    def __init__(self, **kwargs) -> None:
        self._designed_height: float | None = None
        self._stretching = False
        self._overflowed = False       # stretching this label overflowed its box: it shrinks instead
        self._regrow = Clock.create_trigger(self._grow)       # after the texture of the new size
        super().__init__(**kwargs)
        self.font_size = sp(ROLE_SP[self.role]) * self._scale()
        self.bind(role=self._apply_role, scales=self._apply_role, max_width=self._apply_role, size=self._layout, wrap=self._layout, fit=self._layout,
                  texture_size=self._grow, height=self._height_given, parent=self._reparented)
        look.fbind("scale", self._apply_role, ref=True)   # weak, and no scan of every earlier binding
        self.follow_contrast()
        self._layout()

    def _apply_role(self, *_args) -> None:
        if self._scale() <= 1:
            self._overflowed = False
        self.font_size = sp(ROLE_SP[self.role]) * self._scale()
        self._layout()
        if not self._stretches() and self._designed_height is not None:
            self._set_height(self._designed_height)
        self._regrow()

    def _scale(self) -> float:
        return look.scale if self.scales else 1.0

    def _reparented(self, *_args) -> None:
        if self._scale() > 1:                        # stretch or shrink depends on the boxes around
            self._apply_role()

    def _stretches(self) -> bool:
        """Large text of a reading size (titles and figures are large already), a fixed height of its
        own, and no fixed-height box around it to overflow."""
        if self._scale() <= 1 or self.fit or self.wrap or self.size_hint_y is not None or self._overflowed \
                or self.role not in self.STRETCH_ROLES:
            return False
        w = self.parent
        while w is not None and w is not w.parent:
            if getattr(w, "size_hint_y", 1) is None:
                return False
            w = w.parent
        return True

    def _height_given(self, _instance, height: float) -> None:
        if not self._stretching:
            self._designed_height = height

    def _set_height(self, height: float) -> None:
        self._stretching = True
        try:
            self.height = height
        finally:
            self._stretching = False

    def _layout(self, *_args) -> None:
        if self.fit:
            self.size_hint = (None, None)
            self.text_size = (None, None)
        elif self.wrap:
            self.size_hint_y = None
            self.text_size = (self.width, None)
        elif self._scale() > 1:
            self.text_size = (self.width, None)
            if not self._stretches():
                self.font_size = sp(ROLE_SP[self.role]) * self._scale()    # retried at full size in a new box
                self._regrow()
        else:
            self.text_size = self.size

    def texture_update(self, *largs) -> None:
        """Lay the text out by the Chinese line-breaking rules before Kivy draws it.

        Kivy breaks Chinese anywhere (a line may start with ，, 事情 may be split); the label's text
        is broken here into lines that fit, so Kivy has nothing left to break. ``text`` itself is
        unchanged.
        """
        width = self.text_size[0]
        if width and self.text and not self.shorten and not self.markup:
            pad = self.padding[0] + self.padding[2]
            core = self._label
            self._label.text = "\n".join(linebreak.wrap(self.text, width - pad - 1, lambda s: core.get_extents(s)[0]))
        super().texture_update(*largs)

    def laid_out_lines(self) -> list[str]:
        """The text's lines as drawn now (for the audit)."""
        cached = getattr(self._label, "_cached_lines", None) or []
        return ["".join(word.text for word in line.words) for line in cached]

    def _grow(self, *_args) -> None:
        if self.fit:
            self.size = self.texture_size
            floor = max(sp(theme.BODY_MIN_SP), sp(ROLE_SP[self.role]) * self.SHRINK_FLOOR)
            if self._scale() > 1 and 0 < self.max_width < self.width and self.font_size > floor:
                self.font_size = max(floor, self.font_size * self.max_width / self.width * 0.97)
                self._regrow()
        elif self.wrap:
            self.height = self.texture_size[1]
        elif self._stretches():
            designed = self.height if self._designed_height is None else self._designed_height
            self._set_height(max(designed, self.texture_size[1]) if designed > 0 else designed)
            box = self.parent
            if box is not None and getattr(box, "minimum_height", 0) > box.height + 1:
                self._overflowed = True           # the box cannot give the room: shrink instead
                self._set_height(designed)
                self._layout()
        elif self._scale() > 1 and self.height > 0:
            need_w, need_h = self.texture_size
            ratio = min(self.height / need_h if need_h else 1, self.width / need_w if need_w else 1)
            floor = max(sp(theme.BODY_MIN_SP), sp(ROLE_SP[self.role]) * self.SHRINK_FLOOR)
            if ratio < 1 and self.font_size > floor:
                self.font_size = max(floor, self.font_size * ratio * 0.97)
                self._regrow()                    # check again once the texture is redone
            elif ratio < 1:
                self._reclaim()

    def _reclaim(self) -> None:
        """Cut even at the floor: stretched neighbours in the same box give their room back."""
        for other in self.parent.children if self.parent else ():
            if isinstance(other, KLabel) and other is not self and other._stretches() \
                    and other.height > (other._designed_height or 0) > 0:
                other._overflowed = True
                other._set_height(other._designed_height)
                other._layout()


class Surface(ContrastColours, BoxLayout):
    """A box that paints a rounded background in ``bg_color`` (black for light colours in high contrast)."""

    CONTRAST = {"bg_color": contrast_bg}
    bg_color = ColorProperty(theme.CARD)
    radius = NumericProperty(dp(theme.RADIUS_DP))
    edge_color = ColorProperty((0, 0, 0, 0))

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow_contrast()

    def contrast_applied(self) -> None:
        """In high contrast a panel that was light keeps its outline on the black page."""
        designed = self._designed["bg_color"]
        light = len(designed) == 4 and designed[3] > 0 and theme.luminance(designed) > 0.3
        self.edge_color = EDGE if look.contrast and light else (0, 0, 0, 0)


class Pressable(ButtonBehavior, Surface):
    """A Surface that acts as a button and darkens while pressed."""

    bg_color = ColorProperty(theme.ACCENT)
    fg_color = ColorProperty(theme.ON_DARK)
    press_shade = NumericProperty(0)

    def on_state(self, _instance, state: str) -> None:
        self.press_shade = 0.22 if state == "down" else 0

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos) and not self.disabled and tap_guarded(self, touch.spos):
            return True                   # the second tap of a double tap: swallowed, nothing happens
        return super().on_touch_down(touch)

    def on_release(self) -> None:
        touch = self.last_touch
        _last_tap.update(at=tap_clock(), spos=tuple(touch.spos) if touch is not None else (-1.0, -1.0),
                         widget=weakref.ref(self))
        for listener in TAP_LISTENERS:
            listener()


class KButton(Pressable):
    """A large flat button: optional icon and a centred label."""

    text = StringProperty("")
    icon = StringProperty("")
    font_role = OptionProperty("body", options=list(ROLE_SP))
    icon_width = NumericProperty(0)
    #: The width icon, text and padding need (for buttons sized to their content).
    content_width = NumericProperty(0)

    def __init__(self, **kwargs) -> None:
        # Defaults in Python, not in the kv rule: kv expressions in a base rule would override
        # what a subclass or caller passes.
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", dp(theme.BUTTON_HEIGHT_DP))
        super().__init__(**kwargs)
        self.bind(icon=self._fit_icon, height=self._fit_icon)
        self._fit_icon()

    def _fit_icon(self, *_args) -> None:
        self.icon_width = self.height * 0.5 if self.icon else 0


class Tile(Pressable):
    """A home-screen service tile: big icon, title, one-line explanation."""

    text = StringProperty("")
    subtitle = StringProperty("")
    icon = StringProperty("")


class Page(ContrastColours, FloatLayout):
    """The page background every screen sits on."""

    CONTRAST = {"bg_color": contrast_bg}
    bg_color = ColorProperty(theme.PAGE)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow_contrast()


Builder.load_file(str(Path(__file__).with_name("widgets.kv")))
