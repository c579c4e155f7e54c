"""How a sentence reads when a community detail in it is unknown: it degrades to what is known.

A text is cut into sentences (。！？ and line breaks) and each sentence into clauses (；，、 outside brackets).
Each unknown placeholder is then handled by what stands right before and after it in its clause:

==========================  ===========================================  ===================================
kind                        context                                      becomes
==========================  ===========================================  ===================================
any                         （标签：{x}） or （{x}） in brackets          the brackets go
电话 (社区电话, 部门电话)   问/找/向/告诉/联系{x}                        问社区 / 问民政部门
电话                        A或{x} · {x}或B                              A · B
电话                        打{x}                                        打12345 (once a sentence)
电话                        电话{x} · 标签{x} · {x} alone                the clause goes when nothing but a
                                                                         label is left (「社区」「交警」)
社区地址                    标签：{x} · 地址{x}                          标签 (a 「…地址」 label goes too)
社区地址                    {x} alone after a clause that names 社区     the clause goes
社区地址                    anywhere else (到{x}办, {x}或…)              社区服务中心
地点:X                      标签：{x}                                    标签
地点:X                      Y在{x} at the end of a clause                Y (the clause goes before 。)
地点:X                      {x} alone after a clause that names X        the clause goes
地点:X                      anywhere else (到{x})                        X
社区名称                    anywhere                                     社区
办公时间                    在{x}                                        在办公时间
办公时间                    …时间{x} · 标签{x} · {x}                     …时间请打12345问 (or 具体时间…)
==========================  ===========================================  ===================================

A generic phrase with the fallback number is used at most once a sentence (and not at all when the
sentence already has the number); when a whole text degrades to nothing it becomes the generic phrase of
its first placeholder (「可打12345问」, 「社区服务中心」, 「具体时间请打12345问」).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\{([^{}:：]{1,12})(?:[:：]([^{}]{1,20}))?\}")

GENERIC_PLACE = "社区服务中心"
GENERIC_NAME = "社区"
HOURS_WORD = "办公时间"
BARE_LABEL_MAX = 8  # a clause this short with no number and no verb is only a label (「人社部门」)
SHORT_REMAINDER = 3  # 「也可问」: what is left of 「也可打{x}问」 says nothing
SHORT_HOURS_LABEL = 8  # 「人工服务」+「时间请打…问」; a longer lead gets 「，具体时间请打…问」

_SENTENCE = re.compile(r"([^。！？\n]*)([。！？\n]|$)")
_SEPARATORS = "；;，,、"
_SEPARATOR_STRENGTH = {"、": 1, "，": 2, ",": 2, "；": 3, ";": 3, "": 4}
_OPEN, _CLOSE = "（(“", "）)”"
_VERBS = re.compile(r"[打问找到去办请可说看帮申拨]")
_DIGIT = re.compile(r"\d")
_ASK = re.compile(r"(?:问|找|向|告诉|联系)$")
_OR_BEFORE = re.compile(r"或(?:拨打|打)?$")
_DIAL = re.compile(r"(?:拨打|打|拨)$")
_PHONE_LABEL = re.compile(r"电话[：:是为]?$")
_ADDRESS_LABEL = re.compile(r"地址[在是为：:]?$")
_COLON = re.compile(r"[：:]$")
_HOURS_LEAD = re.compile(r"[：:是为]+$")
_BRACKETED = re.compile(r"（([^（）{}]{0,10})(\{[^{}]*\})([^（）{}]{0,2})）")

# How to name a department when its phone number is unknown (「可问民政部门」).
DEPARTMENT_NAMES = {
    "人社": "人社部门", "医保": "医保部门", "民政": "民政部门", "残联": "残联", "卫健": "卫健部门",
    "公安": "派出所", "住建": "住建部门", "公积金中心": "公积金中心", "司法": "司法所", "应急": "应急管理部门",
    "退役军人事务": "退役军人服务站", "街道": "街道办事处", "市场监管": "市场监管部门", "教育": "教育部门",
    "交警": "交警", "税务": "税务部门", "法院": "法院", "劳动监察": "劳动保障监察部门",
}


@dataclass(frozen=True)
class Placeholder:
    key: str
    argument: str | None

    @classmethod
    def of(cls, match: re.Match[str]) -> Placeholder:
        argument = match.group(2)
        return cls(match.group(1).strip(), argument.strip() if argument else None)

    @property
    def kind(self) -> str:
        if self.key in ("社区电话", "部门电话"):
            return "phone"
        return {"社区地址": "address", "地点": "place", "社区名称": "name", "办公时间": "hours"}.get(self.key, "other")

    @property
    def asked_name(self) -> str:
        """Whom to ask when the number is unknown: 问{部门电话:民政} → 问民政部门."""
        if self.key == "部门电话" and self.argument:
            return DEPARTMENT_NAMES.get(self.argument, f"{self.argument}部门")
        return GENERIC_NAME


def degrade(text: str, value_of: Callable[[Placeholder], str | None], fallback_phone: str) -> str:
    """``text`` with known placeholders filled in by ``value_of`` and the unknown ones degraded."""
    unknown: list[Placeholder] = []
    literal = PLACEHOLDER.sub("", text)

    def fill(match: re.Match[str]) -> str:
        placeholder = Placeholder.of(match)
        value = value_of(placeholder)
        if value is None or (placeholder.kind == "phone" and value in literal):
            # 「12333；{部门电话:人社}」 with 人社 = 12333 says the number once.
            unknown.append(placeholder)
            return match.group(0)
        return value

    filled = PLACEHOLDER.sub(fill, text)
    if not unknown:
        return filled
    filled = _drop_bracketed(filled)
    sentences = [_degrade_sentence(body, end, fallback_phone) for body, end in _SENTENCE.findall(filled)]
    result = _tidy("".join(sentences))
    if not result.strip(" 　，。；、：\n"):
        return _fallback(unknown[0], fallback_phone)
    return result


def _drop_bracketed(text: str) -> str:
    """（本地派出所：{地点:派出所}） and （{地点:街道便民服务中心}）: brackets that only hold the unknown detail."""
    def replace(match: re.Match[str]) -> str:
        before, _, after = match.groups()
        if after or (before and not _COLON.search(before)):
            return match.group(0)
        return ""

    return _BRACKETED.sub(replace, text)


def _fallback(placeholder: Placeholder, fallback_phone: str) -> str:
    kind = placeholder.kind
    if kind == "address":
        return GENERIC_PLACE
    if kind == "place":
        return placeholder.argument or GENERIC_PLACE
    if kind == "name":
        return GENERIC_NAME
    if kind == "hours":
        return f"具体时间请打{fallback_phone}问"
    return f"可打{fallback_phone}问"


def _split_clauses(sentence: str) -> list[tuple[str, str]]:
    """(clause, the separator after it) for separators outside brackets and quotes."""
    clauses: list[tuple[str, str]] = []
    depth, start = 0, 0
    for i, char in enumerate(sentence):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char in _SEPARATORS and depth == 0:
            clauses.append((sentence[start:i], char))
            start = i + 1
    clauses.append((sentence[start:], ""))
    return clauses


@dataclass
class _Sentence:
    fallback_phone: str
    generic_used: bool
    previous: str = ""  # the last clause kept so far
    last_clause: bool = False  # the clause being degraded is the sentence's last

    def generic(self) -> str | None:
        """The fallback number, the first time a sentence asks for it."""
        if self.generic_used:
            return None
        self.generic_used = True
        return self.fallback_phone


def _degrade_sentence(body: str, end: str, fallback_phone: str) -> str:
    if not PLACEHOLDER.search(body):
        return body + end
    state = _Sentence(fallback_phone, generic_used=fallback_phone in body)
    clauses = _split_clauses(body)
    kept: list[list[str]] = []
    for index, (clause, separator) in enumerate(clauses):
        state.last_clause = index == len(clauses) - 1
        degraded: str | None = clause
        while degraded is not None and (match := PLACEHOLDER.search(degraded)):
            degraded = _degrade_one(degraded, match, state)
        if degraded is None or not degraded.strip():
            if kept:  # 「A；{x}。」→「A。」, 「A、{x}；B」→「A；B」
                kept[-1][1] = _stronger(kept[-1][1], separator)
            continue
        kept.append([degraded, separator])
        state.previous = degraded
    if not kept:
        return ""
    kept[-1][1] = ""
    return "".join(c + s for c, s in kept) + end


def _stronger(a: str, b: str) -> str:
    return a if _SEPARATOR_STRENGTH.get(a, 0) >= _SEPARATOR_STRENGTH.get(b, 0) else b


def _degrade_one(clause: str, match: re.Match[str], state: _Sentence) -> str | None:
    """The clause with its first unknown placeholder handled; None drops the clause."""
    placeholder = Placeholder.of(match)
    before, after = clause[:match.start()], clause[match.end():]
    kind = placeholder.kind
    if kind == "name":
        return before + GENERIC_NAME + after
    if kind == "address":
        return _address(placeholder, before, after, state)
    if kind == "place":
        return _place(placeholder, before, after, state)
    if kind == "hours":
        return _hours(before, after, state)
    return _phone(placeholder, before, after, state)


def _phone(placeholder: Placeholder, before: str, after: str, state: _Sentence) -> str | None:
    if _ASK.search(before):
        return before + placeholder.asked_name + after
    if found := _OR_BEFORE.search(before):
        return before[:found.start()] + after
    if after.startswith("或"):
        rest = after[1:]
        if _DIAL.search(before) and re.match(r"(?:拨打|打)", rest):
            before = _DIAL.sub("", before)
        return before + rest
    if found := _DIAL.search(before):
        number = state.generic()
        if number:
            return before + number + after
        remaining = before[:found.start()] + after  # the sentence already offers the number once
        return None if len(remaining.strip()) <= SHORT_REMAINDER else remaining
    if found := _PHONE_LABEL.search(before):
        before = before[:found.start()]
    remaining = _COLON.sub("", before) + after
    return None if _is_bare_label(remaining) else remaining


def _address(placeholder: Placeholder, before: str, after: str, state: _Sentence) -> str | None:
    if found := _ADDRESS_LABEL.search(before):  # 「地址{社区地址}」「社区地址：{社区地址}」
        remaining = before[:found.start()] + after
        return None if _is_bare_label(remaining) else remaining
    if _COLON.search(before):
        label = before[:-1]
        return None if label.endswith("地址") else label + after
    if before.endswith("在") and GENERIC_PLACE in before:  # 「社区服务中心在{社区地址}」
        return before[:-1] + after
    if not before.strip() and not after.strip() and GENERIC_NAME in state.previous:
        return None  # 「社区人民调解委员会，{社区地址}」: the clause before already says where
    return before + GENERIC_PLACE + after


def _place(placeholder: Placeholder, before: str, after: str, state: _Sentence) -> str | None:
    name = placeholder.argument or GENERIC_PLACE
    if _COLON.search(before):
        return before[:-1] + after
    if before.endswith("在") and not after.strip():  # 「快递柜在{地点:快递柜}」
        subject = before[:-1]
        if state.last_clause or subject.strip().endswith("地址"):
            return None
        return subject
    if not before.strip() and not after.strip() and name in state.previous:
        return None  # 「……退役军人服务站，{地点:退役军人服务站}」
    return before + name + after


def _hours(before: str, after: str, state: _Sentence) -> str | None:
    if before.endswith("在"):
        return before + HOURS_WORD + after
    number = state.generic()
    if number is None:
        return None
    lead = _HOURS_LEAD.sub("", before)
    if not lead.strip():
        return f"具体时间请打{number}问" + after
    if lead.endswith("时间"):
        return f"{lead}请打{number}问" + after
    if len(lead) <= SHORT_HOURS_LABEL:
        return f"{lead}时间请打{number}问" + after
    return f"{lead}，具体时间请打{number}问" + after


def _is_bare_label(text: str) -> bool:
    """「社区」「人社部门」「交警」: what is left of a contact clause whose number is unknown."""
    stripped = text.strip()
    return len(stripped) <= BARE_LABEL_MAX and not _DIGIT.search(stripped) and not _VERBS.search(stripped)


def _tidy(text: str) -> str:
    text = text.replace("（）", "").replace("()", "")
    text = re.sub(r"([，；、：,;])[，；、：,;]+", r"\1", text)
    text = re.sub(r"[，；、：,;]+([。！？])", r"\1", text)
    text = re.sub(r"(^|[。！？\n])[，；、：,;]+", r"\1", text)
    return text
