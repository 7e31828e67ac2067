"""The base class of every registered screen."""
from __future__ import annotations

from kivy.properties import ColorProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from screens import theme


class KioskScreen(Screen):
    """A screen with its collaborators injected.

    ``ctx`` is the :class:`kiosk.context.KioskContext`; ``nav`` is the shell's navigator
    (``go(name, **params)``, ``home()``). Subclasses override:

    - :meth:`enter` — called with navigation params before the screen shows;
    - :meth:`reset` — forget everything personal (idle timeout, session end);
    - :meth:`tour_states` / :meth:`load_demo` — representative states for the screen tour and audit.
    """

    ctx = ObjectProperty(None, allownone=True)
    nav = ObjectProperty(None, allownone=True)
    bg_color = ColorProperty(theme.PAGE)
    station_name = StringProperty("")
    #: Screens that show personal data set this; home does not.
    personal = False

    def on_ctx(self, _instance, ctx) -> None:
        self.station_name = ctx.settings.station.name if ctx else ""

    def _(self, msgid: str, **fmt) -> str:
        """Translate in the session's language (for texts set from Python)."""
        from screens.i18n import tr
        return tr._(msgid, **fmt)

    def show_only(self, visible: str, *panels: str) -> None:
        """Show the panel with id ``visible`` and collapse the others (hidden, no touches, no space)."""
        for name in panels:
            panel = self.ids[name]
            shown = name == visible
            panel.opacity = 1 if shown else 0
            panel.disabled = not shown
            panel.size_hint_y = 1 if shown else None
            if not shown:
                panel.height = 0

    def enter(self, **params) -> None:
        """Prepare the screen for display with navigation ``params``."""

    def reset(self) -> None:
        """Clear every widget that may show personal data."""

    @classmethod
    def tour_states(cls) -> list[str]:
        """Names of the states the tour photographs ('' = the default state)."""
        return [""]

    def load_demo(self, state: str = "") -> None:
        """Fill the screen with representative demo data for ``state``."""
        self.enter()
