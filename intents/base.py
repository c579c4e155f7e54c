"""The intent-classifier seam: result types, the Protocol, and Rasa's fallback rule.

``apply_fallback`` reproduces Rasa's ``FallbackClassifier``: the prediction becomes ``nlu_fallback``
when the top confidence is below ``confidence_threshold`` or when the top two are closer than
``ambiguity_threshold``. As in Rasa the fallback's confidence is the threshold itself; unlike Rasa
the ranking is left as the classifier produced it (no ``nlu_fallback`` row inserted), because the
dialogue layer uses the real candidates to ask "did you mean A or B?".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

DATA_DIR = Path(__file__).resolve().parent / "data"

INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thanks", "affirm", "deny", "ask_service", "request_human", "report_issue",
    "check_ticket_status", "emergency", "repeat", "slower", "choose_option", "bot_capabilities",
    "out_of_scope",
)
FALLBACK_INTENT = "nlu_fallback"

# Entity types whose value is personal information (PIPL): masked in repr, exports and logs.
PERSONAL_ENTITY_TYPES = frozenset({"id_number", "phone"})


@dataclass(frozen=True)
class Entity:
    """One value found in a message.

    ``start``/``end`` index into ``normalize(text)`` (the text the extractors read), not the raw
    input. ``value`` is typed by ``type``: ``str`` for ticket_number/phone/id_number/city/district,
    ``int`` for age and choice (a 0-based index; negative counts from the end, -1 = last),
    ``datetime.date`` for date.
    """

    type: str
    value: Any
    text: str
    start: int
    end: int
    approximate: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_personal(self) -> bool:
        return self.type in PERSONAL_ENTITY_TYPES

    def masked_value(self) -> Any:
        if not self.is_personal:
            return self.value
        from pii import mask_id_number, mask_phone

        return mask_id_number(self.value) if self.type == "id_number" else mask_phone(self.value)

    def as_dict(self, *, reveal_personal: bool = False) -> dict[str, Any]:
        value = self.value if reveal_personal else self.masked_value()
        text = self.text if reveal_personal or not self.is_personal else self.masked_value()
        return {
            "type": self.type,
            "value": value.isoformat() if isinstance(value, date) else value,
            "text": text,
            "start": self.start,
            "end": self.end,
            "approximate": self.approximate,
            "extra": dict(self.extra),
        }

    def __repr__(self) -> str:
        # repr ends up in logs and tracebacks; personal values must never appear there.
        shown = self.masked_value()
        approx = ", approximate=True" if self.approximate else ""
        return f"Entity(type={self.type!r}, value={shown!r}, start={self.start}, end={self.end}{approx})"


@dataclass(frozen=True)
class IntentResult:
    """What a classifier decided about one message.

    ``ranking`` holds every known intent with its confidence, best first, as the model produced it
    (also when ``name`` is ``nlu_fallback``). ``fallback_reason`` is ``"low_confidence"``,
    ``"ambiguous"``, ``"empty"``, ``"error"`` or ``None``.
    """

    name: str
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    fallback_reason: str | None = None

    @property
    def is_fallback(self) -> bool:
        return self.name == FALLBACK_INTENT

    @property
    def top(self) -> tuple[str, float] | None:
        """The model's best guess even when the result fell back."""
        return self.ranking[0] if self.ranking else None

    def entities_of(self, entity_type: str) -> list[Entity]:
        return [e for e in self.entities if e.type == entity_type]

    def first(self, entity_type: str) -> Entity | None:
        found = self.entities_of(entity_type)
        return found[0] if found else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confidence": round(self.confidence, 4),
            "ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "entities": [e.as_dict() for e in self.entities],
            "fallback_reason": self.fallback_reason,
        }


@dataclass(frozen=True)
class FallbackThresholds:
    """Rasa FallbackClassifier ``threshold`` and ``ambiguity_threshold``."""

    confidence_threshold: float = 0.45
    ambiguity_threshold: float = 0.08

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1], got {self.confidence_threshold}")
        if not 0.0 <= self.ambiguity_threshold <= 1.0:
            raise ValueError(f"ambiguity_threshold must be in [0, 1], got {self.ambiguity_threshold}")


def apply_fallback(result: IntentResult, thresholds: FallbackThresholds) -> IntentResult:
    """Turns a prediction into ``nlu_fallback`` when it is too weak or too close to the runner-up."""
    if result.is_fallback or not result.ranking:
        return result
    top = result.ranking[0][1]
    second = result.ranking[1][1] if len(result.ranking) > 1 else 0.0
    reason: str | None = None
    if top < thresholds.confidence_threshold:
        reason = "low_confidence"
    elif len(result.ranking) > 1 and top - second < thresholds.ambiguity_threshold:
        reason = "ambiguous"
    if reason is None:
        return result
    return replace(
        result, name=FALLBACK_INTENT, confidence=thresholds.confidence_threshold, fallback_reason=reason
    )


def empty_result(reason: str = "empty", entities: Sequence[Entity] = ()) -> IntentResult:
    return IntentResult(
        name=FALLBACK_INTENT, confidence=0.0, ranking=[], entities=list(entities), fallback_reason=reason
    )


@dataclass(frozen=True)
class TrainSummary:
    """What ``train`` did: example counts, the data hash, and whether a saved model was reused."""

    examples_per_intent: dict[str, int]
    data_hash: str
    loaded_from_cache: bool
    seconds: float


ExtraExamples = Mapping[str, Sequence[str]]


@runtime_checkable
class IntentClassifier(Protocol):
    """The seam the dialogue manager calls; implementations come from ``intents.registry``."""

    def train(self, extra_examples: ExtraExamples | None = None) -> TrainSummary | None:
        """Prepares the classifier; ``extra_examples`` maps intent → more example texts."""
        ...

    def classify(self, text: str) -> IntentResult:
        """Never raises for any ``str``; weak or empty input yields ``nlu_fallback``."""
        ...
