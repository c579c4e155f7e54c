"""Warning levels: CAP severity and colour words → level, and banner colours that meet the kiosk's 7:1."""

from __future__ import annotations

import pytest

from accessibility.contrast import AAA_TEXT, contrast_ratio
from assistant.bulletins import levels


@pytest.mark.parametrize("code", levels.LEVELS)
def test_every_banner_colour_pair_has_contrast_of_at_least_7_to_1(code: str) -> None:
    colors = levels.colors(code)
    assert contrast_ratio(colors["background"], colors["text"]) >= AAA_TEXT


def test_levels_rank_blue_yellow_orange_red_with_chinese_labels() -> None:
    assert [levels.label(c) for c in levels.LEVELS] == ["蓝色", "黄色", "橙色", "红色"]
    assert [levels.rank(c) for c in levels.LEVELS] == [0, 1, 2, 3]


@pytest.mark.parametrize(("severity", "expected"), [("Minor", "blue"), ("Moderate", "yellow"),
                                                    ("Severe", "orange"), ("Extreme", "red"),
                                                    ("Unknown", "blue"), ("", "blue")])
def test_severity_gives_the_level_when_no_colour_is_named(severity: str, expected: str) -> None:
    assert levels.level_of(severity, "暴雨", "南宁市气象台发布暴雨预警") == expected


def test_a_colour_word_wins_over_severity_and_the_colour_parameter_wins_over_the_text() -> None:
    assert levels.level_of("Minor", "暴雨橙色预警") == "orange"
    assert levels.level_of("Extreme", "台风", "南宁市气象台发布台风蓝色预警信号") == "blue"
    assert levels.level_of("Minor", "暴雨黄色预警", "", {"预警颜色": "红色"}) == "red"
    assert levels.level_of("Minor", "", "", {"color": "Orange"}) == "orange"


def test_at_or_above_compares_with_the_configured_minimum() -> None:
    assert levels.at_or_above("orange", "yellow")
    assert levels.at_or_above("yellow", "yellow")
    assert not levels.at_or_above("blue", "yellow")
    assert levels.at_or_above("blue", "nonsense")  # a mistyped setting shows everything rather than nothing


def test_title_names_event_and_colour_once() -> None:
    assert levels.title("暴雨", "orange") == "暴雨橙色预警"
    assert levels.title("暴雨橙色预警", "orange") == "暴雨橙色预警"
    assert levels.title("", "red") == "红色预警"
    assert levels.title("转移安置", "red") == "转移安置红色预警"
