"""The default intent classifier: TF-IDF (jieba words + characters) and logistic regression.

The model is trained from ``intents/data/nlu.yml`` plus any ``extra_examples`` (the dialogue layer
adds the knowledge base's questions as ``ask_service``). With a ``model_dir`` the fitted pipeline is
saved there with a hash of everything it was trained from; ``train`` reuses the saved model while
the hash matches and retrains when the data, the parameters or the feature code change.

Saved models are pickles: load them only from a directory this deployment writes itself.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from intents.base import (
    DATA_DIR,
    ExtraExamples,
    FallbackThresholds,
    IntentResult,
    TrainSummary,
    apply_fallback,
    empty_result,
)
from intents.entities import extract_entities
from intents.errors import ModelError, TrainingDataError
from intents.features import (
    FEATURE_VERSION,
    CompiledModel,
    ModelParams,
    build_pipeline,
    prepare,
    prepare_normalized,
)
from intents.training_data import TrainingData, data_hash, load_training_data
from knowledge_base.normalize import normalize

log = logging.getLogger(__name__)

MODEL_FILE = "intent_model.joblib"


@dataclass(frozen=True)
class CrossValidation:
    """Held-out-fold recall per intent (how often its examples were predicted as it)."""

    per_intent: dict[str, float]
    support: dict[str, int]
    accuracy: float
    confusions: list[tuple[str, str, str]]  # (text, expected, predicted)


class SklearnIntentClassifier:
    """``IntentClassifier`` backed by scikit-learn; thread-safe for concurrent ``classify`` calls."""

    name = "sklearn"

    def __init__(
        self,
        *,
        model_dir: Path | str | None = None,
        data_dir: Path | str = DATA_DIR,
        thresholds: FallbackThresholds | None = None,
        params: ModelParams | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.data_dir = Path(data_dir)
        self.thresholds = thresholds or FallbackThresholds()
        self.params = params or ModelParams()
        self._today = today
        self._compiled: CompiledModel | None = None
        self._pipeline: Pipeline | None = None
        self._hash = ""
        self._train_lock = threading.Lock()

    # --- training -------------------------------------------------------------------------------

    @property
    def is_trained(self) -> bool:
        return self._compiled is not None

    @property
    def classes(self) -> list[str]:
        return list(self._compiled.classes) if self._compiled else []

    def load_data(self, extra_examples: ExtraExamples | None = None) -> TrainingData:
        return load_training_data(self.data_dir).with_extra(extra_examples)

    def _hash_for(self, data: TrainingData) -> str:
        return data_hash(data, FEATURE_VERSION, self.params.as_dict(), sklearn.__version__)

    def train(self, extra_examples: ExtraExamples | None = None, *, force: bool = False) -> TrainSummary:
        """Fits the model, or loads the saved one when it was trained from exactly this data."""
        started = time.perf_counter()
        data = self.load_data(extra_examples)
        digest = self._hash_for(data)
        pipeline = None if force else self._load_saved(digest)
        cached = pipeline is not None
        if pipeline is None:
            texts, labels = _flatten(data)
            pipeline = build_pipeline(self.params)
            # One BLAS thread: on this small problem more threads cost several times more than they save.
            with threadpool_limits(limits=1):
                pipeline.fit(texts, labels)
            self._save(pipeline, digest)
        self._pipeline = pipeline
        self._compiled = CompiledModel(pipeline)
        self._hash = digest
        summary = TrainSummary(data.counts(), digest, cached, time.perf_counter() - started)
        log.info("intent model %s (%d intents, %d examples) in %.2fs",
                 "loaded" if cached else "trained", len(summary.examples_per_intent),
                 sum(summary.examples_per_intent.values()), summary.seconds)
        return summary

    def _model_path(self) -> Path | None:
        return self.model_dir / MODEL_FILE if self.model_dir is not None else None

    def _load_saved(self, digest: str) -> Pipeline | None:
        path = self._model_path()
        if path is None or not path.exists():
            return None
        try:
            saved = joblib.load(path)
        except Exception as e:  # a truncated or foreign file is replaced, not fatal
            log.warning("saved intent model %s unreadable (%s); retraining", path, type(e).__name__)
            return None
        if not isinstance(saved, dict) or saved.get("hash") != digest:
            log.info("training data changed since %s was saved; retraining", path)
            return None
        pipeline = saved.get("pipeline")
        return pipeline if isinstance(pipeline, Pipeline) else None

    def _save(self, pipeline: Pipeline, digest: str) -> None:
        path = self._model_path()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so another worker never reads a half-written model.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".intent_model.", suffix=".tmp")
            os.close(fd)
            joblib.dump({"hash": digest, "pipeline": pipeline, "feature_version": FEATURE_VERSION}, tmp)
            os.replace(tmp, path)
        except OSError as e:
            raise ModelError(f"cannot save intent model to {path}: {e.strerror or e}") from e

    # --- prediction -----------------------------------------------------------------------------

    def classify(self, text: str) -> IntentResult:
        if self._compiled is None:
            # Several request threads may arrive before the first training finishes; train once.
            with self._train_lock:
                if self._compiled is None:
                    self.train()
        assert self._compiled is not None
        if not isinstance(text, str):
            return empty_result()
        normalized = normalize(text)
        entities = extract_entities(normalized, today=self._today(), normalized=True)
        prepared = prepare_normalized(normalized)
        if not prepared:
            return empty_result(entities=entities)
        probabilities = self._compiled.probabilities(prepared)
        order = np.argsort(-probabilities)
        classes = self._compiled.classes
        ranking = [(classes[i], float(probabilities[i])) for i in order]
        result = IntentResult(ranking[0][0], ranking[0][1], ranking, entities)
        result = apply_fallback(result, self.thresholds)
        log.debug("intent %s %.3f (top %s)", result.name, result.confidence, ranking[0][0])
        return result

    def probabilities_reference(self, text: str) -> dict[str, float]:
        """The scikit-learn pipeline's own probabilities; the oracle for ``CompiledModel`` in tests."""
        if self._pipeline is None:
            self.train()
        assert self._pipeline is not None
        row = self._pipeline.predict_proba([prepare(text)])[0]
        return {str(c): float(p) for c, p in zip(self._pipeline.classes_, row, strict=True)}

    # --- evaluation -----------------------------------------------------------------------------

    def cross_validate(self, folds: int = 5, extra_examples: ExtraExamples | None = None,
                       seed: int = 13) -> CrossValidation:
        data = self.load_data(extra_examples)
        texts, labels = _flatten(data)
        smallest = min(data.counts().values())
        if smallest < folds:
            raise TrainingDataError(f"cross-validation needs ≥{folds} examples per intent, one has {smallest}")
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        with threadpool_limits(limits=1):
            predicted = cross_val_predict(build_pipeline(self.params), texts, labels, cv=splitter)
        per_intent: dict[str, float] = {}
        support: dict[str, int] = {}
        for intent in sorted(set(labels)):
            rows = [i for i, label in enumerate(labels) if label == intent]
            support[intent] = len(rows)
            per_intent[intent] = sum(predicted[i] == intent for i in rows) / len(rows)
        confusions = [(texts[i], labels[i], str(predicted[i]))
                      for i in range(len(labels)) if predicted[i] != labels[i]]
        accuracy = 1 - len(confusions) / len(labels)
        return CrossValidation(per_intent, support, accuracy, confusions)


def _flatten(data: TrainingData) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for intent, examples in sorted(data.examples.items()):
        for example in examples:
            prepared = prepare(example)
            if prepared:
                texts.append(prepared)
                labels.append(intent)
    if len(set(labels)) < 2:
        raise TrainingDataError("training needs examples of at least two intents")
    return texts, labels
