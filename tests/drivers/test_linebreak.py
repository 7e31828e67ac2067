"""Chinese line breaking: punctuation rules, phrases kept together, nothing lost, widths kept."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.linebreak import CLOSING, OPENING, bad_breaks, phrases, wrap
from drivers.printer_escpos import text_width


def test_phrases_keep_words_and_glossary_terms_together():
    pieces = phrases("有事情需要帮忙时，请找工作人员（在服务台）。您的血压在正常高值范围")
    assert "事情" in pieces and "帮忙" in pieces and "工作人员" in pieces and "正常高值" in pieces
    assert not [p for p in pieces if p[0] in CLOSING]
    assert not [p for p in pieces if p.rstrip()[-1] in OPENING]
    assert "".join(pieces) == "有事情需要帮忙时，请找工作人员（在服务台）。您的血压在正常高值范围"


def test_latin_words_and_numbers_are_never_split():
    assert wrap("Latest 135/85 mmHg · 6 readings", 16, len) == ["Latest 135/85", "mmHg · 6", "readings"]


def test_the_lines_seen_on_screen_break_by_the_rules():
    text = "这张卡还没有登记为志愿者，请找工作人员为您登记。"
    for width in range(8, 40, 2):
        lines = wrap(text, width, text_width)
        assert not bad_breaks(text, lines), (width, lines)
        assert all(text_width(line) <= width for line in lines)


def test_bad_breaks_finds_what_the_old_wrapping_did():
    text = "有事情需要帮忙时，请找工作人员。"
    problems = bad_breaks(text, ["有事", "情需要帮忙时", "，请找工作人员。"])
    assert len(problems) == 2
    assert problems[0].startswith("a phrase is split") and problems[1].startswith("a line starts with '，'")


chinese = st.text(alphabet=st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
                                     st.sampled_from(list("，。、（）「」 12ab"))), max_size=80)


@settings(max_examples=300, deadline=None)
@given(chinese, st.integers(6, 40))
def test_wrap_loses_nothing_and_keeps_the_width(text, width):
    lines = wrap(text, width, text_width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(text_width(line) <= width for line in lines)
