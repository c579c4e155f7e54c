"""Community overlays (issue 15): one index for the city, a light view per community."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_base.engine import KnowledgeBase
from knowledge_base.errors import ValidationFailed
from knowledge_base.loader import load_entries
from knowledge_base.models import KbEntry
from knowledge_base.overlays import Overlay, Override, local_id, parse_overlay_file, split_id
from knowledge_base.profile import CommunityProfile, load_profile
from knowledge_base.synonyms import load_synonyms

ZHUXI = CommunityProfile(name="竹溪社区", address="竹溪大道1号", phone="0771-1111111",
                         department_phones={"民政": "0771-2222222"}, places={"社区服务中心": "竹溪社区服务中心"})
TINGHONG = CommunityProfile(name="亭洪社区", address="亭洪路2号", phone="0771-3333333")
NIGHT_CLINIC_QUESTIONS = ["晚上看病去哪里", "夜间门诊在哪", "半夜小孩发烧去哪看", "晚上有没有医生",
                          "夜里头疼去哪里看病", "夜诊几点开门", "晚上能打针吗", "夜间门诊要挂号吗"]


def night_clinic(code: str) -> KbEntry:
    return KbEntry(id=local_id(code, "night-clinic"), category="weijian", title="竹溪夜间门诊在哪里",
                   questions=NIGHT_CLINIC_QUESTIONS, answer="竹溪社区卫生站晚上8点到12点开夜间门诊，电话{社区电话}。",
                   department="卫健")


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory, write_kb: Any) -> dict[str, Any]:
    directory = write_kb(tmp_path_factory.mktemp("overlay-kb"))
    return {"entries": load_entries(directory), "synonyms": load_synonyms(directory / "synonyms.yaml"),
            "profile": load_profile(directory / "community_profile.example.yaml")}


@pytest.fixture(scope="module")
def city_kb(parts: dict[str, Any]) -> KnowledgeBase:
    return KnowledgeBase.build(parts["entries"], parts["synonyms"], parts["profile"])


@pytest.fixture(scope="module")
def overlay_kb(parts: dict[str, Any]) -> KnowledgeBase:
    zhuxi = Overlay("zhuxi", {"senior-age-allowance": Override("竹溪社区80岁以上老人到社区一楼2号窗口申请高龄津贴。",
                                                               {"location": "{社区地址}一楼2号窗口"})},
                    (night_clinic("zhuxi"),))
    return KnowledgeBase.build(parts["entries"], parts["synonyms"], parts["profile"], overlays=[zhuxi],
                               profiles={"default": parts["profile"], "zhuxi": ZHUXI, "tinghong": TINGHONG},
                               default_community="default")


def test_namespaced_ids_are_valid_entry_ids_and_split_back() -> None:
    entry = night_clinic("nn-Zhu_xi")
    assert entry.id == "nn-Zhu_xi--night-clinic"
    assert KbEntry.model_validate(entry.model_dump()).id == entry.id
    assert split_id(entry.id) == ("nn-Zhu_xi", "night-clinic") and split_id("senior-age-allowance")[0] is None


def test_a_resident_of_a_community_gets_its_override_local_entry_and_phone_numbers(overlay_kb: KnowledgeBase
                                                                                   ) -> None:
    zhuxi = overlay_kb.for_community("zhuxi")
    assert zhuxi.rendered_answer("senior-age-allowance").startswith("竹溪社区80岁以上老人")
    assert zhuxi.rendered_aspect("senior-age-allowance", "location") == "竹溪大道1号一楼2号窗口"
    # Aspects it did not override come from the city entry.
    assert zhuxi.rendered_aspect("senior-age-allowance", "materials") == "老人身份证、户口簿和银行卡。"
    assert zhuxi.rendered_answer("social-security-card-apply") == overlay_kb.rendered_answer(
        "social-security-card-apply")
    assert "0771-1111111" in zhuxi.rendered_aspect("social-security-card-apply", "contact")
    top = zhuxi.search("晚上小孩发烧去哪里看病").top
    assert top is not None and top.entry_id == "zhuxi--night-clinic"
    assert "0771-1111111" in zhuxi.rendered_answer(top.entry_id)
    assert "竹溪" in " ".join(zhuxi.vocabulary("senior-age-allowance"))


def test_another_community_gets_the_city_entry_and_never_the_local_one(overlay_kb: KnowledgeBase) -> None:
    tinghong = overlay_kb.for_community("tinghong")
    assert tinghong.rendered_answer("senior-age-allowance").startswith("年满80周岁的本地户籍老人")
    assert "0771-3333333" in tinghong.rendered_answer("senior-age-allowance")
    assert "zhuxi--night-clinic" not in tinghong.entries
    for view in (tinghong, overlay_kb, overlay_kb.for_community(None)):
        result = view.search("晚上小孩发烧去哪里看病", k=5)
        assert all(not c.entry_id.startswith("zhuxi--") for c in result.candidates)
        assert len(result.candidates) == 5  # the top k still fills though the best match is hidden


def test_views_are_cached_per_community_and_unknown_codes_get_the_default(overlay_kb: KnowledgeBase) -> None:
    assert overlay_kb.for_community("zhuxi") is overlay_kb.for_community("zhuxi")
    assert overlay_kb.for_community("zhuxi").for_community("zhuxi") is overlay_kb.for_community("zhuxi")
    # The default community has nothing of its own: it is the city knowledge base itself.
    assert overlay_kb.for_community("nope") is overlay_kb and overlay_kb.for_community(None) is overlay_kb
    assert overlay_kb.for_community("tinghong").for_community("default") is overlay_kb
    assert overlay_kb.for_community("tinghong").index is overlay_kb.index


def test_without_overlays_the_default_community_searches_exactly_as_before(city_kb: KnowledgeBase,
                                                                         parts: dict[str, Any]) -> None:
    plain = KnowledgeBase.build(parts["entries"], parts["synonyms"], parts["profile"], overlays=[],
                                profiles={"default": parts["profile"]}, default_community="default")
    assert plain.index.fingerprint == city_kb.index.fingerprint
    assert plain.for_community(None) is plain
    for query in ("高龄津贴怎么申请", "社保卡丢了", "老人饭堂在哪", "今天天气怎么样", "上门养老"):
        mine, theirs = plain.for_community("default").search(query), city_kb.search(query)
        assert [(c.entry_id, c.score) for c in mine.candidates] == [(c.entry_id, c.score) for c in theirs.candidates]
        assert mine.decision == theirs.decision


# ---------------------------------------------------------------- the overlay file

def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def test_an_overlay_file_is_read_with_namespaced_local_ids(tmp_path: Path, city_kb: KnowledgeBase) -> None:
    path = _write(tmp_path, {
        "overrides": {"senior-age-allowance": {"aspects": {"location": "竹溪社区一楼"}}},
        "entries": [{"id": "night-clinic", "category": "weijian", "title": "夜间门诊在哪里", "department": "卫健",
                     "questions": NIGHT_CLINIC_QUESTIONS, "answer": "社区卫生站晚上8点到12点开夜间门诊。"}]})
    overlay = parse_overlay_file(path, "zhuxi", city_kb.entries)
    assert [e.id for e in overlay.entries] == ["zhuxi--night-clinic"]
    assert overlay.overrides["senior-age-allowance"] == Override(None, {"location": "竹溪社区一楼"})


def test_a_bad_overlay_file_lists_every_problem_in_chinese_with_its_line(tmp_path: Path,
                                                                       city_kb: KnowledgeBase) -> None:
    path = _write(tmp_path, """overrides:
  no-such-entry:
    answer: 随便写写的回答
  senior-age-allowance:
    aspects:
      opening: 九点
  home-care-service:
    title: 不能改标题
entries:
  - id: night-clinic
    category: weijian
    title: 夜间门诊在哪里
    department: 卫健
    questions: [晚上看病去哪里]
  - id: social-security-card-apply
    category: shebao
""")
    with pytest.raises(ValidationFailed) as caught:
        parse_overlay_file(path, "zhuxi", city_kb.entries)
    problems = [str(p) for p in caught.value.problems]
    expected = [(2, "全市知识库里没有编号为 no-such-entry"), (6, "不认识办事要点「opening」"),
                (7, "只能改 answer（回答）和 aspects（办事要点）"), (10, "「回答」没有填写"),
                (15, "和全市条目同号")]
    for line, text in expected:
        assert any(p.startswith(f"{path}:{line}:") and text in p for p in problems), (line, text, problems)
    broken = _write(tmp_path, "entries: [\n  - id: x\n")
    with pytest.raises(ValidationFailed, match=r"overlay.yaml:\d"):
        parse_overlay_file(broken, "zhuxi", city_kb.entries)
    with pytest.raises(ValidationFailed, match="overrides"):
        parse_overlay_file(_write(tmp_path, {"foo": 1}), "zhuxi", city_kb.entries)
