"""The aspect table: the one place that says which aspects an entry has and how each is named.

``data/aspects.yaml`` lists, per aspect, its key (``materials``), the label staff see (所需材料), the lead of a
spoken reply (需要准备), the button text residents tap (要带什么) and the phrasings residents use to ask for it
(要带啥, 要准备点啥 …), from which the aspect recogniser learns. A tenth row, ``general``, holds phrasings
that ask about a topic as a whole. The entry model, the dialogue, the kiosk and the console all derive
their aspect names, labels and buttons from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge_base.errors import Problem, ValidationFailed

ASPECT_FILE = Path(__file__).resolve().parent / "data" / "aspects.yaml"
# The fields of an entry's ``aspects``; the table must list exactly these, in this order.
ASPECT_NAMES: tuple[str, ...] = (
    "eligibility", "materials", "process", "location", "time", "fees", "contact", "online", "policy",
)
GENERAL = "general"
MIN_PHRASINGS = 60


@dataclass(frozen=True)
class AspectSpec:
    name: str
    label: str  # 所需材料: field label in the console and spreadsheets
    lead: str  # 需要准备: starts a spoken reply 「高龄津贴——需要准备：……」
    button: str  # 要带什么: the question on a button
    phrasings: tuple[str, ...]


@dataclass(frozen=True)
class AspectTable:
    aspects: tuple[AspectSpec, ...]  # the nine aspects, in ASPECT_NAMES order
    general: AspectSpec

    def get(self, name: str) -> AspectSpec:
        for spec in self.aspects:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def labels(self) -> dict[str, str]:
        return {spec.name: spec.label for spec in self.aspects}

    def leads(self) -> dict[str, str]:
        return {spec.name: spec.lead for spec in self.aspects}

    def buttons(self) -> dict[str, str]:
        return {spec.name: spec.button for spec in self.aspects}

    def training_examples(self) -> dict[str, list[str]]:
        """Aspect name (and ``general``) → phrasings, for the aspect recogniser."""
        return {spec.name: list(spec.phrasings) for spec in (*self.aspects, self.general)}


def parse_aspect_table(data: object, where: str) -> AspectTable:
    problems: list[Problem] = []
    rows = data.get("aspects") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValidationFailed([Problem(where, "'aspects' must be a list of aspects")])
    specs: list[AspectSpec] = []
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(Problem(where, f"aspect #{position} must be a mapping"))
            continue
        texts = {key: row.get(key) for key in ("name", "label", "lead", "button")}
        missing = [key for key, value in texts.items() if not isinstance(value, str) or not value.strip()]
        phrasings = row.get("phrasings")
        if missing:
            problems.append(Problem(where, f"aspect #{position}: {', '.join(missing)} missing"))
            continue
        if not isinstance(phrasings, list) or not all(isinstance(p, str) and p.strip() for p in phrasings):
            problems.append(Problem(where, f"{texts['name']}: phrasings must be a list of text"))
            continue
        if len(set(phrasings)) < MIN_PHRASINGS:
            problems.append(Problem(where, f"{texts['name']}: needs ≥{MIN_PHRASINGS} distinct phrasings"))
        specs.append(AspectSpec(str(texts["name"]).strip(), str(texts["label"]).strip(), str(texts["lead"]).strip(),
                                str(texts["button"]).strip(), tuple(dict.fromkeys(p.strip() for p in phrasings))))
    names = tuple(spec.name for spec in specs)
    if not problems and names != (*ASPECT_NAMES, GENERAL):
        problems.append(Problem(where, f"aspects must be {', '.join((*ASPECT_NAMES, GENERAL))} in this order"))
    if problems:
        raise ValidationFailed(problems)
    return AspectTable(tuple(specs[:-1]), specs[-1])


def load_aspect_table(path: Path = ASPECT_FILE) -> AspectTable:
    # Plain YAML: the entry model derives its aspect labels from this table, so the KB loader (which
    # imports the entry model) cannot be used here.
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed([Problem(str(path), f"cannot read the aspect table: {exc}")]) from exc
    return parse_aspect_table(data, str(path))


@lru_cache(maxsize=1)
def aspect_table() -> AspectTable:
    """The shipped table (read once per process)."""
    return load_aspect_table()
