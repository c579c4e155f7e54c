"""The staff-editable synonym and colloquial dictionary (variant → canonical term).

Residents say 退休金 for 养老金 and 长寿金 for 高龄津贴; retrieval rewrites each variant to its canonical
term before indexing and searching, so one canonical spelling carries the match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.loader import parse_yaml_file


@dataclass
class SynonymDictionary:
    mapping: dict[str, str] = field(default_factory=dict)  # variant -> canonical
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_groups(cls, groups: dict[str, list[str]]) -> SynonymDictionary:
        problems = validate_groups(groups, "synonyms")
        if problems:
            raise ValidationFailed(problems)
        return cls({variant: canonical for canonical, variants in groups.items() for variant in variants})

    def groups(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for variant, canonical in self.mapping.items():
            result.setdefault(canonical, []).append(variant)
        return result

    def canonical_terms(self) -> set[str]:
        return set(self.mapping.values())

    def apply(self, text: str) -> str:
        """Rewrites every variant to its canonical term, longest variant first."""
        if not self.mapping:
            return text
        if self._pattern is None:
            alternatives = sorted(self.mapping, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
        return self._pattern.sub(lambda m: self.mapping[m.group(0)], text)


def validate_groups(groups: object, where: str) -> list[Problem]:
    if not isinstance(groups, dict):
        return [Problem(where, "'synonyms' must map a canonical term to a list of variants")]
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    canonicals = {str(c) for c in groups}
    for canonical, variants in groups.items():
        if not isinstance(canonical, str) or not canonical.strip():
            problems.append(Problem(where, f"canonical term {canonical!r} must be non-empty text"))
            continue
        if not isinstance(variants, list) or not all(isinstance(v, str) and v.strip() for v in variants):
            problems.append(Problem(where, f"{canonical}: variants must be a list of non-empty text"))
            continue
        for variant in variants:
            if variant in canonicals:
                problems.append(Problem(where, f"{canonical}: variant {variant!r} is itself a canonical term"))
            elif variant in owner and owner[variant] != canonical:
                problems.append(Problem(where, f"variant {variant!r} is under both {owner[variant]} and {canonical}"))
            owner[variant] = canonical
    return problems


def load_synonyms(path: Path) -> SynonymDictionary:
    data, located = parse_yaml_file(path)
    groups = data.get("synonyms") if isinstance(data, dict) else None
    line = located.children["synonyms"].line if located and "synonyms" in located.children else 1
    problems = validate_groups(groups, f"{path}:{line}")
    if problems:
        raise ValidationFailed(problems)
    assert isinstance(groups, dict)
    return SynonymDictionary({v: c for c, vs in groups.items() for v in vs})
