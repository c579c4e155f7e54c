"""What a queued resident actually needs, for the staff inbox row: their real question and the topic.

The last resident message is often a button press (``/human``) or a bare 「转人工」; staff need the message
before it that says what the resident wants. Stored resident text is already masked (``pii.mask_text``), so nothing
here unmasks anything. Button payloads are read with the one payload vocabulary and shown by the button's
title where the title is known (a topic tile → the entry's title, an aspect button → 「高龄津贴 · 要带什么」).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from assistant.dialogue import payloads
from assistant.dialogue.payloads import Command
from assistant.dialogue.rules import HUMAN_WORDS, is_cancel, wants_human  # HUMAN_WORDS: the one list
from knowledge_base.aspects import aspect_table

# Intents that say nothing about what the resident needs.
NOT_A_QUESTION = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "request_human", "repeat", "slower",
                            "choose_option", "bot_capabilities"})
# Words around a request for a person that carry no need of their own (我要转人工，谢谢).
_FILLER = re.compile(r"[\s,，。.!！?？、~～…]|我|要|想|请|帮|给|一下|你好|您好|可以|吗|呢|的|了|谢谢|麻烦|快|点|啊|呀|吧")
BARE_REQUEST = "居民要求人工服务，还没说具体问题"
MIN_SUBSTANCE = 3  # fewer characters than this (好的, 在吗) is not a question
LOOK_BACK = 40  # resident messages read per row, newest first


@dataclass(frozen=True)
class ResidentTurn:
    text: str  # masked
    intent: str | None
    topic_id: str | None


def _bare_request(text: str) -> bool:
    return len(_FILLER.sub("", HUMAN_WORDS.sub("", text))) < MIN_SUBSTANCE


def _payload_title(turn: ResidentTurn, payload: payloads.Payload, title_of: Callable[[str], str | None]) -> str:
    """The title of the button a resident pressed, or "" when it carries no question (or none is known)."""
    if payload.command == Command.topic:
        return title_of(payload.argument) or ""
    if payload.command == Command.aspect:
        aspect = aspect_table().buttons().get(payload.argument, "")
        topic = title_of(turn.topic_id) if turn.topic_id else None
        return " · ".join(part for part in (topic, aspect) if part)
    return ""  # /human, /cancel, /callback …, /choose n (the options are not stored): nothing to show


# How a button press reads in the staff transcript (the resident tapped it; they did not type "/human").
_PRESSED = {Command.human: "（点了按钮：找工作人员）", Command.cancel: "（点了按钮：不用了）",
            Command.repeat: "（点了按钮：再说一遍）", Command.slower: "（点了按钮：说慢一点）"}


def readable(text: str, title_of: Callable[[str], str | None] = lambda _entry_id: None) -> str:
    """A resident message as staff should read it: a button payload becomes what the button said."""
    payload = payloads.parse(text)
    if payload is None:
        return text
    if payload.command in _PRESSED:
        return _PRESSED[payload.command]
    if payload.command == Command.choose:
        return f"（选了第{payload.argument}项）" if payload.number else "（点了按钮：都不是）"
    if payload.command == Command.callback:
        return f"（留了回电号码：{payload.argument}）"  # stored masked, like every resident message
    title = _payload_title(ResidentTurn(text, None, None), payload, title_of)
    return f"（点了按钮：{title}）" if title else text


def real_question(turns: Iterable[ResidentTurn], title_of: Callable[[str], str | None]) -> str:
    """The newest resident message that says what they need; ``turns`` come newest first."""
    for turn in turns:
        text = turn.text.strip()
        payload = payloads.parse(text)
        if payload is not None:
            title = _payload_title(turn, payload, title_of)
            if title:
                return title
            continue
        if wants_human(text):  # 「转人工」 alone is not the question; 「转人工，低保卡丢了」 is
            if _bare_request(text):
                continue
            return text
        if turn.intent in NOT_A_QUESTION or is_cancel(text) or len(_FILLER.sub("", text)) < MIN_SUBSTANCE:
            continue
        return text
    return BARE_REQUEST
