"""The learned aspect recogniser and emergency detector, trained on the shipped data, on messages of their own.

None of these strings is training data (tests/test_eval_sets.py checks the evaluation sets; these are checked
here): they say whether the models generalise beyond their phrasings, not whether they memorised them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dialogue.policy import PolicyThresholds
from intents.aspects import GENERAL, LearnedAspectRecognizer
from intents.emergency import (
    EMERGENCY_FILE,
    KINDS,
    NONE,
    EmergencyExamples,
    LearnedEmergencyDetector,
    load_emergency_examples,
)
from knowledge_base.aspects import aspect_table
from knowledge_base.normalize import normalize

ASPECT_PROBES = {
    "那得准备哪些东西": "materials", "要不要带户口本过去": "materials", "上哪儿去办这个": "location",
    "办好了大概要几天": "time", "这个一分钱都不用出吧": "fees", "有没有热线能问问": "contact",
    "在手机上弄得了吗": "online", "我这种情况够格吗": "eligibility", "第一步先干啥": "process",
    "是按哪个文件规定的": "policy",
}
EMERGENCY_PROBES = ["我婆婆在厨房倒下了喊她也没反应", "楼道里全是黑烟呛得睁不开眼", "屋里一股煤气味我头好晕",
                    "河里有个小孩在扑腾快沉下去了", "隔壁男的拿着刀在砍门"]
SAFE_PROBES = ["冬天烧炭取暖怎么防中毒", "以前被电动车撞过现在能评残疾吗", "抢救的费用医保报不报",
               "热得要命空调费能补贴吗", "万一家里进水了先做什么"]


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> LearnedAspectRecognizer:
    return LearnedAspectRecognizer.train(aspect_table().training_examples(), ["高龄津贴", "低保", "社保卡"],
                                         model_dir=tmp_path_factory.mktemp("aspect"))


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> LearnedEmergencyDetector:
    return LearnedEmergencyDetector.train(model_dir=tmp_path_factory.mktemp("emergency"))


def _training_texts() -> set[str]:
    texts = {p for phrasings in aspect_table().training_examples().values() for p in phrasings}
    texts |= {t for items in load_emergency_examples(EMERGENCY_FILE).values() for t in items}
    return texts


def test_the_probes_are_not_training_data() -> None:
    training = _training_texts()
    assert not (set(ASPECT_PROBES) | set(EMERGENCY_PROBES) | set(SAFE_PROBES)) & training


@pytest.mark.slow
def test_elliptical_follow_ups_are_recognised(recognizer: LearnedAspectRecognizer) -> None:
    right = sum(recognizer.predict(normalize(q)).name == aspect for q, aspect in ASPECT_PROBES.items())
    assert right >= len(ASPECT_PROBES) - 1


@pytest.mark.slow
def test_a_service_name_alone_is_no_aspect(recognizer: LearnedAspectRecognizer) -> None:
    for text in ("高龄津贴", "那低保呢", "社保卡"):
        prediction = recognizer.predict(normalize(text))
        assert prediction.name is None and prediction.ranking[0][0] == GENERAL, text


@pytest.mark.slow
def test_stories_of_danger_are_recognised_and_safety_questions_are_not(detector: LearnedEmergencyDetector) -> None:
    threshold = PolicyThresholds().emergency_model
    assert all(detector.read(normalize(t)).danger >= threshold for t in EMERGENCY_PROBES)
    assert sum(detector.read(normalize(t)).danger >= threshold for t in SAFE_PROBES) == 0


def test_unknown_emergency_kinds_are_refused(tmp_path: Path) -> None:
    from intents.errors import TrainingDataError

    bad = tmp_path / "emergency.yml"
    bad.write_text("emergency:\n  alien: [外星人来了]\nnot_emergency: [你好]\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="alien"):
        load_emergency_examples(bad)


def test_example_groups_for_the_encoder_are_one_per_kind_then_the_calm_ones(tmp_path: Path) -> None:
    examples = load_emergency_examples(with_intents=False)
    # without the intents' examples, the calm group is the file's own examples of no emergency
    assert examples[NONE] and "你好" not in examples[NONE]
    groups = EmergencyExamples.from_examples(examples, calm=["比特币多少钱", examples[NONE][0]])
    assert groups.kinds == tuple(k for k in KINDS if examples.get(k))
    assert len(groups.groups) == len(groups.kinds) + 1
    assert groups.groups[-1][-1] == "比特币多少钱" and len(set(groups.groups[-1])) == len(groups.groups[-1])
    # the nearest kind and its lead over the nearest calm example
    two = EmergencyExamples(("medical", "fire"), (("a",), ("b",), ("c",)))
    kind, lead = two.nearest_kind([0.80, 0.86, 0.84])
    assert kind == "fire" and lead == pytest.approx(0.02)
    assert two.nearest_kind([0.9, 0.8]) == (None, float("-inf"))  # not one cosine per group: no reading
