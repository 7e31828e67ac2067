"""Sentences with numbers and names: the result read aloud, the masked-name greeting.

A sentence is a list of :class:`Line` s. Fixed lines (a category's title, its advice, "please see a
staff member now") come from the pre-rendered cache. A result's lines with numbers are assembled from
cached pieces: the words of the catalogued sentence around the numbers ("您的血压是", "毫摩尔每升")
and each number as a whole word ("一百五十二"), every number a result may hold being pre-rendered
(:func:`piece_texts`). Only a line with a name is synthesised when needed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from string import Formatter

from drivers.readings import BloodPressureReading, GlucoseReading
from kiosk.health import SEE_STAFF_NOW, Assessment
from kiosk.i18n import N_, Translator
from kiosk.speech.numbers import read_int, read_number

_UNSPOKEN = str.maketrans({"「": "", "」": "", "“": "", "”": "", "\"": "", "·": "，", "—": "，",
                           "…": "", "/": "，", "*": "某", "（": "，", "）": "，"})
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_PUNCTUATION_MARKS = "，。！？；：、,.!?;:"

#: silence before a piece that follows a comma or full stop, and before one within a clause
CLAUSE_PAUSE_S = 0.16
WORD_PAUSE_S = 0.03

BP_SENTENCE = N_("Your blood pressure is {systolic} over {diastolic}.")
PULSE_SENTENCE = N_("Your pulse is {pulse} beats a minute.")
GLUCOSE_SENTENCE = N_("Your blood sugar is {value} millimoles per litre.")
ABOVE, BELOW = N_("above {value}"), N_("below {value}")
TEMPLATES = (BP_SENTENCE, PULSE_SENTENCE, GLUCOSE_SENTENCE, ABOVE, BELOW)
#: the numbers pre-rendered as pieces: blood pressure and pulse (whole), glucose in mmol/L (one decimal)
WHOLE_NUMBERS = range(30, 300)
DECIMALS = tuple(Decimal(n) / 10 for n in range(10, 334))


@dataclass(frozen=True)
class Piece:
    """One fragment of an assembled line, and the silence before it. ``fixed`` pieces (the sentence's
    own words) are cached on first use; a number is taken from the cache only if it was pre-rendered,
    else synthesised and not kept (a rare value on disk would tell that someone had it)."""

    text: str
    pause_s: float = WORD_PAUSE_S
    fixed: bool = True


@dataclass(frozen=True)
class Line:
    """One spoken sentence: cached whole (``fixed``), assembled from ``pieces`` (a result's numbers),
    or synthesised when needed (neither: a masked name)."""

    text: str
    fixed: bool = True
    pieces: tuple[Piece, ...] = ()


def speakable(text: str, lang: str) -> str:
    """Screen text made fit to speak: no quote marks, dots or brackets; a mask star read as 某;
    in Chinese, digits as Chinese words (1级 → 一级)."""
    text = _SPACES.sub(" ", text.translate(_UNSPOKEN)).strip(" ，")
    if lang == "zh_CN":
        text = _DIGITS.sub(lambda m: read_number(m.group()), text)
    return text.replace("，，", "，")


def spoken_number(value, lang: str, decimals: int | None = None) -> str:
    """``value`` as the engine should read it: Chinese words in Chinese, digits in English."""
    if lang == "zh_CN":
        return read_int(value) if isinstance(value, int) and decimals is None else read_number(value, decimals)
    return f"{value:.{decimals}f}" if decimals is not None else str(value)


def fixed_lines(msgids, lang: str) -> list[Line]:
    """Catalogued message ids as cached lines in ``lang``."""
    tr = Translator(lang)
    return [Line(speakable(tr._(m), lang)) for m in msgids]


def greeting(display_name: str, lang: str) -> list[Line]:
    """"王某明，您好" from the masked name 王*明 — never a full name (the kiosk never has one).

    A Chinese name is not read out in English mode (an English voice cannot say it).
    """
    tr = Translator(lang)
    if not display_name or (lang != "zh_CN" and not display_name.isascii()):
        return [Line(speakable(tr._(N_("Hello, welcome.")), lang))]
    return [Line(speakable(tr._("{name}, hello!", name=display_name), lang), fixed=False)]


def _pieces(template: str, lang: str, **slots: list[Piece]) -> list[Piece]:
    """The pieces of a translated ``template``: its words between the placeholders (made speakable;
    punctuation becomes a clause pause) with each placeholder's pieces put in its place."""
    out: list[Piece] = []
    pause = WORD_PAUSE_S
    for literal, name, _spec, _conversion in Formatter().parse(template):
        stripped = literal.strip()
        text = speakable(stripped.strip(_PUNCTUATION_MARKS), lang)
        if stripped[:1] and stripped[0] in _PUNCTUATION_MARKS:
            pause = CLAUSE_PAUSE_S
        if text:
            out.append(Piece(text, pause))
            pause = WORD_PAUSE_S
        if stripped[-1:] and stripped[-1] in _PUNCTUATION_MARKS:
            pause = CLAUSE_PAUSE_S
        if name is not None and slots.get(name):
            out += [replace(slots[name][0], pause_s=pause), *slots[name][1:]]
            pause = WORD_PAUSE_S
    return out


def _assembled(msgid: str, lang: str, **slots: list[Piece]) -> Line:
    """Catalogued sentence ``msgid`` with its placeholders filled by ``slots``, as an assembled line."""
    template = Translator(lang)._(msgid)
    sep = "" if lang == "zh_CN" else " "
    text = speakable(template.format(**{k: sep.join(p.text for p in v) for k, v in slots.items()}), lang)
    return Line(text, fixed=False, pieces=tuple(_pieces(template, lang, **slots)))


def _number(value, lang: str, decimals: int | None = None) -> list[Piece]:
    return [Piece(spoken_number(value, lang, decimals), fixed=False)]


def piece_texts(lang: str) -> tuple[str, ...]:
    """Every piece a result in ``lang`` is assembled from, to pre-render: the sentences' own words
    and each number in :data:`WHOLE_NUMBERS` and :data:`DECIMALS`."""
    tr = Translator(lang)
    words = [p.text for m in TEMPLATES for p in _pieces(tr._(m), lang)]
    numbers = [spoken_number(n, lang) for n in WHOLE_NUMBERS] + \
        [spoken_number(d, lang, decimals=1) for d in DECIMALS]
    return tuple(dict.fromkeys(words + numbers))


def result(reading: BloodPressureReading | GlucoseReading, assessment: Assessment, lang: str,
           follow_up: str = "", replaces_advice: str = "") -> list[Line]:
    """The result read aloud: the numbers, the category in words, the advice, the follow-up (a recheck
    with its date, or a referral; synthesised when needed: it holds a date) — in place of the
    category's advice when ``replaces_advice`` (the screen shows it there); an urgent message twice."""
    lines = []
    if isinstance(reading, BloodPressureReading):
        lines.append(_assembled(BP_SENTENCE, lang, systolic=_number(reading.systolic, lang),
                                diastolic=_number(reading.diastolic, lang)))
        if reading.pulse:
            lines.append(_assembled(PULSE_SENTENCE, lang, pulse=_number(reading.pulse, lang)))
    else:
        value = _number(reading.mmol_l, lang, decimals=1)
        flag = reading.range_flag.value if reading.range_flag else ""
        if flag in ("HI", "LO"):
            bound = Translator(lang)._(ABOVE if flag == "HI" else BELOW)
            value = _pieces(bound, lang, value=value)
        lines.append(_assembled(GLUCOSE_SENTENCE, lang, value=value))
    lines += fixed_lines([assessment.title] if replaces_advice else [assessment.title, assessment.advice], lang)
    if follow_up:
        lines.append(Line(speakable(follow_up, lang), fixed=False))
    if assessment.urgent:
        lines += fixed_lines([SEE_STAFF_NOW, SEE_STAFF_NOW], lang)
    return lines
