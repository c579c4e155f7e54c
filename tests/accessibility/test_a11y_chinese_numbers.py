from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessibility.chinese_numbers import (
    decimal_to_chinese,
    digits_to_chinese,
    integer_to_chinese,
    time_to_chinese,
    year_to_chinese,
)


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (0, "零"),
        (1, "一"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (110, "一百一十"),
        (101, "一百零一"),
        (1005, "一千零五"),
        (3600, "三千六百"),
        (10000, "一万"),
        (10500, "一万零五百"),
        (100000, "十万"),
        (1200000, "一百二十万"),
        (100000000, "一亿"),
        (100010000, "一亿零一万"),
        (1000000001, "十亿零一"),
    ],
)
def test_integer_to_chinese(value: int, spoken: str) -> None:
    assert integer_to_chinese(value) == spoken


@pytest.mark.parametrize(
    ("value", "spoken"),
    [(2000, "两千"), (2500, "两千五百"), (20000, "两万"), (200, "二百"), (2, "二"), (12000, "一万二千")],
)
def test_liang_before_large_units(value: int, spoken: str) -> None:
    assert integer_to_chinese(value, liang=True) == spoken


def test_negative_and_huge_integers() -> None:
    assert integer_to_chinese(-5) == "负五"
    assert integer_to_chinese(10**17) == "一" + "零" * 17


@settings(database=None)
@given(st.integers(min_value=0, max_value=10**16))
def test_integer_to_chinese_uses_only_numeral_characters(value: int) -> None:
    assert set(integer_to_chinese(value)) <= set("零一二三四五六七八九十百千万亿")


def test_digits_to_chinese() -> None:
    assert digits_to_chinese("12333") == "幺二三三三"
    assert digits_to_chinese("12333", yao=False) == "一二三三三"
    assert digits_to_chinese("0771-12") == "零七七幺幺二"


def test_decimals_years_times() -> None:
    assert decimal_to_chinese("3.5") == "三点五"
    assert decimal_to_chinese("0.05") == "零点零五"
    assert decimal_to_chinese("12.50", strip_zeros=True) == "十二点五"
    assert decimal_to_chinese("12.00", strip_zeros=True) == "十二"
    assert year_to_chinese("2025") == "二零二五"
    assert time_to_chinese(8, 30) == "八点半"
    assert time_to_chinese(14, 5) == "十四点零五分"
    assert time_to_chinese(9, 0) == "九点"
    assert time_to_chinese(2, 0) == "两点"
    assert time_to_chinese(17, 45) == "十七点四十五分"
