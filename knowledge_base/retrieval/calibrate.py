"""Fitting the fusion model on the knowledge base itself (k-fold over the similar questions).

For each fold the held-out questions are removed from their entries, an index (dense encoder included)
is built on the rest, and each held-out question is searched: its true entry is a positive example and
the other top candidates are negatives. Unrelated and near-miss questions (``calibration_negatives``)
add candidates that must all score low. A logistic regression over the signals gives the weights: one over
the fast signals, and, when the index has the pretrained signal, a second over all of them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from knowledge_base.models import KbEntry
from knowledge_base.retrieval.fusion import (
    FAST_SIGNALS,
    FEATURES,
    PRETRAINED_FEATURES,
    Calibration,
    fusion_features,
)
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
from knowledge_base.retrieval.text_analysis import TextAnalyzer

log = logging.getLogger(__name__)

CANDIDATES_PER_QUERY = 8
GENERATED_NEGATIVES = 150


def negative_questions(data: dict, seed: int = 11) -> list[str]:
    """The explicit negatives plus a sample of near misses (unknown subject × service frame)."""
    explicit = list(data.get("negatives", []))
    subjects = data.get("near_miss_subjects", [])
    frames = data.get("near_miss_frames", [])
    generated = [frame.format(subject) for subject in subjects for frame in frames]
    random.Random(seed).shuffle(generated)
    return explicit + generated[:GENERATED_NEGATIVES]


def _candidate_rows(index: HybridIndex, query: str, true_id: str | None) -> tuple[list[np.ndarray], list[int]]:
    """Each candidate's features over every signal (the fast ones first, as ``FEATURES`` expects them sliced)."""
    _, matrix, query_features = index.signal_matrix(query)
    features = fusion_features(matrix, query_features)
    order = np.argsort(-matrix.sum(axis=1))[:CANDIDATES_PER_QUERY]
    rows, labels = [], []
    for i in order:
        rows.append(features[i])
        labels.append(int(index.entry_ids[i] == true_id))
    return rows, labels


def _fast_columns(signal_count: int) -> list[int]:
    """Where the fast signals' features sit among the features of ``signal_count`` signals."""
    fast = len(FAST_SIGNALS)
    return [*range(fast), *range(signal_count, signal_count + fast), 2 * signal_count, 2 * signal_count + 1]


def _fit(x: np.ndarray, y: np.ndarray, features: tuple[str, ...]) -> Calibration:
    model = LogisticRegression(C=10.0, max_iter=2000)
    model.fit(x, y)
    return Calibration([float(w) for w in model.coef_[0]], float(model.intercept_[0]), list(features))


def fit_calibration(
    entries: Sequence[KbEntry],
    analyzer: TextAnalyzer,
    negatives: Sequence[str],
    *,
    folds: int = 4,
    config: RetrievalConfig | None = None,
    seed: int = 7,
) -> tuple[Calibration, dict[str, float]]:
    config = config or RetrievalConfig()
    rng = random.Random(seed)
    held: list[tuple[int, int]] = [(e, q) for e, entry in enumerate(entries) for q in range(len(entry.questions))]
    rng.shuffle(held)
    features: list[np.ndarray] = []
    labels: list[int] = []
    placeholder = Calibration()
    top1_hits = top1_total = 0
    for fold in range(folds):
        out = {pair for i, pair in enumerate(held) if i % folds == fold}
        reduced = [
            entry.model_copy(update={"questions": [q for j, q in enumerate(entry.questions) if (e, j) not in out]})
            for e, entry in enumerate(entries)
        ]
        index = HybridIndex.build(reduced, analyzer, placeholder, config)
        for e, j in sorted(out):
            rows, row_labels = _candidate_rows(index, entries[e].questions[j], entries[e].id)
            features.extend(rows)
            labels.extend(row_labels)
            top1_total += 1
            top1_hits += bool(row_labels and row_labels[0])
        for query in negatives:
            rows, row_labels = _candidate_rows(index, query, None)
            features.extend(rows)
            labels.extend(row_labels)
    x = np.vstack(features)
    y = np.asarray(labels)
    signal_count = (x.shape[1] - 2) // 2
    calibration = _fit(x[:, _fast_columns(signal_count)], y, FEATURES)
    if index.pretrained_vectors is not None:  # the last fold's index: all were built alike
        calibration.pretrained = _fit(x, y, PRETRAINED_FEATURES)
    stats = {"examples": float(len(y)), "positives": float(y.sum()),
             "heldout_top1_by_sum": top1_hits / max(1, top1_total)}
    log.info("calibration fitted: %s weights=%s bias=%.3f", stats, calibration.weights, calibration.bias)
    return calibration, stats
