"""Numbers read the Chinese way: 152 → 一百五十二, 96 → 九十六, 7.0 → 七点零.

Health kiosks read whole numbers in full (not digit by digit) and decimals digit by digit after 点.
Written with characters before synthesis, so every engine says the same thing.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿")


class NumberError(ValueError):
    """A value that cannot be read aloud (not a number, or too large)."""


def _below_10000(n: int) -> str:
    """0 < n < 10000 without a leading 一 before 十 (the caller decides)."""
    out = []
    zero = False
    for power in range(3, -1, -1):
        digit = n // 10 ** power % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[digit] + _SMALL_UNITS[power])
    return "".join(out)


def read_int(n: int) -> str:
    """A whole number in Chinese words: 10 → 十, 105 → 一百零五, 1010 → 一千零一十, -3 → 负三.

    Raises:
        NumberError: beyond 亿亿 (not a number a kiosk shows).
    """
    if n < 0:
        return "负" + read_int(-n)
    if n == 0:
        return "零"
    if n >= 10 ** 12:
        raise NumberError(f"{n} is too large to read aloud")
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        higher = any(groups[index + 1:])
        if higher and group < 1000:
            out.append("零")
        out.append(_below_10000(group) + _BIG_UNITS[index])
    text = "".join(out)
    if text.startswith("一十"):          # 十五, not 一十五 (only at the very start)
        text = text[1:]
    return text


def read_number(value: int | float | str | Decimal, decimals: int | None = None) -> str:
    """A number in Chinese words; decimals are read digit by digit: 7.0 → 七点零, 12.35 → 十二点三五.

    Args:
        value: the number (a str keeps its written decimals: "7.0").
        decimals: digits after the point to read (rounded half up); default as written.

    Raises:
        NumberError: not a number.
    """
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise NumberError(f"{value!r} is not a number") from None
    if not d.is_finite():
        raise NumberError(f"{value!r} is not a number")
    if decimals is not None:
        d = d.quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_HALF_UP")
    sign = "负" if d < 0 else ""
    text = format(abs(d), "f")
    whole, _, frac = text.partition(".")
    words = read_int(int(whole))
    if frac:
        words += "点" + "".join(DIGITS[int(c)] for c in frac)
    return sign + words
