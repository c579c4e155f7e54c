"""Which of the offered options a resident picked: 第二个 / 2 / 后面那个 / 最后一个 / 上面那个.

The value is a 0-based index; negative values count from the end (-1 = the last one), because
the extractor does not know how many options were on screen. ``resolve_choice`` turns it into a
concrete index once the dialogue layer supplies that number.
"""

from __future__ import annotations

import re

from intents.base import Entity
from intents.numbers import to_int

_CN = "一二两三四五六七八九十"
# 第2个月 / 第二个孩子 are facts about the resident, not a pick from a list.
_NOT_A_PICK = r"(?!\s*(?:个)?(?:月|年|周|星期|礼拜|季度|天|次|胎|孩|小孩|宝|个孩|个小孩|个宝|个月|个人|批|期))"
_ORDINAL = re.compile(rf"(倒数)?第\s*([0-9]{{1,2}}|[{_CN}]{{1,3}})(?![0-9{_CN}])\s*(?:个|项|条|种|家|位|号|样|行|排)?{_NOT_A_PICK}")
_LAST = re.compile(r"最后(?:一个|一项|一条|那个|那项|那条|面那个|面的|面|个|一)|最下面(?:那个|的|一个)?|末尾(?:那个)?")
_FIRST = re.compile(r"头一个|最前面(?:那个|的|一个)?|最上面(?:那个|的|一个)?|第一个")
# With two options on screen, "the one above/before" is the first and "below/after" the last.
_EARLIER = re.compile(r"(?:上面|前面|上边|前边|上头|前头)(?:那个|那项|那条|个|的|一个)|(?:上|前)一个")
_LATER = re.compile(r"(?:后面|下面|后边|下边|底下|下头|后头)(?:那个|那项|那条|个|的|一个)|后一个")
_BARE = re.compile(
    rf"^(?:我)?(?:选|要|就|就选|就要|选择|点)?\s*(?:第)?\s*([0-9]{{1,2}}|[{_CN}]{{1,2}})\s*(?:个|号|项|条)?\s*(?:吧|啊|呀|嘛|的|了|喔|哦)?$"
)
_PUNCT = re.compile(r"[\s,.，。!?！？、~～]+")


def extract_choice(text: str) -> Entity | None:
    """The first option reference in ``text`` (already normalised), or ``None``."""
    stripped = _PUNCT.sub("", text)
    bare = _BARE.match(stripped)
    if bare:
        number = to_int(bare.group(1))
        if number is not None and 1 <= number <= 20:
            return Entity("choice", number - 1, text, 0, len(text))
    candidates: list[tuple[int, Entity]] = []
    for m in _ORDINAL.finditer(text):
        number = to_int(m.group(2))
        if number is None or not 1 <= number <= 20:
            continue
        value = -number if m.group(1) else number - 1
        candidates.append((m.start(), Entity("choice", value, m.group(0), m.start(), m.end())))
        break
    for pattern, value in ((_LAST, -1), (_FIRST, 0), (_EARLIER, 0), (_LATER, -1)):
        m = pattern.search(text)
        if m:
            candidates.append((m.start(), Entity("choice", value, m.group(0), m.start(), m.end())))
    if not candidates:
        return None
    return min(candidates, key=lambda item: item[0])[1]


def resolve_choice(index: int, n_options: int) -> int | None:
    """A concrete 0-based index among ``n_options``, or ``None`` when it points outside them."""
    if n_options <= 0:
        return None
    resolved = index + n_options if index < 0 else index
    return resolved if 0 <= resolved < n_options else None
