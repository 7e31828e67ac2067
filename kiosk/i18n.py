"""Message catalogs: every string a person reads goes through here.

Message ids are English; ``kiosk/locale/<lang>/LC_MESSAGES/*.po`` hold the translations, one
``.po`` file per area (``core.po``, ``health.po``, ``identify.po`` …), merged at load. Chinese
(``zh_CN``) is the default language; English shows the message id itself unless an ``en``
catalog overrides it. Placeholders use ``str.format`` names: ``"{name}, hello"``.

Mark strings that are translated later (tables, dataclass fields) with :func:`N_` so the
catalog check finds them.
"""
from __future__ import annotations

import functools
from pathlib import Path

from drivers.messages import N_

__all__ = ["N_", "LANGUAGES", "DEFAULT_LANGUAGE", "Translator", "catalog", "gettext"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGE = "zh_CN"
LANGUAGES = ("zh_CN", "en")


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """All translations of ``lang`` merged from its ``.po`` files (empty for unknown languages)."""
    from babel.messages.pofile import read_po

    merged: dict[str, str] = {}
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with po.open("rb") as fh:
            for message in read_po(fh, locale=lang.replace("-", "_")):
                if message.id and message.string and not message.fuzzy:
                    merged[str(message.id)] = str(message.string)
    return merged


def gettext(msgid: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The translation of ``msgid`` in ``lang``, or ``msgid`` itself when there is none."""
    return catalog(lang).get(msgid, msgid)


class Translator:
    """A language choice with a bound ``_``: ``Translator("en")._("Health check")``."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def _(self, msgid: str, **fmt) -> str:
        """Translate and, when keywords are given, format."""
        text = gettext(msgid, self.lang)
        return text.format(**fmt) if fmt else text


class Text(str):
    """A translated string that can render itself again in another language (:meth:`to`).

    Screens keep these in their text properties; when the language changes, every ``Text`` on the
    screen is rendered again, so nothing stays in the language it was first shown in. ``+`` with a
    plain string or another ``Text`` keeps the result re-renderable.
    """

    def to(self, lang: str) -> Text:
        """This text in ``lang``."""
        raise NotImplementedError

    def __add__(self, other):
        return Joined("", (self, other)) if isinstance(other, str) else NotImplemented

    def __radd__(self, other):
        return Joined("", (other, self)) if isinstance(other, str) else NotImplemented


class Msg(Text):
    """``msgid`` translated into ``lang`` and formatted with ``fmt`` (values may be ``Text`` too)."""

    msgid: str
    fmt: dict

    def __new__(cls, msgid: str, lang: str = DEFAULT_LANGUAGE, **fmt) -> Msg:
        values = {k: v.to(lang) if isinstance(v, Text) else v for k, v in fmt.items()}
        text = gettext(msgid, lang)
        obj = super().__new__(cls, text.format(**values) if fmt else text)
        obj.msgid, obj.fmt = msgid, fmt
        return obj

    def to(self, lang: str) -> Msg:
        return Msg(self.msgid, lang, **self.fmt)


class Joined(Text):
    """Parts (``Text`` or plain strings) joined by ``sep``, each part re-rendered by :meth:`to`."""

    sep: str
    parts: tuple

    def __new__(cls, sep: str, parts) -> Joined:
        parts = tuple(parts)
        obj = super().__new__(cls, sep.join(str(p) for p in parts))
        obj.sep, obj.parts = sep, parts
        return obj

    def to(self, lang: str) -> Joined:
        return Joined(self.sep, (p.to(lang) if isinstance(p, Text) else p for p in self.parts))
