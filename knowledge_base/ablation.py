"""Ablation of the retrieval on an evaluation file: what each signal adds.

Rows: BM25 (bm25s) over jieba words alone — the baseline anyone builds first — then + the synonym
dictionary, + character n-grams and pinyin, + dense vectors. Each row gets its own calibration fitted
on the knowledge base (never on the evaluation file), so every row is judged at its best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.engine import make_analyzer
from knowledge_base.loader import load_entries, parse_yaml_file
from knowledge_base.models import KbEntry
from knowledge_base.retrieval.calibrate import fit_calibration, negative_questions
from knowledge_base.retrieval.fusion import FAST_SIGNALS, PRETRAINED, SIGNALS, Decision, Thresholds
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
from knowledge_base.synonyms import SynonymDictionary, load_synonyms

ROWS: list[tuple[str, tuple[str, ...], bool]] = [
    ("bm25s + jieba (baseline)", ("word",), False),
    ("+ synonyms", ("word",), True),
    ("+ characters / pinyin", ("word", "char", "pinyin"), True),
    ("+ dense", ("word", "char", "pinyin", "dense"), True),
    ("+ whole-entry bag", ("word", "char", "pinyin", "dense", "bag"), True),
    ("+ pretrained encoder when unsure, best question", (*FAST_SIGNALS, PRETRAINED), True),
    ("+ its entry centroid (full retrieval)", SIGNALS, True),
]


@dataclass
class AblationRow:
    name: str
    topic_accuracy: float
    top1_any: float
    oos_rejection: float


def _score(index: HybridIndex, cases: Sequence[dict[str, Any]]) -> tuple[float, float, float]:
    topic_ok = topic_any = topic_n = oos_ok = oos_n = 0
    for case in cases:
        expected = case["expect"]
        result = index.search(str(case["q"]))
        top = result.top
        answered = result.decision == Decision.answer and top is not None
        if "topic" in expected:
            topic_n += 1
            topic_any += bool(top and top.entry_id == expected["topic"])
            topic_ok += bool(answered and top.entry_id == expected["topic"])
        elif expected.get("intent") == "out_of_scope":
            oos_n += 1
            oos_ok += not answered
    return topic_ok / max(1, topic_n), topic_any / max(1, topic_n), oos_ok / max(1, oos_n)


def run_ablation(data_dir: Path, eval_file: Path, thresholds: Thresholds) -> list[AblationRow]:
    entries: list[KbEntry] = [e for e in load_entries(data_dir) if e.status == "published"]
    synonyms = load_synonyms(data_dir / "synonyms.yaml")
    negatives = negative_questions(parse_yaml_file(data_dir / "calibration_negatives.yaml")[0])
    cases = parse_yaml_file(eval_file)[0].get("cases", [])
    rows = []
    for name, signals, use_synonyms in ROWS:
        analyzer = make_analyzer(synonyms if use_synonyms else SynonymDictionary())
        config = RetrievalConfig(signals=signals, thresholds=thresholds)
        calibration, _ = fit_calibration(entries, analyzer, negatives, config=config)
        index = HybridIndex.build(entries, analyzer, calibration, config)
        rows.append(AblationRow(name, *_score(index, cases)))
    return rows


def format_rows(rows: Sequence[AblationRow], full_system: tuple[float, float] | None = None) -> str:
    lines = ["| system | top-1 answered correctly | top-1 (any score) | out-of-scope rejected |",
             "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.name} | {row.topic_accuracy:.1%} | {row.top1_any:.1%} | {row.oos_rejection:.1%} |")
    if full_system is not None:
        lines.append(f"| full system (+ intents and dialogue policy) | {full_system[0]:.1%} | — | "
                     f"{full_system[1]:.1%} |")
    return "\n".join(lines)
