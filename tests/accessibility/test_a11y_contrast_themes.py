from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessibility.contrast import contrast_ratio, parse_color, relative_luminance, to_kivy_rgba
from accessibility.errors import AccessibilityError, ColorFormatError, ThemeError, UnknownThemeError
from accessibility.themes import (
    LARGER_TEXT_SCALE,
    MIN_FONT_SP,
    MIN_LINE_HEIGHT,
    MIN_MAIN_FONT_SP,
    MIN_TOUCH_GAP_DP,
    MIN_TOUCH_TARGET_DP,
    NON_TEXT_PAIRS,
    TEXT_PAIRS,
    check_theme,
    check_web_palette,
    get_theme,
    theme_names,
    validate_theme,
    web_palette,
    web_palette_css,
)

# --- contrast math ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("#000", "#fff", 21.0),
        ("#000000", "#FFFFFF", 21.0),
        ("#777", "#fff", 4.48),  # the classic "just fails AA" grey
        ("#767676", "#fff", 4.54),  # the lightest grey that passes AA on white
        ("#595959", "#fff", 7.0),  # the lightest grey that passes AAA on white
        ("#0000ff", "#ffffff", 8.59),
        ("#ff0000", "#ffffff", 4.0),
        ("#808080", "#808080", 1.0),
    ],
)
def test_contrast_ratio_known_pairs(first: str, second: str, expected: float) -> None:
    assert contrast_ratio(first, second) == pytest.approx(expected, abs=0.01)


def test_relative_luminance_extremes() -> None:
    assert relative_luminance("#000000") == 0.0
    assert relative_luminance("#ffffff") == pytest.approx(1.0)
    assert relative_luminance((255, 255, 255)) == pytest.approx(1.0)


_colours = st.tuples(*(st.integers(0, 255),) * 3)


@settings(database=None)
@given(_colours, _colours)
def test_contrast_ratio_is_symmetric_and_bounded(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    ratio = contrast_ratio(a, b)
    assert ratio == pytest.approx(contrast_ratio(b, a))
    assert 1.0 <= ratio <= 21.0 + 1e-9


def test_parse_color_forms_and_errors() -> None:
    assert parse_color("#0b3d91") == (11, 61, 145)
    assert parse_color("0B3D91") == (11, 61, 145)
    assert parse_color("#fff") == (255, 255, 255)
    for bad in ("#12345", "red", "#ff000080", "", "#ggg"):
        with pytest.raises(ColorFormatError):
            parse_color(bad)
    with pytest.raises(ColorFormatError):
        parse_color((256, 0, 0))
    with pytest.raises(ValueError):  # also a ValueError, for callers that catch that
        parse_color("nope")


def test_to_kivy_rgba() -> None:
    assert to_kivy_rgba("#ffffff") == (1.0, 1.0, 1.0, 1.0)
    assert to_kivy_rgba("#000000", 0.5) == (0.0, 0.0, 0.0, 0.5)


# --- themes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", theme_names())
@pytest.mark.parametrize("larger_text", [False, True])
def test_shipped_themes_meet_the_numbers(name: str, larger_text: bool) -> None:
    theme = get_theme(name, larger_text=larger_text)
    assert check_theme(theme) == []
    assert validate_theme(theme) is theme
    p, s = theme.palette, theme.sizes
    for fg, bg in TEXT_PAIRS:
        assert contrast_ratio(getattr(p, fg), getattr(p, bg)) >= 7.0, (fg, bg)
    for fg, bg in NON_TEXT_PAIRS:
        assert contrast_ratio(getattr(p, fg), getattr(p, bg)) >= 3.0, (fg, bg)
    assert s.font_main_sp >= 30
    assert min(s.font_sizes_sp.values()) >= 24
    assert s.touch_target_dp >= 60
    assert s.touch_gap_dp >= 16
    assert s.line_height >= 1.3


def test_theme_names_and_unknown_theme() -> None:
    assert theme_names() == ["high_contrast", "normal"]
    assert get_theme().name == "normal"
    with pytest.raises(UnknownThemeError, match="high_contrast, normal"):
        get_theme("dark")
    with pytest.raises(AccessibilityError):
        get_theme("dark")


def test_larger_text_scales_fonts_and_targets() -> None:
    base, large = get_theme("normal"), get_theme("normal", larger_text=True)
    assert large.text_scale == LARGER_TEXT_SCALE
    assert large.sizes.font_main_sp == pytest.approx(base.sizes.font_main_sp * LARGER_TEXT_SCALE)
    assert large.sizes.font_small_sp > base.sizes.font_small_sp
    assert large.sizes.touch_target_dp > base.sizes.touch_target_dp
    assert large.palette == base.palette
    with pytest.raises(ThemeError):
        base.scaled(0)


def test_check_theme_reports_each_violation() -> None:
    theme = get_theme("normal")
    bad = replace(
        theme,
        palette=replace(theme.palette, text="#777777", button_border="#F5F5F5"),
        sizes=replace(theme.sizes, font_main_sp=28, font_small_sp=20, line_height=1.2, touch_target_dp=48,
                      touch_gap_dp=8),
    )
    rules = {(v.rule, v.subject) for v in check_theme(bad)}
    assert ("text-contrast", "text on background") in rules
    assert ("non-text-contrast", "button_border on background") in rules
    assert ("main-font-size", "font_main_sp") in rules
    assert ("font-size", "font_small_sp") in rules
    assert ("line-height", "line_height") in rules
    assert ("touch-target", "touch_target_dp") in rules
    assert ("touch-gap", "touch_gap_dp") in rules
    message = str(check_theme(bad)[0])
    assert "needs ≥" in message
    with pytest.raises(ThemeError, match="breaks"):
        validate_theme(bad)


def test_thresholds_are_the_reference_numbers() -> None:
    assert (MIN_MAIN_FONT_SP, MIN_FONT_SP, MIN_LINE_HEIGHT, MIN_TOUCH_TARGET_DP, MIN_TOUCH_GAP_DP) == (
        30, 24, 1.3, 60, 16,
    )


def test_palette_rgba_for_kivy() -> None:
    palette = get_theme("high_contrast").palette
    assert palette.rgba("text") == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ThemeError):
        palette.rgba("nonexistent")


# --- web palette --------------------------------------------------------------------------------


@pytest.mark.parametrize("high_contrast", [False, True])
def test_web_palette_contrast(high_contrast: bool) -> None:
    palette = web_palette(high_contrast)
    assert check_web_palette(palette) == []
    assert all(name.startswith("--shequ-") for name in palette)
    assert int(palette["--shequ-font-size"].removesuffix("px")) >= 18
    assert float(palette["--shequ-line-height"]) >= 1.5


def test_web_palette_check_catches_low_contrast() -> None:
    palette = web_palette() | {"--shequ-link": "#999999"}
    assert any(v.subject.startswith("--shequ-link") for v in check_web_palette(palette))


def test_web_palette_css() -> None:
    css = web_palette_css(selector=".chat")
    assert css.startswith(".chat {")
    assert re.search(r"--shequ-text: #[0-9A-Fa-f]{6};", css)
