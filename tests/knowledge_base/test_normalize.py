"""Text normalisation: two spellings of one question must look alike, and no text may break it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.normalize import MAX_NORMALIZED_LENGTH, convert_numerals, normalize, strip_fillers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３！", "abc123!"),  # full-width letters, digits, punctuation; lower case
        ("社保卡（补办）？", "社保卡(补办)?"),
        ("\u3000高龄津贴\u3000", "高龄津贴"),  # ideographic spaces
        ("ﾃｽﾄ", "テスト"),  # half-width katakana composes
    ],
)
def test_nfkc_makes_full_width_half_width(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("醫療保險怎麼辦理", "医疗保险怎么办理"),
        ("養老金領取資格認證", "养老金领取资格认证"),
        ("殘疾人證", "残疾人证"),
    ],
)
def test_traditional_becomes_simplified(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我八十五岁了", "我85岁了"),
        ("报销百分之七十", "报销70%"),
        ("两千元", "2000元"),
        ("满六十周岁", "满60周岁"),
        ("交了十五年", "交了15年"),
        ("三个月没发", "3个月没发"),
        ("第三个档次", "第3个档次"),
        ("八十多岁的老人", "80多岁的老人"),
    ],
)
def test_chinese_numerals_before_units_become_digits(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["问一下", "一个人住", "三轮车", "十分感谢", "一一对应"])
def test_numerals_that_are_words_stay(raw: str) -> None:
    assert convert_numerals(raw) == raw


def test_traditional_numerals_and_full_width_together() -> None:
    assert normalize("我媽八十五歲了，醫保怎麼報銷？") == "我妈85岁了,医保怎么报销?"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("请问一下社保卡怎么办", "社保卡怎么办"),
        ("您好，我想问一下高龄津贴", "高龄津贴"),
        ("麻烦你，社保卡丢了", "社保卡丢了"),
        ("嗯，那个，养老金怎么认证", "养老金怎么认证"),
        ("那个社保卡丢了", "社保卡丢了"),
        ("嗯那个社保卡丢了", "社保卡丢了"),  # 那个 after a hesitation is still the start of the utterance
        ("你好那个高龄津贴怎么领", "高龄津贴怎么领"),
    ],
)
def test_fillers_are_removed(raw: str, expected: str) -> None:
    assert strip_fillers(normalize(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "我要开那个证明",  # 那个 inside the sentence points at something
        "社保卡丢了怎么补办",
        "高龄津贴就是说每个月发吗",
    ],
)
def test_content_is_kept(raw: str) -> None:
    assert strip_fillers(normalize(raw)) == normalize(raw)


@pytest.mark.parametrize("raw", ["你好", "请问", "嗯"])
def test_a_filler_only_text_keeps_its_content(raw: str) -> None:
    assert strip_fillers(raw) == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("社保卡😀丢了", "社保卡丢了"),
        ("社保卡\x00\x07丢了\x1b", "社保卡丢了"),
        ("医\u200b保\ufeff", "医保"),  # zero-width space and BOM
        ("高龄\ue000津贴", "高龄津贴"),  # private use
        ("👍🏻👨‍👩‍👧", ""),  # emoji with skin tone and zero-width joiners
        ("社保\n\n卡\t丢了", "社保 卡 丢了"),  # line breaks and tabs become one space
    ],
)
def test_emoji_and_control_characters_are_dropped(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_long_input_is_bounded_and_keeps_its_start() -> None:
    text = "社保卡丢了怎么补办" + "啊" * 10_000
    result = normalize(text)
    assert len(result) == MAX_NORMALIZED_LENGTH
    assert result.startswith("社保卡丢了怎么补办")


def test_long_expanding_input_is_bounded() -> None:
    # NFKC expands ㍿ (one character) into 株式会社 (four): the bound holds after expansion.
    assert len(normalize("㍿" * 10_000)) == MAX_NORMALIZED_LENGTH


@pytest.mark.parametrize("raw", ["", " ", "\u3000\n\t", "\x00", "😀"])
def test_empty_results_are_empty_strings(raw: str) -> None:
    assert normalize(raw) == ""


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=300))
def test_normalize_never_raises_and_output_is_clean(text: str) -> None:
    result = normalize(text)
    assert isinstance(result, str)
    assert len(result) <= MAX_NORMALIZED_LENGTH
    assert result == result.strip()
    assert "  " not in result
    for ch in result:
        assert unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cs", "So"}, repr(ch)
    # strip_fillers never raises either and never returns nothing for non-empty input
    stripped = strip_fillers(result)
    assert bool(stripped) == bool(result)


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet=st.sampled_from("零一二两三四五六七八九十百千万岁元年月个多第百分之的社保卡 ，。"), max_size=40))
def test_numeral_conversion_never_raises_on_numeral_soup(text: str) -> None:
    assert isinstance(normalize(text), str)


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=("Lo", "Nd", "Lu", "Ll", "Zs", "Po")), max_size=80))
def test_normalize_is_idempotent_on_ordinary_text(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
