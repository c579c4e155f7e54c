"""Readable differences between two versions of an entry, field by field.

Text fields get a character-level diff (Chinese has no spaces to split words on); similar questions are
compared as a set (added / removed), because their order carries no meaning.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from assistant.console.entry_form import FIELD_LABELS
from knowledge_base.models import ASPECTS, CATEGORIES

_TEXT_FIELDS = ("title", "answer", "category", "department", "region", "effective_from", "review_by", "status")


@dataclass
class FieldDiff:
    name: str
    label: str
    segments: list[tuple[str, str]] = field(default_factory=list)  # (equal|insert|delete, text)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _text(data: dict[str, Any], name: str) -> str:
    if name.startswith("aspect_"):
        return str((data.get("aspects") or {}).get(name.removeprefix("aspect_")) or "")
    value = data.get(name)
    if name == "category" and value in CATEGORIES:
        return f"{CATEGORIES[value]}（{value}）"
    return "" if value is None else str(value)


def char_segments(old: str, new: str) -> list[tuple[str, str]]:
    segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("equal", old[a1:a2]))
        else:
            if a2 > a1:
                segments.append(("delete", old[a1:a2]))
            if b2 > b1:
                segments.append(("insert", new[b1:b2]))
    return segments


def entry_diff(old: dict[str, Any], new: dict[str, Any], *, with_status: bool = True) -> list[FieldDiff]:
    """Only the fields that changed; an empty list means the two versions say the same thing.

    A draft compared with the published entry always differs in status; ``with_status=False`` hides that.
    """
    diffs: list[FieldDiff] = []
    names = [*_TEXT_FIELDS[:2], *(f"aspect_{a}" for a in ASPECTS), *_TEXT_FIELDS[2:]]
    if not with_status:
        names.remove("status")
    for name in names:
        before, after = _text(old, name), _text(new, name)
        if before != after:
            label = FIELD_LABELS.get(name, "状态" if name == "status" else name)
            diffs.append(FieldDiff(name, label, char_segments(before, after)))
    old_q, new_q = list(old.get("questions") or []), list(new.get("questions") or [])
    added = [q for q in new_q if q not in old_q]
    removed = [q for q in old_q if q not in new_q]
    if added or removed:
        diffs.append(FieldDiff("questions", FIELD_LABELS["questions"], added=added, removed=removed))
    return diffs
