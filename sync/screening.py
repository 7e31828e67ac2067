"""What the hub's door checks beyond the schema: ID numbers in any disguise, and sane times.

ID numbers: a sender can hide a full number from a scan of the raw bytes with JSON escapes
(``\\u0033``), full-width digits (３１０…), or spaces, dashes and zero-width characters between the
digits. :func:`holds_id_number` therefore looks at the *decoded* JSON — every string, keys
included — after NFKC normalisation (full-width → ASCII), and besides unbroken numbers checks every
sequence of digit groups with separators between them (Unicode spaces, line and paragraph
separators, format characters such as U+200B, dashes, controls) that adds up to 18 characters.

Times: every time the hub stores or compares must lie between :data:`EARLIEST` and the hub's
clock plus :data:`MAX_AHEAD`; year 1 or 9999 would break month reports (``OverflowError``) or
freeze a station's status row.
"""
from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

from kiosk.privacy import contains_id_number, id_number_valid, mask_id_number

#: No Yizhan record or status can be older than this.
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)
#: How far ahead of the hub's clock a station's clock may be.
MAX_AHEAD = timedelta(days=1)

#: Code point ranges of Unicode categories Zs Zl Zp (spaces, line/paragraph separators), Cf (format:
#: zero-width space/joiners, BOM, tags), Pd (dashes) and Cc (controls), as of Unicode 15
#: (tests/sync/test_screening.py recomputes them from unicodedata).
SEPARATOR_RANGES = (
    (0x0, 0x20), (0x2D, 0x2D), (0x7F, 0xA0), (0xAD, 0xAD), (0x58A, 0x58A), (0x5BE, 0x5BE), (0x600, 0x605),
    (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x1400, 0x1400),
    (0x1680, 0x1680), (0x1806, 0x1806), (0x180E, 0x180E), (0x2000, 0x2015), (0x2028, 0x202F), (0x205F, 0x2064),
    (0x2066, 0x206F), (0x2E17, 0x2E17), (0x2E1A, 0x2E1A), (0x2E3A, 0x2E3B), (0x2E40, 0x2E40), (0x2E5D, 0x2E5D),
    (0x3000, 0x3000), (0x301C, 0x301C), (0x3030, 0x3030), (0x30A0, 0x30A0), (0xFE31, 0xFE32), (0xFE58, 0xFE58),
    (0xFE63, 0xFE63), (0xFEFF, 0xFEFF), (0xFF0D, 0xFF0D), (0xFFF9, 0xFFFB), (0x10EAD, 0x10EAD), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
SEPARATOR_CATEGORIES = ("Zs", "Zl", "Zp", "Cf", "Pd", "Cc")
_SEPARATOR_CLASS = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in SEPARATOR_RANGES)
_GAP = r"(?:[" + _SEPARATOR_CLASS + r"]|\\[nrtbf]|\\u00[01][0-9a-fA-F])+"
_GAP_RE = re.compile(_GAP)
# Digit groups with gaps between them (separators, or the escapes json.dumps writes for control
# characters), possibly ending in X, each group whole (no letter or digit glued to either end, so
# the hex groups of a UUID or key never count): where a disguised number hides.
_SPLIT_RUN_RE = re.compile(r"(?<![0-9A-Za-z])\d+(?:(?:" + _GAP + r"\d+)+(?:(?:" + _GAP + r")?[Xx])?|" + _GAP
                           + r"[Xx])(?![0-9A-Za-z])")
_ESCAPE_RE = re.compile(r"\\(?:[nrtbf]|u00[01][0-9a-fA-F])")
# Digits to "0" and gap characters to "_", one character for one (indices stay), the rest unchanged.
_MARK = str.maketrans({**{c: "_" for a, b in SEPARATOR_RANGES for c in range(a, b + 1)},
                       **{ord(d): "0" for d in "0123456789"}})
_MARKED_TAIL = re.compile(r"[0_]*")
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_RUN = "0" * 17
_TS_RE = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d:\d\d))"')


#: Every Unicode decimal digit (Arabic-Indic ٣, Devanagari ३, …) and the Chinese numerals a person
#: still reads as a number (〇一二三…, 零壹贰叁…) to its ASCII digit, one character for one.
_DIGITS = str.maketrans({
    **{c: str(unicodedata.decimal(chr(c))) for c in range(0x80, 0x110000)
       if unicodedata.category(chr(c)) == "Nd"},
    **{ord(ch): str(d) for d, chars in enumerate(("〇零", "一壹", "二贰貳", "三叁參", "四肆", "五伍", "六陆陸",
                                                  "七柒", "八捌", "九玖")) for ch in chars}})
#: Separators a person writes inside a number (3101.0419/5001_01…), mapped to a space (a gap). The
#: comma separates a JSON text's own values too, so it counts only inside one decoded string.
_PUNCTUATION_GAPS = str.maketrans({c: " " for c in "./_·"})
_STRING_GAPS = str.maketrans({c: " " for c in "./,_·"})


def normalise(text: str, comma: bool = False) -> str:
    """``text`` as a reader sees its numbers: NFKC-normalised (full-width → ASCII), every decimal
    digit of any script and every Chinese numeral as an ASCII digit, and ``.`` ``/`` ``_`` ``·``
    (and ``,`` when ``comma``: the text is one string, not JSON) as gaps between digit groups."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_DIGITS)
    return text.translate(_STRING_GAPS if comma else _PUNCTUATION_GAPS)


def _digit_runs_hold_id(flat_source: str) -> bool:
    """True if ``flat_source`` holds a valid full ID number as one unbroken run; fast for long texts.

    An ID number is a run of exactly 17 digits plus a digit or X, so only the starts of digit runs
    found by a plain substring search are checked exactly (hex person keys make many runs).
    """
    flat = flat_source.translate(_DIGITS_TO_ZERO)
    i = flat.find(_RUN)
    while i != -1:
        if contains_id_number(flat_source[max(0, i - 1):i + 19]):
            return True
        j = i + 17
        while j < len(flat) and flat[j] == "0":
            j += 1
        i = flat.find(_RUN, j)
    return False


def _split_run_holds_id(run: str) -> bool:
    """True if consecutive digit groups of ``run`` (gaps between them) make up a valid ID number."""
    groups = [g for g in _GAP_RE.split(run) if g]
    if len(groups) < 2:
        return False
    for i in range(len(groups)):
        total = 0
        for j in range(i, len(groups)):
            total += len(groups[j])
            if total == 18 and id_number_valid("".join(groups[i:j + 1])):
                return True
            if total >= 18:
                break
    return False


def _split_runs_hold_id(text: str) -> bool:
    """True if ``text`` holds digit groups with gaps between them that make up an ID number.

    Fast for long texts: a 1:1 translation marks digits ``0`` and gap characters ``_``, plain
    ``str.find`` visits each digit-then-gap, and only stretches of 19 or more such characters are
    searched group by group.
    """
    if "\\" in text:
        text = _ESCAPE_RE.sub(" ", text)
    flat = text.translate(_MARK)
    i = flat.find("0_")
    while i != -1:
        start = i
        while start > 0 and flat[start - 1] in "0_":
            start -= 1
        end = _MARKED_TAIL.match(flat, i).end()
        if end - start >= 18:
            window = text[max(0, start - 1):end + 2]
            if any(_split_run_holds_id(m.group(0)) for m in _SPLIT_RUN_RE.finditer(window)):
                return True
        i = flat.find("0_", end)
    return False


def text_holds_id_number(json_text: str) -> bool:
    """True if JSON text written by ``json.dumps(..., ensure_ascii=False)`` (so its strings are
    decoded) holds a full ID number in any string or key, in any of the disguises above: whole, or
    as digit groups (full-width or not) with separators between them."""
    text = normalise(json_text)
    return _digit_runs_hold_id(text) or _split_runs_hold_id(text)


def holds_id_number(value: Any) -> bool:
    """True if a decoded JSON value holds a full ID number anywhere (keys, strings, integers), also
    split over neighbouring fields (:func:`fields_hold_id_number`)."""
    if isinstance(value, str):
        text = normalise(value, comma=True)
        return _digit_runs_hold_id(text) or _split_runs_hold_id(text)
    return (text_holds_id_number(json.dumps(value, ensure_ascii=False, default=str))
            or fields_hold_id_number(value))


#: What a value a person reads as (part of) a number is made of: digits, maybe an X, separators.
_NUMERIC_CHARS = "0123456789Xx ./_,·\t-"
_NOT_DIGIT = re.compile(r"[^0-9Xx]")
#: A number split over more fields than this is not one a person reads back.
MAX_SPLIT_FIELDS = 4


def _values(value: Any, out: list[Any]) -> None:
    """The scalar values of ``value`` in document order; a list is a break (its items are readings,
    not the pieces of one number)."""
    if isinstance(value, dict):
        for v in value.values():
            if isinstance(v, (dict, list)):
                _values(v, out)
            else:
                out.append(v)
    elif isinstance(value, list):
        out.append(None)
        for v in value:
            if isinstance(v, (dict, list)):
                _values(v, out)
        out.append(None)
    else:
        out.append(value)


def _piece(value: Any) -> str:
    """The digits of a value a person reads as a number ("" when it is not one)."""
    if type(value) is int:
        return str(value)
    if type(value) is not str or not value:
        return ""
    text = value if value.isascii() else normalise(value, comma=True)
    if text.strip(_NUMERIC_CHARS):
        return ""
    return _NOT_DIGIT.sub("", text)


def fields_hold_id_number(value: Any) -> bool:
    """True if the values of neighbouring fields (2 to :data:`MAX_SPLIT_FIELDS`, in document order),
    each a number or a numeric text, hold one full ID number between them
    (``{"a": "310104195001", "b": "011234"}``), or one string holds it with commas between its
    digit groups (which a scan of the JSON text cannot tell from the commas between values)."""
    leaves: list[Any] = []
    _values(value, leaves)
    pieces: list[str] = []
    for leaf in leaves + [None]:
        if type(leaf) is str and "," in leaf and holds_id_number(leaf):
            return True                  # 310104,195001… inside one string
        digits = _piece(leaf)
        if digits:
            pieces.append(digits)
            continue
        for i in range(len(pieces) - 1):
            joined = pieces[i]
            for j in range(i + 1, min(len(pieces), i + MAX_SPLIT_FIELDS)):
                joined += pieces[j]
                if len(joined) >= 18:
                    if len(joined) == 18 and id_number_valid(joined):
                        return True
                    break
        pieces = []
    return False


def redact(text: str) -> str:
    """``text`` safe for a log line or a stored reason: every run of digit groups that holds an ID
    number in any disguise is replaced by a masked form (or stars)."""
    norm = normalise(text, comma=True)
    if not (_digit_runs_hold_id(norm) or _split_runs_hold_id(norm)):
        return text
    text = norm

    def mask(m: re.Match) -> str:
        run = m.group(0)
        if not (contains_id_number(run) or _split_run_holds_id(run)):
            return run
        flat = _GAP_RE.sub("", run)
        return mask_id_number(flat) if len(flat) == 18 else "*" * len(run)
    return _SPLIT_RUN_RE.sub(mask, text)


class TimeOutOfRange(ValueError):
    """A time field lies outside the range the hub accepts."""


def parse_bounded(value: str, now: datetime | None = None) -> datetime:
    """Parse an ISO 8601 time with a zone and check it lies in [EARLIEST, now + MAX_AHEAD].

    Returns:
        the time in UTC.

    Raises:
        TimeOutOfRange: unparseable, without a zone, or out of range.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TimeOutOfRange(f"{value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise TimeOutOfRange(f"time {value[:40]!r} has no time zone")
    try:
        utc = parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise TimeOutOfRange(f"time {value[:40]!r} is out of range") from None
    latest = (now or datetime.now(timezone.utc)) + MAX_AHEAD
    if not EARLIEST <= utc <= latest:
        raise TimeOutOfRange(f"time {value[:40]!r} is outside {EARLIEST:%Y-%m-%d} .. {latest:%Y-%m-%d %H:%M}Z")
    return utc


def check_embedded_times(json_text: str, now: datetime | None = None) -> None:
    """Check every ISO 8601 date-time string with a zone inside a JSON text (a record payload: the
    kiosk writes its times that way) is in range.

    Raises:
        TimeOutOfRange: the first one that is not.
    """
    for match in _TS_RE.finditer(json_text):
        parse_bounded(match.group(1), now)
