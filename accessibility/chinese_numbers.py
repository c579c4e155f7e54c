"""Reading Arabic numerals aloud in Mandarin: quantities, digit strings, years, times.

Pure functions on strings and ints, used by :mod:`accessibility.speech_text`. Quantities follow spoken
usage (十五 not 一十五, 一万零五百, 两千 before 千/万/亿); digit strings (phone numbers, codes) are read one
digit at a time with 一 as 幺, the way numbers are read over the phone so that 一 and 七 are not confused.
"""

from __future__ import annotations

import re

_DIGITS = "零一二三四五六七八九"
_DIGITS_YAO = "零幺二三四五六七八九"
_SMALL_UNITS = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
_GROUP_UNITS = ("", "万", "亿", "万亿")
# Above this, a spoken quantity is useless to a listener; read the digits instead.
_MAX_SPOKEN_INTEGER = 10**16 - 1

__all__ = [
    "decimal_to_chinese",
    "digits_to_chinese",
    "integer_to_chinese",
    "time_to_chinese",
    "year_to_chinese",
]


def digits_to_chinese(digits: str, *, yao: bool = True) -> str:
    """Read every ASCII digit of ``digits`` on its own (``"12333"`` → ``"幺二三三三"``); other characters are dropped."""
    table = _DIGITS_YAO if yao else _DIGITS
    return "".join(table[ord(ch) - 48] for ch in digits if "0" <= ch <= "9")


def _section(value: int) -> str:
    """Read 1..9999 without group unit; inner zeros collapse to one 零 (1005 → 一千零五)."""
    out: list[str] = []
    zero_pending = False
    for size, unit in _SMALL_UNITS:
        digit = value // size % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[digit] + unit)
    return "".join(out)


def integer_to_chinese(value: int, *, liang: bool = False) -> str:
    """Read a non-negative integer as a quantity: 3600 → 三千六百, 10500 → 一万零五百, 15 → 十五.

    ``liang`` reads a leading 2 before 千/万/亿 as 两 (两千元, 两万人), as people say it. Integers of 16
    digits or more are read digit by digit (no one can follow 亿亿 spoken aloud).
    """
    if value < 0:
        return "负" + integer_to_chinese(-value, liang=liang)
    if value == 0:
        return "零"
    if value > _MAX_SPOKEN_INTEGER:
        return digits_to_chinese(str(value), yao=False)
    groups: list[int] = []
    rest = value
    while rest:
        groups.append(rest % 10000)
        rest //= 10000
    parts: list[str] = []
    zero_pending = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(parts)
            continue
        if parts and (zero_pending or group < 1000):
            parts.append("零")
        parts.append(_section(group) + _GROUP_UNITS[index])
        zero_pending = False
    text = "".join(parts)
    if text.startswith("一十"):
        text = text[1:]
    if liang and re.match(r"二[千万亿]", text):
        text = "两" + text[1:]
    return text


def decimal_to_chinese(number: str, *, liang: bool = False, strip_zeros: bool = False) -> str:
    """Read ``"3.5"`` → 三点五, ``"0.05"`` → 零点零五, ``"12"`` → 十二.

    ``strip_zeros`` drops trailing zeros of the fraction (money: 12.50元 → 十二点五元).
    """
    whole, _, fraction = number.partition(".")
    if strip_zeros:
        fraction = fraction.rstrip("0")
    head = integer_to_chinese(int(whole), liang=liang and not fraction) if whole else "零"
    if not fraction:
        return head
    return head + "点" + digits_to_chinese(fraction, yao=False)


def year_to_chinese(year: str) -> str:
    """Years are read digit by digit with 一 (not 幺): 2025 → 二零二五."""
    return digits_to_chinese(year, yao=False)


def time_to_chinese(hour: int, minute: int) -> str:
    """Clock time: 8:30 → 八点半, 14:05 → 十四点零五分, 9:00 → 九点, 2:00 → 两点."""
    head = "两" if hour == 2 else integer_to_chinese(hour)
    if minute == 0:
        return head + "点"
    if minute == 30:
        return head + "点半"
    if minute < 10:
        return head + "点零" + _DIGITS[minute] + "分"
    return head + "点" + integer_to_chinese(minute) + "分"
