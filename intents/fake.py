"""A deterministic ``IntentClassifier`` for tests of the layers above: no model, no training.

Exact texts given in ``responses`` win; otherwise a short keyword table decides; otherwise the
``default``. Confidences are whatever the caller says, so fallback handling can be tested too.
Entities come from the real rule-based extractors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from intents.base import (
    INTENTS,
    ExtraExamples,
    FallbackThresholds,
    IntentResult,
    TrainSummary,
    apply_fallback,
    empty_result,
)
from intents.entities import extract_entities
from knowledge_base.normalize import normalize
from pii import mask_text

# First match wins, so the more specific phrases come first.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emergency", ("救命", "着火", "晕倒", "救护车", "快来人")),
    ("request_human", ("转人工", "人工", "工作人员", "真人")),
    ("check_ticket_status", ("工单", "进度", "gx")),
    ("report_issue", ("坏了", "派人", "没人管", "投诉", "扰民")),
    ("slower", ("慢一点", "慢点", "太快")),
    ("repeat", ("再说一遍", "没听清", "重复")),
    ("choose_option", ("第一个", "第2个", "第3个", "最后一个", "上面那个", "后面那个")),
    ("bot_capabilities", ("你能做什么", "你会什么", "你能帮我做什么")),
    ("thanks", ("谢谢", "多谢", "唔该")),
    ("goodbye", ("再见", "拜拜")),
    ("greet", ("你好", "您好", "在吗")),
    ("deny", ("不是", "不对", "不要")),
    ("affirm", ("是的", "对", "好的", "可以")),
    ("out_of_scope", ("天气", "笑话", "股票", "护照", "彩票")),
)

Response = str | tuple[str, float]


class FakeIntentClassifier:
    """``IntentClassifier`` answering from a table; records what it was asked (masked)."""

    name = "fake"

    def __init__(
        self,
        responses: Mapping[str, Response] | None = None,
        *,
        default: tuple[str, float] = ("ask_service", 0.9),
        thresholds: FallbackThresholds | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._responses = {normalize(k): v for k, v in (responses or {}).items()}
        self.default = default
        self.thresholds = thresholds or FallbackThresholds()
        self._today = today
        self.calls: list[str] = []
        self.trained_with: dict[str, int] = {}

    def set_response(self, text: str, response: Response) -> None:
        self._responses[normalize(text)] = response

    def train(self, extra_examples: ExtraExamples | None = None) -> TrainSummary | None:
        self.trained_with = {k: len(v) for k, v in (extra_examples or {}).items()}
        return None

    def _decide(self, normalized: str) -> tuple[str, float]:
        response = self._responses.get(normalized)
        if response is not None:
            return (response, 0.95) if isinstance(response, str) else response
        for intent, keywords in _KEYWORDS:
            if any(k in normalized for k in keywords):
                return intent, 0.9
        return self.default

    def classify(self, text: str) -> IntentResult:
        if not isinstance(text, str):
            return empty_result()
        normalized = normalize(text)
        self.calls.append(mask_text(normalized))
        entities = extract_entities(normalized, today=self._today(), normalized=True)
        if not normalized:
            return empty_result(entities=entities)
        name, confidence = self._decide(normalized)
        others = [i for i in INTENTS if i != name]
        share = (1.0 - confidence) / len(others)
        ranking = [(name, confidence)] + [(i, share) for i in others]
        ranking.sort(key=lambda item: -item[1])
        return apply_fallback(IntentResult(name, confidence, ranking, entities), self.thresholds)
