"""Community overlays on the city knowledge base (issue 15).

A community may override a city entry's answer and aspects (its own address, hours, local rules) and add
local entries that only its residents see. One index holds the city and every community's local entries;
``KnowledgeBase.for_community`` applies an overlay and hides the other communities' entries.

The overlay file (``shequ kb overlay import FILE --community CODE``)::

    overrides:
      senior-age-allowance:
        answer: 本社区80岁以上老人……          # optional
        aspects: {location: 社区一楼2号窗口}    # optional: only the aspects named are replaced
    entries:                                   # same fields as knowledge_base/data/entries/*.yaml
      - id: night-clinic                      # stored as CODE--night-clinic
        category: weijian
        ...

Problems are reported in Chinese with the file's line, all at once; nothing is imported if there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.loader import _line_for, _Located, parse_yaml_file
from knowledge_base.models import ASPECTS, EntryStatus, KbEntry, publish_problems

SEPARATOR = "--"  # CODE--entry-id: a local id can never equal a city id (city ids have no "--")
FIELD_LABELS = {"id": "编号", "category": "分类", "title": "标题", "questions": "相似问法", "answer": "回答",
                "department": "部门", "aspects": "办事要点", "region": "地区", "kind": "类型", "status": "状态",
                "effective_from": "生效日期", "review_by": "复核日期"}


@dataclass(frozen=True)
class Override:
    """What a community replaces in a city entry: the answer (None: keep the city's) and some aspects."""

    answer: str | None = None
    aspects: Mapping[str, str] = field(default_factory=dict)

    def apply(self, entry: KbEntry) -> KbEntry:
        aspects = entry.aspects.model_copy(update=dict(self.aspects)) if self.aspects else entry.aspects
        return entry.model_copy(update={"answer": self.answer or entry.answer, "aspects": aspects})


@dataclass(frozen=True)
class Overlay:
    """One community's overrides (by city entry id) and local entries (namespaced ids)."""

    code: str
    overrides: Mapping[str, Override] = field(default_factory=dict)
    entries: tuple[KbEntry, ...] = ()


def local_id(code: str, entry_id: str) -> str:
    return f"{code}{SEPARATOR}{entry_id}"


def split_id(entry_id: str) -> tuple[str | None, str]:
    """(community code, id within it) of a namespaced id; (None, id) for a city id."""
    code, separator, rest = entry_id.partition(SEPARATOR)
    return (code, rest) if separator else (None, entry_id)


def _chinese(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    label = FIELD_LABELS.get(loc[0], loc[0]) if loc else "条目"
    if len(loc) > 1 and loc[0] == "aspects":
        label = ASPECTS.get(loc[1], loc[1])
    kind = error.get("type", "")
    if kind == "missing":
        return f"「{label}」没有填写"
    if kind == "extra_forbidden":
        return f"不认识「{loc[-1]}」这一项"
    if kind == "string_too_short":
        return f"「{label}」太短"
    if kind == "string_too_long" or "too long" in str(error.get("msg")):
        return f"「{label}」太长"
    if loc and loc[0] == "category":
        return "「分类」不对，请用知识库已有的分类（如 shebao、yanglao）"
    if loc and loc[0] == "id":
        return "「编号」只能用小写字母、数字和 -，如 night-clinic"
    return f"「{label}」填写有误（{error.get('msg')}）"


def parse_overlay_file(path: Path, code: str, city: Mapping[str, KbEntry]) -> Overlay:
    """The overlay in ``path`` for community ``code``, checked against the city entries; raises
    ``ValidationFailed`` (Chinese messages, ``file:line``) listing every problem."""
    data, located = parse_yaml_file(path)
    where = str(path)
    if not isinstance(data, dict) or not (set(data) & {"overrides", "entries"}) or located is None:
        raise ValidationFailed([Problem(f"{where}:1", "文件里应当有 overrides（改全市条目）或 entries（本社区条目）")])
    problems: list[Problem] = [Problem(f"{where}:{located.children[k].line}", f"不认识「{k}」这一项")
                               for k in data if k not in ("overrides", "entries", "category")]
    overrides = _overrides(data.get("overrides"), located.children.get("overrides", located), city, where, problems)
    entries = _entries(data, located, code, city, where, problems)
    if problems:
        raise ValidationFailed(problems)
    return Overlay(code, overrides, tuple(entries))


def _overrides(raw: Any, located: _Located, city: Mapping[str, KbEntry], where: str,
               problems: list[Problem]) -> dict[str, Override]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(f"{where}:{located.line}", "overrides 应当是“全市条目编号: 要改的内容”"))
        return {}
    result: dict[str, Override] = {}
    for entry_id, change in raw.items():
        loc = located.children.get(entry_id, located)
        at = f"{where}:{loc.line}"
        base = city.get(str(entry_id))
        if base is None:
            problems.append(Problem(at, f"全市知识库里没有编号为 {entry_id} 的条目"))
            continue
        if not isinstance(change, dict) or not change or set(change) - {"answer", "aspects"}:
            problems.append(Problem(at, f"{entry_id}：只能改 answer（回答）和 aspects（办事要点）"))
            continue
        aspects = change.get("aspects") or {}
        if not isinstance(aspects, dict):
            problems.append(Problem(at, f"{entry_id}：aspects 应当是“要点名: 内容”"))
            continue
        unknown = [name for name in aspects if name not in ASPECTS]
        if unknown:
            line = loc.children.get("aspects", loc).children.get(unknown[0], loc).line
            problems.append(Problem(f"{where}:{line}", f"{entry_id}：不认识办事要点「{unknown[0]}」，可用："
                                                       f"{'、'.join(ASPECTS)}"))
            continue
        try:  # the merged entry must still be a valid one (answer length, aspect length …)
            merged = KbEntry.model_validate({**base.model_dump(), "answer": change.get("answer") or base.answer,
                                             "aspects": {**base.aspects.model_dump(), **aspects}})
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(Problem(f"{where}:{_line_for(loc, tuple(error['loc']))}",
                                        f"{entry_id}：{_chinese(error)}"))
            continue
        result[str(entry_id)] = Override(change.get("answer") and merged.answer,
                                         {name: getattr(merged.aspects, name) or "" for name in aspects})
    return result


def _entries(data: dict[str, Any], located: _Located, code: str, city: Mapping[str, KbEntry], where: str,
             problems: list[Problem]) -> list[KbEntry]:
    raw_entries = data.get("entries") or []
    entries_loc = located.children.get("entries", located)
    if not isinstance(raw_entries, list):
        problems.append(Problem(f"{where}:{entries_loc.line}", "entries 应当是条目的列表（每条以 - 开头）"))
        return []
    entries: list[KbEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries):
        loc = entries_loc.children.get(index, entries_loc)
        at = f"{where}:{loc.line}"
        if not isinstance(raw, dict):
            problems.append(Problem(at, "每个条目应当是“项目: 内容”的格式"))
            continue
        raw = {"category": data.get("category"), **raw}
        entry_id = str(raw.get("id", "?"))
        if SEPARATOR in entry_id:
            problems.append(Problem(at, f"{entry_id}：编号里不要写社区编号和 --，导入时会自动加上"))
            continue
        if entry_id in city:
            problems.append(Problem(at, f"{entry_id}：和全市条目同号；要改全市条目的回答，请写在 overrides 里"))
            continue
        if entry_id in seen:
            problems.append(Problem(at, f"{entry_id}：编号重复"))
            continue
        seen.add(entry_id)
        try:
            entry = KbEntry.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(Problem(f"{where}:{_line_for(loc, tuple(error['loc']))}",
                                        f"{entry_id}：{_chinese(error)}"))
            continue
        if entry.status == EntryStatus.published:
            for field_name, _ in publish_problems(entry):
                problems.append(Problem(f"{where}:{_line_for(loc, (field_name,))}",
                                        f"{entry_id}：{_PUBLISH_RULES.get(field_name, '不能发布')}"))
        entries.append(entry.model_copy(update={"id": local_id(code, entry.id)}))
    return entries


_PUBLISH_RULES = {"questions": "相似问法至少要写 8 条才能发布", "review_by": "复核日期早于生效日期"}
