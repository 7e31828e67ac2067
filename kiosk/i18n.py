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


#: the escapes a ``.po`` string may hold (GNU gettext's C-style set)
_PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _po_string(line: str, where: str) -> str:
    """The text of one quoted ``.po`` string (``"..."``), escapes resolved."""
    line = line.strip()
    if len(line) < 2 or line[0] != '"' or line[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {line[:40]!r}")
    out, chars = [], iter(line[1:-1])
    for ch in chars:
        if ch == "\\":
            esc = next(chars, "")
            if esc not in _PO_ESCAPES:
                raise ValueError(f"{where}: unknown escape \\{esc}")
            out.append(_PO_ESCAPES[esc])
        else:
            out.append(ch)
    return "".join(out)


def read_po(path: Path) -> dict[str, str]:
    """The translations in one ``.po`` file: msgid → msgstr, skipping the header, empty and fuzzy
    entries. The catalogs use no contexts or plural forms; a file that does is refused.

    (A reader of its own rather than Babel's: Babel loads its locale data with it, several MB of a
    station's memory for what is a list of string pairs.)

    Raises:
        ValueError: a line the reader does not understand (the text names the file and line).
    """
    merged: dict[str, str] = {}
    entry: dict[str, list[str]] = {}
    field = ""
    fuzzy = False

    def flush() -> None:
        msgid, msgstr = "".join(entry.get("msgid", [])), "".join(entry.get("msgstr", []))
        if msgid and msgstr and not fuzzy:
            merged[msgid] = msgstr

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{number}"
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                if "msgid" in entry:
                    flush()
                    entry, field = {}, ""
                fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgid", "msgstr"):
            if keyword == "msgid" and "msgid" in entry:
                flush()
                entry, fuzzy = {}, False
            field = keyword
            entry[field] = [_po_string(rest, where)]
        elif line.startswith('"') and field:
            entry[field].append(_po_string(line, where))
        else:
            raise ValueError(f"{where}: {keyword[:20]!r} is not read here (no contexts or plural forms)")
    if "msgid" in entry:
        flush()
    return merged


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """All translations of ``lang`` merged from its ``.po`` files (empty for unknown languages)."""
    merged: dict[str, str] = {}
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        merged.update(read_po(po))
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
