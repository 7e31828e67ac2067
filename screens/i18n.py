"""The Kivy side of the message catalogs: an observable language for kv bindings.

In kv: ``#:import tr screens.i18n.tr`` then ``text: tr._("Health check", tr.lang)``. Passing
``tr.lang`` makes kv re-evaluate the text when the language changes.
"""
from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import StringProperty

from kiosk.i18n import DEFAULT_LANGUAGE, gettext


class Lang(EventDispatcher):
    """The language of the person at the kiosk now."""

    lang = StringProperty(DEFAULT_LANGUAGE)

    def _(self, msgid: str, *_bindings, **fmt) -> str:
        """Translate ``msgid`` into the current language (extra positional args only create bindings)."""
        text = gettext(msgid, self.lang)
        return text.format(**fmt) if fmt else text


tr = Lang()
