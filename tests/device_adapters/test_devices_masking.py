from __future__ import annotations

import pytest

from device_adapters import mask_address, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("45010319520315123X", "4501**********123X"),
        (" 450103195203150027 ", "4501**********0027"),
        ("USA450078010156", "USA4*******0156"),
        ("H60123456", "H601*3456"),
        ("1234", "1**4"),
        ("12", "**"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("黄桂兰", "黄**"),
        ("欧阳娜娜", "欧***"),
        ("阿依古丽·买买提", "阿***·***"),
        ("王", "*"),
        ("JOHN SMITH", "J*** S****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value: str | None, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("0771-5551234", "077****1234"),
        ("12345", "***45"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("广西壮族自治区南宁市青秀区民族大道100号", "广西壮族自治区南宁市青秀区****"),
        ("广西壮族自治区柳州市柳江区拉堡镇柳堡路1号", "广西壮族自治区柳州市柳江区****"),
        ("北京市朝阳区建国路1号", "北京市朝阳区****"),
        ("民族大道100号", "民族****"),
        ("", ""),
    ],
)
def test_mask_address(value: str, masked: str) -> None:
    assert mask_address(value) == masked
