"""Guideline interpretation: every class boundary on both sides, the higher-grade rule, ISH, urgency."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.readings import MealContext
from kiosk import health
from kiosk.health import Level, assess_bp, assess_glucose
from kiosk.i18n import catalog, gettext

F, PP, R = MealContext.FASTING, MealContext.AFTER_MEAL_2H, MealContext.RANDOM


@pytest.mark.parametrize("sbp,dbp,category,level,urgent", [
    (119, 79, "bp_normal", Level.NORMAL, False),
    (120, 79, "bp_high_normal", Level.ELEVATED, False),
    (119, 80, "bp_high_normal", Level.ELEVATED, False),
    (139, 89, "bp_high_normal", Level.ELEVATED, False),
    (140, 90, "bp_grade1", Level.HIGH, False),
    (139, 90, "bp_grade1", Level.HIGH, False),
    (159, 99, "bp_grade1", Level.HIGH, False),
    (160, 99, "bp_grade2", Level.HIGH, False),
    (159, 100, "bp_grade2", Level.HIGH, False),
    (179, 109, "bp_grade2", Level.HIGH, False),
    (180, 109, "bp_grade3", Level.URGENT, True),
    (179, 110, "bp_grade3", Level.URGENT, True),
    (100, 110, "bp_grade3", Level.URGENT, True),
    # isolated systolic hypertension: SBP >= 140 and DBP < 90, reported with its grade
    (140, 89, "bp_ish_grade1", Level.HIGH, False),
    (159, 60, "bp_ish_grade1", Level.HIGH, False),
    (160, 89, "bp_ish_grade2", Level.HIGH, False),
    (179, 70, "bp_ish_grade2", Level.HIGH, False),
    (180, 89, "bp_ish_grade3", Level.URGENT, True),
    (220, 50, "bp_ish_grade3", Level.URGENT, True),
])
def test_bp_table(sbp, dbp, category, level, urgent):
    a = assess_bp(sbp, dbp)
    assert (a.category, a.level, a.urgent) == (category, level, urgent)


@pytest.mark.parametrize("sbp,dbp,grade", [
    (150, 105, 2),   # SBP grade 1, DBP grade 2 -> grade 2
    (185, 95, 3),    # SBP grade 3, DBP grade 1 -> grade 3
    (125, 95, 1),    # SBP high-normal, DBP grade 1 -> grade 1 (not ISH: DBP >= 90)
    (165, 92, 2),    # SBP grade 2, DBP grade 1 -> grade 2
])
def test_bp_higher_grade_wins(sbp, dbp, grade):
    a = assess_bp(sbp, dbp)
    assert a.grade == grade
    assert a.category == f"bp_grade{grade}"


def test_bp_normal_has_no_grade():
    assert assess_bp(110, 70).grade is None
    assert assess_bp(130, 70).grade is None


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf")])
def test_bp_rejects_non_values(bad):
    with pytest.raises(ValueError):
        assess_bp(bad, 80)
    with pytest.raises(ValueError):
        assess_bp(120, bad)


def test_bp_rejects_non_numbers():
    with pytest.raises(TypeError):
        assess_bp("120", 80)
    with pytest.raises(TypeError):
        assess_bp(True, 80)


@pytest.mark.parametrize("value,context,category,level,urgent", [
    (3.8, F, "glu_low", Level.URGENT, True),
    (3.8, PP, "glu_low", Level.URGENT, True),
    (3.8, R, "glu_low", Level.URGENT, True),
    (3.9, F, "glu_normal", Level.NORMAL, False),
    (6.0, F, "glu_normal", Level.NORMAL, False),
    (6.1, F, "glu_ifg", Level.ELEVATED, False),
    (6.9, F, "glu_ifg", Level.ELEVATED, False),
    (7.0, F, "glu_high", Level.HIGH, False),
    (3.9, PP, "glu_normal", Level.NORMAL, False),
    (7.7, PP, "glu_normal", Level.NORMAL, False),
    (7.8, PP, "glu_igt", Level.ELEVATED, False),
    (11.0, PP, "glu_igt", Level.ELEVATED, False),
    (11.1, PP, "glu_high", Level.HIGH, False),
    (3.9, R, "glu_normal", Level.NORMAL, False),
    (11.0, R, "glu_normal", Level.NORMAL, False),
    (11.1, R, "glu_high", Level.HIGH, False),
    (16.6, R, "glu_high", Level.HIGH, False),
    (16.6, F, "glu_high", Level.HIGH, False),
    (16.7, F, "glu_very_high", Level.URGENT, True),
    (16.7, PP, "glu_very_high", Level.URGENT, True),
    (16.7, R, "glu_very_high", Level.URGENT, True),
    (33.3, R, "glu_very_high", Level.URGENT, True),
])
def test_glucose_table(value, context, category, level, urgent):
    a = assess_glucose(value, context)
    assert (a.category, a.level, a.urgent) == (category, level, urgent)


def test_glucose_contexts_without_own_table_use_the_random_rule():
    for ctx in (MealContext.BEFORE_MEAL, MealContext.AFTER_MEAL):
        assert assess_glucose(7.5, ctx).category == "glu_normal"     # would be high if fasting
        assert assess_glucose(11.1, ctx).category == "glu_high"


def test_glucose_rejects_bad_input():
    with pytest.raises(ValueError):
        assess_glucose(0.0, F)
    with pytest.raises(ValueError):
        assess_glucose(float("nan"), F)
    with pytest.raises(TypeError):
        assess_glucose(5.0, "fasting")


def test_every_assessment_is_labelled_screening():
    for a in (assess_bp(200, 120), assess_glucose(5.0, F)):
        assert "not a diagnosis" in a.screening_note
        assert gettext(a.screening_note).startswith("这是筛查结果")


def test_urgent_results_tell_to_see_staff():
    for a in (assess_bp(185, 80), assess_glucose(2.5, R), assess_glucose(20.0, F)):
        assert a.urgent and a.level is Level.URGENT
        assert "staff member now" in a.advice
        assert "工作人员" in gettext(a.advice)


def test_every_message_id_has_chinese():
    tree = ast.parse(Path(health.__file__).read_text(encoding="utf-8"))
    ids = [n.args[0].value for n in ast.walk(tree)
           if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "N_"]
    assert len(ids) >= 20
    zh = catalog("zh_CN")
    assert [i for i in ids if i not in zh] == []


def test_loinc_codes():
    assert health.LOINC_BP_PANEL == "85354-9"
    assert (health.LOINC_SYSTOLIC, health.LOINC_DIASTOLIC, health.LOINC_HEART_RATE) == ("8480-6", "8462-4", "8867-4")
    assert health.LOINC_GLUCOSE_CAPILLARY_MASS == "41653-7"
    assert health.LOINC_GLUCOSE_CAPILLARY_MOLES == "14743-9"


bp_values = st.tuples(st.integers(40, 300), st.integers(20, 200))


@settings(max_examples=300, deadline=None)
@given(bp_values)
def test_bp_every_input_gets_exactly_one_known_category(v):
    a = assess_bp(*v)
    assert a.category in health.BP_CATEGORIES
    assert a.urgent == (v[0] >= 180 or v[1] >= 110)
    assert a.urgent == (a.level is Level.URGENT)


@settings(max_examples=300, deadline=None)
@given(bp_values, st.integers(0, 60), st.integers(0, 60))
def test_bp_monotonic(v, ds, dd):
    low, high = assess_bp(*v), assess_bp(v[0] + ds, v[1] + dd)
    assert high.level >= low.level
    assert (high.grade or 0) >= (low.grade or 0)


contexts = st.sampled_from(list(MealContext))


@settings(max_examples=300, deadline=None)
@given(st.floats(0.1, 60.0), contexts)
def test_glucose_every_input_gets_exactly_one_known_category(value, ctx):
    a = assess_glucose(value, ctx)
    assert a.category in health.GLUCOSE_CATEGORIES
    assert a.urgent == (value < 3.9 or value >= 16.7)


@settings(max_examples=300, deadline=None)
@given(st.floats(3.9, 60.0), st.floats(0.0, 30.0), contexts)
def test_glucose_monotonic_above_hypoglycaemia(value, rise, ctx):
    # below 3.9 the level is URGENT (hypoglycaemia), so monotonicity holds from 3.9 upwards
    higher = value + rise
    assert math.isfinite(higher)
    assert assess_glucose(higher, ctx).level >= assess_glucose(value, ctx).level
