"""Evaluation on query files in the format of ``shared/eval/dev_queries.yaml`` (and ``eval/README.md``).

A case expects a topic (a service question), an intent (everything else), inside a dialogue a topic and an
aspect, and for the challenge sets also a referral, a clarification, one of two topics, or no emergency.
The responder is any function from (session, text) to a ``Prediction``: the retrieval alone, the full
dialogue engine, or the HTTP API, so one scorer serves all of them. A folder of files is scored file by file
(one phenomenon each) with a total.
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
FALLBACK_INTENTS = (OUT_OF_SCOPE, "nlu_fallback", None)


@dataclass(frozen=True)
class Prediction:
    session_id: str | None
    topic: str | None  # the entry that answered (None unless the turn answered from the KB)
    intent: str | None
    aspect: str | None = None
    score: float | None = None
    action: str | None = None
    text: str = ""
    options: tuple[str, ...] = ()  # a clarification's choices (entry ids), without 都不是
    referral: bool = False  # the answering entry is a referral


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
    other_total: int = 0  # referrals, clarifications, two topics, not-an-emergency
    other_correct: int = 0
    dialogue_turns: int = 0
    dialogue_correct: int = 0
    per_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[Miss] = field(default_factory=list)

    @staticmethod
    def _rate(a: int, b: int) -> float:
        return a / b if b else 0.0

    @property
    def total(self) -> int:
        return self.topic_total + self.intent_total + self.other_total + self.dialogue_turns

    @property
    def correct(self) -> int:
        return self.topic_correct + self.intent_correct + self.other_correct + self.dialogue_correct

    def add(self, other: EvalReport) -> None:
        for name in ("topic_total", "topic_correct", "oos_total", "oos_rejected", "intent_total", "intent_correct",
                     "other_total", "other_correct", "dialogue_turns", "dialogue_correct"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, (ok, n) in other.per_category.items():
            self.per_category[key][0] += ok
            self.per_category[key][1] += n
        self.misses.extend(other.misses)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self._rate(self.correct, self.total),
            "cases": self.total,
            "topic_accuracy": self._rate(self.topic_correct, self.topic_total),
            "topic_cases": self.topic_total,
            "out_of_scope_rejection": self._rate(self.oos_rejected, self.oos_total),
            "out_of_scope_cases": self.oos_total,
            "intent_accuracy": self._rate(self.intent_correct, self.intent_total),
            "intent_cases": self.intent_total,
            "other_accuracy": self._rate(self.other_correct, self.other_total),
            "other_cases": self.other_total,
            "dialogue_turn_accuracy": self._rate(self.dialogue_correct, self.dialogue_turns),
            "dialogue_turns": self.dialogue_turns,
            "per_category": {k: {"correct": v[0], "total": v[1], "accuracy": self._rate(v[0], v[1])}
                             for k, v in sorted(self.per_category.items())},
            "misses": [asdict(m) for m in self.misses],
        }

    def summary_lines(self) -> list[str]:
        d = self.as_dict()
        lines = []
        if self.topic_total:
            lines.append(f"top-1 topic accuracy     {d['topic_accuracy']:.1%}  ({self.topic_correct}/{self.topic_total})")
        if self.oos_total:
            lines.append(f"out-of-scope rejection   {d['out_of_scope_rejection']:.1%}  "
                         f"({self.oos_rejected}/{self.oos_total})")
        if self.intent_total:
            lines.append(f"intent accuracy (non-topic) {d['intent_accuracy']:.1%}  "
                         f"({self.intent_correct}/{self.intent_total})")
        if self.other_total:
            lines.append(f"referral/clarify/other   {d['other_accuracy']:.1%}  ({self.other_correct}/{self.other_total})")
        if self.dialogue_turns:
            lines.append(f"dialogue turns correct   {d['dialogue_turn_accuracy']:.1%}  "
                         f"({self.dialogue_correct}/{self.dialogue_turns})")
        return lines

    def format_text(self, *, misses: bool = True) -> str:
        d = self.as_dict()
        lines = self.summary_lines()
        if d["per_category"]:
            lines.append("per category:")
            for name, value in d["per_category"].items():
                lines.append(f"  {name:10s} {value['accuracy']:.0%} ({value['correct']}/{value['total']})")
        if misses and self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            for miss in self.misses:
                lines.append(f"  {miss.query}  expected {miss.expected}  got {miss.got}")
        return "\n".join(lines)


def load_cases(path: Path) -> dict[str, Any]:
    data, _ = parse_yaml_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("cases", []), list):
        raise ValidationFailed([])
    return data


def case_files(path: Path) -> list[Path]:
    """A file, or every ``*.yaml`` of a folder (one phenomenon each), in name order."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.yaml") if p.is_file())
    return [path]


def matches(expected: dict[str, Any], got: Prediction) -> bool:
    if expected.get("not_intent") is not None and got.intent == expected["not_intent"]:
        return False
    if expected.get("not_intent") == "emergency" and got.action == "emergency":
        return False
    if "topic" in expected:
        if got.topic != expected["topic"] or got.action != "answer":
            return False
        return "aspect" not in expected or got.aspect == expected["aspect"]
    if "any_of" in expected:
        wanted = set(expected["any_of"])
        return (got.action == "answer" and got.topic in wanted) or (
            got.action == "clarify" and wanted <= set(got.options))
    if expected.get("referral"):
        mentions = [str(m) for m in expected.get("mentions", [])]
        return got.action == "answer" and got.referral and (not mentions or any(m in got.text for m in mentions))
    if expected.get("clarify"):
        return got.action == "clarify" and len(got.options) >= int(expected.get("min_options", 2))
    intent = expected.get("intent")
    if intent == OUT_OF_SCOPE:
        return (got.topic is None or got.referral) and got.action != "emergency" and (
            got.intent in FALLBACK_INTENTS or got.referral or got.action in ("fallback", "smalltalk"))
    if intent == "emergency":
        return got.action == "emergency"
    if intent is not None:
        return got.intent == intent
    return "not_intent" in expected


def _kind(expected: dict[str, Any]) -> str:
    if "topic" in expected:
        return "topic"
    if expected.get("intent") == OUT_OF_SCOPE:
        return "oos"
    if "intent" in expected:
        return "intent"
    return "other"


def evaluate(data: dict[str, Any], respond: Responder, category_of: dict[str, str]) -> EvalReport:
    report = EvalReport()
    for case in data.get("cases", []) or []:
        expected = case["expect"]
        got = respond(None, str(case["q"]))
        ok = matches(expected, got)
        kind = _kind(expected)
        if kind == "topic":
            report.topic_total += 1
            report.topic_correct += ok
            bucket = report.per_category[category_of.get(expected["topic"], "?")]
            bucket[0] += ok
            bucket[1] += 1
        elif kind == "oos":
            report.oos_total += 1
            report.oos_rejected += ok
            report.intent_total += 1
            report.intent_correct += ok
        elif kind == "intent":
            report.intent_total += 1
            report.intent_correct += ok
        else:
            report.other_total += 1
            report.other_correct += ok
        if not ok:
            report.misses.append(Miss(case["q"], expected, _prediction_dict(got)))
    for dialogue in data.get("dialogues", []) or []:
        session_id: str | None = None
        for turn in dialogue.get("turns", []):
            got = respond(session_id, str(turn["q"]))
            session_id = got.session_id
            ok = matches(turn["expect"], got)
            report.dialogue_turns += 1
            report.dialogue_correct += ok
            if not ok:
                report.misses.append(Miss(f"[dialogue] {turn['q']}", turn["expect"], _prediction_dict(got)))
    return report


def engine_responder(engine: Any) -> Responder:
    """The whole chat pipeline as a responder (what ``shequ eval`` scores by default)."""
    from assistant.dialogue.payloads import Command, parse
    from assistant.dialogue.schemas import ChatRequest

    def respond(session_id: str | None, text: str) -> Prediction:
        response = engine.handle(ChatRequest(session_id=session_id, text=text, channel="api"))
        entries = engine.kb.current().entries
        answered = response.action == "answer" and response.topic is not None
        intent = response.intent.name if response.intent else None
        if response.action == "fallback" and intent in (None, "ask_service", "nlu_fallback"):
            intent = OUT_OF_SCOPE
        topic = response.topic.id if answered and response.topic else None
        chosen = [parse(b.payload) for b in response.reply.buttons]
        options = tuple(p.argument for p in chosen if p is not None and p.command == Command.choose
                        and p.argument != "0")
        state_options = tuple(engine_options(engine, response.session_id)) if options else ()
        referral = bool(topic and topic in entries and entries[topic].is_referral)
        return Prediction(response.session_id, topic, intent, response.aspect if answered else None,
                          response.topic.score if response.topic else None, response.action, response.reply.text,
                          state_options or options, referral)

    return respond


def engine_options(engine: Any, session_id: str) -> list[str]:
    """The entry ids a clarification offered (kept in the session's state)."""
    from assistant.dialogue.turn_store import SELECT_SESSION
    from assistant.storage.db import session_scope

    with session_scope(engine.sessions) as db:
        row = db.connection().execute(SELECT_SESSION, {"session_key": session_id}).first()
    return list((row.state or {}).get("pending_choices") or []) if row else []


def _prediction_dict(p: Prediction) -> dict[str, Any]:
    d: dict[str, Any] = {"topic": p.topic, "intent": p.intent, "action": p.action}
    if p.aspect:
        d["aspect"] = p.aspect
    if p.score is not None:
        d["score"] = round(p.score, 3)
    if p.options:
        d["options"] = list(p.options)
    if p.action in ("answer", "emergency", "fallback") and p.text:
        d["text"] = p.text[:40]
    return d


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
