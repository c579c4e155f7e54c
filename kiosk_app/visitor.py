"""Who signed in with their ID card, reduced to what the kiosk needs: a greeting and suggestions.

The card record (name, number, address, photo) is read, turned into a :class:`Visitor` and dropped at once;
the visitor keeps only the surname with a respectful title, a masked name for the screen, and suggestions
chosen from age and region. Nothing here is ever spoken: :data:`SIGNED_IN_SPEECH` says only that it worked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from device_adapters.idcard.codes import CardType
from device_adapters.idcard.record import IdCardRecord
from kiosk_app.catalog import Catalog, Question
from pii import mask_name

SIGNED_IN_SPEECH = "读卡成功，您好！屏幕上有几项您可能用得上的服务，想了解哪一项就点哪一项。"
SIGNED_IN_NO_SUGGESTION_SPEECH = "读卡成功，您好！请点常见问题，或者回到首页选您要办的事。"
MAX_SUGGESTIONS = 3

# Two-character surnames common enough to matter; everything else is taken as one character.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "申屠", "太史",
    "闻人", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "钟离", "赫连", "拓跋", "第五", "东郭",
))


@dataclass(frozen=True)
class Suggestion:
    question: Question
    reason: str  # shown under the button: why this is suggested (no exact age, nothing identifying)


@dataclass(frozen=True)
class Visitor:
    greeting: str  # 黄奶奶，您好！
    masked_name: str  # 黄**
    suggestions: tuple[Suggestion, ...] = field(default_factory=tuple)
    # Orders the community notices for their age group first; computed here, never shown, spoken or sent.
    age: int | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Visitor(masked_name={self.masked_name!r}, suggestions={len(self.suggestions)})"

    __str__ = __repr__

    @property
    def speech(self) -> str:
        return SIGNED_IN_SPEECH if self.suggestions else SIGNED_IN_NO_SUGGESTION_SPEECH


def surname_of(name: str) -> str:
    name = name.strip()
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[:1]


def respectful_title(gender: str, age: int) -> str | None:
    """爷爷/奶奶 from 70, 叔叔/阿姨 from 50, 先生/女士 below; ``None`` when the gender is not stated."""
    if gender not in ("男", "女"):
        return None
    male = gender == "男"
    if age >= 70:
        return "爷爷" if male else "奶奶"
    if age >= 50:
        return "叔叔" if male else "阿姨"
    return "先生" if male else "女士"


def greeting_for(record: IdCardRecord, today: dt.date) -> str:
    title = respectful_title(record.gender, record.age_on(today))
    chinese_name = record.card_type in (CardType.RESIDENT, CardType.HMT_RESIDENCE_PERMIT)
    if title is None:
        return "您好！"
    if not chinese_name or not record.name.strip():
        # A transliterated name has no surname the kiosk can pick out reliably.
        return f"{title}，您好！" if title in ("先生", "女士") else "您好！"
    return f"{surname_of(record.name)}{title}，您好！"


def suggestions_for(record: IdCardRecord, catalog: Catalog, today: dt.date) -> tuple[Suggestion, ...]:
    """Age and region rules; only topics the knowledge base actually has are offered."""
    age = record.age_on(today)
    region = record.region
    rules: list[tuple[bool, str, str]] = [
        (age >= 80 and region.in_guangxi, "senior-age-allowance", "80岁以上的广西老人可以申请"),
        (age >= 65, "senior-free-checkup", "65岁以上老人每年可以免费体检"),
        (age >= 60, "senior-preferential-card", "60岁以上老人可以办优待证"),
        (region.province is not None and not region.in_guangxi, "cross-region-medical-filing",
         "户籍不在广西，看病报销可以先备案"),
        (age >= 60, "pension-eligibility-certification", "领养老金的老人每年要做一次认证"),
    ]
    chosen: list[Suggestion] = []
    for applies, entry_id, reason in rules:
        question = catalog.question(entry_id) if applies else None
        if question is not None:
            chosen.append(Suggestion(question, reason))
        if len(chosen) == MAX_SUGGESTIONS:
            break
    return tuple(chosen)


def visitor_from_record(record: IdCardRecord, catalog: Catalog, today: dt.date | None = None) -> Visitor:
    today = today or dt.date.today()
    return Visitor(
        greeting=greeting_for(record, today),
        masked_name=mask_name(record.name),
        suggestions=suggestions_for(record, catalog, today),
        age=record.age_on(today),
    )
