"""Display width and wrapping: a Chinese character is two columns, ASCII one."""

from __future__ import annotations

import pytest

from device_adapters.printer.text import (
    NO_LINE_END,
    NO_LINE_START,
    PaperWidth,
    display_width,
    sanitize,
    wrap,
)


def test_widths() -> None:
    assert display_width("社区") == 4
    assert display_width("abc") == 3
    assert display_width("高龄津贴80元") == 12
    assert display_width("，。（）·—") == 12  # printed from the double-byte font
    assert display_width("") == 0


def test_paper_widths() -> None:
    assert (PaperWidth.MM58.columns, PaperWidth.MM80.columns) == (32, 48)
    assert PaperWidth.parse("80mm") is PaperWidth.MM80
    assert PaperWidth.parse(58) is PaperWidth.MM58
    with pytest.raises(ValueError):
        PaperWidth.parse("76")


@pytest.mark.parametrize("columns", [32, 48, 10, 7])
def test_no_line_is_wider_than_the_paper(columns: int) -> None:
    text = "年满80周岁、本地户籍的老年人可以申领高龄津贴，按月发放到本人社保卡（银行卡）。详见 https://zwfw.gxzf.gov.cn/eportal/ui?pageId=12345678901234567890"
    lines = wrap(text, columns, first_prefix="1. ", next_prefix="   ")
    assert all(display_width(line) <= columns for line in lines)
    assert "".join(line.replace("1. ", "", 1) if i == 0 else line for i, line in enumerate(lines)).replace(
        " ", ""
    ) == text.replace(" ", "")


def test_chinese_wraps_at_sixteen_characters_on_58mm() -> None:
    lines = wrap("一二三四五六七八九十一二三四五六七八九十", 32)
    assert lines == ["一二三四五六七八九十一二三四五六", "七八九十"]


def test_closing_punctuation_never_starts_a_line() -> None:
    text = "一二三四五六七八九十一二三四五，六七。"
    lines = wrap(text, 32)
    assert lines[0] == "一二三四五六七八九十一二三四五，"
    for columns in range(6, 40):
        for line in wrap("社区服务中心（南宁）提供：养老、医疗、就业！请问？好的。", columns):
            assert line[0] not in NO_LINE_START
            assert line[-1] not in NO_LINE_END


def test_words_and_urls_stay_whole_when_they_fit() -> None:
    lines = wrap("请访问 www.gxzf.gov.cn 办理", 20)
    assert "www.gxzf.gov.cn" in lines[0] or "www.gxzf.gov.cn" in lines[1]
    assert all(display_width(line) <= 20 for line in lines)


def test_a_word_longer_than_the_line_is_split() -> None:
    lines = wrap("x" * 70, 32)
    assert lines == ["x" * 32, "x" * 32, "x" * 6]


def test_prefixes_indent_following_lines() -> None:
    lines = wrap("本人身份证原件和复印件各一份，户口簿原件", 20, first_prefix="□ ", next_prefix="  ")
    assert lines[0].startswith("□ ")
    assert all(line.startswith("  ") for line in lines[1:])


def test_explicit_newlines_and_blank_text() -> None:
    assert wrap("第一行\n第二行", 32) == ["第一行", "第二行"]
    assert wrap("", 32) == [""]


def test_sanitize_strips_printer_commands_and_unprintable_characters() -> None:
    assert sanitize("你好\x1b@\x1dV\x00世界") == "你好@V世界"
    assert sanitize("谢谢😀") == "谢谢?"
    assert sanitize("a\tb\r\n") == "a b\n"


def test_columns_must_be_sensible() -> None:
    with pytest.raises(ValueError):
        wrap("abc", 1)
