"""Unknown community details read well: sentences degrade to what is known (knowledge_base/profile_text.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge_base.loader import load_entries
from knowledge_base.models import KbEntry
from knowledge_base.profile import (
    DEMO_NOTE,
    UNKNOWN,
    CommunityProfile,
    load_profile,
    placeholders_in,
    profile_fields,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "knowledge_base" / "data"
EMPTY = CommunityProfile()

ORACLE = [
    # (template, what a resident reads with an empty profile)
    ("社区电话{社区电话}。", "可打12345问"),
    ("到{社区地址}办理。", "到社区服务中心办理。"),
    ("到{地点:社保窗口}办理。", "到社保窗口办理。"),  # the kind of place is known, only its address is not
    ("窗口办公时间：{办公时间}。", "窗口办公时间请打12345问。"),
    ("{办公时间}", "具体时间请打12345问"),
    ("{办公时间}；节假日以社区公告为准。", "具体时间请打12345问；节假日以社区公告为准。"),
    ("一般在{办公时间}登记预约。", "一般在办公时间登记预约。"),
    ("12333；{部门电话:人社}；{社区电话}", "12333"),
    ("交警{部门电话:交警}；12345。", "12345。"),
    ("民政部门{部门电话:民政}；{社区电话}", "可打12345问"),
    ("可问{部门电话:民政}。", "可问民政部门。"),
    ("可打{部门电话:教育}或12345问。", "可打12345问。"),
    ("请问{社区电话}或打12345。", "请问社区或打12345。"),
    ("再打12333或{部门电话:劳动监察}投诉。", "再打12333投诉。"),
    ("可以到{社区地址}问或打{社区电话}，工作人员帮你联系。", "可以到社区服务中心问，工作人员帮你联系。"),
    ("{社区名称}（{社区地址}）或村委会。", "社区或村委会。"),
    ("迁入地派出所户籍窗口（本地派出所：{地点:派出所}）。", "迁入地派出所户籍窗口。"),
    ("派出所：{地点:派出所}；社区：{社区地址}；县（市、区）民政部门。", "派出所；社区；县（市、区）民政部门。"),
    ("快递柜在{地点:快递柜}。收到取件码后开箱。", "收到取件码后开箱。"),
    ("{社区名称}可协助，地址{社区地址}。", "社区可协助。"),
    ("残联。社区地址：{社区地址}。", "残联。"),
    ("社区党组织，{社区地址}", "社区党组织"),
    ("派出所；社保经办机构；{社区地址}", "派出所；社保经办机构；社区服务中心"),
    ("请不起律师的可申请法律援助{部门电话:司法}。", "请不起律师的可申请法律援助。"),
    ("人工服务{办公时间}，也可打{社区电话}问。", "人工服务时间请打12345问。"),  # one generic phrase a sentence
    ("急事可打12345，也可打{社区电话}问。", "急事可打12345。"),
    ("{不存在的键}", "可打12345问"),
]


@pytest.mark.parametrize(("template", "expected"), ORACLE)
def test_unknown_details_degrade_as_the_oracle_says(template: str, expected: str) -> None:
    assert EMPTY.render(template) == expected


def test_known_details_fill_in_and_a_repeated_number_is_said_once() -> None:
    profile = CommunityProfile(address="民主路1号", phone="0771-0000000", department_phones={"人社": "12333"},
                               hours="周一至周五 8:00-12:00")
    assert profile.render("到{社区地址}办理，电话{社区电话}。") == "到民主路1号办理，电话0771-0000000。"
    assert profile.render("12333；{部门电话:人社}；{社区电话}") == "12333；0771-0000000"
    assert profile.render("窗口办公时间：{办公时间}。") == "窗口办公时间：周一至周五 8:00-12:00。"


def test_staff_previews_still_mark_the_gaps() -> None:
    assert EMPTY.render("到{地点:应急避难场所}，电话{社区电话}", for_staff=True) == \
        f"到应急避难场所{UNKNOWN}，电话{UNKNOWN}"
    assert EMPTY.render("{部门电话:民政}", for_staff=True) == f"民政电话{UNKNOWN}"


def test_a_demo_profile_says_so_once_per_text_and_only_when_it_was_used() -> None:
    demo = CommunityProfile(demo=True, name="示例社区", address="示例路1号")
    rendered = demo.render("{社区名称}在{社区地址}，电话{社区电话}。")
    assert rendered == "示例社区在示例路1号。" + DEMO_NOTE
    assert rendered.count("示例社区信息") == 1
    assert demo.render("带身份证到派出所办理，电话{社区电话}。") == "带身份证到派出所办理。"


def test_the_shipped_demo_profile_is_marked_and_invents_no_local_number() -> None:
    demo = load_profile(DATA_DIR / "community_profile.demo.yaml")
    assert demo.demo and demo.example
    assert "示例" in demo.name and "示例" in demo.address
    assert demo.phone == "" and demo.hours == ""
    official = {"12333", "12393", "12385", "12345"}  # national hotlines in policy_facts.md
    assert {v for v in demo.department_phones.values() if v} <= official
    assert all(not v for v in demo.places.values())


# ---------------------------------------------------------------- every shipped entry

_DOUBLED = re.compile(r"[，,][，,]|。。|[、，；][。；]|、、|；；|（）|\(\)")
PLACEHOLDER_FREE = re.compile(r"\{[^{}]*\}")
_DANGLING = re.compile(r"[打到在](?:[。！？；，、]|$)")


def _texts(entries: list[KbEntry]) -> list[tuple[str, str, str]]:
    return [(e.id, name, text) for e in entries
            for name, text in [("answer", e.answer), *e.aspects.present().items()]]


@pytest.fixture(scope="module")
def shipped_texts() -> list[tuple[str, str, str]]:
    return _texts(load_entries(DATA_DIR))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"[。！？\n]", text) if s]


def test_every_shipped_text_reads_well_with_an_empty_profile(shipped_texts: list[tuple[str, str, str]]) -> None:
    failures = []
    degraded_answers = degraded_texts = 0
    for entry_id, name, text in shipped_texts:
        if not placeholders_in(text):
            continue
        rendered = EMPTY.render(text)
        where = f"{entry_id}.{name}: {rendered!r}"
        degraded_texts += 1
        degraded_answers += name == "answer"
        if UNKNOWN in rendered or "待社区" in rendered or re.search(r"[{}]", rendered):
            failures.append(f"marker or braces in {where}")
        if _DOUBLED.search(rendered) and not _DOUBLED.search(text):
            failures.append(f"doubled punctuation or empty brackets in {where}")
        if _DANGLING.search(rendered) and not _DANGLING.search(text):
            failures.append(f"sentence ends with 打/到/在 in {where}")
        if not rendered.strip():
            failures.append(f"nothing left in {where}")
        raw = set(_sentences(PLACEHOLDER_FREE.sub("", text)))
        for sentence in _sentences(rendered):
            if sentence not in raw and sentence.count("12345") > 1:
                failures.append(f"two generic phrases in one sentence: {where}")
    print(f"\n{degraded_texts} texts with placeholders degraded ({degraded_answers} answers) of {len(shipped_texts)}")
    assert degraded_texts > 0
    assert failures == []



def test_every_shipped_text_shows_the_values_of_a_full_profile(shipped_texts: list[tuple[str, str, str]]) -> None:
    used = [(key, argument) for _, _, text in shipped_texts for key, argument in placeholders_in(text)]
    full = CommunityProfile(
        name="甲社区", address="甲路1号", hours="周一至周五", phone="0771-0000001",
        department_phones={a: f"0771-1{i:06d}" for i, (k, a) in enumerate(used) if k == "部门电话" and a},
        places={a: f"乙路{i}号" for i, (k, a) in enumerate(used) if k == "地点" and a},
    )
    failures = []
    for entry_id, name, text in shipped_texts:
        rendered = full.render(text)
        for key, argument in placeholders_in(text):
            value = full.lookup(key, argument)
            if not value or (value not in rendered and value not in PLACEHOLDER_FREE.sub("", text)):
                failures.append(f"{entry_id}.{name}: {{{key}:{argument}}} missing in {rendered!r}")
        if UNKNOWN in rendered or "{" in rendered:
            failures.append(f"{entry_id}.{name}: {rendered!r}")
    assert failures == []


def test_profile_fields_list_the_gaps_and_who_uses_them() -> None:
    profile = CommunityProfile(phone="0771-0000000", department_phones={"民政": ""}, places={})
    rows = {f.label: f for f in profile_fields(profile, [("a", "电话{社区电话}"), ("b", "问{部门电话:民政}"),
                                                         ("b", "到{地点:派出所}"), ("c", "{部门电话:民政}")])}
    assert rows["社区电话"].filled and rows["社区电话"].used_by == ["a"]
    assert not rows["部门电话：民政"].filled and rows["部门电话：民政"].used_by == ["b", "c"]
    assert rows["地点：派出所"].placeholder == "{地点:派出所}" and rows["地点：派出所"].used_by == ["b"]
    assert not rows["办公时间"].filled and rows["办公时间"].used_by == []
