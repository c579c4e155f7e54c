"""Text normalisation shared by retrieval and intent classification.

``normalize`` makes two spellings of one question look alike: Unicode NFKC (full-width letters,
digits and punctuation become half-width), pinyin typed without choosing characters becomes characters
(``pinyin_input``), traditional → simplified Chinese (OpenCC ``t2s``),
Chinese numerals before units become digits (八十五岁 → 85岁, 百分之七十 → 70%), control
characters and emoji dropped, whitespace collapsed. ``strip_fillers`` additionally removes polite
openings and hesitations (请问, 我想问一下, 那个) that carry no meaning for retrieval.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import cn2an
import opencc

from knowledge_base.pinyin_input import pinyin_to_hanzi

MAX_NORMALIZED_LENGTH = 2000

_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
# A Chinese numeral is only converted where it measures something; elsewhere (一下, 一个人住)
# the characters are words, not numbers.
_NUMERAL_BEFORE_UNIT = re.compile(
    rf"(?<![{_CN_DIGITS}])([{_CN_DIGITS}]{{1,8}})(?=(?:多)?(?:周岁|岁|年|元|块|个月|月份|天|小时|万|千|档|级|次|倍|号线|公斤))"
)
_PERCENT = re.compile(rf"百分之([{_CN_DIGITS}]{{1,4}})")
_ORDINAL = re.compile(rf"第([{_CN_DIGITS}]{{1,3}})(?=[个项条种步档级])")
_WHITESPACE = re.compile(r"\s+")

_FILLERS = (
    "请问一下", "请问", "我想问一下", "我想问问", "我想咨询一下", "我想咨询", "想问一下", "问一下",
    "咨询一下", "麻烦问一下", "麻烦你", "麻烦", "打扰一下", "你好", "您好", "同志", "小姑娘", "小伙子",
    "那个那个", "那个", "就是说", "嗯", "呃", "啊", "哎", "唉",
)
_FILLER_PATTERN = re.compile("|".join(re.escape(f) for f in sorted(_FILLERS, key=len, reverse=True)))
# 那个 / 就是 are fillers only at the start of an utterance or after punctuation; elsewhere they
# may be content (那个证明 refers to something).
_LEADING_ONLY = {"那个", "那个那个", "就是说"}


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _is_dropped(ch: str) -> bool:
    category = unicodedata.category(ch)
    # Cc/Cf/Cs/Co/Cn: control, format, surrogates, private use, unassigned; So: emoji and symbols.
    return category in {"Cc", "Cf", "Cs", "Co", "Cn", "So", "Sk"} and ch not in "\n\t"


def _cn_to_digits(chinese: str) -> str:
    try:
        return str(cn2an.cn2an(chinese, "smart"))
    except (ValueError, KeyError, IndexError):
        return chinese


def convert_numerals(text: str) -> str:
    text = _PERCENT.sub(lambda m: f"{_cn_to_digits(m.group(1))}%", text)
    text = _ORDINAL.sub(lambda m: f"第{_cn_to_digits(m.group(1))}", text)
    return _NUMERAL_BEFORE_UNIT.sub(lambda m: _cn_to_digits(m.group(1)), text)


def normalize(text: str, *, max_length: int = MAX_NORMALIZED_LENGTH) -> str:
    """Canonical form of a resident's text; never raises on any ``str``."""
    if not text:
        return ""
    text = text[: max_length * 2]
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not _is_dropped(ch))
    text = pinyin_to_hanzi(text)  # 「shebaoka diule」 typed without choosing characters → 社保卡丢了
    text = _t2s().convert(text)
    text = convert_numerals(text)
    text = _WHITESPACE.sub(" ", text).strip()
    return text[:max_length].lower()


def strip_fillers(text: str) -> str:
    """Removes politeness and hesitation words; the result keeps at least one character of content."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if word in _LEADING_ONLY:
            # Leading means: only other fillers (嗯, 你好 …) and punctuation come before it.
            before = _FILLER_PATTERN.sub("", text[: match.start()]).rstrip()
            if before and before[-1] not in ",.，。!?！？、:：":
                return word
        return ""

    stripped = _FILLER_PATTERN.sub(replace, text)
    stripped = re.sub(r"^[\s,.，。!?！？、:：]+", "", stripped).strip()
    return stripped or text
