"""Evaluation on a query file in the format of ``shared/eval/dev_queries.yaml``.

A case expects a topic (a service question), an intent (everything else) or, inside a dialogue, a topic
and an aspect. The responder is any function from (session, text) to a ``Prediction``: the retrieval
alone, the full dialogue engine, or the HTTP API, so one scorer serves all of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.errors import ValidationFailed
from knowledge_base.loader import parse_yaml_file

OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Prediction:
    session_id: str | None
    topic: str | None
    intent: str | None
    aspect: str | None = None
    score: float | None = None


Responder = Callable[[str | None, str], Prediction]


@dataclass
class Miss:
    query: str
    expected: dict[str, Any]
    got: dict[str, Any]


@dataclass
class EvalReport:
    topic_total: int = 0
    topic_correct: int = 0
    oos_total: int = 0
    oos_rejected: int = 0
    intent_total: int = 0
    intent_correct: int = 0
    dialogue_turns: int = 0
    dialogue_correct: int = 0
    per_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[Miss] = field(default_factory=list)

    @staticmethod
    def _rate(a: int, b: int) -> float:
        return a / b if b else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic_accuracy": self._rate(self.topic_correct, self.topic_total),
            "topic_cases": self.topic_total,
            "out_of_scope_rejection": self._rate(self.oos_rejected, self.oos_total),
            "out_of_scope_cases": self.oos_total,
            "intent_accuracy": self._rate(self.intent_correct, self.intent_total),
            "intent_cases": self.intent_total,
            "dialogue_turn_accuracy": self._rate(self.dialogue_correct, self.dialogue_turns),
            "dialogue_turns": self.dialogue_turns,
            "per_category": {k: {"correct": v[0], "total": v[1], "accuracy": self._rate(v[0], v[1])}
                             for k, v in sorted(self.per_category.items())},
            "misses": [asdict(m) for m in self.misses],
        }

    def format_text(self) -> str:
        d = self.as_dict()
        lines = [
            f"top-1 topic accuracy     {d['topic_accuracy']:.1%}  ({self.topic_correct}/{self.topic_total})",
            f"out-of-scope rejection   {d['out_of_scope_rejection']:.1%}  ({self.oos_rejected}/{self.oos_total})",
            f"intent accuracy (non-topic) {d['intent_accuracy']:.1%}  ({self.intent_correct}/{self.intent_total})",
        ]
        if self.dialogue_turns:
            lines.append(f"dialogue turns correct   {d['dialogue_turn_accuracy']:.1%}  "
                         f"({self.dialogue_correct}/{self.dialogue_turns})")
        lines.append("per category:")
        for name, value in d["per_category"].items():
            lines.append(f"  {name:10s} {value['accuracy']:.0%} ({value['correct']}/{value['total']})")
        if self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            for miss in self.misses:
                lines.append(f"  {miss.query}  expected {miss.expected}  got {miss.got}")
        return "\n".join(lines)


def load_cases(path: Path) -> dict[str, Any]:
    data, _ = parse_yaml_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("cases", []), list):
        raise ValidationFailed([])
    return data


def _matches(expected: dict[str, Any], got: Prediction) -> bool:
    if "topic" in expected:
        if got.topic != expected["topic"]:
            return False
        return "aspect" not in expected or got.aspect == expected["aspect"]
    intent = expected.get("intent")
    if intent == OUT_OF_SCOPE:
        return got.topic is None and got.intent in (OUT_OF_SCOPE, "nlu_fallback", None)
    return got.intent == intent


def evaluate(data: dict[str, Any], respond: Responder, category_of: dict[str, str]) -> EvalReport:
    report = EvalReport()
    for case in data.get("cases", []):
        expected = case["expect"]
        got = respond(None, str(case["q"]))
        ok = _matches(expected, got)
        if "topic" in expected:
            report.topic_total += 1
            report.topic_correct += ok
            bucket = report.per_category[category_of.get(expected["topic"], "?")]
            bucket[0] += ok
            bucket[1] += 1
        elif expected.get("intent") == OUT_OF_SCOPE:
            report.oos_total += 1
            report.oos_rejected += ok
            report.intent_total += 1
            report.intent_correct += ok
        else:
            report.intent_total += 1
            report.intent_correct += ok
        if not ok:
            report.misses.append(Miss(case["q"], expected, _prediction_dict(got)))
    for dialogue in data.get("dialogues", []):
        session_id: str | None = None
        for turn in dialogue.get("turns", []):
            got = respond(session_id, str(turn["q"]))
            session_id = got.session_id
            ok = _matches(turn["expect"], got)
            report.dialogue_turns += 1
            report.dialogue_correct += ok
            if not ok:
                report.misses.append(Miss(f"[dialogue] {turn['q']}", turn["expect"], _prediction_dict(got)))
    return report


def _prediction_dict(p: Prediction) -> dict[str, Any]:
    d = {"topic": p.topic, "intent": p.intent}
    if p.aspect:
        d["aspect"] = p.aspect
    if p.score is not None:
        d["score"] = round(p.score, 3)
    return d


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
