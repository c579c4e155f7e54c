"""The evaluation sets stay out of every training file, and are the size the issue asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from assistant.dialogue import payloads
from assistant.evaluation import case_files, load_cases, matches
from assistant.settings import PROJECT_ROOT
from knowledge_base.aspects import ASPECT_NAMES

EVAL = PROJECT_ROOT / "eval"
KB_DATA = PROJECT_ROOT / "knowledge_base" / "data"
INTENT_DATA = PROJECT_ROOT / "intents" / "data"
EXPECT_KEYS = {"topic", "aspect", "intent", "referral", "mentions", "clarify", "min_options", "any_of", "not_intent"}


def _case_strings(folder: Path) -> Iterator[tuple[str, dict]]:
    for path in case_files(folder):
        data = load_cases(path)
        for case in data.get("cases") or []:
            yield str(case["q"]), case["expect"]
        for dialogue in data.get("dialogues") or []:
            for turn in dialogue["turns"]:
                yield str(turn["q"]), turn["expect"]


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


# The files models learn phrasings from (the dictionaries — synonyms, dialect, broad terms — list words, and a
# one-word case such as 「医保」 may well be one of them).
TRAINING_FILES = [KB_DATA / "aspects.yaml", KB_DATA / "calibration_negatives.yaml", *(KB_DATA / "entries").glob("*.yaml"),
                  INTENT_DATA / "nlu.yml", INTENT_DATA / "emergency.yml"]


def _training_strings() -> set[str]:
    files = TRAINING_FILES
    texts: set[str] = set()
    for path in files:
        for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            texts.add(text.strip())
            # nlu.yml keeps examples as one block of "- text" lines
            texts.update(line.lstrip("- ").strip() for line in text.splitlines() if line.strip())
    return texts


@pytest.mark.parametrize("folder", ["challenge", "heldout", "heldout_b", "heldout_c", "heldout_d"])
def test_no_case_string_is_training_data(folder: str) -> None:
    training = _training_strings()
    leaked = [q for q, _ in _case_strings(EVAL / folder)
              if q.strip() in training and payloads.parse(q) is None]
    assert leaked == []


@pytest.mark.parametrize("folder", ["challenge", "heldout", "heldout_b", "heldout_c", "heldout_d"])
def test_case_files_are_well_formed(folder: str) -> None:
    catalog_like = {e.name for e in (KB_DATA / "entries").glob("*.yaml")}
    assert catalog_like
    for q, expect in _case_strings(EVAL / folder):
        assert isinstance(q, str) and q.strip(), q
        assert set(expect) <= EXPECT_KEYS, (q, expect)
        if "aspect" in expect:
            assert expect["aspect"] in ASPECT_NAMES, (q, expect)


def test_the_challenge_set_has_the_size_asked_for() -> None:
    cases = dialogues = 0
    for path in case_files(EVAL / "challenge"):
        data = load_cases(path)
        assert data.get("phenomenon"), path
        cases += len(data.get("cases") or [])
        dialogues += len(data.get("dialogues") or [])
    assert cases >= 600 and dialogues >= 60


def test_the_scorer_reads_every_expectation() -> None:
    from assistant.evaluation import Prediction

    answer = Prediction("s", "a", "ask_service", "materials", 0.9, "answer", "打12315", (), True)
    assert matches({"topic": "a", "aspect": "materials"}, answer)
    assert matches({"referral": True, "mentions": ["12315"]}, answer)
    assert not matches({"referral": True, "mentions": ["12366"]}, answer)
    assert matches({"intent": "out_of_scope"}, answer)  # a referral is not a service topic
    clarify = Prediction("s", None, "ask_service", action="clarify", options=("a", "b", "c"))
    assert matches({"clarify": True, "min_options": 3}, clarify)
    assert matches({"any_of": ["a", "b"]}, clarify)
    assert not matches({"clarify": True, "min_options": 4}, clarify)
    alarm = Prediction("s", None, "emergency", action="emergency")
    assert matches({"intent": "emergency"}, alarm)
    assert not matches({"not_intent": "emergency"}, alarm)
    assert matches({"not_intent": "emergency"}, clarify)
