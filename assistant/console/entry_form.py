"""The entry edit form: parsing browser fields into a ``KbEntry`` with a Chinese message next to each field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from assistant.console import FormInvalid
from knowledge_base.models import (
    ASPECTS,
    CATEGORIES,
    MAX_ANSWER_CHARS,
    MAX_ASPECT_CHARS,
    MIN_QUESTIONS,
    EntryStatus,
    KbEntry,
    check_publishable,
)

FIELD_LABELS: dict[str, str] = {
    "id": "编号", "category": "分类", "title": "标题（标准问法）", "questions": "相似问法（一行一个）",
    "answer": "答案", "department": "主管部门", "region": "适用地区", "effective_from": "生效日期",
    "review_by": "复核日期", **{f"aspect_{k}": v for k, v in ASPECTS.items()},
}
MAX_QUESTIONS = 200
MAX_QUESTION_CHARS = 100


def entry_to_form(data: Mapping[str, Any]) -> dict[str, str]:
    """Values for the form's fields from stored entry data (which may be an incomplete draft)."""
    aspects = data.get("aspects") or {}
    values = {
        "id": str(data.get("id") or ""), "category": str(data.get("category") or ""),
        "title": str(data.get("title") or ""), "questions": "\n".join(data.get("questions") or []),
        "answer": str(data.get("answer") or ""), "department": str(data.get("department") or ""),
        "region": str(data.get("region") or "广西"),
        "effective_from": str(data.get("effective_from") or ""), "review_by": str(data.get("review_by") or ""),
    }
    for name in ASPECTS:
        values[f"aspect_{name}"] = str(aspects.get(name) or "")
    return values


def _date(value: str, errors: dict[str, str], field: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[field] = "日期格式应为 2025-01-31"
        return None


def parse_entry_form(form: Mapping[str, str], *, status: EntryStatus = EntryStatus.draft,
                     version: int = 1) -> KbEntry:
    """Raises FormInvalid with field → message; never lets a pydantic error reach the page raw."""
    errors: dict[str, str] = {}
    get = lambda name: (form.get(name) or "").replace("\r\n", "\n").strip()  # noqa: E731
    questions = [line.strip() for line in get("questions").split("\n") if line.strip()]
    if len(questions) > MAX_QUESTIONS:
        errors["questions"] = f"相似问法最多 {MAX_QUESTIONS} 条"
    elif any(len(q) > MAX_QUESTION_CHARS for q in questions):
        errors["questions"] = f"每条相似问法不超过 {MAX_QUESTION_CHARS} 字"
    aspects = {name: get(f"aspect_{name}") or None for name in ASPECTS}
    data: dict[str, Any] = {
        "id": get("id"), "category": get("category"), "title": get("title"), "questions": questions,
        "answer": get("answer"), "department": get("department"), "region": get("region") or "广西",
        "effective_from": _date(get("effective_from"), errors, "effective_from"),
        "review_by": _date(get("review_by"), errors, "review_by"),
        "aspects": aspects, "status": status, "version": version,
    }
    entry: KbEntry | None = None
    try:
        entry = KbEntry.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            field = f"aspect_{loc[1]}" if loc and loc[0] == "aspects" and len(loc) > 1 else (loc[0] if loc else "id")
            errors.setdefault(field, _message(field, error))
    for name in ("id", "category", "title", "answer", "department"):
        if not data[name]:
            errors[name] = "不能为空"
    if entry is not None and entry.review_by and entry.effective_from and entry.review_by < entry.effective_from:
        errors["review_by"] = "复核日期不能早于生效日期"
    if errors or entry is None:
        raise FormInvalid(errors or {"id": "内容不完整"})
    return entry


def publishable_errors(entry: KbEntry) -> dict[str, str]:
    """What must be fixed before an entry may be submitted for publication."""
    errors: dict[str, str] = {}
    for problem in check_publishable(entry):
        if "question" in problem:
            errors["questions"] = f"发布前至少要有 {MIN_QUESTIONS} 条相似问法（现在 {len(entry.questions)} 条）"
        else:
            errors["review_by"] = "复核日期不能早于生效日期"
    return errors


def _message(field: str, error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing" or (kind == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1):
        return "不能为空"
    if field == "id":
        return "编号只能用小写字母、数字和连字符，如 senior-age-allowance"
    if field == "category":
        return "请选择分类：" + "、".join(CATEGORIES.values())
    if field == "title":
        return "标题要 2 到 80 个字"
    if field == "answer":
        return f"答案要 4 到 {MAX_ANSWER_CHARS} 个字，第一句直接回答问题"
    if field.startswith("aspect_"):
        return f"不超过 {MAX_ASPECT_CHARS} 个字"
    if field == "department":
        return "主管部门不超过 40 个字"
    if kind == "string_too_short":
        return "不能为空"
    return "内容不正确"
