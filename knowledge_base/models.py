"""The knowledge-base entry: one resident question, its short answer and its aspects."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge_base.aspects import aspect_table

# Aspect name → label (所需材料 …), from the one aspect table (``knowledge_base/data/aspects.yaml``).
ASPECTS: dict[str, str] = aspect_table().labels()

CATEGORIES: dict[str, str] = {
    "shebao": "社会保险",
    "yibao": "医疗保障",
    "yanglao": "养老服务",
    "jiuzhu": "社会救助",
    "canji": "残疾人服务",
    "weijian": "医疗卫生",
    "jiuye": "就业创业",
    "huji": "户籍证件",
    "shengyu": "生育托育与未成年人",
    "zhufang": "住房物业",
    "shequ": "社区事务",
    "anquan": "应急与安全",
    "binzang": "殡葬与身后事",
    "bianmin": "便民生活",
    "tuiyi": "退役军人",
    # Matters the community does not handle: referral entries say who does and how to reach them.
    "qita": "其他部门办理",
}

MIN_QUESTIONS = 8
MAX_ANSWER_CHARS = 150  # the spoken answer; the content guide asks for <= 120
MAX_ASPECT_CHARS = 400
# A community's own entries carry its code in front (``nn-zhuxi--night-clinic``, issue 15), so they never
# collide with a city id.
_ID_PATTERN = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,31}--)?[a-z0-9]+(?:-[a-z0-9]+)*$")


class EntryStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    published = "published"
    archived = "archived"


class EntryKind(StrEnum):
    service = "service"  # the community helps with it
    referral = "referral"  # someone else handles it: the answer says who and how to reach them


class Aspects(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eligibility: str | None = None
    materials: str | None = None
    process: str | None = None
    location: str | None = None
    time: str | None = None
    fees: str | None = None
    contact: str | None = None
    online: str | None = None
    policy: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("*")
    @classmethod
    def _length(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_ASPECT_CHARS:
            raise ValueError(f"too long ({len(value)} > {MAX_ASPECT_CHARS} characters)")
        return value

    def present(self) -> dict[str, str]:
        return {name: text for name, text in self.model_dump().items() if text}


class KbEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    title: str = Field(min_length=2, max_length=80)
    questions: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=4, max_length=MAX_ANSWER_CHARS)
    aspects: Aspects = Field(default_factory=Aspects)
    department: str = Field(min_length=1, max_length=40)
    region: str = "广西"
    effective_from: dt.date | None = None
    review_by: dt.date | None = None
    status: EntryStatus = EntryStatus.published
    kind: EntryKind = EntryKind.service
    version: int = Field(default=1, ge=1)
    updated_by: str = "shipped"

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("id must be a lowercase slug like 'senior-age-allowance'")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
        return value

    @field_validator("title", "answer", "department", "region", mode="before")
    @classmethod
    def _strip_text(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("questions", mode="before")
    @classmethod
    def _clean_questions(cls, value: Any) -> Any:
        if isinstance(value, list):
            seen: list[str] = []
            for item in value:
                if not isinstance(item, str):
                    raise ValueError("every similar question must be text")
                text = item.strip()
                if text and text not in seen:
                    seen.append(text)
            return seen
        return value

    @property
    def is_referral(self) -> bool:
        return self.kind == EntryKind.referral

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]

    def content_hash(self) -> str:
        """Hash of what residents see and what retrieval indexes (not of bookkeeping fields)."""
        payload = self.model_dump(
            mode="json", include={"category", "title", "questions", "answer", "aspects", "department", "region"}
        )
        if self.kind != EntryKind.service:  # service entries hash as they did before kinds existed
            payload["kind"] = str(self.kind)
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def searchable_texts(self) -> list[str]:
        return [self.title, *self.questions]


def publish_problems(entry: KbEntry) -> list[tuple[str, str]]:
    """Rules for entries residents see (drafts may be incomplete), as (offending field, message)."""
    problems = []
    if len(entry.questions) < MIN_QUESTIONS:
        problems.append(("questions", f"needs at least {MIN_QUESTIONS} similar questions (has {len(entry.questions)})"))
    if entry.review_by and entry.effective_from and entry.review_by < entry.effective_from:
        problems.append(("review_by", "review_by is before effective_from"))
    return problems


def check_publishable(entry: KbEntry) -> list[str]:
    """Rules for entries residents see (drafts may be incomplete)."""
    return [message for _, message in publish_problems(entry)]
