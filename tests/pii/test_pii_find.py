"""pii: finding ID, phone, landline, card numbers, names and addresses in every shape residents type them,
the one-field masks, split_phone, and the promise that a masked text never keeps 7 digits of the original."""

from __future__ import annotations

import re

import pytest

from pii import (
    Found,
    find_personal_data,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    split_phone,
)
from pii.numbers import fold

ID = "450103194003120021"
ID_X = "45010319900101123X"
MOBILE = "13812345678"
# The most digits of the original a masked value may show in a row (ID: first four, landline: area code).
MAX_DIGITS_KEPT_IN_A_ROW = 4


def only(text: str) -> Found:
    found = find_personal_data(text)
    assert len(found) == 1, (text, found)
    return found[0]


@pytest.mark.parametrize(("text", "kind", "canonical"), [
    (f"身份证{ID}", "id_number", ID),
    ("身份证4501 0319 4003 1200 21", "id_number", ID),
    ("身份证 450103 19400312 0021", "id_number", ID),
    ("身份证4501-0319-4003-1200-21", "id_number", ID),
    ("身份证4501.0319.4003.1200.21", "id_number", ID),
    ("身份证号４５０１０３１９４００３１２００２１", "id_number", ID),
    ("身份证四五零一零三一九四零零三一二零零二一", "id_number", ID),
    (f"身份证{ID_X.lower()}", "id_number", ID_X),
    ("身份证45010319900101123 X", "id_number", ID_X),
    ("老身份证450103400312002", "id_number", "450103400312002"),
    (f"电话{MOBILE}", "phone", MOBILE),
    ("手机138 1234 5678", "phone", MOBILE),
    ("手机138.1234.5678", "phone", MOBILE),
    ("手机138-1234-5678", "phone", MOBILE),
    ("手机138/1234/5678", "phone", MOBILE),
    ("手机138、1234、5678", "phone", MOBILE),
    ("手机138，1234，5678", "phone", MOBILE),
    ("+86 138 1234 5678", "phone", MOBILE),
    ("0086-13812345678", "phone", MOBILE),
    ("８６１３８１２３４５６７８", "phone", MOBILE),
    ("手机１３８１２３４５６７８", "phone", MOBILE),
    ("我手机是幺三八幺二三四五六七八", "phone", MOBILE),
    ("电话一三八 一二三四 五六七八", "phone", MOBILE),
    ("电话(0771)5551234", "landline", "07715551234"),
    ("电话（0771）5551234", "landline", "07715551234"),
    ("座机0771-5551234", "landline", "07715551234"),
    ("电话0771 555 1234", "landline", "07715551234"),
    ("电话010-87654321", "landline", "01087654321"),
    ("家里电话5551234", "landline", "5551234"),
    ("5551234 转 8", "landline", "5551234"),
    ("银行卡6222 0212 3456 7890 123", "card", "6222021234567890123"),
    ("账号622202123456", "card", "622202123456"),
])
def test_numbers_in_any_spacing_width_and_numerals(text: str, kind: str, canonical: str) -> None:
    found = only(text)
    assert (found.kind, found.canonical) == (kind, canonical)
    assert text[found.start:found.end] == found.text
    masked = mask_text(text)
    assert canonical not in masked and found.text not in masked
    assert longest_original_digit_run(canonical, masked) <= MAX_DIGITS_KEPT_IN_A_ROW


def longest_original_digit_run(canonical: str, masked: str) -> int:
    """The longest stretch of the original's digits that still stands in a row in ``masked``."""
    shown = re.sub(r"[\s.\-/、，()（）+]", "", fold(masked))
    longest = 0
    for size in range(1, len(canonical) + 1):
        if any(canonical[i:i + size] in shown for i in range(len(canonical) - size + 1)):
            longest = size
    return longest


@pytest.mark.parametrize(("text", "name"), [
    ("我叫张三，想问低保", "张三"),
    ("我叫王小明今年80岁", "王小明"),
    ("我妈叫覃秀英，今年八十了", "覃秀英"),
    ("我妈李秀英今年80岁", "李秀英"),
    ("老人叫欧阳娜娜", "欧阳娜娜"),
    ("我女儿叫司马倩", "司马倩"),
    ("联系人：黄丽", "黄丽"),
    ("姓名：韦小宝", "韦小宝"),
    ("我是王小明，想问社保", "王小明"),
    ("我老伴刘建国住院了", "刘建国"),
    ("王建国先生你好", "王建国"),
    ("名字叫蒙桂花", "蒙桂花"),
])
def test_names_in_the_contexts_residents_give_them(text: str, name: str) -> None:
    found = only(text)
    assert (found.kind, found.canonical) == ("name", name)
    masked = mask_text(text)
    assert name not in masked and mask_name(name) in masked


def test_old_x_is_a_name_but_not_inside_a_word() -> None:
    assert mask_text("老王说要办证") == "老*说要办证"
    for text in ("养老金每年要认证", "老赖不还钱", "老人证怎么办", "老师说的"):
        assert mask_text(text) == text


@pytest.mark.parametrize(("text", "kept", "hidden"), [
    ("我家住在东葛路118号青秀万达A座1203室", "东葛路", ["118", "1203"]),
    ("住幸福小区3栋2单元501", "幸福小区", ["501"]),
    ("3栋2单元501的灯坏了", "的灯坏了", ["501"]),
    ("住三栋二单元五零一", "住", ["五零一"]),
    ("民族大道100号", "民族大道", ["100"]),
    ("住5楼502", "住", ["502"]),
])
def test_addresses_keep_the_road_and_hide_the_numbers(text: str, kept: str, hidden: list[str]) -> None:
    assert [f.kind for f in find_personal_data(text)] == ["address"]
    masked = mask_text(text)
    assert kept in masked and not any(h in masked for h in hidden)


def test_several_kinds_in_one_message_are_all_masked_and_the_rest_is_left_as_typed() -> None:
    text = f"你好，我叫张三，身份证{ID}，电话138 1234 5678，住幸福小区3栋2单元501，想问高龄补贴。"
    assert [f.kind for f in find_personal_data(text)] == ["name", "id_number", "phone", "address"]
    assert mask_text(text) == "你好，我叫张*，身份证4501**********0021，电话138****5678，住幸福小区*栋*单元***，想问高龄补贴。"


def test_keep_leaves_a_kind_in_clear() -> None:
    text = f"东葛路118号路灯坏了，电话{MOBILE}"
    assert mask_text(text, keep=("address",)) == "东葛路118号路灯坏了，电话138****5678"


def test_masking_is_idempotent_and_safe_on_any_input() -> None:
    for text in ("", " ", "X", "0", "+", "()", "转", "我叫", "老", "路号", "1" * 40, "一" * 30):
        once = mask_text(text)
        assert mask_text(once) == once
    assert find_personal_data("") == []


@pytest.mark.parametrize(("value", "masked"), [
    (ID, "4501**********0021"), ("4501 0319 4003 1200 21", "4501**********0021"),
    (ID_X.lower(), "4501**********123X"),
    ("", ""), (None, ""),
])
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    (MOBILE, "138****5678"), ("+86 138-1234-5678", "138****5678"), ("0771-5551234", "0771-***1234"),
    ("(0771)5551234", "0771-***1234"), ("010-87654321", "010-****4321"), ("5551234", "***1234"), (None, ""),
])
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("张三", "张*"), ("欧阳娜娜", "欧阳**"), ("司马倩", "司马*"), ("JOHN SMITH", "J*** S****"), ("王", "*"), (None, ""),
])
def test_mask_name(value: str | None, masked: str) -> None:
    assert mask_name(value) == masked


def test_mask_address_of_one_field() -> None:
    assert mask_address("广西南宁市青秀区东葛路118号青秀万达A座1203室") == "广西南宁市青秀区东葛路***号青秀万达*座****室"
    assert mask_address("南宁市青秀区某某处") == "南宁市青秀区****"
    assert mask_address(None) == ""


@pytest.mark.parametrize(("text", "phone", "rest"), [
    ("我的电话是138 1234 5678，谢谢", MOBILE, "我的电话是 ，谢谢"),
    ("0771-5551234", "07715551234", ""),
    ("+86 13812345678", MOBILE, ""),
    ("电话幺三八一二三四五六七八", MOBILE, "电话"),
    ("没有号码", None, "没有号码"),
    ("12345", None, "12345"),
])
def test_split_phone(text: str, phone: str | None, rest: str) -> None:
    assert split_phone(text) == (phone, rest)
