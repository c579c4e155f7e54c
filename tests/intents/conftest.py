from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from intents.base import FallbackThresholds
from intents.sklearn_classifier import SklearnIntentClassifier

REPO = Path(__file__).resolve().parents[2]
DEV_QUERIES = REPO.parent / "shared" / "eval" / "dev_queries.yaml"
TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.fixture(scope="session")
def dev_set() -> dict:
    if not DEV_QUERIES.exists():
        pytest.skip(f"development set not found at {DEV_QUERIES}")
    return yaml.safe_load(DEV_QUERIES.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intent_model")


@pytest.fixture(scope="session")
def classifier(model_dir: Path) -> SklearnIntentClassifier:
    """Trained once per session with the default thresholds (those of Settings)."""
    clf = SklearnIntentClassifier(model_dir=model_dir, thresholds=FallbackThresholds(0.45, 0.08),
                                  today=lambda: TODAY)
    clf.train()
    return clf
