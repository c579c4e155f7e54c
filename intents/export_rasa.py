"""Writes a complete Rasa 3.6 project from ``intents/data`` so a team running Rasa can train DIET.

Layout written into the target directory::

    config.yml               language zh; Jieba → Regex/LexicalSyntactic/CountVectors (word and
                             char_wb) → DIET → RegexEntityExtractor → EntitySynonymMapper →
                             FallbackClassifier; RulePolicy, MemoizationPolicy, TEDPolicy
    domain.yml               copied from intents/data/domain.yml
    data/nlu.yml             the examples, normalised as ``intents.rasa_http`` will send text
    data/rules.yml           copied from intents/data/rules.yml
    jieba_userdict/shequ.txt domain words and Guangxi place names for JiebaTokenizer
    README.md

Examples are normalised (繁→简, full-width, 八十五岁 → 85岁, lower case) segment by segment, so
entity annotations survive and Rasa sees training text in the same form as live text.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from intents.base import DATA_DIR, INTENTS, FallbackThresholds
from intents.entities import Region
from intents.errors import ExportError, TrainingDataError
from intents.training_data import (
    ANNOTATION_PATTERN,
    DOMAIN_FILE,
    DOMAIN_WORDS,
    NLU_FILE,
    RULES_FILE,
    load_training_data,
)
from knowledge_base.normalize import normalize

log = logging.getLogger(__name__)

RASA_VERSION = "3.6"


def rasa_config(thresholds: FallbackThresholds, *, epochs: int = 100) -> dict[str, object]:
    regex_options = {"case_sensitive": False, "use_word_boundaries": False,
                     "use_lookup_tables": True, "use_regexes": True}
    return {
        "recipe": "default.v1",
        "assistant_id": "shequ-community-assistant",
        "language": "zh",
        "pipeline": [
            {"name": "JiebaTokenizer", "dictionary_path": "jieba_userdict"},
            {"name": "RegexFeaturizer", **regex_options},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
            {"name": "DIETClassifier", "epochs": epochs, "constrain_similarities": True},
            {"name": "RegexEntityExtractor", **regex_options},
            {"name": "EntitySynonymMapper"},
            {"name": "FallbackClassifier", "threshold": thresholds.confidence_threshold,
             "ambiguity_threshold": thresholds.ambiguity_threshold},
        ],
        "policies": [
            {"name": "MemoizationPolicy"},
            {"name": "RulePolicy", "core_fallback_threshold": 0.3,
             "core_fallback_action_name": "action_default_fallback", "enable_fallback_prediction": True},
            {"name": "TEDPolicy", "max_history": 5, "epochs": epochs, "constrain_similarities": True},
        ],
    }


def normalize_example(example: str) -> str:
    """Normalises the text around and inside ``[text](entity)`` annotations, keeping them intact."""
    parts: list[str] = []
    position = 0
    for m in ANNOTATION_PATTERN.finditer(example):
        parts.append(normalize(example[position:m.start()]))
        label = m.group(0)[len(m.group("text")) + 2:]
        parts.append(f"[{normalize(m.group('text'))}]{label}")
        position = m.end()
    parts.append(normalize(example[position:]))
    return "".join(parts)


def _block(kind: str, name: str, items: Sequence[str]) -> str:
    lines = "".join(f"    - {item}\n" for item in items)
    return f"- {kind}: {name}\n  examples: |\n{lines}"


def build_nlu_yaml(data_dir: Path = DATA_DIR, extra_examples: Mapping[str, Sequence[str]] | None = None) -> str:
    raw = yaml.safe_load((data_dir / NLU_FILE).read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    sections: list[str] = []
    for item in raw["nlu"]:
        items = [line.strip()[2:].strip() for line in item["examples"].splitlines() if line.strip()]
        if "intent" in item:
            by_intent.setdefault(str(item["intent"]), []).extend(normalize_example(e) for e in items)
        elif "regex" in item:
            sections.append(_block("regex", str(item["regex"]), items))
        else:
            kind = "synonym" if "synonym" in item else "lookup"
            sections.append(_block(kind, str(item[kind]), [normalize(e) for e in items]))
    for intent, texts in (extra_examples or {}).items():
        # Brackets would read as entity annotations; extra examples carry none.
        by_intent.setdefault(intent, []).extend(
            re.sub(r"[\[\]]", "", normalize(t)) for t in texts if isinstance(t, str) and t.strip()
        )
    owner: dict[str, str] = {}
    intent_blocks = []
    for intent, texts in by_intent.items():
        unique = []
        for text in texts:
            # Normalising can merge two spellings; Rasa rejects one text under two intents.
            if text and text not in owner:
                owner[text] = intent
                unique.append(text)
        intent_blocks.append(_block("intent", intent, unique))
    header = f'# Exported by intents.export_rasa for Rasa {RASA_VERSION}; edit intents/data/nlu.yml instead.\nversion: "3.1"\nnlu:\n'
    return header + "\n".join(intent_blocks + sections)


def _userdict(region: Region) -> str:
    words = dict.fromkeys([*DOMAIN_WORDS, *region.surfaces("city"), *region.surfaces("district")])
    return "".join(f"{word} 20000\n" for word in words)


def export_rasa_project(
    target: Path | str,
    *,
    data_dir: Path | str = DATA_DIR,
    thresholds: FallbackThresholds | None = None,
    extra_examples: Mapping[str, Sequence[str]] | None = None,
    overwrite: bool = False,
    epochs: int = 100,
) -> list[Path]:
    """Writes the project into ``target`` and returns the files written.

    Refuses a non-empty ``target`` unless ``overwrite``; raises ``ExportError`` (or
    ``TrainingDataError`` for bad source data) with a one-line reason.
    """
    target, data_dir = Path(target), Path(data_dir)
    thresholds = thresholds or FallbackThresholds()
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target} is not empty (use overwrite / --force to replace the project files)")
    data = load_training_data(data_dir)
    try:
        domain = yaml.safe_load((data_dir / DOMAIN_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise TrainingDataError(f"cannot read {data_dir / DOMAIN_FILE}: {e}") from e
    missing = sorted(set(INTENTS) - set(domain.get("intents") or []))
    if missing:
        raise TrainingDataError(f"domain.yml lacks intents: {', '.join(missing)}")
    written: list[Path] = []
    try:
        (target / "data").mkdir(parents=True, exist_ok=True)
        (target / "jieba_userdict").mkdir(exist_ok=True)
        files = {
            target / "config.yml": yaml.safe_dump(rasa_config(thresholds, epochs=epochs),
                                                  allow_unicode=True, sort_keys=False),
            target / "data" / "nlu.yml": build_nlu_yaml(data_dir, extra_examples),
            target / "jieba_userdict" / "shequ.txt": _userdict(Region.load()),
            target / "README.md": (
                f"# 社区小助手 Rasa {RASA_VERSION} project (generated by `shequ intents export-rasa`)\n\n"
                "Train and serve: `rasa train && rasa run --enable-api --port 5005`, then set "
                "`SHEQU_INTENT_CLASSIFIER=rasa` and `SHEQU_RASA_URL=http://localhost:5005`.\n"
            ),
        }
        for path, content in files.items():
            path.write_text(content, encoding="utf-8")
            written.append(path)
        for name, destination in ((DOMAIN_FILE, target / "domain.yml"), (RULES_FILE, target / "data" / "rules.yml")):
            shutil.copyfile(data_dir / name, destination)
            written.append(destination)
    except OSError as e:
        raise ExportError(f"cannot write the Rasa project to {target}: {e.strerror or e}") from e
    log.info("Rasa project with %d intents written to %s", len(data.examples), target)
    return written
