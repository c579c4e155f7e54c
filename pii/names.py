"""People's names in the places residents give them: 我叫…, 名字叫…, 联系人…, 我妈…, X先生, 老X.

A name is only looked for right after such a context, never anywhere in the text: 「高血压」 or 「王府井」 are
not names. After a *strong* context (我叫, 名字是, 姓名：, 联系人) a surname from ``data/surnames.txt`` is
enough; after a *weak* one (我是, 我妈, 我老伴 …) jieba must also tag the word as a person's name (``nr``), so
「我是高龄老人」 and 「我妈高血压」 stay as they are.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SURNAMES_FILE = Path(__file__).with_name("data") / "surnames.txt"
MAX_NAME_CHARS = 4  # 欧阳娜娜; longer runs after 「我叫」 are sentences, not names
MAX_GIVEN_CHARS = 2

_HAN = r"\u4e00-\u9fff"
_KIN = (r"(?:我|俺)?(?:的)?(?:妈妈|老妈|母亲|妈|爸爸|老爸|父亲|爸|老伴儿?|爱人|老公|老婆|丈夫|妻子|儿子|女儿|孙子|孙女|"
        r"外孙女?|儿媳妇?|女婿|爷爷|奶奶|外公|外婆|哥哥|姐姐|弟弟|妹妹|老人家|老人|家属|家人|本人|申请人|孩子)")
# Strong: what follows is meant to be a name.
_STRONG = re.compile(
    rf"(?:(?:我|俺|他|她|{_KIN})(?:的)?(?:名字|姓名|全名|大名)?(?:叫做|叫|名叫)"
    r"|(?:名字|姓名|全名|真名|大名)\s*(?:叫做|叫|是|为)?|联系人(?:姓名)?\s*(?:是|叫|为)?|名叫)"
    r"\s*[:：]?\s*"
)
# Weak: what follows may be a name or anything else (我是低保户, 我妈住院了).
_WEAK = re.compile(rf"(?:我是|俺是|本人是?|{_KIN}(?:是)?)\s*[:：]?\s*")
_HONORIFIC = re.compile(rf"([{_HAN}]{{2,4}}?)(?=先生|女士|阿姨|大爷|大妈|大伯|大叔|阿婆|阿公|奶奶|爷爷|老师|师傅)")
_OLD_X = re.compile(rf"老([{_HAN}])")
# Characters that end a name typed without punctuation (「我叫王小明今年80岁」).
_STOP = set("的了是在住今年电话手机身份证号我你他她们和跟家要想问说请帮给找去来到从有没不也都就还又很想")
# 老 + a surname that jieba keeps as one word but that is no nickname.
_OLD_WORDS = frozenset({"老师", "老公", "老婆", "老板", "老乡", "老大", "老小", "老伴", "老家", "老年", "老人", "老百",
                        "老房", "老区", "老城", "老街", "老旧", "老化", "老龄", "老兵", "老太", "老爷", "老头", "老是",
                        "老字", "老火", "老鼠", "老毛", "老江", "老黄", "老马", "老白", "老常", "老成", "老时", "老于",
                        "老和", "老明", "老云", "老路", "老应", "老包", "老练", "老实", "老车", "老宅", "老站", "老赖"})
_NAME_TAGS = ("nr", "nrt", "nrfg")
# jieba's dictionary tags some things as names (银行卡/nr): a name does not end like a document or an office.
_NOT_NAME_END = set("卡证费金款簿表局站所院处科会队部厅室楼路街区市县省镇村组号单本")


@dataclass(frozen=True)
class NameHit:
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    """(single-character surnames, compound surnames)."""
    single: set[str] = set()
    compound: set[str] = set()
    for line in SURNAMES_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        for word in line.split():
            (compound if len(word) == 2 else single).add(word)
    return frozenset(single), frozenset(compound)


def surname_of(name: str) -> str:
    """The surname a name starts with: 「欧阳娜娜」 → 「欧阳」, 「张三」 → 「张」, else its first character."""
    _single, compound = surnames()
    if name[:2] in compound:
        return name[:2]
    return name[:1]


def _starts_with_surname(text: str) -> int:
    single, compound = surnames()
    if text[:2] in compound:
        return 2
    return 1 if text[:1] in single else 0


@lru_cache(maxsize=1)
def _posseg():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def _tagged_name(window: str) -> int:
    """Length of a person's name jieba sees at the start of ``window`` (0: none)."""
    pairs = [(w.word, w.flag) for w in _posseg().cut(window[: MAX_NAME_CHARS + 4])]
    if not pairs:
        return 0
    word, flag = pairs[0]
    surname_only = _starts_with_surname(word) == len(word)  # 「司马」 alone: the given name follows
    if flag in _NAME_TAGS and 2 <= len(word) <= MAX_NAME_CHARS and not surname_only:
        return len(word)
    # 「覃秀英」 comes out as 覃/nr + 秀英/nr, 「司马倩」 as 司马/nr + 倩/zg.
    if len(pairs) > 1 and surname_only and flag.startswith(("nr", "ns", "q")):
        given, given_flag = pairs[1]
        if given_flag.startswith(("nr", "zg")) and len(word) + len(given) <= MAX_NAME_CHARS:
            return len(word) + len(given)
    return 0


def _untagged_name(window: str) -> int:
    """Surname plus one or two given characters, stopping at punctuation or a word that ends the name."""
    surname = _starts_with_surname(window)
    if not surname:
        return 0
    length = surname
    while length < len(window) and length - surname < MAX_GIVEN_CHARS:
        ch = window[length]
        if not re.match(rf"[{_HAN}]", ch) or ch in _STOP:
            break
        length += 1
    return length if length > surname else 0


def _name_at(text: str, start: int, strong: bool) -> int:
    window = text[start: start + MAX_NAME_CHARS + 4]
    if not _starts_with_surname(window):
        return 0
    tagged = _tagged_name(window)
    if tagged and window[tagged - 1] not in _NOT_NAME_END:
        return tagged
    return _untagged_name(window) if strong else 0


def _word_starts(text: str) -> dict[int, str]:
    """jieba's words of ``text`` by start offset."""
    starts: dict[int, str] = {}
    offset = 0
    for pair in _posseg().cut(text):
        starts[offset] = pair.word
        offset += len(pair.word)
    return starts


def find_names(text: str) -> list[NameHit]:
    hits: dict[int, NameHit] = {}

    def add(start: int, length: int) -> None:
        if length and start not in hits:
            hits[start] = NameHit(start, start + length, text[start:start + length])

    for pattern, strong in ((_STRONG, True), (_WEAK, False)):
        for match in pattern.finditer(text):
            add(match.end(), _name_at(text, match.end(), strong))
    for match in _HONORIFIC.finditer(text):
        candidate = match.group(1)
        # The name is the last 2-4 characters before the title that jieba tags as a name.
        for offset in range(len(candidate) - 1):
            word = candidate[offset:]
            if _starts_with_surname(word) and _tagged_name(word + "先生") == len(word):
                add(match.start(1) + offset, len(word))
                break
    words: dict[int, str] | None = None
    for match in _OLD_X.finditer(text):
        if text[match.start():match.start() + 2] in _OLD_WORDS or not _starts_with_surname(match.group(1)):
            continue
        if words is None:
            words = _word_starts(text)
        # 「老王说」 is a person; in 「养老金」 and 「老黄历」 老X is no word of its own.
        if words.get(match.start()) == match.group():
            add(match.start(1), 1)
    ordered = sorted(hits.values(), key=lambda h: h.start)
    kept: list[NameHit] = []
    for hit in ordered:
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept
