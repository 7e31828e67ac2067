"""Shared styled widgets: every screen is built from these, never from Kivy's default grey ones.

``bg_color`` marks a widget that paints its own background; the elder-friendly audit uses it to
find the colour behind each piece of text. ``role`` on labels says which size rule applies.
"""
from __future__ import annotations

from pathlib import Path

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
from screens.charts import CuffGauge, TrendChart  # noqa: F401  (registered for kv)
from screens.icons import Icon  # noqa: F401  (registered for kv)

ROLE_SP = {"small": theme.TEXT_SMALL_SP, "body": theme.TEXT_BODY_SP, "title": theme.TEXT_TITLE_SP,
           "headline": theme.TEXT_HEADLINE_SP, "figure": theme.TEXT_FIGURE_SP}


class KLabel(Label):
    """Text in one of the theme's roles: small, body, title, headline, figure (key numbers).

    ``wrap``: wraps at its width and grows to its text height. ``fit``: takes its text's natural
    size (one line). Otherwise the text is laid out in the label's box, and the audit flags text
    that does not fit.
    """

    role = OptionProperty("body", options=list(ROLE_SP))
    wrap = BooleanProperty(False)
    fit = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.font_size = sp(ROLE_SP[self.role])
        self.bind(role=self._apply_role, size=self._layout, wrap=self._layout, fit=self._layout,
                  texture_size=self._grow)
        self._layout()

    def _apply_role(self, *_args) -> None:
        self.font_size = sp(ROLE_SP[self.role])

    def _layout(self, *_args) -> None:
        if self.fit:
            self.size_hint = (None, None)
            self.text_size = (None, None)
        elif self.wrap:
            self.size_hint_y = None
            self.text_size = (self.width, None)
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
        elif self.wrap:
            self.height = self.texture_size[1]


class Surface(BoxLayout):
    """A box that paints a rounded background in ``bg_color``."""

    bg_color = ColorProperty(theme.CARD)
    radius = NumericProperty(dp(theme.RADIUS_DP))


class Pressable(ButtonBehavior, Surface):
    """A Surface that acts as a button and darkens while pressed."""

    bg_color = ColorProperty(theme.ACCENT)
    fg_color = ColorProperty(theme.ON_DARK)
    press_shade = NumericProperty(0)

    def on_state(self, _instance, state: str) -> None:
        self.press_shade = 0.22 if state == "down" else 0


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


class Page(FloatLayout):
    """The page background every screen sits on."""

    bg_color = ColorProperty(theme.PAGE)


Builder.load_file(str(Path(__file__).with_name("widgets.kv")))
