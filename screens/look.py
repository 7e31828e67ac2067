"""Seeing modes for one visit: 大字 (larger text, 1.3×) and 高对比 (high contrast).

``look`` is the one observable the styled widgets follow: :class:`~screens.widgets.KLabel` scales
its font by ``look.scale``; labels, icons and surfaces keep their *designed* colour and show it
mapped through :func:`contrast_fg` / :func:`contrast_bg` while ``look.contrast`` is on (light
surfaces turn black, dark text turns white, fills keep their colour so categories keep their
meaning, and every button gets a yellow outline). The widgets' colour properties then hold what is
drawn, so the elder-friendly audit checks the colours a person actually sees. The shell resets
both modes when a visit ends.
"""
from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

from screens import theme

LARGE_SCALE = 1.3
BLACK = (0.0, 0.0, 0.0, 1.0)
WHITE = (1.0, 1.0, 1.0, 1.0)
OUTLINE = theme.rgb("#FFD400")          # 14:1 on black: buttons
EDGE = theme.rgb("#BDBDBD")             # panels that were light: their edge on the black page
_LIGHT = 0.3                            # relative luminance above which a colour counts as light


def contrast_bg(colour) -> tuple:
    """A background in high contrast: light surfaces become black (alpha kept), fills stay."""
    colour = tuple(colour)
    if len(colour) < 4 or theme.luminance(colour) <= _LIGHT:
        return colour
    return BLACK[:3] + (colour[3],)


def contrast_fg(colour) -> tuple:
    """Text or an icon in high contrast: dark ink becomes white (alpha kept)."""
    colour = tuple(colour)
    if len(colour) < 4 or theme.luminance(colour) > _LIGHT:
        return colour
    return WHITE[:3] + (colour[3],)


class Look(EventDispatcher):
    """The seeing modes of the visit now."""

    large = BooleanProperty(False)
    contrast = BooleanProperty(False)
    scale = NumericProperty(1.0)
    outline = ColorProperty((0, 0, 0, 0))

    def on_large(self, _instance, large: bool) -> None:
        self.scale = LARGE_SCALE if large else 1.0

    def on_contrast(self, _instance, contrast: bool) -> None:
        self.outline = OUTLINE if contrast else (0, 0, 0, 0)

    def reset(self) -> None:
        """Back to the standard look (the next person)."""
        self.large = False
        self.contrast = False


look = Look()


class ContrastColours:
    """Mixin for a widget whose colour properties follow high contrast.

    ``CONTRAST`` maps property names to :func:`contrast_fg` or :func:`contrast_bg`. Call
    :meth:`follow_contrast` at the end of ``__init__``. Values that kv or code assign later are
    taken as the new designed colour and shown mapped.
    """

    CONTRAST: dict = {}

    def follow_contrast(self) -> None:
        """Start following ``look.contrast``."""
        self._designed = {}
        self._mapping = False
        for prop in self.CONTRAST:
            self._designed[prop] = tuple(getattr(self, prop))
            self.fbind(prop, self._designed_changed, prop)
        look.fbind("contrast", self._apply_contrast, ref=True)   # weak, and no scan of every earlier binding
        if look.contrast:
            self._apply_contrast()

    def _designed_changed(self, prop: str, _instance, value) -> None:
        if self._mapping:
            return
        self._designed[prop] = tuple(value)
        if look.contrast:
            self._show(prop, self.CONTRAST[prop](value))
        self.contrast_applied()

    def _apply_contrast(self, *_args) -> None:
        for prop, mapper in self.CONTRAST.items():
            designed = self._designed[prop]
            self._show(prop, mapper(designed) if look.contrast else designed)
        self.contrast_applied()

    def contrast_applied(self) -> None:
        """Called after the colours were (re)mapped; a widget may add its own cue."""

    def _show(self, prop: str, value) -> None:
        self._mapping = True
        try:
            setattr(self, prop, value)
        finally:
            self._mapping = False
