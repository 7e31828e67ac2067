"""The 256-byte text block: four document kinds at literal offsets, code tables, validity, masking, fuzzing."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.idcard_text import ETHNICITIES, DocumentKind, Gender, IdDocument, InvalidDocument, parse_text
from drivers.sim.idcard import SAMPLE_CARDS, encode_text_block
from kiosk.privacy import contains_id_number, id_number_valid
from tests.drivers.helpers_sam import resident_fields, text_block, utf16


def test_resident_card_at_literal_offsets():
    block = text_block(resident_fields())
    # 王 is stored 8B 73 (U+738B, UCS-2 little-endian); the flag at 248 is a space.
    assert block[0:2] == bytes.fromhex("8B 73")
    assert block[248:250] == bytes.fromhex("20 00")
    doc = parse_text(block)
    assert doc.kind is DocumentKind.RESIDENT
    assert doc.name == "王测明"
    assert doc.gender is Gender.MALE
    assert (doc.ethnicity_code, doc.ethnicity) == ("01", "汉")
    assert doc.birth_date == date(1949, 12, 31)
    assert doc.address == "北京市朝阳区样例路1号"
    assert doc.number == "11010519491231002X"
    assert doc.issuer == "北京市公安局朝阳分局"
    assert doc.valid_from == date(2010, 1, 1)
    assert doc.valid_until is None and doc.long_term
    assert doc.check_digit_ok is True
    assert doc.english_name is None and doc.permit_number is None


def test_hmt_residence_permit():
    fields = resident_fields(name="测试澳", gender="2", ethnicity="", number="810000199408230021",
                             start="20190301", end="20240301")
    fields.update({220: "H87654321", 238: "03"})
    block = text_block(fields, flag="J")
    assert block[248:250] == bytes.fromhex("4A 00")
    doc = parse_text(block)
    assert doc.kind is DocumentKind.HMT_PERMIT
    assert doc.number == "810000199408230021" and doc.check_digit_ok is True
    assert doc.permit_number == "H87654321" and doc.issue_count == 3
    assert doc.gender is Gender.FEMALE
    assert doc.ethnicity is None and doc.ethnicity_code is None
    assert doc.valid_until == date(2024, 3, 1)
    assert doc.address == "北京市朝阳区样例路1号"


def test_taiwan_permit_number_checks():
    block = text_block(resident_fields(number="830000199201300022"), flag="J")
    assert parse_text(block).check_digit_ok is True


def test_foreign_permanent_resident_card_2017():
    block = text_block({0: "TEST SAMPLE CHARLIE", 120: "2", 122: "USA110082070801", 152: "USA",
                        158: "测试查", 188: "20170815", 204: "20270815", 220: "19820708",
                        236: "17", 240: "1100"}, flag="I")
    assert block[248:250] == bytes.fromhex("49 00")
    doc = parse_text(block)
    assert doc.kind is DocumentKind.FOREIGN_2017
    assert doc.english_name == "TEST SAMPLE CHARLIE"
    assert doc.name == "测试查"
    assert doc.gender is Gender.FEMALE
    assert doc.number == "USA110082070801"
    assert doc.nationality == "USA"
    assert doc.birth_date == date(1982, 7, 8)
    assert (doc.valid_from, doc.valid_until) == (date(2017, 8, 15), date(2027, 8, 15))
    assert doc.card_version == "17" and doc.issuer == "1100"
    # The 15-character number has no published check rule.
    assert doc.check_digit_ok is None


def test_foreign_permanent_resident_id_card_2023():
    english = "TEST SAMPLE DELTA WITH A NAME LONGER THAN 35"
    assert 35 < len(english) <= 46
    block = text_block({0: "测试德", 30: "1", 32: "02", 36: "19770101", 52: english[:35],
                        122: "931100197701010011", 188: "20231201", 204: "20331201",
                        220: english[35:], 242: "DEU"}, flag="Y")
    assert block[248:250] == bytes.fromhex("59 00")
    doc = parse_text(block)
    assert doc.kind is DocumentKind.FOREIGN_2023
    assert doc.english_name == english
    assert doc.name == "测试德"
    assert doc.renewal_count == 2
    assert doc.nationality == "DEU"
    assert doc.number == "931100197701010011"
    assert doc.check_digit_ok is id_number_valid("931100197701010011")


@pytest.mark.parametrize(("code", "gender"), [("0", Gender.UNKNOWN), ("1", Gender.MALE), ("2", Gender.FEMALE),
                                              ("9", Gender.UNSPECIFIED)])
def test_gender_codes(code, gender):
    assert parse_text(text_block(resident_fields(gender=code))).gender is gender


@pytest.mark.parametrize(("code", "name"), [("01", "汉"), ("36", "毛南"), ("46", "德昂"), ("05", "维吾尔"),
                                            ("56", "基诺"), ("97", "其他"), ("98", "外国血统中国籍人士")])
def test_ethnicity_codes(code, name):
    doc = parse_text(text_block(resident_fields(ethnicity=code)))
    assert (doc.ethnicity_code, doc.ethnicity) == (code, name)


def test_ethnicity_table_is_complete_and_uses_current_names():
    assert set(ETHNICITIES) == {f"{i:02d}" for i in range(1, 57)} | {"97", "98"}
    assert "德昴" not in ETHNICITIES.values() and "毛难" not in ETHNICITIES.values()


def test_unknown_ethnicity_code_is_kept_without_a_name():
    doc = parse_text(text_block(resident_fields(ethnicity="77")))
    assert (doc.ethnicity_code, doc.ethnicity) == ("77", None)


def test_validity_and_expiry():
    doc = parse_text(text_block(resident_fields(start="20100401", end="20200401")))
    assert doc.valid_until == date(2020, 4, 1) and not doc.long_term
    assert doc.expired(date(2020, 4, 1)) is False          # valid through the end date
    assert doc.expired(date(2020, 4, 2)) is True
    long_term = parse_text(text_block(resident_fields(end="长期")))
    assert long_term.expired(date(2199, 1, 1)) is False


def test_bad_check_digit_is_reported_not_raised():
    doc = parse_text(text_block(resident_fields(number="110105194912310021")))
    assert doc.check_digit_ok is False


def test_lower_case_x_is_normalised():
    assert parse_text(text_block(resident_fields(number="11010519491231002x"))).number == "11010519491231002X"


def test_repr_masks_number_name_and_address():
    doc = parse_text(text_block(resident_fields()))
    for text in (repr(doc), str(doc), f"{doc}"):
        assert "11010519491231002X" not in text and not contains_id_number(text)
        assert "王测明" not in text and "样例路" not in text
        assert "002X" not in text and "1949" not in text


@pytest.mark.parametrize(("block", "message"), [
    (bytes(255), "255 bytes"),
    (bytes(257), "257 bytes"),
    (text_block(resident_fields(), flag="Z"), "flag"),
    (text_block(resident_fields(birth="19491301")), "birth date"),
    (text_block(resident_fields(birth="1949123")), "birth date"),
    (text_block(resident_fields(start="abcdefgh")), "validity start"),
    (text_block(resident_fields(end="永久")), "validity end"),
    (text_block(resident_fields(start="20200101", end="20100101")), "before"),
    (text_block(resident_fields(gender="3")), "gender"),
    (text_block(resident_fields(ethnicity="A1")), "ethnicity"),
    (text_block(resident_fields(number="11010519491231002Y")), "number"),
    (text_block(resident_fields(number="1101051949123100")), "number"),
    (text_block(resident_fields(name="")), "name"),
    (text_block(resident_fields(name="王\x07明")), "control"),
    (text_block({}, flag="I"), "names"),
])
def test_malformed_blocks_raise_invalid_document(block, message):
    with pytest.raises(InvalidDocument, match=message) as info:
        parse_text(block)
    assert info.value.user_key == "idcard_invalid_document"
    assert "11010519491231002" not in str(info.value)


def test_unpaired_surrogate():
    block = bytearray(text_block(resident_fields()))
    block[0:2] = bytes.fromhex("00 D8")
    with pytest.raises(InvalidDocument, match="UCS-2"):
        parse_text(bytes(block))


# -- the simulator's sample people ----------------------------------------------------------------

def test_samples_cover_every_document_kind():
    assert {card.expected.kind for card in SAMPLE_CARDS.values()} == set(DocumentKind)


@pytest.mark.parametrize("key", sorted(SAMPLE_CARDS))
def test_sample_cards_parse_to_their_expected_values(key):
    card = SAMPLE_CARDS[key]
    assert len(card.text) == 256 and len(card.photo) == 1024
    assert parse_text(card.text) == card.expected.with_photo_present(False)
    assert encode_text_block(card.expected) == card.text
    # Clearly synthetic people.
    assert "测试" in card.expected.name or "TEST" in (card.expected.english_name or "")
    if key == "resident_bad_check":
        assert card.expected.check_digit_ok is False
    else:
        assert card.expected.check_digit_ok in (True, None)


def test_sample_flag_bytes():
    flags = {key: card.text[248:250] for key, card in SAMPLE_CARDS.items()}
    assert flags["resident"] == utf16(" ")
    assert flags["hmt_permit"] == b"J\x00"
    assert flags["foreign_2017"] == b"I\x00"
    assert flags["foreign_2023"] == b"Y\x00"


def test_document_is_frozen():
    doc = SAMPLE_CARDS["resident"].expected
    with pytest.raises(AttributeError):
        doc.number = "x"  # type: ignore[misc]
    assert isinstance(doc, IdDocument)


# -- fuzzing: only InvalidDocument escapes ---------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_fuzz_arbitrary_bytes(data):
    try:
        parse_text(data)
    except InvalidDocument:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SAMPLE_CARDS)), st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)),
                                                          min_size=1, max_size=8))
def test_fuzz_mutated_samples(key, flips):
    block = bytearray(SAMPLE_CARDS[key].text)
    for index, value in flips:
        block[index] = value
    try:
        doc = parse_text(bytes(block))
    except InvalidDocument:
        return
    assert doc.kind in DocumentKind
    assert not contains_id_number(repr(doc))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([" ", "J", "I", "Y"]),
       st.dictionaries(st.sampled_from([0, 30, 32, 36, 52, 120, 122, 152, 158, 188, 204, 220, 236, 240, 242]),
                       st.text(max_size=8), max_size=10))
def test_fuzz_field_text(flag, fields):
    try:
        parse_text(text_block(fields, flag=flag))
    except InvalidDocument:
        pass
