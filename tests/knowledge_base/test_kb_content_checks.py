"""Checks that keep the shipped knowledge-base content right (issue 16, item 3):

- every policy figure (元, %, 天, 个月, 年 …) in what residents read carries its year in the same field, and the
  entry names its source in ``policy``;
- every button an answer tells residents to press exists verbatim on the kiosk or in the web chat;
- the short answer, spoken, stays within 120 characters.

Each check has detector tests of its own, so a detector that stops finding things fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from accessibility.speech_text import to_speech_text
from knowledge_base.aspects import aspect_table
from knowledge_base.content_checks import (
    URL,
    YEAR,
    Figure,
    figure_problems,
    figures_in,
    has_source,
    resident_fields,
)
from knowledge_base.engine import DATA_DIR
from knowledge_base.loader import collect_entries
from knowledge_base.models import KbEntry
from knowledge_base.profile import CommunityProfile

REPO = Path(__file__).resolve().parents[2]
MAX_SPOKEN_ANSWER = 120  # docs/kb_format.md: the short answer is spoken aloud

# ---------------------------------------------------------------------------------------------------------
# Figures (the detectors are in knowledge_base/content_checks.py)
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureReport:
    entries: int
    with_figure: int
    with_figure_and_source: int
    with_figure_and_link: int
    clocks_without_year: list[str]


def figure_report(entries: list[KbEntry]) -> FigureReport:
    with_figure = [e for e in entries if any(figures_in(t) for _, t in resident_fields(e))]
    clocks = [f"{e.id}.{name}: {f.text}" for e in with_figure for name, text in resident_fields(e)
              if not YEAR.search(text) for f in figures_in(text) if f.clock]
    return FigureReport(
        entries=len(entries),
        with_figure=len(with_figure),
        with_figure_and_source=sum(has_source(e.aspects.policy) for e in with_figure),
        with_figure_and_link=sum(bool(e.aspects.policy and URL.search(e.aspects.policy)) for e in with_figure),
        clocks_without_year=clocks,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024、2025年国家规定个人缴费最低每人每年400元", [Figure("400元", False)]),
        ("全国政策个人一般最高30万元", [Figure("30万元", False)]),
        ("缴费基数在60%–300%之间，费率20%", [Figure("60%", False), Figure("300%", False), Figure("20%", False)]),
        ("2025年广西为每月4143–20715元", [Figure("4143–20715元", False)]),
        ("失业前参保满1年，最长领12个月", [Figure("1年", False), Figure("12个月", False)]),
        ("产假98天", [Figure("98天", False)]),
        ("审核后公示5个工作日，有效期10年", [Figure("5个工作日", True), Figure("10年", True)]),
        ("单位应在30天内申请", [Figure("30天", True)]),
        ("每12个月认证一次", [Figure("12个月", True)]),
        ("协议离婚有30天冷静期", [Figure("30天", True)]),
        # not policy figures
        ("2025年1月1日起实施，每年3月1日到6月30日办理", []),
        ("年满60周岁，3周岁以下，46岁以上长期有效", []),
        ("打12345或12333问，12个档次，第二百七十八条", []),
    ],
)
def test_the_figure_detector(text: str, expected: list[Figure]) -> None:
    assert figures_in(text) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("《工伤保险条例》（2010年修订）第十七条", True),
        ("桂民发〔2025〕25号", True),
        ("来源：https://www.gov.cn/zhengce/content/202408/content_6965741.htm（2024年）", True),
        ("公开资料整理（二手来源）", False),
        ("《社会保险法》", False),  # no year: which version?
        (None, False),
    ],
)
def test_the_source_detector(policy: str | None, expected: bool) -> None:
    assert has_source(policy) is expected


def _entry(answer: str, policy: str | None = None, **aspects: str) -> KbEntry:
    return KbEntry.model_validate({
        "id": "sample", "category": "shebao", "title": "示例问题", "answer": answer, "department": "人社",
        "aspects": {**aspects, "policy": policy},
    })


def test_a_figure_without_its_year_or_source_is_a_problem() -> None:
    assert figure_problems(_entry("每月发90元。", "《某办法》（2025年）")) == [
        "sample.answer: 90元 without its year in the same field"]
    assert figure_problems(_entry("2025年起每月发90元。")) == [
        "sample.answer: 90元 without a source (document + year or link) in policy"]
    assert figure_problems(_entry("2025年起每月发90元。", "《某办法》（2025年）")) == []
    # a procedure clock needs the source, not a year beside it
    assert figure_problems(_entry("公示5个工作日。", "《某办法》（2018年）")) == []
    assert figure_problems(_entry("公示5个工作日。")) != []


@pytest.fixture(scope="module")
def shipped_entries() -> list[KbEntry]:
    entries, problems = collect_entries(DATA_DIR)
    assert problems == [], "\n".join(map(str, problems))
    return entries


def test_every_policy_figure_carries_its_year_and_a_source(shipped_entries: list[KbEntry]) -> None:
    problems = [p for entry in shipped_entries for p in figure_problems(entry)]
    assert problems == []


def test_every_entry_with_a_figure_is_sourced(shipped_entries: list[KbEntry]) -> None:
    report = figure_report(shipped_entries)
    assert report.with_figure > 0  # the detector finds the figures the content has
    assert report.with_figure_and_source == report.with_figure


# ---------------------------------------------------------------------------------------------------------
# Button labels
# ---------------------------------------------------------------------------------------------------------

# "点“再听一遍”或“慢一点”", "点「打印」": the quoted words after a tap verb, or anything in 「」, name a button.
_TAP_QUOTES = re.compile(r"(?:点击|点一下|点|按)((?:\s*[“‘\"'][^“”‘’\"'\n]{1,16}[”’\"']\s*(?:或者|或|和|、|，)?)+)")
_QUOTED = re.compile(r"[“‘\"']([^“”‘’\"'\n]{1,16})[”’\"']")
_CORNER = re.compile(r"「([^」\n]{1,16})」")
# Kiosk texts that are buttons without a *_BUTTON name: a kv button's `text: texts.X`, a screen `Action(texts.X`,
# the navigation bar's `buttons.append((texts.X` (kiosk_app/widgets.py).
_KIOSK_BUTTON_REFS = re.compile(r"(?:text:\s*|Action\(|buttons\.append\(\()texts\.([A-Z_]+)")


def mentioned_buttons(text: str) -> list[str]:
    labels = [label for group in _TAP_QUOTES.findall(text) for label in _QUOTED.findall(group)]
    return labels + _CORNER.findall(text)


def kiosk_labels() -> set[str]:
    from kiosk_app import texts  # loads no Kivy

    sources = [*REPO.joinpath("kiosk_app").rglob("*.kv"), *REPO.joinpath("kiosk_app").rglob("*.py")]
    source_text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    names = {name for name in vars(texts) if name.endswith("_BUTTON")} | set(_KIOSK_BUTTON_REFS.findall(source_text))
    labels = {value for name in names if isinstance(value := getattr(texts, name, None), str) and "{" not in value}
    labels |= set(texts.ASPECT_LABELS.values()) | {texts.ASPECT_FALLBACK}
    labels |= set(re.findall(r'text:\s*"([^"]+)"', source_text))
    return labels


def web_chat_labels() -> set[str]:
    html = (REPO / "assistant/web/templates/chat.html").read_text(encoding="utf-8")
    labels = {re.sub(r"<[^>]+>|\s+", "", inner) for inner in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)}
    script = (REPO / "assistant/web/static/chat.js").read_text(encoding="utf-8")
    labels |= set(re.findall(r'\b(?:useful|useless|speak):\s*"([^"]+)"', script))
    python = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "assistant").rglob("*.py"))
    labels |= set(re.findall(r'Button\(title="([^"{]+)"', python))  # reply buttons the chat shows
    labels |= set(aspect_table().buttons().values())
    return labels - {""}


@pytest.fixture(scope="module")
def button_labels() -> set[str]:
    return kiosk_labels() | web_chat_labels()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("听不清点“再听一遍”或“说慢一点”；点“打印”拿小票", ["再听一遍", "说慢一点", "打印"]),
        ("在本机点“报修”", ["报修"]),
        ("随时点“返回”“首页”", ["返回", "首页"]),
        ("请按「呼叫工作人员」", ["呼叫工作人员"]),
        ("在聊天里说“我要反映问题”；在app里搜“医保码”", []),  # said or searched, not pressed here
    ],
)
def test_the_button_mention_detector(text: str, expected: list[str]) -> None:
    assert mentioned_buttons(text) == expected


def test_the_label_lists_hold_the_real_buttons(button_labels: set[str]) -> None:
    # kiosk: answer screen, handoff, home; web chat: header, welcome, feedback, reply buttons, aspects
    assert {"再听一遍", "慢一点", "打印", "呼叫工作人员", "刷身份证", "返回", "首页", "常见问题"} <= kiosk_labels()
    assert {"找工作人员", "我要反映问题", "有用", "转人工", "要带什么"} <= web_chat_labels()
    assert not {"报修", "说慢一点"} & button_labels


def test_every_button_an_answer_mentions_exists(shipped_entries: list[KbEntry], button_labels: set[str]) -> None:
    missing = [f"{e.id}.{name}: “{label}”" for e in shipped_entries
               for name, text in [("answer", e.answer), *e.aspects.present().items()]
               for label in mentioned_buttons(text) if label not in button_labels]
    assert missing == []


# ---------------------------------------------------------------------------------------------------------
# Spoken length
# ---------------------------------------------------------------------------------------------------------

# A filled-in profile with values of ordinary length: the answer as a resident hears it in a real community.
_PHONE = "0771-5801234"
TYPICAL_PROFILE = CommunityProfile(
    name="民主路社区",
    address="民主路28号",
    hours="周一到周五8点到12点、15点到18点",
    phone=_PHONE,
    department_phones=dict.fromkeys(
        ("人社", "医保", "民政", "残联", "卫健", "公安", "住建", "公积金中心", "司法", "应急", "退役军人事务", "街道",
         "市场监管", "教育", "交警", "税务", "法院", "劳动监察"), _PHONE),
    places=dict.fromkeys(
        ("社区卫生服务中心", "派出所", "街道便民服务中心", "应急避难场所", "退役军人服务站", "老年食堂", "日间照料中心",
         "快递柜", "电动车充电点"), "民主路28号一楼"),
)


def spoken_answer(entry: KbEntry) -> str:
    return to_speech_text(TYPICAL_PROFILE.render(entry.answer))


def test_spoken_length_counts_what_is_said() -> None:
    # digits become words and placeholders become the community's values: both can push an answer over
    entry = _entry("有疑问打{社区电话}，2025年起每月3600元。")
    assert len(spoken_answer(entry)) > len(entry.answer)


def test_every_short_answer_is_at_most_120_characters_spoken(shipped_entries: list[KbEntry]) -> None:
    too_long = {e.id: len(spoken) for e in shipped_entries if len(spoken := spoken_answer(e)) > MAX_SPOKEN_ANSWER}
    assert too_long == {}
