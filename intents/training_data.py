"""Reads the Rasa 3.x training files under ``intents/data/``.

Only the subset of the Rasa format the project writes is understood: ``nlu:`` items with
``intent``, ``synonym``, ``regex`` and ``lookup`` keys, examples as a ``- text`` block, and entity
annotations ``[text](entity)`` or ``[text]{"entity": "…", "value": "…"}``. The same files are
copied verbatim into an exported Rasa project, so anything Rasa accepts there must stay here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from intents.base import DATA_DIR, INTENTS
from intents.errors import TrainingDataError
from knowledge_base.normalize import normalize

log = logging.getLogger(__name__)

NLU_FILE = "nlu.yml"
DOMAIN_FILE = "domain.yml"
RULES_FILE = "rules.yml"
MIN_EXAMPLES_PER_INTENT = 25

# Words jieba would split that carry an intent on their own; the intent tokenizer and the
# exported Rasa JiebaTokenizer both keep them whole.
DOMAIN_WORDS = (
    "转人工", "人工客服", "工作人员", "真人", "网格员", "工单", "工单号", "单号", "报修", "进度", "办结",
    "催办", "井盖", "沙井盖", "楼道", "路灯", "扰民", "救命", "救护车", "晕倒", "着火", "起火",
    "煤气", "燃气", "高龄津贴", "高龄补贴", "长寿补贴", "低保", "低保边缘", "特困", "五保户",
    "社保卡", "医保卡", "医保", "社保", "养老金", "退休金", "居住证", "身份证", "户口", "公租房",
    "廉租房", "公积金", "残疾证", "护照", "港澳通行证", "通行证", "签证", "驾照", "驾驶证", "上牌",
    "车牌", "违章", "年检", "高考", "志愿", "个税", "个人所得税", "房贷", "利率", "彩票", "双色球",
    "股票", "基金", "笑话", "段子", "天气", "说慢点", "慢一点", "再说一遍", "听不清", "没听清",
    "手机号", "身份证号", "哪门", "点样", "边度", "唔该", "要得", "唔系",
)

ANNOTATION_PATTERN = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True)
class Annotation:
    start: int
    end: int
    entity: str
    value: str | None = None


@dataclass
class TrainingData:
    """Examples per intent (annotations removed) plus the synonym, regex and lookup sections."""

    examples: dict[str, list[str]] = field(default_factory=dict)
    annotations: dict[str, list[Annotation]] = field(default_factory=dict)  # plain example → spans
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    source_hash: str = ""

    def counts(self) -> dict[str, int]:
        return {intent: len(texts) for intent, texts in self.examples.items()}

    def with_extra(self, extra: Mapping[str, Sequence[str]] | None) -> TrainingData:
        """A copy with ``extra`` examples appended.

        Blank and duplicate texts are skipped, and so is any text that the curated files already
        put under another intent: bulk extras (the knowledge base's questions) must not overrule
        a deliberate decision such as 你能帮我做什么 → bot_capabilities.
        """
        if not extra:
            return self
        merged = {intent: list(texts) for intent, texts in self.examples.items()}
        owner = {normalize(t): intent for intent, texts in self.examples.items() for t in texts}
        skipped = 0
        for intent, texts in extra.items():
            bucket = merged.setdefault(intent, [])
            for text in texts:
                if not isinstance(text, str) or not text.strip():
                    continue
                key = normalize(text)
                if owner.setdefault(key, intent) != intent:
                    skipped += 1
                    continue
                if text.strip() not in bucket:
                    bucket.append(text.strip())
        if skipped:
            log.info("%d extra examples skipped: the training files give them another intent", skipped)
        return TrainingData(merged, self.annotations, self.synonyms, self.regexes, self.lookups,
                            self.source_hash)


def strip_annotations(example: str) -> tuple[str, list[Annotation]]:
    """``查[GX20261120003](ticket_number)`` → ``("查GX20261120003", [Annotation(1, 14, …)])``."""
    plain: list[str] = []
    spans: list[Annotation] = []
    position = 0
    cursor = 0
    for m in ANNOTATION_PATTERN.finditer(example):
        before = example[position:m.start()]
        plain.append(before)
        cursor += len(before)
        text = m.group("text")
        entity, value = m.group("entity"), None
        if m.group("json"):
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError as e:
                raise TrainingDataError(f"bad entity annotation in {example!r}: {e}") from e
            entity, value = spec.get("entity"), spec.get("value")
        if not entity:
            raise TrainingDataError(f"entity annotation without a name in {example!r}")
        spans.append(Annotation(cursor, cursor + len(text), entity, value))
        plain.append(text)
        cursor += len(text)
        position = m.end()
    plain.append(example[position:])
    return "".join(plain), spans


def _block_items(block: object, where: str) -> list[str]:
    if not isinstance(block, str):
        raise TrainingDataError(f"{where}: `examples` must be a `|` block of `- ` lines")
    items = []
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise TrainingDataError(f"{where}: example line must start with '- ': {line!r}")
        items.append(line[2:].strip())
    return items


def parse_nlu(raw: object, source: str = NLU_FILE) -> TrainingData:
    if not isinstance(raw, dict) or not isinstance(raw.get("nlu"), list):
        raise TrainingDataError(f"{source}: expected a mapping with an `nlu:` list")
    data = TrainingData()
    for index, item in enumerate(raw["nlu"]):
        if not isinstance(item, dict):
            raise TrainingDataError(f"{source}: item {index} is not a mapping")
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in item]
        if len(kinds) != 1:
            raise TrainingDataError(f"{source}: item {index} needs exactly one of intent/synonym/regex/lookup")
        kind = kinds[0]
        name = str(item[kind])
        items = _block_items(item.get("examples"), f"{source} {kind} {name}")
        if kind == "intent":
            bucket = data.examples.setdefault(name, [])
            for example in items:
                plain, spans = strip_annotations(example)
                bucket.append(plain)
                if spans:
                    data.annotations[plain] = spans
        elif kind == "synonym":
            data.synonyms.setdefault(name, []).extend(items)
        elif kind == "regex":
            for pattern in items:
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise TrainingDataError(f"{source}: regex {name} is invalid: {e}") from e
            data.regexes.setdefault(name, []).extend(items)
        else:
            data.lookups.setdefault(name, []).extend(items)
    return data


def validate(data: TrainingData, required: Sequence[str] = INTENTS,
             minimum: int = MIN_EXAMPLES_PER_INTENT) -> None:
    """Raises ``TrainingDataError`` listing every missing intent, thin intent and contradiction."""
    problems = []
    for intent in required:
        count = len(data.examples.get(intent, []))
        if count < minimum:
            problems.append(f"intent {intent} has {count} examples (need {minimum})")
    owner: dict[str, str] = {}
    for intent, texts in data.examples.items():
        for text in texts:
            if owner.get(text, intent) != intent:
                problems.append(f"example {text!r} is under both {owner[text]} and {intent}")
            owner.setdefault(text, intent)
    if problems:
        raise TrainingDataError("; ".join(problems))


def load_training_data(data_dir: Path = DATA_DIR, *, check: bool = True) -> TrainingData:
    path = Path(data_dir) / NLU_FILE
    try:
        content = path.read_bytes()
        raw = yaml.safe_load(content.decode("utf-8"))
    except OSError as e:
        raise TrainingDataError(f"cannot read training data {path}: {e.strerror or e}") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TrainingDataError(f"{path} is not valid YAML: {e}") from e
    data = parse_nlu(raw, str(path))
    data.source_hash = hashlib.sha256(content).hexdigest()
    if check:
        validate(data)
    log.debug("loaded %d intents from %s", len(data.examples), path)
    return data


def data_hash(data: TrainingData, *parts: object) -> str:
    """A digest of the examples and anything else that changes the model (parameters, versions)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(data.examples, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for part in parts:
        digest.update(json.dumps(part, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()
