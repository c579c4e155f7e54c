"""Greeting and suggestions from an ID card: respectful, age- and region-aware, nothing personal spoken."""

from __future__ import annotations

import datetime as dt

import pytest

from device_adapters.idcard.codes import CardType
from device_adapters.idcard.record import parse_text_block
from device_adapters.idcard.samples import (
    FOREIGN_2023_FIELDS,
    RESIDENT_FIELDS,
    encode_text_block,
    sample_text_block,
    with_check_digit,
)
from kiosk_app.catalog import Catalog
from kiosk_app.visitor import (
    SIGNED_IN_SPEECH,
    respectful_title,
    surname_of,
    visitor_from_record,
)
from knowledge_base.models import KbEntry

TODAY = dt.date(2026, 11, 28)


def _entry(entry_id: str, category: str, title: str) -> KbEntry:
    return KbEntry(id=entry_id, category=category, title=title, department="民政", answer="回答内容在这里。")


CATALOG = Catalog([
    _entry("senior-age-allowance", "yanglao", "高龄津贴怎么申请"),
    _entry("senior-free-checkup", "weijian", "65岁以上老人免费体检怎么预约"),
    _entry("senior-preferential-card", "yanglao", "老年人优待证怎么办"),
    _entry("cross-region-medical-filing", "yibao", "异地就医怎么备案"),
    _entry("pension-eligibility-certification", "shebao", "养老金资格认证怎么做"),
])


def resident(birth: str, gender: str = "2", name: str = "黄桂兰", region: str = "450103"):
    fields = dict(RESIDENT_FIELDS, birth=birth, gender=gender, name=name,
                  id_number=with_check_digit(region + birth + "002"))
    return parse_text_block(encode_text_block(CardType.RESIDENT, fields))


@pytest.mark.parametrize(("gender", "age", "title"), [
    ("女", 85, "奶奶"), ("男", 70, "爷爷"), ("女", 69, "阿姨"), ("男", 50, "叔叔"), ("女", 30, "女士"),
    ("男", 49, "先生"), ("未说明", 80, None),
])
def test_respectful_title_by_age_and_gender(gender: str, age: int, title: str | None) -> None:
    assert respectful_title(gender, age) == title


def test_compound_surnames_are_kept_whole() -> None:
    assert surname_of("欧阳娜娜") == "欧阳"
    assert surname_of("黄桂兰") == "黄"
    assert surname_of("欧阳") == "欧"  # a two-character name is surname + given name


def test_82_year_old_in_guangxi_gets_the_age_allowance_first() -> None:
    visitor = visitor_from_record(resident("19440101"), CATALOG, TODAY)
    assert visitor.greeting == "黄奶奶，您好！"
    assert visitor.masked_name == "黄**"
    assert [s.question.entry_id for s in visitor.suggestions] == [
        "senior-age-allowance", "senior-free-checkup", "senior-preferential-card"]
    assert visitor.speech == SIGNED_IN_SPEECH


def test_age_thresholds_decide_the_suggestions() -> None:
    ids = lambda birth: [s.question.entry_id for s in visitor_from_record(resident(birth), CATALOG, TODAY).suggestions]  # noqa: E731
    assert "senior-age-allowance" not in ids("19470101")  # 79
    assert ids("19600101")[:2] == ["senior-free-checkup", "senior-preferential-card"]  # 66
    assert ids("19640101")[0] == "senior-preferential-card"  # 62
    assert ids("19900101") == []  # 36: nothing age-based


def test_outside_guangxi_no_age_allowance_but_cross_region_filing() -> None:
    visitor = visitor_from_record(resident("19400101", region="440103"), CATALOG, TODAY)  # Guangzhou, 86
    ids = [s.question.entry_id for s in visitor.suggestions]
    assert "senior-age-allowance" not in ids
    assert "cross-region-medical-filing" in ids


def test_suggestions_only_for_topics_the_knowledge_base_has() -> None:
    small = Catalog([_entry("senior-preferential-card", "yanglao", "老年人优待证怎么办")])
    visitor = visitor_from_record(resident("19440101"), small, TODAY)
    assert [s.question.entry_id for s in visitor.suggestions] == ["senior-preferential-card"]


def test_foreign_card_gets_no_guessed_surname() -> None:
    record = parse_text_block(sample_text_block("foreign-2023"))
    visitor = visitor_from_record(record, CATALOG, TODAY)
    assert FOREIGN_2023_FIELDS["name"][0] not in visitor.greeting
    assert visitor.greeting == "女士，您好！"


def test_visitor_repr_and_speech_hold_nothing_personal() -> None:
    record = resident("19440101")
    visitor = visitor_from_record(record, CATALOG, TODAY)
    for text in (repr(visitor), str(visitor), visitor.speech):
        assert "桂兰" not in text and record.id_number not in text and "黄" not in visitor.speech
