"""Loading and validating the shipped YAML content, with ``file:line`` for every problem.

Loading is all-or-nothing: if any file has a problem, nothing is returned and every problem is
reported at once, so a half-valid knowledge base never reaches residents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.models import KbEntry, publish_problems

log = logging.getLogger(__name__)

ENTRIES_SUBDIR = "entries"


@dataclass
class _Located:
    """A parsed YAML value with the line of each of its parts (1-based)."""

    value: Any
    line: int
    children: dict[Any, _Located]


def _locate(node: yaml.Node) -> _Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        children = {}
        for key_node, value_node in node.value:
            child = _locate(value_node)
            # A field is where its key is: a block list or mapping value starts on the next line.
            child.line = key_node.start_mark.line + 1
            children[key_node.value] = child
        return _Located(None, line, children)
    if isinstance(node, yaml.SequenceNode):
        return _Located(None, line, {i: _locate(child) for i, child in enumerate(node.value)})
    return _Located(None, line, {})


def _line_for(located: _Located, loc: tuple[Any, ...]) -> int:
    current = located
    for part in loc:
        if part in current.children:
            current = current.children[part]
        else:
            break
    return current.line


def parse_yaml_file(path: Path) -> tuple[Any, _Located | None]:
    """Returns the data and its line map; raises ValidationFailed with the YAML error's position."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed([Problem(f"{path}:1", f"not UTF-8 text ({exc.reason})")]) from exc
    except OSError as exc:
        raise ValidationFailed([Problem(str(path), f"cannot read: {exc.strerror}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ValidationFailed([Problem(f"{path}:{line}", f"YAML syntax: {exc.problem or exc}")]) from exc
    except yaml.YAMLError as exc:
        raise ValidationFailed([Problem(f"{path}:1", f"YAML: {exc}")]) from exc
    return data, (_locate(node) if node is not None else None)


def _format_pydantic_error(error: dict[str, Any]) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "entry"
    return f"{field}: {error['msg']}"


def load_entry_file(path: Path) -> tuple[list[KbEntry], list[Problem]]:
    located_entries, problems = _load_located_entries(path)
    return [entry for entry, _ in located_entries], problems


def _load_located_entries(path: Path) -> tuple[list[tuple[KbEntry, int]], list[Problem]]:
    """The file's valid entries, each with the line of its ``id``, and the problems found."""
    data, located = parse_yaml_file(path)
    problems: list[Problem] = []
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        return [], [Problem(f"{path}:1", "expected a mapping with 'category' and a list 'entries'")]
    assert located is not None
    file_category = data.get("category")
    entries_loc = located.children["entries"]
    entries: list[tuple[KbEntry, int]] = []
    for index, raw in enumerate(data["entries"]):
        entry_loc = entries_loc.children.get(index, entries_loc)
        where = f"{path}:{entry_loc.line}"
        if not isinstance(raw, dict):
            problems.append(Problem(where, "an entry must be a mapping of fields"))
            continue
        raw = dict(raw)
        raw.setdefault("category", file_category)
        try:
            entry = KbEntry.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                line = _line_for(entry_loc, tuple(error["loc"]))
                problems.append(Problem(f"{path}:{line}", f"{raw.get('id', '?')}: {_format_pydantic_error(error)}"))
            continue
        if entry.status == "published":
            for field_name, message in publish_problems(entry):
                line = _line_for(entry_loc, (field_name,))
                problems.append(Problem(f"{path}:{line}", f"{entry.id}: {message}"))
        entries.append((entry, _line_for(entry_loc, ("id",))))
    return entries, problems


def load_entries(data_dir: Path) -> list[KbEntry]:
    """Every entry under ``data_dir/entries``; raises ValidationFailed listing all problems."""
    entries, problems = collect_entries(data_dir)
    if problems:
        raise ValidationFailed(problems)
    return entries


def collect_entries(data_dir: Path) -> tuple[list[KbEntry], list[Problem]]:
    directory = data_dir / ENTRIES_SUBDIR
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        return [], [Problem(str(directory), "no .yaml files with entries")]
    entries: list[KbEntry] = []
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for path in files:
        try:
            file_entries, file_problems = _load_located_entries(path)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(file_problems)
        for entry, line in file_entries:
            if entry.id in first_seen:
                problems.append(Problem(f"{path}:{line}", f"duplicate id {entry.id!r} (first in {first_seen[entry.id]})"))
                continue
            first_seen[entry.id] = f"{path}:{line}"
            entries.append(entry)
    return entries, problems


def check_catalog(entries: list[KbEntry], catalog_path: Path) -> list[Problem]:
    """Every catalog topic must be a published entry with the catalog's id and category."""
    data, _ = parse_yaml_file(catalog_path)
    by_id = {e.id: e for e in entries}
    problems = []
    for topic in data.get("topics", []):
        entry = by_id.get(topic["id"])
        if entry is None:
            problems.append(Problem(str(catalog_path), f"catalog topic {topic['id']!r} has no entry"))
        elif entry.status != "published":
            problems.append(Problem(str(catalog_path), f"catalog topic {topic['id']!r} is not published"))
        elif entry.category != topic["category"]:
            problems.append(Problem(str(catalog_path), f"{topic['id']}: category {entry.category} != {topic['category']}"))
    return problems
