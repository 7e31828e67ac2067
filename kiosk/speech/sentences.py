"""Sentences with numbers and names: the result read aloud, the masked-name greeting.

A sentence is a list of :class:`Line` s. Fixed lines (a category's title, its advice, "please see a
staff member now") come from the pre-rendered cache; only the lines with numbers or a name are
synthesised when needed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.readings import BloodPressureReading, GlucoseReading
from kiosk.health import SEE_STAFF_NOW, Assessment
from kiosk.i18n import N_, Translator
from kiosk.speech.numbers import read_int, read_number

_UNSPOKEN = str.maketrans({"「": "", "」": "", "“": "", "”": "", "\"": "", "·": "，", "—": "，",
                           "…": "", "/": "，", "*": "某", "（": "，", "）": "，"})
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Line:
    """One spoken sentence; ``fixed`` ones are cached by text."""

    text: str
    fixed: bool = True


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


def result(reading: BloodPressureReading | GlucoseReading, assessment: Assessment, lang: str) -> list[Line]:
    """The result read aloud: the numbers, the category in words, the advice; an urgent message twice."""
    tr = Translator(lang)
    lines = []
    if isinstance(reading, BloodPressureReading):
        lines.append(Line(speakable(tr._(N_("Your blood pressure is {systolic} over {diastolic}."),
                                         systolic=spoken_number(reading.systolic, lang),
                                         diastolic=spoken_number(reading.diastolic, lang)), lang), fixed=False))
        if reading.pulse:
            lines.append(Line(speakable(tr._(N_("Your pulse is {pulse} beats a minute."),
                                             pulse=spoken_number(reading.pulse, lang)), lang), fixed=False))
    else:
        value = spoken_number(reading.mmol_l, lang, decimals=1)
        flag = reading.range_flag.value if reading.range_flag else ""
        if flag == "HI":
            value = tr._(N_("above {value}"), value=value)
        elif flag == "LO":
            value = tr._(N_("below {value}"), value=value)
        lines.append(Line(speakable(tr._(N_("Your blood sugar is {value} millimoles per litre."), value=value), lang),
                          fixed=False))
    lines += fixed_lines([assessment.title, assessment.advice], lang)
    if assessment.urgent:
        lines += fixed_lines([SEE_STAFF_NOW, SEE_STAFF_NOW], lang)
    return lines
