"""Recognising which aspect of a topic a message asks about: 「那要准备点啥」 → materials.

A learned model (the intent model's TF-IDF features and logistic regression) over the phrasings of the
aspect table (``knowledge_base/data/aspects.yaml``, ≥ 60 per aspect, handed in by the dialogue layer) and a
``general`` class for messages that ask about a topic as a whole. Phrasings are also learned with service names in front of them
(「高龄津贴要带啥」), and the bare service names as ``general``, so that the name of a topic never passes for
an aspect and an aspect cue is recognised whatever topic it follows.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from intents.text_model import Ranked, TextModel, train_text_model

# The label of messages about a topic as a whole (the aspect table's last row has this name).
GENERAL = "general"

# How many service names are put in front of each phrasing when training (a fixed seed: same model).
AUGMENT_PER_PHRASING = 2
AUGMENT_SEED = 7
_CONNECTORS = ("", "", "的", "那个", "办", "申请")


@dataclass(frozen=True)
class AspectPrediction:
    """``name`` is the most likely aspect, or None when the message asks about the topic as a whole."""

    name: str | None
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)

    def probability(self, aspect: str) -> float:
        return next((p for name, p in self.ranking if name == aspect), 0.0)


NO_ASPECT = AspectPrediction(None, 0.0, [])


class AspectRecognizer(Protocol):
    def predict(self, normalized: str) -> AspectPrediction:
        """``normalized``: the message after ``normalize`` and the dialect lexicon."""
        ...


def training_examples(examples: dict[str, list[str]], service_names: Iterable[str]) -> dict[str, list[str]]:
    """``examples``: aspect (and ``general``) → phrasings; adds them with service names in front."""
    names = sorted({n for n in service_names if 2 <= len(n) <= 8})
    if not names:
        return examples
    rng = random.Random(AUGMENT_SEED)
    augmented: dict[str, list[str]] = {label: list(texts) for label, texts in examples.items()}
    for label, texts in examples.items():
        for text in texts:
            for _ in range(AUGMENT_PER_PHRASING):
                augmented[label].append(f"{rng.choice(names)}{rng.choice(_CONNECTORS)}{text}")
    augmented[GENERAL] += names + [f"那{n}呢" for n in names] + [f"{n}怎么弄" for n in names[::3]]
    return augmented


class LearnedAspectRecognizer:
    def __init__(self, model: TextModel) -> None:
        self.model = model

    @classmethod
    def train(cls, examples: dict[str, list[str]], service_names: Iterable[str] = (), *,
              model_dir: Path | None = None) -> LearnedAspectRecognizer:
        if GENERAL not in examples:
            raise ValueError(f"aspect examples need a {GENERAL!r} class")
        return cls(train_text_model("aspect", training_examples(examples, service_names), model_dir=model_dir))

    def predict(self, normalized: str) -> AspectPrediction:
        ranked: Ranked | None = self.model.rank(normalized)
        if ranked is None:
            return NO_ASPECT
        name = None if ranked.label == GENERAL else ranked.label
        return AspectPrediction(name, ranked.confidence, ranked.ranking)


class FakeAspectRecognizer:
    """For tests: a message containing one of the given cue words is that aspect, with confidence 0.95."""

    def __init__(self, cues: dict[str, str] | None = None) -> None:
        self.cues = cues if cues is not None else {"材料": "materials", "带什么": "materials", "去哪": "location", "多久": "time",
                             "网上": "online", "电话": "contact", "多少钱": "fees", "条件": "eligibility",
                             "流程": "process", "依据": "policy"}

    def predict(self, normalized: str) -> AspectPrediction:
        for cue, name in self.cues.items():
            if cue in normalized:
                return AspectPrediction(name, 0.95, [(name, 0.95), (GENERAL, 0.05)])
        return AspectPrediction(None, 0.9, [(GENERAL, 0.9)])
