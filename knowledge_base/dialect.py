"""The staff-editable dialect lexicon: Cantonese, 南宁白话 and 桂柳话 forms rewritten to Mandarin.

「我阿妈嘅高龄津贴几时攞得到」 becomes 「我妈妈的高龄津贴什么时候拿得到」 before anything else reads the
message: the rules, the intent classifier, the aspect recogniser and retrieval all see Mandarin. Forms are
replaced longest first as plain substrings, so the lexicon holds only forms that never occur in Mandarin
text with another meaning (咗, 系唔系, 几耐 — never a bare 系 or 点). Validation refuses a lexicon whose
Mandarin side contains one of its forms, which keeps the rewriting idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.loader import parse_yaml_file

REGIONS = ("粤语", "南宁白话", "桂柳话", "通用")
MAX_FORM_CHARS = 12


@dataclass(frozen=True)
class DialectForm:
    form: str
    mandarin: str
    region: str = "通用"


@dataclass
class DialectLexicon:
    forms: list[DialectForm] = field(default_factory=list)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _mapping: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._mapping = {f.form: f.mandarin for f in self.forms}
        if self._mapping:
            alternatives = sorted(self._mapping, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(form) for form in alternatives))

    @classmethod
    def from_rows(cls, rows: object, where: str = "dialect") -> DialectLexicon:
        problems = validate_rows(rows, where)
        if problems:
            raise ValidationFailed(problems)
        assert isinstance(rows, list)
        # Messages are lower-cased by normalisation (BB → bb): so are the forms.
        return cls([DialectForm(str(r["form"]).strip().lower(), str(r["mandarin"]).strip(),
                                str(r.get("region") or "通用")) for r in rows])

    def rows(self) -> list[dict[str, str]]:
        return [{"form": f.form, "mandarin": f.mandarin, "region": f.region} for f in self.forms]

    def apply(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._mapping[m.group(0)], text)

    def matches(self, text: str) -> list[DialectForm]:
        """The forms found in ``text``, in order (what 试一试 shows staff)."""
        if self._pattern is None:
            return []
        by_form = {f.form: f for f in self.forms}
        return [by_form[m.group(0)] for m in self._pattern.finditer(text)]

    def fingerprint_items(self) -> list[tuple[str, str]]:
        return sorted(self._mapping.items())


def validate_rows(rows: object, where: str) -> list[Problem]:
    if not isinstance(rows, list):
        return [Problem(where, "'dialect' must be a list of {form, mandarin, region}")]
    problems: list[Problem] = []
    seen: set[str] = set()
    forms: list[str] = []
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(Problem(where, f"第{position}条必须写成 {{form: 方言说法, mandarin: 普通话}}"))
            continue
        form, mandarin = row.get("form"), row.get("mandarin")
        if not isinstance(form, str) or not form.strip() or not isinstance(mandarin, str) or not mandarin.strip():
            problems.append(Problem(where, f"第{position}条：方言说法和普通话都不能为空"))
            continue
        form = form.strip().lower()  # messages are lower-cased before the lexicon reads them
        if len(form) > MAX_FORM_CHARS:
            problems.append(Problem(where, f"“{form}”太长（最多{MAX_FORM_CHARS}个字）"))
        region = row.get("region") or "通用"
        if region not in REGIONS:
            problems.append(Problem(where, f"“{form}”的地区“{region}”不认识；可填 {'、'.join(REGIONS)}"))
        if form in seen:
            problems.append(Problem(where, f"“{form}”重复了"))
        seen.add(form)
        forms.append(form)
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("mandarin"), str):
            inside = [f for f in forms if f in row["mandarin"]]
            if inside:
                problems.append(Problem(where, f"普通话“{row['mandarin']}”里含有方言说法“{inside[0]}”，会被重复替换"))
    return problems


def load_dialect(path: Path) -> DialectLexicon:
    data, _ = parse_yaml_file(path)
    rows = data.get("dialect") if isinstance(data, dict) else None
    return DialectLexicon.from_rows(rows, str(path))
