"""What a chat reply looks like in WeChat: plain text, buttons as a numbered list (回复 1 / 2 …).

WeChat text messages have no buttons, so each button becomes a line "回复 1：办理材料"; when the resident
then sends "1" (or "１", "回复1", "第一个"), the button's payload (``/aspect materials``, ``/choose 1`` …)
goes to the dialogue instead of the digit.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.dialogue import payloads
from assistant.dialogue.payloads import Command
from assistant.dialogue.schemas import ChatResponse
from intents.choices import extract_choice, resolve_choice

WELCOME = ("您好，我是社区小助手。社保、医保、养老、救助、残疾人、就业、户籍、住房和社区事务，"
           "都可以直接打字问我，比如“高龄津贴怎么申请”。要找工作人员，请回复“转人工”。")
UNSUPPORTED = "我现在只能看懂文字。请把您的问题打字发给我，比如“社保卡丢了怎么办”。"
VOICE_UNCLEAR = "这段语音我没听清楚，请再说一遍，或者打字告诉我。"
VOICE_TOO_LONG = "这段语音太长了，请用一两句话说出您要办的事，或者打字告诉我。"
VOICE_NOT_RECEIVED = "这段语音没有收到，请再发一次，或者打字告诉我。"
VOICE_UNAVAILABLE = "语音消息我暂时听不了，请打字告诉我，比如“社保卡丢了怎么办”。"
# A voice message heard here (not by WeChat) is answered with what was heard first, so a wrong reading shows.
HEARD = "您说的是：“{text}”"
EMPTY_TEXT = "请输入您要问的内容。"
TOO_LONG = "内容太长了，请不要超过500个字，分几次发给我也可以。"
BUSY = "系统有点忙，请稍后再发一次。需要帮忙可以回复“转人工”。"

# Events that are not the resident talking to us: answering them would only spam the chat.
SILENT_EVENTS = frozenset({
    "unsubscribe", "location", "view", "view_miniprogram", "templatesendjobfinish", "masssendjobfinish",
    "enter_agent", "batch_job_result", "change_contact", "user_enter_tempsession",
})
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan"})

# Clarification buttons already carry their number ("1. 高龄津贴怎么申请").
_LEADING_NUMBER = re.compile(r"^\s*\d{1,2}\s*[.、．:：)]\s*")
_REPLY_PREFIX = re.compile(r"^(?:回复|回|选择|选|我选|就选)\s*")
_PUNCT = re.compile(r"[\s,.，。!?！？、~～:：]+")
# A menu pick is the whole message; a longer sentence with a number in it is a question.
_MAX_PICK_CHARS = 6


def format_reply(response: ChatResponse) -> tuple[str, list[str]]:
    """The text to send and the button payloads in the order they were numbered."""
    text = response.reply.text.strip()
    # A call button (tel:120) cannot be a numbered pick: WeChat shows it as a number to dial instead.
    calls = [b for b in response.reply.buttons if _is_call(b.payload)]
    buttons = [b for b in response.reply.buttons if not _is_call(b.payload)]
    if calls:
        dial = "、".join(str(payloads.parse(b.payload).argument) for b in calls)  # type: ignore[union-attr]
        text = f"{text}\n请直接拨打：{dial}" if text else f"请直接拨打：{dial}"
    if not buttons:
        return text, []
    lines = [text, ""] if text else []
    for number, button in enumerate(buttons, start=1):
        title = _LEADING_NUMBER.sub("", button.title).strip() or button.title
        lines.append(f"回复 {number}：{title}")
    return "\n".join(lines), [button.payload for button in buttons]


def _is_call(payload: str) -> bool:
    parsed = payloads.parse(payload)
    return parsed is not None and parsed.command == Command.call


def pick_payload(text: str, payloads: list[str]) -> str | None:
    """The payload of the numbered option the resident picked, or ``None`` when ``text`` is not a pick."""
    if not payloads:
        return None
    cleaned = _PUNCT.sub("", unicodedata.normalize("NFKC", text))
    cleaned = _REPLY_PREFIX.sub("", cleaned)
    if not cleaned or len(cleaned) > _MAX_PICK_CHARS:
        return None
    choice = extract_choice(cleaned)
    if choice is None or not isinstance(choice.value, int):
        return None
    index = resolve_choice(choice.value, len(payloads))
    return payloads[index] if index is not None else None
