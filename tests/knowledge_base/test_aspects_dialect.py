"""The aspect table and the dialect lexicon: one source each, valid, and used by everything that shows them."""

from __future__ import annotations

import pytest

from knowledge_base.aspects import ASPECT_NAMES, GENERAL, MIN_PHRASINGS, aspect_table, parse_aspect_table
from knowledge_base.dialect import DialectLexicon, load_dialect
from knowledge_base.engine import DATA_DIR
from knowledge_base.errors import ValidationFailed
from knowledge_base.models import ASPECTS, Aspects

# --- aspect table ------------------------------------------------------------------------------------------


def test_the_table_lists_exactly_the_entry_model_aspects_with_enough_phrasings() -> None:
    table = aspect_table()
    assert tuple(spec.name for spec in table.aspects) == ASPECT_NAMES == tuple(Aspects.model_fields)
    assert table.general.name == GENERAL
    for spec in (*table.aspects, table.general):
        assert len(spec.phrasings) >= MIN_PHRASINGS, spec.name
        assert spec.label and spec.lead and 0 < len(spec.button) <= 5, spec.name


def test_every_place_that_names_aspects_takes_the_table() -> None:
    from assistant.console.entry_form import FIELD_LABELS
    from assistant.dialogue.engine import DialogueEngine
    from kiosk_app import texts

    table = aspect_table()
    assert table.labels() == ASPECTS  # entry model, spreadsheets, console
    assert {f"aspect_{k}": v for k, v in table.labels().items()}.items() <= FIELD_LABELS.items()
    assert {name: table.buttons()[name] for name in texts.KIOSK_ASPECTS} == texts.ASPECT_LABELS
    assert "ASPECT_LEADS" not in vars(DialogueEngine)  # the engine reads leads and buttons from the table


def test_a_broken_table_is_refused_with_the_reason() -> None:
    rows = [{"name": n, "label": "标签", "lead": "开头", "button": "按钮", "phrasings": [f"问法{i}" for i in range(60)]}
            for n in (*ASPECT_NAMES, GENERAL)]
    assert parse_aspect_table({"aspects": rows}, "t").general.name == GENERAL
    with pytest.raises(ValidationFailed, match="order"):
        parse_aspect_table({"aspects": rows[::-1]}, "t")
    short = [dict(rows[0], phrasings=["要带啥"]), *rows[1:]]
    with pytest.raises(ValidationFailed, match="60"):
        parse_aspect_table({"aspects": short}, "t")


# --- dialect lexicon ---------------------------------------------------------------------------------------

MANDARIN = ["社保关系怎么转移", "联系电话是多少", "一点点", "劳动仲裁", "克服困难", "食品安全", "未成年人保护",
            "好多人排队", "讲座在哪里", "食堂几点开门", "我有点头晕", "快点来人", "社区食堂", "我想了解一下"]


@pytest.fixture(scope="module")
def shipped_lexicon() -> DialectLexicon:
    return load_dialect(DATA_DIR / "dialect.yaml")


def test_the_shipped_lexicon_is_large_and_leaves_mandarin_alone(shipped_lexicon: DialectLexicon) -> None:
    assert len(shipped_lexicon.forms) >= 300
    assert {f.region for f in shipped_lexicon.forms} >= {"粤语", "桂柳话"}
    for sentence in MANDARIN:
        assert shipped_lexicon.apply(sentence) == sentence


@pytest.mark.parametrize(("dialect", "mandarin"), [
    ("使唔使钱", "要不要钱"), ("要等几耐", "要等多久"), ("克哪点办", "去哪里办"), ("我阿妈嘅医保", "我妈妈的医保"),
])
def test_common_forms_become_mandarin(shipped_lexicon: DialectLexicon, dialect: str, mandarin: str) -> None:
    assert shipped_lexicon.apply(dialect) == mandarin


def test_rewriting_twice_changes_nothing(shipped_lexicon: DialectLexicon) -> None:
    text = "我阿妈八十几岁，有冇高龄补贴攞，使唔使畀钱，要等几耐"
    once = shipped_lexicon.apply(text)
    assert shipped_lexicon.apply(once) == once


def test_longest_form_first_and_matches_are_reported() -> None:
    lexicon = DialectLexicon.from_rows([{"form": "唔", "mandarin": "不"}, {"form": "系唔系", "mandarin": "是不是"}])
    assert lexicon.apply("系唔系要钱，唔要") == "是不是要钱，不要"
    assert [f.form for f in lexicon.matches("系唔系要钱")] == ["系唔系"]


@pytest.mark.parametrize(("rows", "message"), [
    ([{"form": "咗", "mandarin": "了"}, {"form": "咗", "mandarin": "了"}], "重复"),
    ([{"form": "BB", "mandarin": "婴儿"}, {"form": "bb", "mandarin": "婴儿"}], "重复"),
    ([{"form": "唔", "mandarin": "不"}, {"form": "冇", "mandarin": "唔有"}], "重复替换"),
    ([{"form": "咗", "mandarin": "了", "region": "火星话"}], "地区"),
    ([{"form": "", "mandarin": "了"}], "不能为空"),
    ("咗=了", "list"),
])
def test_a_bad_lexicon_is_refused_in_chinese(rows: object, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        DialectLexicon.from_rows(rows)
