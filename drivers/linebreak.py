"""Line breaking for Chinese and mixed Chinese/Latin text, the same on screen and on the printed slip.

The rules (GB/T 15834 punctuation usage, the W3C "Requirements for Chinese Text Layout"):

- no line starts with closing punctuation (，。、；：！？）」』】》 …);
- no line ends with opening punctuation (（「『【《 …);
- short fixed phrases stay together: the text is cut into phrases by BudouX's Simplified Chinese
  model (事情, 帮忙, 工作人员 are never split), plus a small glossary of the kiosk's own terms
  (正常高值, 健康筛查日 …); Latin words and numbers (135/85, mmHg) are never split;
- a line breaks only between phrases, or at a space; a phrase longer than a whole line is the only
  thing broken inside, and then still not before closing punctuation.

It lives at the bottom layer (no Kivy, no kiosk imports) because the slip printer driver and the
screens both use it. ``measure`` is how wide a piece of text is: pixels of a font on screen,
columns (a Chinese character is two) on the slip.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

#: Never at the start of a line.
CLOSING = frozenset("，。、；：！？）」』】》〉〕］｝”’…‥·～％‰,.;:!?)]}%»›")
#: Never at the end of a line.
OPENING = frozenset("（「『【《〈〔［｛“‘([{«‹")
#: The kiosk's own fixed phrases that must not be split (BudouX keeps ordinary words together).
GLOSSARY = ("正常高值", "健康筛查日", "工作人员", "服务台", "血压计", "血糖仪", "志愿者", "时间银行",
            "市民驿站", "身份证", "市民卡", "二维码", "毫米汞柱", "毫摩尔", "空腹", "餐后", "上次",
            "小时", "分钟", "非常满意", "基本满意", "非常不满意", "不满意", "我的请求", "我的任务",
            "请求服务", "四代服务", "上门服务", "近期活动", "微心愿", "办事指南", "开放时间")

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
_WORDS = re.compile(r"\S+\s*")


@functools.cache
def _parser():
    import budoux        # its model loads once, on the first Chinese text laid out
    return budoux.load_default_simplified_chinese_parser()


def _glue_punctuation(pieces: list[str]) -> list[str]:
    """Move leading closing punctuation onto the previous piece, trailing opening onto the next."""
    out: list[str] = []
    for piece in pieces:
        while out and piece and piece[0] in CLOSING and not out[-1].endswith((" ", "\u3000")):
            out[-1] += piece[0]
            piece = piece[1:]
        if piece:
            out.append(piece)
    glued: list[str] = []
    carry = ""
    for piece in out:
        piece = carry + piece
        carry = ""
        stripped = piece.rstrip()
        cut = len(stripped)
        while cut > 0 and stripped[cut - 1] in OPENING:
            cut -= 1
        if 0 < cut < len(stripped):
            carry, piece = stripped[cut:], piece[:cut]
        if piece:
            glued.append(piece)
    if carry:
        glued.append(carry)
    return glued


def _keep_glossary(pieces: list[str]) -> list[str]:
    """Merge neighbouring pieces where a glossary term would be split between them."""
    text = "".join(pieces)
    bounds = []
    pos = 0
    for piece in pieces:
        pos += len(piece)
        bounds.append(pos)
    protected = set()
    for term in GLOSSARY:
        for match in re.finditer(re.escape(term), text):
            protected.update(range(match.start() + 1, match.end()))
    merged: list[str] = []
    for piece, end in zip(pieces, bounds):
        if merged and (end - len(piece)) in protected:
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


@functools.lru_cache(maxsize=2048)
def phrases(paragraph: str) -> tuple[str, ...]:
    """The unbreakable pieces of one paragraph, in order; joined they give the paragraph back.

    A piece keeps the spaces that follow it (a line may break there, and they are dropped).
    """
    pieces: list[str] = []
    for word in _WORDS.findall(paragraph):
        core = word.rstrip()
        if _CJK.search(core):
            parts = _parser().parse(core) or [core]
            parts[-1] += word[len(core):]
            pieces.extend(parts)
        else:
            pieces.append(word)
    lead = paragraph[:len(paragraph) - len(paragraph.lstrip())]
    if lead and pieces:
        pieces[0] = lead + pieces[0]
    return tuple(_keep_glossary(_glue_punctuation(pieces)))


def _split_long(piece: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """A piece wider than a line, cut by characters, never before closing punctuation."""
    lines: list[str] = []
    rest = piece
    while rest and measure(rest) > width:
        cut = 1
        while cut < len(rest) and measure(rest[:cut + 1]) <= width:
            cut += 1
        while 1 < cut < len(rest) and (rest[cut] in CLOSING or rest[cut - 1] in OPENING):
            cut -= 1
        lines.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        lines.append(rest)
    return lines


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` broken into lines no wider than ``width`` by the rules above.

    Existing line breaks are kept; spaces at a break are dropped.

    Args:
        text: the text; ``\\n`` separates paragraphs.
        width: the widest a line may be, in ``measure``'s unit.
        measure: the width of a piece of text.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if measure(paragraph.rstrip()) <= width:        # the whole paragraph fits: one measurement
            lines.append(paragraph.rstrip())
            continue
        line = ""
        for piece in phrases(paragraph):
            if line and measure((line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
            if measure(line.rstrip()) > width:          # one piece wider than a whole line
                core = line.rstrip()
                *full, last = _split_long(core, width, measure)
                lines.extend(full)
                line = last + line[len(core):]
        lines.append(line.rstrip())
    return lines


def bad_breaks(text: str, lines: list[str]) -> list[str]:
    """Every place where ``lines`` (``text`` as laid out) breaks the rules: for audits and tests."""
    problems = []
    pos = 0
    breaks = []
    for line in lines:
        while pos < len(text) and text[pos].isspace() and not line[:1].isspace():
            pos += 1
        if text.startswith(line, pos):
            pos += len(line)
        else:
            return [f"lines do not spell the text: {line!r}"]
        breaks.append(pos)
    for pos in breaks[:-1]:
        if pos >= len(text) or text[pos].isspace() or text[pos - 1].isspace():
            continue
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        paragraph = text[line_start:line_end if line_end >= 0 else len(text)]
        at = pos - line_start
        context = f"{text[max(0, pos - 8):pos]!r} | {text[pos:pos + 8]!r}"
        if text[pos] in CLOSING:
            problems.append(f"a line starts with {text[pos]!r}: {context}")
        elif text[pos - 1] in OPENING:
            problems.append(f"a line ends with {text[pos - 1]!r}: {context}")
        else:
            starts, acc = set(), 0
            for piece in phrases(paragraph):
                starts.add(acc)
                acc += len(piece)
            if at not in starts:
                problems.append(f"a phrase is split: {context}")
    return problems
