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
