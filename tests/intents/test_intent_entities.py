"""Rule-based entities: numbers that identify people or tickets, ages, places, dates, choices."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from stdnum.cn import ric

from intents.base import Entity
from intents.choices import extract_choice, resolve_choice
from intents.entities import extract_entities, is_valid_id_number, regions
from intents.training_data import load_training_data
from pii import mask_id_number, mask_phone, mask_text

TODAY = date(2026, 11, 25)  # a Wednesday


def _id(prefix17: str) -> str:
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


VALID_ID = _id("45010319900101123")  # 南宁, born 1990-01-01
VALID_ID_X = "11010519491231002X"


def only(text: str, kind: str) -> list[Entity]:
    return [e for e in extract_entities(text, today=TODAY) if e.type == kind]


# --- ticket numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("text,number", [
    ("查一下工单GX20261120003", "GX20261120003"),
    ("gx20261120003处理好了吗", "GX20261120003"),
    ("单号 GX 20261120 0031", "GX202611200031"),
    ("ＧＸ２０２６１１２０００３", "GX20261120003"),
])
def test_ticket_numbers(text: str, number: str) -> None:
    assert [e.value for e in only(text, "ticket_number")] == [number]


@pytest.mark.parametrize("text", ["GX20261340003", "GX2026112003", "XGX20261120003", "GX20260230001"])
def test_not_ticket_numbers(text: str) -> None:
    assert only(text, "ticket_number") == []


# --- phone numbers --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["电话13812345678", "打138 1234 5678找我", "+86 13812345678", "手机：138-1234-5678",
                                  "手机138.1234.5678", "电话幺三八一二三四五六七八"])
def test_phones(text: str) -> None:
    assert [e.value for e in only(text, "phone")] == ["13812345678"]


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "138123456789", "0771-1234567"])
def test_not_phones(text: str) -> None:
    assert only(text, "phone") == []


# --- ID numbers -----------------------------------------------------------------------------

def test_valid_id_numbers() -> None:
    assert [e.value for e in only(f"我的身份证号是{VALID_ID}", "id_number")] == [VALID_ID]
    assert [e.value for e in only(f"身份证{VALID_ID_X.lower()}", "id_number")] == [VALID_ID_X]
    assert is_valid_id_number(VALID_ID) and is_valid_id_number(VALID_ID_X)


@pytest.mark.parametrize("bad", [
    VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1"),   # wrong check digit
    _id("45010319900230123"),                                  # 30 February
    _id("99010319900101123"),                                  # no such region
    "45010319900101123",                                       # 17 digits
])
def test_invalid_id_numbers_rejected(bad: str) -> None:
    assert not is_valid_id_number(bad)
    assert only(f"身份证{bad}", "id_number") == []
    assert only(f"身份证{bad}", "phone") == []


def test_id_number_is_not_read_as_phone_or_date() -> None:
    entities = extract_entities(f"身份证{VALID_ID}", today=TODAY)
    assert [e.type for e in entities] == ["id_number"]


# --- masking --------------------------------------------------------------------------------

def test_masking_helpers() -> None:
    assert mask_id_number(VALID_ID) == "4501**********" + VALID_ID[-4:]
    assert mask_id_number(VALID_ID_X.lower()) == "1101**********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"


def test_mask_text_in_free_text() -> None:
    text = f"身份证{VALID_ID}，电话138 1234 5678，卡号6222021234567890123，工单GX20261120003，85岁"
    masked = mask_text(text)
    assert VALID_ID not in masked and "4501**********" in masked
    assert "电话138****5678" in masked
    assert "6222021234567890123" not in masked
    assert "GX20261120003" in masked and "85岁" in masked
    full_width = mask_text("电话１３８１２３４５６７８")
    assert "１２３４" not in full_width


def test_entity_repr_and_dict_mask_personal_values() -> None:
    entity = only(f"身份证{VALID_ID}", "id_number")[0]
    assert VALID_ID not in repr(entity) and VALID_ID not in str([entity])
    assert VALID_ID not in str(entity.as_dict())
    assert entity.as_dict(reveal_personal=True)["value"] == VALID_ID
    phone = only("电话13812345678", "phone")[0]
    assert "13812345678" not in repr(phone) and phone.as_dict()["text"] == "138****5678"


def test_personal_values_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        extract_entities(f"身份证{VALID_ID}电话13812345678", today=TODAY)
    assert VALID_ID not in caplog.text and "13812345678" not in caplog.text


# --- ages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,age,approximate", [
    ("我妈八十多岁了", 80, True),
    ("老人85岁", 85, False),
    ("我爸九十了", 90, False),
    ("快八十了", 80, True),
    ("我爸今年七十五", 75, False),
    ("年满六十周岁", 60, False),
    ("八十几岁的老人", 80, True),
    ("奶奶已经九十出头", 90, True),
    ("七旬老人", 70, True),
    ("宝宝1岁", 1, False),
])
def test_ages(text: str, age: int, approximate: bool) -> None:
    found = only(text, "age")
    assert [(e.value, e.approximate) for e in found] == [(age, approximate)]


@pytest.mark.parametrize("text", ["等了十几天了", "交了三百了", "3号楼", "我家10多年了", "等了两个小时"])
def test_not_ages(text: str) -> None:
    assert only(text, "age") == []


# --- places ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind,value,city", [
    ("南宁市青秀区", "district", "青秀区", "南宁市"),
    ("我住在融水", "district", "融水苗族自治县", "柳州市"),
    ("以前的横县", "district", "横州市", "南宁市"),
    ("在武鸣县", "district", "武鸣区", "南宁市"),
    ("玉林容县", "district", "容县", "玉林市"),
    ("我在邕城", "city", "南宁市", None),
    ("防城港的", "city", "防城港市", None),
])
def test_places(text: str, kind: str, value: str, city: str | None) -> None:
    found = only(text, kind)
    assert found and found[-1].value == value
    if city:
        assert found[-1].extra["city"] == city


@pytest.mark.parametrize("text", ["安居乐业", "资源共享", "大新闻", "几天等不到", "兴业银行"])
def test_common_words_are_not_places(text: str) -> None:
    assert only(text, "district") == [] and only(text, "city") == []


def test_region_table_has_fourteen_cities_and_matches_lookup_tables() -> None:
    table = regions()
    assert len(table.cities) == 14
    assert sum(1 for d in table.districts.values() if d[0] == "南宁市") == 12
    data = load_training_data()
    assert set(data.lookups["city"]) == set(table.surfaces("city"))
    assert set(data.lookups["district"]) == set(table.surfaces("district"))


# --- dates ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("今天", date(2026, 11, 25)),
    ("明天去办", date(2026, 11, 26)),
    ("后天", date(2026, 11, 27)),
    ("大后天", date(2026, 11, 28)),
    ("昨天报的", date(2026, 11, 24)),
    ("听日", date(2026, 11, 26)),
    ("下周一", date(2026, 11, 30)),
    ("下星期三", date(2026, 12, 2)),
    ("这周五", date(2026, 11, 27)),
    ("上礼拜天", date(2026, 11, 22)),
    ("11月20日", date(2026, 11, 20)),
    ("十一月二十号", date(2026, 11, 20)),
    ("2026-11-20", date(2026, 11, 20)),
    ("2027/1/5", date(2027, 1, 5)),
    ("2026年12月1日", date(2026, 12, 1)),
    ("下个月5号", date(2026, 12, 5)),
])
def test_dates(text: str, expected: date) -> None:
    assert [e.value for e in only(text, "date")] == [expected]


@pytest.mark.parametrize("text", ["2月30日", "13月1日", "2026-02-30", "周岁", "一周"])
def test_not_dates(text: str) -> None:
    assert only(text, "date") == []


# --- choices --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,index", [
    ("第二个", 1), ("第一个吧", 0), ("2", 1), ("选3", 2), ("二", 1), ("我选第三项", 2),
    ("后面那个", -1), ("最后一个", -1), ("最后那个吧", -1), ("上面那个", 0), ("前面那个", 0),
    ("下面那个", -1), ("倒数第二个", -2), ("头一个", 0), ("第十个", 9),
])
def test_choices(text: str, index: int) -> None:
    assert [e.value for e in only(text, "choice")] == [index]


@pytest.mark.parametrize("text", ["第二个孩子能领补贴吗", "第12个月", "我今年85", "生第3胎", "低保怎么申请"])
def test_not_choices(text: str) -> None:
    assert only(text, "choice") == []


def test_resolve_choice() -> None:
    assert resolve_choice(1, 3) == 1
    assert resolve_choice(-1, 3) == 2
    assert resolve_choice(-2, 2) == 0
    assert resolve_choice(3, 3) is None
    assert resolve_choice(-4, 3) is None
    assert resolve_choice(0, 0) is None
    assert extract_choice("") is None


# --- robustness -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "😀" * 50, "\x00\x1f", "9" * 10_000, "第" * 5000, "GX" * 3000, "\ud800"])
def test_extraction_never_raises(text: str) -> None:
    assert isinstance(extract_entities(text, today=TODAY), list)


def test_offsets_point_into_normalised_text() -> None:
    from knowledge_base.normalize import normalize

    text = "我住青秀區，電話１３８１２３４５６７８"
    clean = normalize(text)
    for entity in extract_entities(text, today=TODAY):
        assert clean[entity.start:entity.end] == entity.text
