"""Person keys, masked forms, and the ID-number guard."""
from __future__ import annotations

import logging

from hypothesis import given, settings, strategies as st

from kiosk import privacy
from kiosk.logs import setup_logging

SAMPLE = "11010519491231002X"   # public GB 11643 sample with a valid check digit


def test_check_digit_and_detection():
    assert privacy.id_number_valid(SAMPLE) and privacy.id_number_valid(SAMPLE.lower())
    assert not privacy.id_number_valid("110105194912310021")
    assert privacy.contains_id_number(f"card {SAMPLE} read")
    assert not privacy.contains_id_number("order 110105194912310021 paid")   # bad check digit: not an ID


def test_masks():
    assert privacy.mask_id_number(SAMPLE) == "110***********002X"
    assert privacy.mask_name("王小明") == "王*明"
    assert privacy.mask_name("王明") == "王*"
    assert privacy.mask_name("欧阳建峰") == "欧**峰"
    assert privacy.mask_name("John Smith") == "J*** S****"


def test_person_key_is_keyed_and_normalised():
    k1 = privacy.person_key(b"k" * 32, SAMPLE)
    assert k1 == privacy.person_key(b"k" * 32, SAMPLE.lower().replace("x", " x"))
    assert k1 != privacy.person_key(b"j" * 32, SAMPLE)
    assert SAMPLE not in k1 and len(k1) == 64


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_redaction_leaves_no_valid_number(text):
    out = privacy.redact_id_numbers(text + " " + SAMPLE)
    assert not privacy.contains_id_number(out)


def test_log_files_never_carry_a_full_number(data_dir):
    path = setup_logging(data_dir)
    logging.getLogger("test").warning("read card %s for %s", SAMPLE, "someone")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "read card [ID number] for someone" in text and SAMPLE not in text and "002X" not in text


def test_age_bands():
    from datetime import date
    assert privacy.age_on(date(1950, 6, 1), date(2026, 5, 31)) == 75
    assert privacy.age_band(75) == "70-79" and privacy.age_band(85) == "80+" and privacy.age_band(18) == "18-19"
