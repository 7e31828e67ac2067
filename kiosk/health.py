"""Interpretation of blood-pressure and glucose readings: screening categories, never a diagnosis.

Pure Python (no Kivy): screens, the printer, the probes and the hub all call the same rules.

* Blood pressure follows the office-reading table of 中国高血压防治指南 (2018, kept in the 2024
  revision): normal < 120/80, 正常高值 120–139 and/or 80–89, grade 1 140–159/90–99,
  grade 2 160–179/100–109, grade 3 ≥ 180/≥ 110. When systolic and diastolic fall in different
  classes the higher one wins. Isolated systolic hypertension (≥ 140 and < 90) is reported with
  its grade.
* Glucose follows the WHO-1999 scheme used in Chinese guidance, by meal context: fasting
  3.9–< 6.1 normal, 6.1–< 7.0 impaired fasting glucose, ≥ 7.0 diabetes range; 2 h after a meal
  < 7.8 normal, 7.8–< 11.1 impaired tolerance, ≥ 11.1 diabetes range; random ≥ 11.1 high.
  Below 3.9 mmol/L is hypoglycaemia in every context.
* Urgent (call staff now): SBP ≥ 180 or DBP ≥ 110; glucose < 3.9 or ≥ 16.7 mmol/L.

The guideline tables are for venous plasma and repeated readings; a kiosk fingerstick or a
single cuff reading is screening only, which every :class:`Assessment` says in
``screening_note``. ``title`` and ``advice`` are English message ids; translate them with
:mod:`kiosk.i18n` (Chinese in ``kiosk/locale/zh_CN/LC_MESSAGES/health.po``).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from drivers.readings import MealContext
from kiosk.i18n import N_

# -- LOINC codes for the hub's FHIR Observation export (docs/protocols.md §5.3) ----------------------
#: Blood pressure panel with all children optional; groups systolic and diastolic.
LOINC_BP_PANEL = "85354-9"
#: Systolic blood pressure.
LOINC_SYSTOLIC = "8480-6"
#: Diastolic blood pressure.
LOINC_DIASTOLIC = "8462-4"
#: Heart rate (the pulse a BP monitor reports).
LOINC_HEART_RATE = "8867-4"
#: Glucose [Mass/volume] in Capillary blood by Glucometer (mg/dL).
LOINC_GLUCOSE_CAPILLARY_MASS = "41653-7"
#: Glucose [Moles/volume] in Capillary blood by Glucometer (mmol/L). [unconfirmed]: code bases
#: disagree on this code's display name; check at loinc.org before relying on the display text.
LOINC_GLUCOSE_CAPILLARY_MOLES = "14743-9"

#: UCUM unit codes used with the LOINC codes above.
UCUM_MMHG = "mm[Hg]"
UCUM_PER_MIN = "/min"
UCUM_MMOL_L = "mmol/L"
UCUM_MG_DL = "mg/dL"

# -- thresholds -------------------------------------------------------------------------------
#: Below this many mmol/L is hypoglycaemia, whatever the meal context (and urgent).
GLUCOSE_HYPO_BELOW = 3.9
#: At or above this many mmol/L the person should see staff now.
GLUCOSE_URGENT_FROM = 16.7
#: Systolic / diastolic mmHg at or above which the reading is urgent (grade 3).
BP_URGENT_SYSTOLIC = 180
BP_URGENT_DIASTOLIC = 110

SCREENING_NOTE = N_("This is a screening result, not a diagnosis. "
                    "Only a doctor can diagnose, after several measurements on different days.")


class Level(enum.IntEnum):
    """How serious a result is; screens map it to a colour and an icon (never colour alone)."""

    NORMAL = 0
    ELEVATED = 1
    HIGH = 2
    URGENT = 3


@dataclass(frozen=True)
class Assessment:
    """A reading's screening category with plain-language text.

    Attributes:
        category: stable key (``"bp_grade2"``, ``"bp_ish_grade1"``, ``"glu_ifg"`` …) for records,
            reports and the hub.
        level: severity for colour and icon.
        urgent: True when the person should see staff now (and an alert record is due).
        title: English message id of the short headline.
        advice: English message id of what to do, in plain words.
        screening_note: English message id saying this is screening, not diagnosis.
        grade: hypertension grade 1–3 for blood pressure, else None.
    """

    category: str
    level: Level
    urgent: bool
    title: str
    advice: str
    screening_note: str = SCREENING_NOTE
    grade: int | None = None


SEE_STAFF_NOW = N_("Please see a staff member now.")

# category -> (level, title, advice)
_BP_TEXT: dict[str, tuple[Level, str, str]] = {
    "bp_normal": (Level.NORMAL, N_("Blood pressure normal"),
                  N_("Your blood pressure is normal. Keep up your healthy habits.")),
    "bp_high_normal": (Level.ELEVATED, N_("Blood pressure a little high"),
                       N_("Your blood pressure is at the upper end of normal. Eat less salt, "
                          "stay active, and check it again in a few weeks.")),
    "bp_grade1": (Level.HIGH, N_("High blood pressure, grade 1"),
                  N_("Your blood pressure is high. Rest for five minutes and measure again. "
                     "If it stays high, please see your community doctor soon.")),
    "bp_grade2": (Level.HIGH, N_("High blood pressure, grade 2"),
                  N_("Your blood pressure is clearly high. Please see your community doctor "
                     "within the next few days.")),
    "bp_grade3": (Level.URGENT, N_("Very high blood pressure, grade 3"),
                  N_("Your blood pressure is very high. Please see a staff member now.")),
    "bp_ish_grade1": (Level.HIGH, N_("High upper blood pressure, grade 1"),
                      N_("Your upper (systolic) blood pressure is high while the lower one is "
                         "normal. This is common with age. Please see your community doctor soon.")),
    "bp_ish_grade2": (Level.HIGH, N_("High upper blood pressure, grade 2"),
                      N_("Your upper (systolic) blood pressure is clearly high. Please see your "
                         "community doctor within the next few days.")),
    "bp_ish_grade3": (Level.URGENT, N_("Very high upper blood pressure, grade 3"),
                      N_("Your upper (systolic) blood pressure is very high. "
                         "Please see a staff member now.")),
}

_GLU_TEXT: dict[str, tuple[Level, str, str]] = {
    "glu_low": (Level.URGENT, N_("Blood sugar too low"),
                N_("Your blood sugar is too low. Eat or drink something sweet now, "
                   "and please see a staff member now.")),
    "glu_normal": (Level.NORMAL, N_("Blood sugar normal"),
                   N_("Your blood sugar is normal. Keep up your healthy habits.")),
    "glu_ifg": (Level.ELEVATED, N_("Fasting blood sugar a little high"),
                N_("Your fasting blood sugar is a little high. Eat less sugar and staple food, "
                   "stay active, and ask your community doctor about a check-up.")),
    "glu_igt": (Level.ELEVATED, N_("Blood sugar after a meal a little high"),
                N_("Your blood sugar two hours after the meal is a little high. Eat less sugar "
                   "and staple food, stay active, and ask your community doctor about a check-up.")),
    "glu_high": (Level.HIGH, N_("Blood sugar high"),
                 N_("Your blood sugar is high. Please see your community doctor soon "
                    "for a proper check.")),
    "glu_very_high": (Level.URGENT, N_("Blood sugar very high"),
                      N_("Your blood sugar is very high. Please see a staff member now.")),
}

#: Every category key either function can return.
BP_CATEGORIES = frozenset(_BP_TEXT)
#: Every screening category, blood pressure then glucose, each from the best result to the worst.
CATEGORY_ORDER: tuple[str, ...] = (*_BP_TEXT, *_GLU_TEXT)
GLUCOSE_CATEGORIES = frozenset(_GLU_TEXT)


def category_title(category: str) -> str:
    """The short title (an English msgid) of a screening category; the key itself when unknown."""
    entry = _BP_TEXT.get(category) or _GLU_TEXT.get(category)
    return entry[1] if entry else category


def category_texts() -> tuple[str, ...]:
    """Message ids of every category's title and advice (the voice renders them ahead)."""
    return tuple(t for table in (_BP_TEXT, _GLU_TEXT) for _level, *texts in table.values() for t in texts)


def _bp_class(systolic: int, diastolic: int) -> tuple[int, int]:
    """Class of each value: 0 normal, 1 high-normal, 2/3/4 = grade 1/2/3."""
    def sbp(v: int) -> int:
        return 0 if v < 120 else 1 if v < 140 else 2 if v < 160 else 3 if v < 180 else 4

    def dbp(v: int) -> int:
        return 0 if v < 80 else 1 if v < 90 else 2 if v < 100 else 3 if v < 110 else 4

    return sbp(systolic), dbp(diastolic)


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def assess_bp(systolic: int, diastolic: int) -> Assessment:
    """Classify one office blood-pressure reading by 中国高血压防治指南.

    Args:
        systolic: mmHg.
        diastolic: mmHg.

    Returns:
        The assessment; the higher class of the two values wins, isolated systolic
        hypertension (SBP ≥ 140 and DBP < 90) is reported as ``bp_ish_grade<N>``.

    Raises:
        ValueError: a value is not a positive finite number.
        TypeError: a value is not a number.
    """
    _check_positive("systolic", systolic)
    _check_positive("diastolic", diastolic)
    s_class, d_class = _bp_class(systolic, diastolic)
    worst = max(s_class, d_class)
    grade = worst - 1 if worst >= 2 else None
    if worst == 0:
        category = "bp_normal"
    elif worst == 1:
        category = "bp_high_normal"
    elif systolic >= 140 and diastolic < 90:
        category = f"bp_ish_grade{grade}"
    else:
        category = f"bp_grade{grade}"
    level, title, advice = _BP_TEXT[category]
    urgent = systolic >= BP_URGENT_SYSTOLIC or diastolic >= BP_URGENT_DIASTOLIC
    return Assessment(category, level, urgent, title, advice, grade=grade)


def assess_glucose(mmol_l: float, context: MealContext) -> Assessment:
    """Classify one glucose reading by meal context.

    Args:
        mmol_l: glucose in mmol/L (as the meter shows it, one decimal).
        context: ``FASTING`` and ``AFTER_MEAL_2H`` use their own tables; every other context
            (random, before or after a meal without the two-hour wait) uses the random rule,
            because a before-meal sample is not necessarily an eight-hour fast.

    Returns:
        The assessment; < 3.9 is ``glu_low`` and ≥ 16.7 is ``glu_very_high`` in every context,
        both urgent.

    Raises:
        ValueError: the value is not a positive finite number.
        TypeError: the value is not a number or the context is not a MealContext.
    """
    _check_positive("glucose", mmol_l)
    if not isinstance(context, MealContext):
        raise TypeError(f"context must be a MealContext, got {context!r}")
    if mmol_l < GLUCOSE_HYPO_BELOW:
        category = "glu_low"
    elif mmol_l >= GLUCOSE_URGENT_FROM:
        category = "glu_very_high"
    elif context is MealContext.FASTING:
        category = "glu_normal" if mmol_l < 6.1 else "glu_ifg" if mmol_l < 7.0 else "glu_high"
    elif context is MealContext.AFTER_MEAL_2H:
        category = "glu_normal" if mmol_l < 7.8 else "glu_igt" if mmol_l < 11.1 else "glu_high"
    else:
        category = "glu_normal" if mmol_l < 11.1 else "glu_high"
    level, title, advice = _GLU_TEXT[category]
    return Assessment(category, level, level is Level.URGENT, title, advice)
