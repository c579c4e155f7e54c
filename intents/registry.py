"""Builds an ``IntentClassifier`` from configuration, by name.

Registered names: ``sklearn`` (default, trained locally), ``rasa`` (a Rasa server's
``/model/parse``), ``fake`` (deterministic, for tests). Other packages may register more with
``register_classifier``. Implementations are imported lazily so that choosing ``fake`` never loads
scikit-learn or jieba.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from intents.base import DATA_DIR, FallbackThresholds, IntentClassifier
from intents.errors import ConfigurationError, UnknownClassifierError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentConfig:
    """Everything a classifier needs; the dialogue layer fills it from ``Settings``."""

    classifier: str = "sklearn"
    confidence_threshold: float = 0.45
    ambiguity_threshold: float = 0.08
    model_dir: Path | None = None  # where the sklearn model is saved; None keeps it in memory
    data_dir: Path = DATA_DIR
    rasa_url: str = ""
    rasa_timeout: float = 3.0
    rasa_token: str = ""
    rasa_raise_on_error: bool = False  # False: a failed call yields an nlu_fallback result
    today: Callable[[], date] = field(default=date.today, compare=False)

    @property
    def thresholds(self) -> FallbackThresholds:
        try:
            return FallbackThresholds(self.confidence_threshold, self.ambiguity_threshold)
        except ValueError as e:
            raise ConfigurationError(str(e)) from e


ClassifierFactory = Callable[[IntentConfig], IntentClassifier]
_REGISTRY: dict[str, ClassifierFactory] = {}


def register_classifier(name: str, factory: ClassifierFactory, *, replace_existing: bool = False) -> None:
    key = name.strip().lower()
    if key in _REGISTRY and not replace_existing:
        raise ConfigurationError(f"an intent classifier named {name!r} is already registered")
    _REGISTRY[key] = factory


def available_classifiers() -> list[str]:
    return sorted(_REGISTRY)


def create_classifier(config: IntentConfig | None = None, **overrides: object) -> IntentClassifier:
    """``create_classifier(IntentConfig(classifier="rasa", rasa_url=...))``; keywords override fields."""
    config = config or IntentConfig()
    if overrides:
        try:
            config = replace(config, **overrides)  # type: ignore[arg-type]
        except TypeError as e:
            raise ConfigurationError(f"unknown intent setting: {e}") from e
    factory = _REGISTRY.get(config.classifier.strip().lower())
    if factory is None:
        raise UnknownClassifierError(
            f"unknown intent classifier {config.classifier!r}; available: {', '.join(available_classifiers())}"
        )
    return factory(config)


def _sklearn(config: IntentConfig) -> IntentClassifier:
    from intents.sklearn_classifier import SklearnIntentClassifier

    return SklearnIntentClassifier(
        model_dir=config.model_dir, data_dir=config.data_dir, thresholds=config.thresholds, today=config.today
    )


def _rasa(config: IntentConfig) -> IntentClassifier:
    from intents.rasa_http import RasaHttpClassifier

    if not config.rasa_url:
        raise ConfigurationError("the rasa intent classifier needs rasa_url (e.g. http://localhost:5005)")
    return RasaHttpClassifier(
        config.rasa_url, timeout=config.rasa_timeout, token=config.rasa_token or None,
        thresholds=config.thresholds, raise_on_error=config.rasa_raise_on_error, today=config.today,
    )


def _fake(config: IntentConfig) -> IntentClassifier:
    from intents.fake import FakeIntentClassifier

    return FakeIntentClassifier(thresholds=config.thresholds, today=config.today)


register_classifier("sklearn", _sklearn)
register_classifier("rasa", _rasa)
register_classifier("fake", _fake)
