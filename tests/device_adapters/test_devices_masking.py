"""The one-field masks that ID-card records, receipts and the kiosk show (``pii``)."""

from __future__ import annotations

import pytest

from pii import mask_address, mask_id_number, mask_name, mask_phone


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
        ("欧阳娜娜", "欧阳**"),
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
        ("0771-5551234", "0771-***1234"),
        ("(010)12345678", "010-****5678"),
        ("4501 0319 9001", "********9001"),
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
        ("广西壮族自治区南宁市青秀区民族大道100号", "广西壮族自治区南宁市青秀区民族大道***号"),
        ("广西壮族自治区柳州市柳江区拉堡镇柳堡路1号", "广西壮族自治区柳州市柳江区拉堡镇柳堡路*号"),
        ("东葛路118号青秀万达A座1203室", "东葛路***号青秀万达*座****室"),
        ("幸福小区3栋2单元501", "幸福小区*栋*单元***"),
        ("3栋2单元501", "*栋*单元***"),
        ("南宁市青秀区某某处", "南宁市青秀区****"),
        ("", ""),
    ],
)
def test_mask_address(value: str, masked: str) -> None:
    assert mask_address(value) == masked
