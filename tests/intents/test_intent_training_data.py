"""The Rasa training files: structure, coverage, annotations, regexes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from intents.base import DATA_DIR, INTENTS
from intents.errors import TrainingDataError
from intents.training_data import (
    MIN_EXAMPLES_PER_INTENT,
    TrainingData,
    load_training_data,
    parse_nlu,
    strip_annotations,
    validate,
)

# Words that place an ask_service example in one of the 15 service categories.
CATEGORY_WORDS = {
    "社保": "社保|养老保险|养老金|退休|失业金|工伤|社宝|养老今",
    "医保": "医保|报销|备案|慢性病|大病|医宝",
    "养老": "高龄|老人补贴|养老院|居家养老|送饭|老年食堂|优待证|日间照料|扶手|呼叫|长寿",
    "救助": "低保|救助|特困|五保|低包|孤寡",
    "残疾": "残疾|轮椅|助听器|盲人",
    "卫健": "家庭医生|体检|疫苗|卫生服务|出生证明|随访|社区医院|建档",
    "就业": "失业登记|就业|培训|创业|招工|岗位|找工作|找不到工作",
    "户籍": "身份证|身分证|户口|居住证|无犯罪",
    "生育托育": "生育|育儿|托儿|托管|留守|孤儿|产检|二胎|三孩|小孩被|虐待",
    "住房物业": "公租房|廉租房|电梯|物业|公积金|老旧小区|维修基金",
    "社区事务": "证明|选举|活动室|志愿者|垃圾|电动车|党组织|纠纷|法律援助|居委会|服务中心|楼道|噪音",
    "应急": "台风|暴雨|诈骗|骗子|燃气报警|煤气|逃生|避难|地震|洪水|滑坡|报警电话",
    "殡葬": "火化|殡葬|去世|过世|丧葬|骨灰|死亡证明|人走了",
    "便民": "水费|电费|燃气费|快递|开锁|理发|自助机|机子|一体机|家政|修家电",
    "退役军人": "退伍|退役|当过兵|复员|军属|军人",
}
NEAR_MISSES = ["护照", "通行证", "车牌|上牌|驾照|驾驶证|违章", "高考|志愿", "个税|所得税", "房贷|利率", "签证", "彩票|双色球"]


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return load_training_data()


def test_every_intent_has_enough_examples(data: TrainingData) -> None:
    assert set(data.examples) == set(INTENTS)
    for intent in INTENTS:
        assert len(data.examples[intent]) >= MIN_EXAMPLES_PER_INTENT, intent
        assert len(set(data.examples[intent])) == len(data.examples[intent]), f"duplicates in {intent}"


def test_no_example_under_two_intents(data: TrainingData) -> None:
    owner: dict[str, str] = {}
    for intent, texts in data.examples.items():
        for text in texts:
            assert owner.setdefault(text, intent) == intent, text


@pytest.mark.parametrize("category", list(CATEGORY_WORDS))
def test_ask_service_covers_every_category(data: TrainingData, category: str) -> None:
    pattern = re.compile(CATEGORY_WORDS[category])
    assert sum(bool(pattern.search(t)) for t in data.examples["ask_service"]) >= 5


@pytest.mark.parametrize("words", NEAR_MISSES)
def test_out_of_scope_covers_near_misses(data: TrainingData, words: str) -> None:
    pattern = re.compile(words)
    assert sum(bool(pattern.search(t)) for t in data.examples["out_of_scope"]) >= 4


def test_report_issue_examples_are_requests_not_questions(data: TrainingData) -> None:
    # "Which department handles a broken lamp?" is ask_service; reports state a problem.
    asking = re.compile(r"找哪个部门|找谁|哪里反映|怎么反映|该打哪个电话")
    assert not [t for t in data.examples["report_issue"] if asking.search(t)]


def test_entity_annotations_parse(data: TrainingData) -> None:
    kinds = {a.entity for spans in data.annotations.values() for a in spans}
    domain = yaml.safe_load((DATA_DIR / "domain.yml").read_text(encoding="utf-8"))
    assert kinds <= set(domain["entities"])
    for text, spans in data.annotations.items():
        for span in spans:
            assert 0 <= span.start < span.end <= len(text)


def test_strip_annotations() -> None:
    plain, spans = strip_annotations('查[GX20261120003](ticket_number)和[邕城]{"entity": "city", "value": "南宁市"}')
    assert plain == "查GX20261120003和邕城"
    assert (spans[0].start, spans[0].end, spans[0].entity) == (1, 14, "ticket_number")
    assert (spans[1].entity, spans[1].value, plain[spans[1].start:spans[1].end]) == ("city", "南宁市", "邕城")
    with pytest.raises(TrainingDataError):
        strip_annotations('[x]{"entity": }')


def test_regexes_match_what_they_should(data: TrainingData) -> None:
    def matches(name: str, text: str) -> bool:
        return any(re.fullmatch(p, text) for p in data.regexes[name])

    assert matches("ticket_number", "GX20261120003") and matches("ticket_number", "gx202611200031")
    assert not matches("ticket_number", "GX20261320003")
    assert matches("phone", "13812345678") and not matches("phone", "12812345678")
    assert matches("id_number", "450103199001011238") and matches("id_number", "11010519491231002X")
    assert not matches("id_number", "450103199013011238")


def test_synonyms_cover_city_aliases(data: TrainingData) -> None:
    assert "邕城" in data.synonyms["南宁市"]
    assert "横县" in data.synonyms["横州市"]
    assert "退休金" in data.synonyms["养老金"]


def test_domain_and_rules_parse() -> None:
    domain = yaml.safe_load((DATA_DIR / "domain.yml").read_text(encoding="utf-8"))
    rules = yaml.safe_load((DATA_DIR / "rules.yml").read_text(encoding="utf-8"))
    assert set(domain["intents"]) == set(INTENTS)
    for slot in domain["slots"].values():
        for mapping in slot["mappings"]:
            assert mapping["entity"] in domain["entities"]
    known_actions = set(domain["responses"]) | set(domain["actions"])
    ruled = set()
    for rule in rules["rules"]:
        for step in rule["steps"]:
            if "intent" in step:
                ruled.add(step["intent"])
                assert step["intent"] in (*INTENTS, "nlu_fallback")
            else:
                assert step["action"] in known_actions
    assert ruled >= set(INTENTS)
    for name, variants in domain["responses"].items():
        assert name.startswith("utter_") and all(v["text"] for v in variants)


@pytest.mark.parametrize("content,message", [
    ("nlu: 3", "expected a mapping"),
    ("nlu:\n- intent: greet\n  examples: 5", "block"),
    ("nlu:\n- intent: greet\n  examples: |\n    hello\n", "must start with"),
    ("nlu:\n- regex: x\n  examples: |\n    - ([\n", "invalid"),
    ("nlu:\n- intent: a\n  lookup: b\n  examples: |\n    - x\n", "exactly one"),
])
def test_malformed_nlu_rejected(content: str, message: str) -> None:
    with pytest.raises(TrainingDataError, match=message):
        parse_nlu(yaml.safe_load(content))


def test_missing_and_thin_intents_reported(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="cannot read"):
        load_training_data(tmp_path)
    (tmp_path / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - 你好\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="intent greet has 1 examples"):
        load_training_data(tmp_path)
    (tmp_path / "nlu.yml").write_text("nlu: [unclosed", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="not valid YAML"):
        load_training_data(tmp_path)


def test_contradicting_examples_reported() -> None:
    data = TrainingData(examples={"greet": ["你好"] * 1, "thanks": ["你好"]})
    with pytest.raises(TrainingDataError, match="under both"):
        validate(data, required=("greet", "thanks"), minimum=1)


def test_with_extra_skips_blank_and_duplicate(data: TrainingData) -> None:
    first = data.examples["ask_service"][0]
    merged = data.with_extra({"ask_service": ["", "  ", first, "新问题"], "new_intent": ["x"]})
    assert merged.examples["ask_service"] == [*data.examples["ask_service"], "新问题"]
    assert merged.examples["new_intent"] == ["x"]
    assert data.with_extra(None) is data


def test_with_extra_never_overrules_the_training_files(data: TrainingData) -> None:
    capability = data.examples["bot_capabilities"][0]
    merged = data.with_extra({"ask_service": [capability, capability.upper() + " ", "低保怎么申请呀"]})
    assert capability not in merged.examples["ask_service"]
    assert merged.examples["ask_service"][-1] == "低保怎么申请呀"
    assert merged.examples["bot_capabilities"] == data.examples["bot_capabilities"]
