"""Intent classification and entity extraction for 社区小助手.

Typical use by the dialogue layer::

    from intents import IntentConfig, create_classifier

    classifier = create_classifier(IntentConfig(model_dir=settings.var_dir / "intents"))
    classifier.train({"ask_service": kb_questions})   # reuses the saved model when nothing changed
    result = classifier.classify("我妈八十多岁了，高龄津贴怎么申请")
    result.name, result.confidence, result.ranking, result.first("age")

Heavy implementations (scikit-learn, httpx) are imported on first use of their names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intents.base import (
    FALLBACK_INTENT,
    INTENTS,
    Entity,
    FallbackThresholds,
    IntentClassifier,
    IntentResult,
    TrainSummary,
    apply_fallback,
)
from intents.choices import resolve_choice
from intents.entities import extract_entities, is_valid_id_number
from intents.errors import (
    ConfigurationError,
    ExportError,
    IntentsError,
    ModelError,
    RasaResponseError,
    RasaServerError,
    RasaUnavailableError,
    TrainingDataError,
    UnknownClassifierError,
)
from intents.registry import IntentConfig, available_classifiers, create_classifier, register_classifier

if TYPE_CHECKING:
    from intents.export_rasa import export_rasa_project
    from intents.fake import FakeIntentClassifier
    from intents.rasa_http import RasaHttpClassifier
    from intents.sklearn_classifier import SklearnIntentClassifier

_LAZY = {
    "SklearnIntentClassifier": "intents.sklearn_classifier",
    "RasaHttpClassifier": "intents.rasa_http",
    "FakeIntentClassifier": "intents.fake",
    "export_rasa_project": "intents.export_rasa",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'intents' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


__all__ = [
    "FALLBACK_INTENT", "INTENTS", "ConfigurationError", "Entity", "ExportError", "FakeIntentClassifier",
    "FallbackThresholds", "IntentClassifier", "IntentConfig", "IntentResult", "IntentsError", "ModelError",
    "RasaHttpClassifier", "RasaResponseError", "RasaServerError", "RasaUnavailableError",
    "SklearnIntentClassifier", "TrainSummary", "TrainingDataError", "UnknownClassifierError",
    "apply_fallback", "available_classifiers", "create_classifier", "export_rasa_project",
    "extract_entities", "is_valid_id_number",
    "register_classifier", "resolve_choice",
]
