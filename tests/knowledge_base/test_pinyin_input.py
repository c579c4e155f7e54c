"""Pinyin typed without choosing characters: turned into characters by the real libraries, with the project's
own vocabulary first; anything that is not pinyin left alone."""

from __future__ import annotations

import threading

import pytest

from knowledge_base import pinyin_input
from knowledge_base.normalize import normalize
from knowledge_base.pinyin_input import pinyin_to_hanzi


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    assert pinyin_input.warm(), "pinyinsplit and Pinyin2Hanzi are dependencies: they must load"


@pytest.mark.parametrize(("typed", "meant"), [
    ("shebaoka diule zenme ban", "社保卡丢了怎么办"),
    ("shebaokadiulezenmebuban", "社保卡丢了怎么补办"),  # no spaces at all
    ("dibao zenme shenqing", "低保怎么申请"),
    ("yanglaojin meiyue jihao fa", "养老金每月几号发"),
    ("yu'er butie zenme shenling", "育儿补贴怎么申领"),  # an apostrophe between syllables
    ("zhuan rengong", "转人工"),  # a word of the intent examples
    ("xie xie ni", "谢谢你"),
])
def test_pinyin_becomes_the_characters_a_resident_meant(typed: str, meant: str) -> None:
    assert pinyin_to_hanzi(typed) == meant


def test_the_projects_terms_come_before_words_that_sound_the_same() -> None:
    # yi bao is 一包 to the library; here it is 医保, and never its misspelling 医包 that the synonyms list.
    assert pinyin_to_hanzi("yi bao") == "医保"
    assert pinyin_to_hanzi("di bao") == "低保"


@pytest.mark.parametrize("text", [
    "app", "wifi", "BB打预防针", "ETC卡怎么办", "ok", "ma", "hello", "医保app怎么下载", "123456", "", "社保卡丢了",
])
def test_what_is_not_pinyin_is_left_as_it_is(text: str) -> None:
    assert pinyin_to_hanzi(text) == text


def test_only_the_pinyin_stretches_of_a_mixed_message_change() -> None:
    assert pinyin_to_hanzi("wo de app dakai bu le").startswith("我的 app 打开不")  # 不了 or 不乐: the model's pick
    assert pinyin_to_hanzi("80岁 gao ling jin tie zen me ling") == "80岁 高龄津贴怎么领"
    assert pinyin_to_hanzi("社保卡 diule zenme ban") == "社保卡 丢了怎么办"


def test_normalize_converts_full_width_and_capital_pinyin_too() -> None:
    assert normalize("ＳＨＥＢＡＯＫＡ diule") == "社保卡丢了"


def test_runs_too_long_or_too_many_are_left_alone() -> None:
    # pinyinsplit lists every cut, which doubles with each ambiguous syllable (xian = xi'an): bounded here.
    long_run = "xian" * 20
    assert pinyin_to_hanzi(long_run) == long_run
    many = "ni hao " * (pinyin_input.MAX_RUNS // 2 + 1)
    assert pinyin_to_hanzi(many) == many
    lettered = "shebaoka diule " * (pinyin_input.MAX_LETTERS // 13 + 1)  # fewer runs, too many letters
    assert pinyin_to_hanzi(lettered) == lettered
    assert normalize("ab " * 5000)  # huge input: normalize truncates first, and this returns


def test_odd_input_never_raises() -> None:
    for text in ["\ud800shebaoka", "she\x00bao\x07ka", "ｑｉｎｇ ｗｅｎ", "'''", "a'b'c", "zh'", "lv lve nve"]:
        assert isinstance(normalize(text), str)


def test_no_shipped_question_or_intent_example_is_changed() -> None:
    # The index, the classifier and the emergency detector read the shipped texts through normalize: converting
    # any of them would quietly change what they learn.
    changed = [t for t in pinyin_input.shipped_texts() if pinyin_to_hanzi(t) != t]
    assert changed == []


def test_without_the_libraries_the_text_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinyin_input, "_loaded", None)
    assert pinyin_to_hanzi("shebaoka diule") == "shebaoka diule"


def test_a_damaged_vocabulary_leaves_pinyin_unconverted_and_never_raises(monkeypatch, caplog) -> None:
    def broken():
        raise OSError("synonyms.yaml: disk error")

    monkeypatch.setattr(pinyin_input, "_loaded", pinyin_input._NOT_LOADED)
    monkeypatch.setattr(pinyin_input, "_load", broken)
    assert normalize("shebaoka diule") == "shebaoka diule"
    assert "pinyin input unavailable" in caplog.text


def test_reading_the_vocabulary_never_comes_back_into_the_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading reads texts; were any of them normalised on the way, the load would call itself. It gets None.
    seen: list[str] = []

    def load():
        seen.append(pinyin_to_hanzi("ni hao"))
        return None

    monkeypatch.setattr(pinyin_input, "_loaded", pinyin_input._NOT_LOADED)
    monkeypatch.setattr(pinyin_input, "_load", load)
    assert pinyin_to_hanzi("ni hao") == "ni hao"
    assert seen == ["ni hao"]


def test_messages_on_other_threads_wait_for_the_load_rather_than_go_unconverted(monkeypatch) -> None:
    models = pinyin_input._models()
    release = threading.Event()
    results: list[str] = []

    def slow_load():
        release.wait(5)
        return models

    monkeypatch.setattr(pinyin_input, "_loaded", pinyin_input._NOT_LOADED)
    monkeypatch.setattr(pinyin_input, "_load", slow_load)
    loader = threading.Thread(target=pinyin_input.warm)
    loader.start()
    reader = threading.Thread(target=lambda: results.append(pinyin_to_hanzi("dibao zenme shenqing")))
    reader.start()
    release.set()
    loader.join(10)
    reader.join(10)
    assert results == ["低保怎么申请"]
