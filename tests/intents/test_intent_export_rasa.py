"""The exported Rasa 3.6 project parses and is internally consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from intents import INTENTS, ExportError, FallbackThresholds, TrainingDataError
from intents.export_rasa import export_rasa_project, normalize_example
from intents.training_data import load_training_data, parse_nlu


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("rasa") / "project"
    export_rasa_project(target, thresholds=FallbackThresholds(0.5, 0.1),
                        extra_examples={"ask_service": ["粮食补贴怎么领[暂定]", "  "]})
    return target


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_files_written(project: Path) -> None:
    for name in ("config.yml", "domain.yml", "data/nlu.yml", "data/rules.yml", "README.md",
                 "jieba_userdict/shequ.txt"):
        assert (project / name).is_file(), name
    assert "rasa train" in (project / "README.md").read_text(encoding="utf-8")


def test_config(project: Path) -> None:
    config = load(project / "config.yml")
    assert config["language"] == "zh"
    names = [c["name"] for c in config["pipeline"]]
    assert names[0] == "JiebaTokenizer" and names[-1] == "FallbackClassifier"
    for required in ("RegexFeaturizer", "LexicalSyntacticFeaturizer", "DIETClassifier", "EntitySynonymMapper"):
        assert required in names
    vectorizers = [c for c in config["pipeline"] if c["name"] == "CountVectorsFeaturizer"]
    assert [v.get("analyzer", "word") for v in vectorizers] == ["word", "char_wb"]
    fallback = config["pipeline"][-1]
    assert (fallback["threshold"], fallback["ambiguity_threshold"]) == (0.5, 0.1)
    assert {p["name"] for p in config["policies"]} == {"RulePolicy", "MemoizationPolicy", "TEDPolicy"}
    regex = next(c for c in config["pipeline"] if c["name"] == "RegexFeaturizer")
    assert regex["use_word_boundaries"] is False  # Chinese has no spaces between words


def test_nlu_contains_every_intent_and_parses_back(project: Path) -> None:
    raw = load(project / "data" / "nlu.yml")
    assert raw["version"] == "3.1"
    exported = parse_nlu(raw)
    source = load_training_data()
    assert set(exported.examples) == set(INTENTS)
    for intent in INTENTS:
        assert len(exported.examples[intent]) >= 25
        assert len(exported.examples[intent]) <= len(source.examples[intent]) + (1 if intent == "ask_service" else 0)
    assert "粮食补贴怎么领暂定" in exported.examples["ask_service"]
    owner: dict[str, str] = {}
    for intent, texts in exported.examples.items():
        for text in texts:
            assert owner.setdefault(text, intent) == intent
    assert set(exported.lookups) == {"city", "district"} and len(exported.lookups["city"]) >= 14
    assert set(exported.regexes) == {"ticket_number", "phone", "id_number"}
    assert exported.synonyms["南宁市"]


def test_entities_and_actions_consistent(project: Path) -> None:
    domain = load(project / "domain.yml")
    rules = load(project / "data" / "rules.yml")
    exported = parse_nlu(load(project / "data" / "nlu.yml"))
    assert set(domain["intents"]) == set(INTENTS)
    used = {a.entity for spans in exported.annotations.values() for a in spans}
    assert used <= set(domain["entities"])
    assert set(exported.regexes) | set(exported.lookups) <= set(domain["entities"])
    actions = set(domain["responses"]) | set(domain["actions"])
    for rule in rules["rules"]:
        for step in rule["steps"]:
            assert step.get("intent", "x") in (*INTENTS, "nlu_fallback", "x")
            assert step.get("action", "utter_greet") in actions


def test_examples_are_normalised_with_annotations_intact() -> None:
    assert normalize_example("我媽[八十五歲](age)了") == "我妈[85岁](age)了"
    assert normalize_example('查[ＧＸ２０２６１１２０００３]{"entity": "ticket_number"}') == \
        '查[gx20261120003]{"entity": "ticket_number"}'
    assert normalize_example('[邕城]{"entity": "city", "value": "南宁市"}') == \
        '[邕城]{"entity": "city", "value": "南宁市"}'


def test_userdict_has_places(project: Path) -> None:
    words = (project / "jieba_userdict" / "shequ.txt").read_text(encoding="utf-8").split("\n")
    assert "西乡塘区 20000" in words and "转人工 20000" in words
    assert all(re.fullmatch(r"\S+ \d+", w) for w in words if w)


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ExportError, match="not empty"):
        export_rasa_project(tmp_path)
    written = export_rasa_project(tmp_path, overwrite=True)
    assert (tmp_path / "keep.txt").exists() and len(written) == 6
    file_target = tmp_path / "keep.txt"
    with pytest.raises(ExportError, match="not a directory"):
        export_rasa_project(file_target)


def test_bad_source_data(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError):
        export_rasa_project(tmp_path / "out", data_dir=tmp_path / "nowhere")
