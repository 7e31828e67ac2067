"""The base class of every registered screen."""
from __future__ import annotations

from kivy.properties import ColorProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kivy.weakproxy import WeakProxy

from kiosk.i18n import Msg, Text
from screens import theme
from screens.i18n import tr
from screens.look import ContrastColours, contrast_bg
from screens.widgets import KButton


class Presence:
    """Hidden means gone: shows a widget by putting it in the tree, hides it by taking it out.

    A hidden widget neither draws, nor takes touches, nor takes space (no height-0, disabled,
    transparent leftovers whose fixed-height children overflow onto visible buttons). The first
    call for a widget remembers its parent and its place among its siblings, so showing it again
    puts it back where the kv rule had it. Strong references are kept because kv ``ids`` are weak.
    """

    def __init__(self) -> None:
        self._parents: dict[int, object] = {}       # widget -> the parent the kv rule gave it
        self._order: dict[int, list] = {}           # parent -> its children as first seen (all shown)

    def set_shown(self, widget, shown: bool) -> None:
        """Attach ``widget`` to its kv parent (``shown``) or detach it."""
        widget = widget.__ref__() if isinstance(widget, WeakProxy) else widget
        parent = self._parents.get(id(widget))
        if parent is None:
            parent = widget.parent
            if parent is None:
                raise ValueError(f"{widget!r} must be in the widget tree the first time it is shown or hidden")
            self._parents[id(widget)] = parent
            self._order.setdefault(id(parent), list(parent.children))
        siblings = self._order[id(parent)]
        if shown and widget.parent is None:
            # Kivy's children run last-to-first; count the siblings in front of it that are showing.
            index = sum(1 for w in siblings[:siblings.index(widget)] if w.parent is parent)
            parent.add_widget(widget, index=index)
        elif not shown and widget.parent is parent:
            parent.remove_widget(widget)

    def hidden(self) -> list:
        """The widgets this object has taken out of the tree (they still need re-translating)."""
        return [w for siblings in self._order.values() for w in siblings if w.parent is None]

    def is_shown(self, widget) -> bool:
        """True if ``widget`` is in the tree."""
        widget = widget.__ref__() if isinstance(widget, WeakProxy) else widget
        return widget.parent is not None


class KioskScreen(ContrastColours, Screen):
    """A screen with its collaborators injected.

    ``ctx`` is the :class:`kiosk.context.KioskContext`; ``nav`` is the shell's navigator
    (``go(name, **params)``, ``home()``). Subclasses override:

    - :meth:`enter` — called with navigation params before the screen shows;
    - :meth:`reset` — forget everything personal (idle timeout, session end);
    - :meth:`speech` — what the screen says when it appears;
    - :meth:`tour_states` / :meth:`load_demo` — representative states for the screen tour and audit.
    """

    CONTRAST = {"bg_color": contrast_bg}
    ctx = ObjectProperty(None, allownone=True)
    nav = ObjectProperty(None, allownone=True)
    bg_color = ColorProperty(theme.PAGE)
    station_name = StringProperty("")
    #: Screens that show personal data set this; home does not.
    personal = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow_contrast()

    def on_ctx(self, _instance, ctx) -> None:
        self.station_name = ctx.settings.station.name if ctx else ""

    def _(self, msgid: str, **fmt) -> Msg:
        """Translate in the session's language (for texts set from Python).

        The result remembers its message id, so :meth:`retranslate` can render it again when the
        language changes; texts set from Python must come from here (or be joined from such).
        """
        return Msg(msgid, tr.lang, **fmt)

    def retranslate(self, lang: str) -> None:
        """Render every text set from Python again in ``lang``: on the screen, on every widget in it,
        shown or hidden (kv texts bound to ``tr.lang`` follow by themselves)."""
        roots = [self] + (self._presence.hidden() if hasattr(self, "_presence") else [])
        for root in roots:
            for widget in root.walk(restrict=True):
                for name, prop in widget.properties().items():
                    if not isinstance(prop, StringProperty):
                        continue
                    value = getattr(widget, name)
                    if isinstance(value, Text):
                        setattr(widget, name, value.to(lang))

    def set_shown(self, name: str, shown: bool = True) -> None:
        """Show (or hide) the widget with kv id ``name``: hidden widgets are out of the tree.

        The one way screens show and hide parts of themselves; nothing toggles ``disabled`` or
        ``opacity`` for that.
        """
        if not hasattr(self, "_presence"):
            self._presence = Presence()
        self._presence.set_shown(self.ids[name], shown)

    def show_only(self, visible: str, *panels: str) -> None:
        """Show the panel with id ``visible`` and take the other ``panels`` out of the tree."""
        for name in panels:
            if name != visible:
                self.set_shown(name, False)
        self.set_shown(visible, True)

    def fill_demo_cards(self, box_id: str, *roles: str, new_card: bool = False) -> None:
        """Demo mode: buttons that place the sample cards fitting this wait, chosen by name (and,
        with ``new_card``, one that taps an unregistered contactless card); out of the tree otherwise."""
        demo = self.ctx.services.get("demo") if self.ctx is not None else None
        box = self.ids[box_id]
        box.clear_widgets()
        self.set_shown(box_id, demo is not None and bool(roles or new_card))
        if demo is None:
            return
        for kind, label, name in demo.cards(roles):
            button = KButton(text=self._(label, name=name), bg_color=theme.DEMO)
            button.bind(on_release=lambda _b, k=kind: demo.place_card(k))
            box.add_widget(button)
        if new_card:
            button = KButton(text=self._("Tap a new card"), bg_color=theme.DEMO)
            button.bind(on_release=lambda _b: demo.tap_new_card())
            box.add_widget(button)

    def enter(self, **params) -> None:
        """Prepare the screen for display with navigation ``params``."""

    def reset(self) -> None:
        """Clear every widget that may show personal data."""

    def speech(self) -> tuple[str, list | None]:
        """What the screen says when it appears: ``(prompt key, lines)``. ``lines`` of ``None`` means
        the catalogued prompt ``key`` (``kiosk/speech/prompts.py``); a screen with numbers or a name
        returns :class:`kiosk.speech.sentences.Line` s. Default: the prompt named after the screen."""
        return self.name, None

    @classmethod
    def tour_states(cls) -> list[str]:
        """Names of the states the tour photographs ('' = the default state)."""
        return [""]

    def load_demo(self, state: str = "") -> None:
        """Fill the screen with representative demo data for ``state``."""
        self.enter()
