"""Recognising someone in danger now, and what kind of danger, also when it is told as a story.

「我妈在厕所倒了叫她不应」 has none of the words a rule looks for. A learned model over
``intents/data/emergency.yml`` — emergencies by kind (medical, fire, gas, flood, landslide, electric,
drowning, violence, suicide, missing) against safety questions, past events, figures of speech and ordinary
service questions (``not_emergency``, plus the intent data's other intents) —
reads every message. The dialogue layer combines it with the emergency rules; either one raises the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from intents.base import DATA_DIR
from intents.errors import TrainingDataError
from intents.features import ModelParams
from intents.text_model import TextModel, train_text_model
from intents.training_data import load_training_data

EMERGENCY_FILE = DATA_DIR / "emergency.yml"
NONE = "none"
EMERGENCY_PARAMS = ModelParams(class_weight=None)
KINDS = ("medical", "fire", "gas", "flood", "landslide", "electric", "drowning", "violence", "suicide", "missing")


@dataclass(frozen=True)
class EmergencyReading:
    kind: str | None  # the most likely kind of danger (whether there is one at all is ``danger``)
    confidence: float  # probability of ``kind``
    danger: float  # probability of any emergency kind: the caller decides from which value it is one


NOT_DANGER = EmergencyReading(None, 0.0, 0.0)


class EmergencyDetector(Protocol):
    def read(self, normalized: str) -> EmergencyReading: ...


def load_emergency_examples(path: Path = EMERGENCY_FILE, *, intents_dir: Path = DATA_DIR,
                            with_intents: bool = True) -> dict[str, list[str]]:
    """Kind → examples, and ``NONE`` → the examples of no emergency: the file's own, and with ``with_intents``
    every other intent's examples too."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainingDataError(f"cannot read {path}: {exc}") from exc
    kinds = data.get("emergency") if isinstance(data, dict) else None
    negatives = data.get("not_emergency") if isinstance(data, dict) else None
    if not isinstance(kinds, dict) or not isinstance(negatives, list):
        raise TrainingDataError(f"{path}: needs 'emergency' (kind → examples) and 'not_emergency' (examples)")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise TrainingDataError(f"{path}: unknown emergency kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    examples = {kind: [str(t) for t in texts] for kind, texts in kinds.items()}
    none = [str(t) for t in negatives]
    for intent, texts in (load_training_data(intents_dir).examples.items() if with_intents else ()):
        if intent != "emergency":
            none.extend(texts)
    examples[NONE] = list(dict.fromkeys(none))
    return examples


@dataclass(frozen=True)
class EmergencyExamples:
    """Example groups for a nearest-example reading (the pretrained encoder's, ``Understanding``): one group per
    kind of danger, in ``kinds`` order, then ``calm``, messages that are no emergency."""

    kinds: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def from_examples(cls, examples: dict[str, list[str]], calm: Sequence[str] = ()) -> EmergencyExamples:
        kinds = tuple(kind for kind in KINDS if examples.get(kind))
        none = tuple(dict.fromkeys([*examples.get(NONE, []), *calm]))
        return cls(kinds, (*(tuple(examples[kind]) for kind in kinds), none))

    def nearest_kind(self, similarities: Sequence[float]) -> tuple[str | None, float]:
        """(kind of the closest danger example, its lead over the closest calm one) from the groups' cosines."""
        if len(similarities) != len(self.groups) or not self.kinds:
            return None, float("-inf")
        best = max(range(len(self.kinds)), key=lambda i: similarities[i])
        return self.kinds[best], similarities[best] - similarities[-1]


class LearnedEmergencyDetector:
    def __init__(self, model: TextModel) -> None:
        self.model = model

    @classmethod
    def train(cls, *, path: Path = EMERGENCY_FILE, extra_negatives: Sequence[str] = (),
              model_dir: Path | None = None) -> LearnedEmergencyDetector:
        """``extra_negatives``: more messages that are no emergency (the dialogue layer adds KB questions)."""
        examples = load_emergency_examples(path)
        examples[NONE] = list(dict.fromkeys([*examples[NONE], *extra_negatives]))
        # Unweighted classes: "no emergency" is most messages, and balancing the weights made every
        # 「想办…」 look like 「想死」.
        return cls(train_text_model("emergency", examples, params=EMERGENCY_PARAMS, model_dir=model_dir))

    def read(self, normalized: str) -> EmergencyReading:
        ranked = self.model.rank(normalized)
        if ranked is None:
            return NOT_DANGER
        danger = 1.0 - ranked.probability(NONE)
        kind, probability = next(((name, p) for name, p in ranked.ranking if name != NONE), (None, 0.0))
        return EmergencyReading(kind, probability, danger)


class FakeEmergencyDetector:
    """For tests: messages containing a cue word are that kind of emergency."""

    def __init__(self, cues: dict[str, str] | None = None) -> None:
        self.cues = cues if cues is not None else {"倒在地上": "medical", "着火": "fire", "煤气味": "gas", "不想活": "suicide"}

    def read(self, normalized: str) -> EmergencyReading:
        for cue, kind in self.cues.items():
            if cue in normalized:
                return EmergencyReading(kind, 0.95, 0.95)
        return NOT_DANGER
