"""Fusion of the retrieval signals into one calibrated score in [0, 1], and the answer decision.

The score is a logistic model over the per-entry signals (word BM25 share, character BM25 share, pinyin
BM25 share, dense cosine, word BM25 share over the entry's documents as one bag, and — only when those leave the
best entry unsure — the pretrained encoder's cosines with the best question and with the entry's mean), fitted by ``calibrate`` on
held-out knowledge-base questions (positives) and unrelated or near-miss questions (negatives). Its output reads as "probability this entry answers the
question", so the thresholds mean the same for any knowledge base size.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

# "bag": word BM25 against each entry's documents taken together as one bag of words. The other lexical signals
# score an entry by its best single document; 「怎么用微信给我妈交农村医保」 has 微信 in one question of 手机交医保
# and 农村医保 in another, so only the bag sees that the entry covers the whole question.
FAST_SIGNALS = ("word", "char", "pinyin", "dense", "bag")
# "pretrained": cosine of a pretrained multilingual encoder (``pretrained.py``), after the fast columns. It costs
# about 6 ms a question, so it is computed only when the fast signals leave the best entry unsure, and scored by a
# second model fitted with it (``Calibration.pretrained``).
PRETRAINED = "pretrained"
# "centroid": the same encoder's cosine with the mean of an entry's question vectors, computed with it at no extra
# embedding. The best single question rewards an entry with one question worded like the resident's; the mean
# rewards the entry whose questions, taken together, are about what the resident asks. Measured December 2026 on the
# developer sets' 1,530 single questions, the encoder alone ranks the right entry first 90.5 % of the time by the
# best question, 93.5 % by the mean and 96.1 % by the two added.
CENTROID = "centroid"
PRETRAINED_SIGNALS = (PRETRAINED, CENTROID)
SIGNALS = (*FAST_SIGNALS, *PRETRAINED_SIGNALS)
PRETRAINED_COLUMN = SIGNALS.index(PRETRAINED)
CENTROID_COLUMN = SIGNALS.index(CENTROID)
QUERY_FEATURES = ("unknown_words",)


def features_of(signals: tuple[str, ...]) -> tuple[str, ...]:
    # Dense similarity on a question half made of words the KB never uses (房贷利率) means less: the
    # interaction lets the calibration discount it instead of penalising every candidate alike.
    return (*signals, *(f"{s}_gap" for s in signals), *QUERY_FEATURES, "dense_x_unknown")


FEATURES = features_of(FAST_SIGNALS)
PRETRAINED_FEATURES = features_of(SIGNALS)
DENSE_COLUMN = SIGNALS.index("dense")


def fusion_features(matrix: np.ndarray, query_features: np.ndarray) -> np.ndarray:
    """Per entry: each signal, and how far it stands above the best *other* entry on that signal.

    The gap features carry distinctiveness: a question that matches one entry far better than every other
    is answered with more confidence than one that matches several entries equally well. Query features
    (the share of the question in words the knowledge base never uses) are the same for every entry.
    """
    n = matrix.shape[0]
    if n == 0:
        return np.zeros((0, 2 * matrix.shape[1] + len(query_features) + 1), dtype=np.float32)
    best = matrix.argmax(axis=0)
    first = matrix[best, np.arange(matrix.shape[1])]
    if n > 1:
        second = np.partition(matrix, n - 2, axis=0)[n - 2]
    else:
        second = np.zeros(matrix.shape[1], dtype=matrix.dtype)
    others_best = np.broadcast_to(first, matrix.shape).copy()
    others_best[best, np.arange(matrix.shape[1])] = second
    per_query = np.broadcast_to(np.asarray(query_features, dtype=np.float32), (n, len(query_features)))
    interaction = matrix[:, DENSE_COLUMN : DENSE_COLUMN + 1] * float(query_features[0])
    return np.hstack([matrix, matrix - others_best, per_query, interaction]).astype(np.float32)


@dataclass
class Calibration:
    """A logistic model over the fast signals' features, and optionally a second one (``pretrained``) over those
    of every signal, the pretrained one included: the index scores with the second when it has computed that
    signal, that is when the first left the best entry unsure."""

    # Used only until `shequ kb reindex --calibrate` has fitted real weights.
    weights: list[float] = field(default_factory=lambda: [2.0, 1.0, 1.0, 8.0, 1.0, 4.0, 2.0, 2.0, 10.0, 1.0, -4.0,
                                                          -4.0])
    bias: float = -7.0
    signals: list[str] = field(default_factory=lambda: list(FEATURES))
    pretrained: Calibration | None = None

    @property
    def signal_count(self) -> int:
        """How many matrix columns (``SIGNALS`` order) this model reads."""
        return sum(1 for s in self.signals if s in SIGNALS)

    def score(self, matrix: np.ndarray, query_features: np.ndarray) -> np.ndarray:
        """matrix: (entries, signals) → calibrated probability that each entry answers the query."""
        features = fusion_features(matrix[:, : self.signal_count], query_features)
        z = features @ np.asarray(self.weights, dtype=np.float32) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str, features: tuple[str, ...] = FEATURES) -> Calibration:
        nested = data.pop("pretrained", None)
        calibration = cls(**data)
        if calibration.signals != list(features) or len(calibration.weights) != len(features):
            raise ValueError(f"{source}: calibrated for other features {calibration.signals}; refit it")
        if nested is not None:
            calibration.pretrained = cls.from_dict(nested, source, PRETRAINED_FEATURES)
        return calibration

    def with_signals(self, enabled: set[str]) -> Calibration:
        """The same model with some signals switched off (their weight 0): used by the ablation."""
        weights = [w if s.removesuffix("_gap").removesuffix("_x_unknown") in enabled or s in QUERY_FEATURES else 0.0
                   for w, s in zip(self.weights, self.signals, strict=True)]
        nested = self.pretrained.with_signals(enabled) if self.pretrained and PRETRAINED in enabled else None
        return Calibration(weights, self.bias, list(self.signals), nested)


class Decision(StrEnum):
    answer = "answer"
    clarify = "clarify"
    no_answer = "no_answer"


@dataclass(frozen=True)
class Thresholds:
    # The same defaults as Settings (answer_threshold, clarify_threshold, clarify_margin).
    answer: float = 0.4  # top score at least this → answer
    clarify: float = 0.2  # top score at least this (or two close good ones) → offer choices
    margin: float = 0.05  # top two closer than this, both ≥ clarify → clarify
    # A candidate far ahead of every other one is answered a little below the answer threshold: the
    # calibrated score does not know the rank, and one clear winner is rarely wrong.
    dominant_floor: float = 0.3
    dominant_ratio: float = 3.0
    # The fast signals' best score below this → ask the pretrained encoder too (about 6 ms). Measured December
    # 2026 on the developer sets' 1,530 single questions: at 0.7 nine in ten are decided without it and not one
    # top-1 differs from asking it every time.
    pretrained_below: float = 0.7


def decide(scores: list[float], thresholds: Thresholds, *, allow_dominant: bool = True) -> Decision:
    if not scores or scores[0] < thresholds.clarify:
        return Decision.no_answer
    second = scores[1] if len(scores) > 1 else 0.0
    if second >= thresholds.clarify and scores[0] - second < thresholds.margin:
        return Decision.clarify
    if scores[0] >= thresholds.answer:
        return Decision.answer
    if allow_dominant and scores[0] >= thresholds.dominant_floor and scores[0] >= thresholds.dominant_ratio * second:
        return Decision.answer
    return Decision.clarify
