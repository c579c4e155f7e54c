"""Every resident query the project has for evaluation, to measure how often masking changes ordinary text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path("/work/shared")
QUERY_KEYS = ("q", "text", "query")


def _strings(node: Any) -> Iterator[str]:
    """Values of query keys anywhere in a loaded YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in QUERY_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def yaml_queries() -> list[str]:
    files = [*sorted((ROOT / "eval").rglob("*.y*ml")), SHARED / "eval" / "dev_queries.yaml"]
    found: list[str] = []
    for path in files:
        if path.exists():
            found += _strings(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def external_questions() -> list[str]:
    """The external FAQ set's questions: held-out queries, KB titles and phrasings, negatives, distractors."""
    folder = SHARED / "external"
    found: list[str] = []
    for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("text", "title"):
                if isinstance(row.get(key), str):
                    found.append(row[key])
            for key in ("questions", "negatives"):
                found += [q for q in row.get(key) or [] if isinstance(q, str)]
    return found


def all_queries() -> list[str]:
    return list(dict.fromkeys(yaml_queries() + external_questions()))
