"""Choosing a classifier by name, the fake, and the FallbackClassifier rule."""

from __future__ import annotations

from pathlib import Path

import pytest

import intents
from intents import (
    FALLBACK_INTENT,
    ConfigurationError,
    FallbackThresholds,
    IntentClassifier,
    IntentConfig,
    IntentResult,
    UnknownClassifierError,
    apply_fallback,
    available_classifiers,
    create_classifier,
    register_classifier,
)
from intents.fake import FakeIntentClassifier


def test_registered_names() -> None:
    assert {"sklearn", "rasa", "fake"} <= set(available_classifiers())


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownClassifierError, match=r"unknown intent classifier 'bert'.*fake.*rasa.*sklearn"):
        create_classifier(IntentConfig(classifier="bert"))
    with pytest.raises(ValueError):
        create_classifier(classifier="bert")


def test_bad_settings_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="rasa_url"):
        create_classifier(classifier="rasa")
    with pytest.raises(ConfigurationError, match="confidence_threshold"):
        create_classifier(classifier="fake", confidence_threshold=1.5)
    with pytest.raises(ConfigurationError, match="unknown intent setting"):
        create_classifier(colour="blue")
    with pytest.raises(ConfigurationError, match="already registered"):
        register_classifier("fake", lambda config: FakeIntentClassifier())


def test_each_implementation_satisfies_the_protocol(tmp_path: Path) -> None:
    built = [
        create_classifier(classifier="fake"),
        create_classifier(classifier="sklearn", model_dir=tmp_path),
        create_classifier(classifier="RASA", rasa_url="http://127.0.0.1:9"),
    ]
    for classifier in built:
        assert isinstance(classifier, IntentClassifier)
    assert [c.name for c in built] == ["fake", "sklearn", "rasa"]  # type: ignore[attr-defined]
    assert built[1].thresholds == FallbackThresholds(0.45, 0.08)  # type: ignore[attr-defined]


def test_register_a_new_implementation() -> None:
    register_classifier("always-greet", lambda config: FakeIntentClassifier(default=("greet", 0.99)),
                        replace_existing=True)
    assert create_classifier(classifier="always-greet").classify("随便说点").name == "greet"


def test_lazy_package_attributes() -> None:
    assert intents.FakeIntentClassifier is FakeIntentClassifier
    with pytest.raises(AttributeError):
        intents.NoSuchThing  # noqa: B018


def test_fake_classifier() -> None:
    fake = FakeIntentClassifier({"帮我查查": ("check_ticket_status", 0.8), "嗯哼": "affirm"})
    assert fake.classify("帮我查查").name == "check_ticket_status"
    assert fake.classify("嗯哼").confidence == 0.95
    assert fake.classify("救命啊").name == "emergency"
    assert fake.classify("低保怎么申请").name == "ask_service"
    fake.set_response("模棱两可", ("deny", 0.3))
    assert fake.classify("模棱两可").name == FALLBACK_INTENT
    assert fake.classify("").fallback_reason == "empty"
    fake.classify("电话13812345678")
    assert "13812345678" not in " ".join(fake.calls)
    fake.train({"ask_service": ["a", "b"]})
    assert fake.trained_with == {"ask_service": 2}
    assert fake.classify("第二个").first("choice").value == 1


def _result(*ranking: tuple[str, float]) -> IntentResult:
    return IntentResult(ranking[0][0], ranking[0][1], list(ranking))


@pytest.mark.parametrize("ranking,thresholds,name,reason", [
    ((("greet", 0.9), ("thanks", 0.05)), (0.45, 0.08), "greet", None),
    ((("greet", 0.40), ("thanks", 0.30)), (0.45, 0.08), FALLBACK_INTENT, "low_confidence"),
    ((("greet", 0.50), ("thanks", 0.45)), (0.45, 0.08), FALLBACK_INTENT, "ambiguous"),
    ((("greet", 0.50), ("thanks", 0.42)), (0.45, 0.08), "greet", None),  # gap exactly at threshold
    ((("greet", 0.45), ("thanks", 0.10)), (0.45, 0.08), "greet", None),  # confidence exactly at threshold
    ((("greet", 0.6),), (0.45, 0.9), "greet", None),  # one candidate: never ambiguous
    ((("greet", 0.9), ("thanks", 0.05)), (0.0, 0.0), "greet", None),
])
def test_apply_fallback(ranking: tuple, thresholds: tuple, name: str, reason: str | None) -> None:
    result = apply_fallback(_result(*ranking), FallbackThresholds(*thresholds))
    assert (result.name, result.fallback_reason) == (name, reason)
    assert result.ranking == list(ranking)
    if name == FALLBACK_INTENT:
        assert result.confidence == thresholds[0]
        assert result.is_fallback and result.top == ranking[0]


def test_thresholds_validated() -> None:
    with pytest.raises(ValueError):
        FallbackThresholds(-0.1, 0.1)
    with pytest.raises(ValueError):
        FallbackThresholds(0.5, 2)


def test_result_as_dict_is_json_ready() -> None:
    import json

    result = FakeIntentClassifier().classify("我住青秀区，明天去，电话13812345678")
    dumped = json.dumps(result.as_dict(), ensure_ascii=False)
    assert "138****5678" in dumped and "13812345678" not in dumped and "青秀区" in dumped
