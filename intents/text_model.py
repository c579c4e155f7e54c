"""A small text classifier (the intent model's features and arithmetic) for the auxiliary recognisers.

The aspect recogniser and the emergency detector are trained from shipped data only, so one fitted model
serves every engine of a process: models are kept in memory by the hash of their training data, and on disk
in ``model_dir`` (written then renamed, like the intent model) so other workers load instead of training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from threadpoolctl import threadpool_limits

from intents.errors import TrainingDataError
from intents.features import FEATURE_VERSION, CompiledModel, ModelParams, build_pipeline, prepare_normalized
from knowledge_base.normalize import normalize

log = logging.getLogger(__name__)

_MEMORY: dict[str, CompiledModel] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Ranked:
    """Labels with probabilities, best first."""

    ranking: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.ranking[0][0]

    @property
    def confidence(self) -> float:
        return self.ranking[0][1]

    def probability(self, label: str) -> float:
        return next((p for name, p in self.ranking if name == label), 0.0)


class TextModel:
    def __init__(self, compiled: CompiledModel) -> None:
        self.compiled = compiled

    def rank(self, normalized: str) -> Ranked | None:
        """``normalized`` is text that went through ``normalize``; None when nothing is left of it."""
        prepared = prepare_normalized(normalized)
        if not prepared:
            return None
        probabilities = self.compiled.probabilities(prepared)
        order = np.argsort(-probabilities)
        return Ranked([(self.compiled.classes[i], float(probabilities[i])) for i in order])


def examples_hash(name: str, examples: Mapping[str, Sequence[str]], params: ModelParams) -> str:
    payload = json.dumps({"name": name, "examples": {k: list(v) for k, v in sorted(examples.items())},
                          "params": params.as_dict(), "features": FEATURE_VERSION, "sklearn": sklearn.__version__},
                         ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def train_text_model(name: str, examples: Mapping[str, Sequence[str]], *, params: ModelParams | None = None,
                     model_dir: Path | None = None) -> TextModel:
    """Fits (or loads the saved fit of) a classifier over ``examples`` (label → texts)."""
    params = params or ModelParams()
    digest = examples_hash(name, examples, params)
    with _LOCK:
        compiled = _MEMORY.get(digest)
        if compiled is None:
            compiled = _load(model_dir, name, digest) or _fit(name, examples, params, model_dir, digest)
            _MEMORY[digest] = compiled
    return TextModel(compiled)


def _fit(name: str, examples: Mapping[str, Sequence[str]], params: ModelParams, model_dir: Path | None,
         digest: str) -> CompiledModel:
    started = time.perf_counter()
    texts: list[str] = []
    labels: list[str] = []
    for label, items in sorted(examples.items()):
        for text in items:
            prepared = prepare_normalized(normalize(text))
            if prepared:
                texts.append(prepared)
                labels.append(label)
    if len(set(labels)) < 2:
        raise TrainingDataError(f"{name}: training needs examples of at least two labels")
    pipeline = build_pipeline(params)
    with threadpool_limits(limits=1):
        pipeline.fit(texts, labels)
    compiled = CompiledModel(pipeline)
    log.info("%s model trained (%d labels, %d examples) in %.2fs", name, len(set(labels)), len(texts),
             time.perf_counter() - started)
    if model_dir is not None:
        path = model_dir / f"{name}_model.joblib"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            joblib.dump({"hash": digest, "compiled": compiled}, tmp)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only model folder costs a retraining, nothing more
            log.warning("cannot save the %s model: %s", name, exc.strerror or exc)
    return compiled


def _load(model_dir: Path | None, name: str, digest: str) -> CompiledModel | None:
    if model_dir is None:
        return None
    path = model_dir / f"{name}_model.joblib"
    if not path.exists():
        return None
    try:
        saved = joblib.load(path)  # our own file, written by _fit
    except Exception as exc:  # a truncated or foreign file is replaced, not fatal
        log.warning("saved %s model unreadable (%s); retraining", name, type(exc).__name__)
        return None
    if not isinstance(saved, dict) or saved.get("hash") != digest or not isinstance(saved.get("compiled"),
                                                                                       CompiledModel):
        return None
    return saved["compiled"]
