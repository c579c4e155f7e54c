"""The synonym dictionary (variant → canonical) and the community profile's placeholder rendering."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from knowledge_base.errors import ProfileError, ValidationFailed
from knowledge_base.profile import UNKNOWN, CommunityProfile, load_profile, placeholders_in
from knowledge_base.synonyms import SynonymDictionary, load_synonyms, validate_groups

SHIPPED = Path(__file__).resolve().parents[2] / "knowledge_base" / "data"


# ---------------------------------------------------------------- synonyms

def test_apply_rewrites_variants_to_canonical_terms() -> None:
    synonyms = SynonymDictionary.from_groups({"养老金": ["退休金", "养老钱"], "高龄津贴": ["长寿金"]})
    assert synonyms.apply("退休金和长寿金怎么领") == "养老金和高龄津贴怎么领"
    assert synonyms.apply("养老钱") == "养老金"
    assert synonyms.apply("社保卡怎么办") == "社保卡怎么办"


def test_apply_prefers_the_longest_variant() -> None:
    # the short variant is listed first, so dictionary order alone would pick it
    synonyms = SynonymDictionary.from_groups({"老年人": ["老人"], "高龄津贴": ["老人补贴"], "社保卡": ["社会保障卡"],
                                              "社保": ["社会保"]})
    assert synonyms.apply("老人补贴怎么领") == "高龄津贴怎么领"
    assert synonyms.apply("老人怎么领补贴") == "老年人怎么领补贴"
    assert synonyms.apply("社会保障卡丢了") == "社保卡丢了"


def test_apply_does_not_rewrite_its_own_output() -> None:
    # 津贴 is a variant of 补贴, and the canonical 高龄津贴 contains 津贴: one pass, no cascade
    synonyms = SynonymDictionary.from_groups({"高龄津贴": ["长寿金"], "补贴": ["津贴"]})
    assert synonyms.apply("长寿金") == "高龄津贴"


def test_empty_dictionary_changes_nothing() -> None:
    assert SynonymDictionary().apply("退休金") == "退休金"


def test_groups_round_trip() -> None:
    groups = {"养老金": ["退休金", "养老钱"], "高龄津贴": ["长寿金"]}
    synonyms = SynonymDictionary.from_groups(groups)
    assert synonyms.groups() == groups
    assert synonyms.canonical_terms() == {"养老金", "高龄津贴"}


def test_a_variant_under_two_canonicals_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        SynonymDictionary.from_groups({"养老金": ["退休金"], "退休工资": ["工资"], "退休费": ["退休金"]})
    [problem] = caught.value.problems
    assert "退休金" in problem.message and "养老金" in problem.message and "退休费" in problem.message


def test_a_variant_that_is_a_canonical_is_rejected() -> None:
    problems = validate_groups({"养老金": ["退休金"], "退休金": ["退休工资"]}, "here")
    assert len(problems) == 1
    assert "退休金" in problems[0].message


@pytest.mark.parametrize("groups", [["退休金"], {"养老金": "退休金"}, {"养老金": ["退休金", ""]}, {"养老金": [3]}])
def test_malformed_groups_are_rejected(groups: object) -> None:
    assert validate_groups(groups, "here")


def test_load_synonyms_reports_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yaml"
    path.write_text("# 同义词\n\nsynonyms:\n  养老金: [退休金, 养老钱]\n  高龄津贴: [长寿金, 退休金]\n",
                    encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_synonyms(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:3"
    assert "退休金" in problem.message and "养老金" in problem.message and "高龄津贴" in problem.message


def test_load_synonyms_reads_the_tiny_dictionary(tiny_kb_dir: Path, tiny_kb_data: dict) -> None:
    synonyms = load_synonyms(tiny_kb_dir / "synonyms.yaml")
    assert synonyms.groups() == tiny_kb_data["synonyms"]
    assert synonyms.apply("长寿金在哪领") == "高龄津贴在哪领"


def test_load_synonyms_rejects_a_file_without_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yaml"
    path.write_text("养老金: [退休金]\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        load_synonyms(path)


# ---------------------------------------------------------------- the community profile

FILLED = CommunityProfile(
    name="民主社区", address="青秀区民主路1号", hours="周一至周五 8:00-12:00", phone="0771-0000000",
    department_phones={"民政": "0771-1111111", "人社": ""}, places={"派出所": "民主路2号"},
)


def test_known_placeholders_render_their_values() -> None:
    text = "{社区名称}在{社区地址}，{办公时间}，电话{社区电话}，民政{部门电话:民政}，派出所在{地点:派出所}。"
    assert FILLED.render(text) == ("民主社区在青秀区民主路1号，周一至周五 8:00-12:00，电话0771-0000000，"
                                   "民政0771-1111111，派出所在民主路2号。")


def test_full_width_colon_works_in_placeholders() -> None:
    assert FILLED.render("{部门电话：民政}") == "0771-1111111"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{地点:派出所}，{地点:快递柜}", f"民主路2号，快递柜{UNKNOWN}"),
        ("{部门电话:人社}", f"人社电话{UNKNOWN}"),  # present in the profile but empty
        ("{部门电话:残联}", f"残联电话{UNKNOWN}"),  # absent from the profile
        ("到{地点:应急避难场所}", f"到应急避难场所{UNKNOWN}"),
        ("{不存在的键}", UNKNOWN),
    ],
)
def test_unknown_values_are_marked_for_staff(text: str, expected: str) -> None:
    assert FILLED.render(text, for_staff=True) == expected
    assert UNKNOWN not in FILLED.render(text)  # residents read a degraded sentence (test_profile_degrade.py)


def test_an_empty_profile_marks_everything() -> None:
    rendered = CommunityProfile().render("{社区名称}{社区电话}", for_staff=True)
    assert rendered == UNKNOWN * 2


def test_text_without_placeholders_is_unchanged() -> None:
    text = "带身份证到社保窗口办理，咨询电话12333。{不是占位符因为太长太长太长太长太长了吧}"
    assert FILLED.render(text) == text


def test_placeholders_in_lists_keys_and_arguments() -> None:
    assert placeholders_in("{社区电话}和{部门电话:民政}") == [("社区电话", None), ("部门电话", "民政")]


def test_rendered_answers_use_the_profile(tiny_kb) -> None:
    assert UNKNOWN not in tiny_kb.rendered_answer("senior-age-allowance")
    assert UNKNOWN in tiny_kb.rendered_answer("senior-age-allowance", for_staff=True)
    assert "{" not in tiny_kb.rendered_answer("senior-age-allowance")
    filled = dataclasses.replace(tiny_kb, profile=FILLED, _rendered={})
    assert "电话0771-0000000" in filled.rendered_answer("senior-age-allowance")
    assert filled.rendered_aspect("senior-age-allowance", "location") == "社区服务中心"
    assert filled.rendered_aspect("senior-age-allowance", "policy") is None
    with pytest.raises(KeyError):
        filled.rendered_aspect("senior-age-allowance", "nonsense")


def test_load_profile_rejects_wrong_types(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("name: 示例\ndepartment_phones: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"profile\.yaml"):
        load_profile(path)


# ---------------------------------------------------------------- the shipped example profile

def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_shipped_example_profile_has_no_phone_numbers_or_addresses() -> None:
    path = SHIPPED / "community_profile.example.yaml"
    profile = load_profile(path)
    assert profile.example is True
    assert profile.phone == "" and profile.address == "" and profile.hours == ""
    assert profile.department_phones, "the example lists the departments staff should fill in"
    assert all(value == "" for value in profile.department_phones.values())
    assert all(value == "" for value in profile.places.values())
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for text in _strings(raw):
        assert not re.search(r"\d{3,}", text), f"looks like a number in the example profile: {text!r}"
    assert profile.render("{社区电话}", for_staff=True) == UNKNOWN
    assert profile.render("{社区电话}") == "可打12345问"
