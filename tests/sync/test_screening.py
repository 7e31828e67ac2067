"""The hub door's screening (sync/screening.py): ID numbers in any disguise, bounded times."""
from __future__ import annotations

import json
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.privacy import contains_id_number, id_check_char
from sync import screening

FIRST17 = "11010519491231002"
ID = FIRST17 + id_check_char(FIRST17)
SEPARATORS = [chr(c) for a, b in screening.SEPARATOR_RANGES for c in range(a, b + 1)]


def test_the_separator_table_is_what_unicodedata_says():
    computed = [chr(c) for c in range(sys.maxunicode + 1)
                if unicodedata.category(chr(c)) in screening.SEPARATOR_CATEGORIES]
    assert computed == SEPARATORS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SEPARATORS), min_size=17, max_size=17), st.booleans(), st.text(max_size=10),
       st.booleans())
def test_an_id_number_split_by_any_separators_is_found_and_masked(seps, fullwidth, around, as_key):
    digits = ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")) if fullwidth else ID
    disguised = "".join(d + s for d, s in zip(digits, seps)) + digits[-1]
    value = {disguised: around} if as_key else {"note": f"{around} {disguised}"}
    assert screening.holds_id_number(value)
    assert screening.text_holds_id_number(json.dumps(value, ensure_ascii=False))
    assert not screening.holds_id_number(screening.redact(json.dumps(value, ensure_ascii=False)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdef-: T.+", max_size=60))
def test_text_without_separators_between_digits_agrees_with_the_plain_check(text):
    if not any(text[i].isdigit() and text[i + 1] in " -" for i in range(len(text) - 1)):
        assert screening.holds_id_number(text) == contains_id_number(text)


def test_ordinary_records_pass():
    payload = {"person_key": "ab" * 32, "at": "2026-11-22T08:00:00.000+00:00", "phone": "138****0000",
               "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "values": [135, 85, 72]}
    assert not screening.holds_id_number(payload)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59+00:00",
                                   "2019-12-31T23:59:59+00:00", "2026-11-22T08:00:00", "yesterday"])
def test_times_out_of_range_or_without_zone_are_refused(value):
    with pytest.raises(screening.TimeOutOfRange):
        screening.parse_bounded(value)
