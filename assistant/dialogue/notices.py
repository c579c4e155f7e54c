"""Residents asking about community notices and warnings: 「最近有什么通知」「哪天停水」「有没有台风预警」.

The answer comes from the community's board (``assistant/bulletins/board.py``: the notices valid now and the
warnings in force, the JSON the web chat and kiosk show), with their dates. Nothing here reads the database.

Questions are recognised by cue words, never by retrieval, so that service questions keep going to the
knowledge base: 「暴雨预警 住河边的要不要先搬走」 and 「社区医院那边是哪天打疫苗」 are answered by KB entries.
The rules, narrowest first:

- ``/notices`` (the 「全部通知」 button sent back as text on a channel that cannot open the list itself);
- a warning question: 预警/警报 asked about (有没有…预警, 现在有什么预警, 预警解除了吗) → the warnings in force,
  or 「目前没有生效的预警」;
- an outage question: 停水/停电/停气 with a when-word (哪天, 什么时候, 几点 …) → the matching notices, or
  「目前没有关于停水的社区通知」 (no KB entry says when the water goes off);
- another notice subject (疫苗, 活动, 体检) with a when-word → the matching notices; with none the question
  goes on to the knowledge base (which explains vaccinations in general);
- a short request for notices (通知/公告 with 有什么, 最近, 看看 …) → all of them, or those its other words
  match (char bigrams after the KB's normalisation; with none matching, on to the knowledge base).

A question that asks for advice or a place (怎么办, 要注意什么, 在哪里, 带什么) is left to the knowledge base,
and so is anything longer than ``MAX_QUESTION_CHARS``: a long story around a question is a service question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.dialogue import payloads, replies
from assistant.dialogue.schemas import Button, Reply
from knowledge_base.normalize import normalize

NOTICES_PAYLOAD = payloads.NOTICES  # 「全部通知」: the web chat opens its list; other channels send it back
NOTICES_BUTTON_TITLE = "全部通知"
MAX_QUESTION_CHARS = 40  # longer messages tell a story around a service question: left to the KB
NOTICES_IN_REPLY = 3  # listed in a reply; the rest are one tap away (全部通知)
WARNINGS_IN_REPLY = 3
BODY_CHARS_IN_LIST = 60  # a listed notice's body is cut here; a single matching notice is shown whole
BODY_CHARS_SINGLE = 300
MIN_OVERLAP = 1  # content bigrams a notice must share with the question to match it
# Other words a question about a non-outage subject may have: 「什么时候打疫苗」 leaves 打, while 「社区医院那边是哪天
# 打疫苗」 or 「有没有认知症的活动」 name something more specific, which the knowledge base answers.
SUBJECT_EXTRA_CHARS = 2

NONE_NOTICES = "目前没有社区通知。"
NONE_TOPIC = "目前没有关于{topic}的社区通知。"
NONE_WARNINGS = "目前没有生效的预警。"
NONE_EVENT = "目前没有{event}预警。"
WARNINGS_FIRST = "请注意，现在有{titles}。\n"
CONTACT = "详情请咨询社区（电话{社区电话}）。"  # rendered with the community's profile: never an invented number

WARNING_WORDS = re.compile(r"预警|警报")
WARNING_ASK = re.compile(
    r"(有没有|有无|有什么|有啥|有哪些|发了什么|发布了?什么|什么样的|哪些|几级|什么颜色|啥颜色).{0,6}(预警|警报)"
    r"|(预警|警报)(信号)?(吗|么|没有|没|呢|还在吗|还有吗|解除|取消|结束|到什么时候|到几点|什么时候(结束|解除))"
    r"|^(现在|目前|今天|当前|最近|这几天)?的?(预警|警报)(信息|信号)?[?？。!！]*$")
# Hazards a resident may name; a warning's event matches when it contains the word.
EVENTS = ("台风", "暴雨", "大风", "高温", "寒潮", "冰冻", "大雾", "雷电", "冰雹", "干旱", "霜冻", "道路结冰",
          "山体滑坡", "滑坡", "泥石流", "地质灾害", "洪水", "山洪", "森林火险", "霾", "地震", "转移")
ADVICE = re.compile(r"怎么办|怎么做|咋办|要做什么|做些什么|注意什么|注意啥|注意些|准备什么|备什么|要不要.{0,3}搬|"
                    r"怎么防|怎么申请|怎么办理|怎么预约|要带|带什么|材料|去哪|在哪|哪里|多少钱|收费|免费")
WHEN = re.compile(r"哪天|哪一天|哪日|什么时候|啥时候|什么时间|几号|几点|几时|多久|哪几天|时间|日期|"
                  r"停不停|会不会停|要不要停|还停")


@dataclass(frozen=True)
class Subject:
    name: str  # how the reply names it: 停水
    asked: re.Pattern[str]  # the question names it
    categories: tuple[str, ...]  # notices of these categories match
    words: tuple[str, ...]  # or notices whose title or body says one of these
    outage: bool = False  # answered even when nothing matches (the KB never says when the water goes off)


SUBJECTS = (
    Subject("停水", re.compile(r"停水|断水|来水|停不停水|供水|没水"), (), ("停水", "断水", "供水", "来水", "自来水"), True),
    Subject("停电", re.compile(r"停电|断电|来电|停不停电|供电|没电"), (), ("停电", "断电", "供电", "来电", "电力"), True),
    Subject("停气", re.compile(r"停气|断气|停不停气|停燃气|停天然气|停煤气"), (), ("停气", "燃气", "天然气", "煤气"), True),
    Subject("疫苗接种", re.compile(r"疫苗|接种|预防针"), ("疫苗接种",), ("疫苗", "接种", "预防针")),
    Subject("体检", re.compile(r"体检"), (), ("体检",)),
    Subject("活动", re.compile(r"活动"), ("活动",), ("活动",)),
)
NOTICE_WORDS = re.compile(r"通知|公告|告示|通告|布告")
NOTICE_ASK = re.compile(r"有没有|有无|有什么|有啥|有哪些|有新|哪些|什么新|最近|最新|近期|这几天|这两天|这周|本周|今天|"
                        r"看看|看一下|查查|查一下|查看|全部|所有|发了|都有")
# Words of a notice request that say nothing about its subject (what is left names the subject, if anything).
FILLER = re.compile(r"通知|公告|告示|通告|布告|有没有|有无|有什么|有啥|有哪些|有新的?|哪些|什么|最近|最新|近期|这几天|这两天|"
                    r"这周|本周|今天|看看|看一下|查查|查一下|查看|全部|所有|发了|都有|社区|小区|我们|咱们|这边|这里|"
                    r"请问|你好|您好|帮我|麻烦|一下|想|要|的|了|吗|呢|啊|呀|吧|么|嘛|有|没|是|给|我|看|查|关于|[^\w]")


@dataclass(frozen=True)
class BulletinQuestion:
    kind: str  # "notices" | "warnings"
    subject: Subject | None = None  # a named notice subject (停水 …)
    content: str = ""  # other words of a notice request (电梯), matched by bigrams
    event: str = ""  # a hazard named in a warning question (台风)
    must_answer: bool = True  # False: with nothing matching, the knowledge base answers instead


@dataclass
class BulletinAnswer:
    text: str
    notices_button: bool = True
    matched: list[int] = field(default_factory=list)  # ids of the notices or warnings the answer names


def read_question(text: str) -> BulletinQuestion | None:
    """What a message asks of the board, or None for everything else (most messages)."""
    stripped = text.strip()
    if payloads.is_command(stripped, payloads.Command.notices):
        return BulletinQuestion("notices")
    normalized = normalize(stripped)
    if not normalized or len(normalized) > MAX_QUESTION_CHARS or ADVICE.search(normalized):
        return None
    if WARNING_WORDS.search(normalized):
        if not WARNING_ASK.search(normalized):
            return None
        return BulletinQuestion("warnings", event=next((e for e in EVENTS if e in normalized), ""))
    subject = next((s for s in SUBJECTS if s.asked.search(normalized)), None)
    if subject is not None:
        if not WHEN.search(normalized) and not NOTICE_ASK.search(normalized):
            return None
        if not subject.outage and len(FILLER.sub("", WHEN.sub("", subject.asked.sub("", normalized)))) \
                > SUBJECT_EXTRA_CHARS:
            return None
        return BulletinQuestion("notices", subject=subject, must_answer=subject.outage)
    if NOTICE_WORDS.search(normalized) and NOTICE_ASK.search(normalized):
        content = FILLER.sub("", normalized)
        return BulletinQuestion("notices", content=content, must_answer=not content)
    return None


# --- answering from the board -------------------------------------------------------------------------------

def _bigrams(text: str) -> set[str]:
    text = normalize(text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def matching_notices(question: BulletinQuestion, notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notices a question is about: all of them for a bare request, else by subject or shared words."""
    subject = question.subject
    if subject is not None:
        return [n for n in notices if n.get("category") in subject.categories
                or any(w in f"{n.get('title', '')}{n.get('body', '')}" for w in subject.words)]
    if not question.content:
        return list(notices)
    wanted = _bigrams(question.content)
    scored = [(len(wanted & _bigrams(f"{n.get('category', '')}{n.get('title', '')}{n.get('body', '')}")), i, n)
              for i, n in enumerate(notices)]
    return [n for score, _i, n in sorted(scored, key=lambda s: (-s[0], s[1])) if score >= MIN_OVERLAP]


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit].rstrip("，。；、,. ") + "……"


def _notice_line(notice: dict[str, Any], body_chars: int) -> str:
    dates = notice.get("dates_text") or ""
    head = f"【{notice.get('category')}】{notice.get('title')}" if notice.get("category") else str(notice.get("title"))
    when = f"（{dates}）" if dates else ""
    body = _cut(notice.get("body", ""), body_chars)
    return f"{head}{when}：{body}" if body else f"{head}{when}"


def answer_notices(question: BulletinQuestion, board: dict[str, Any], contact: str) -> BulletinAnswer | None:
    notices = list(board.get("notices") or [])
    found = matching_notices(question, notices)
    if not found:
        if not question.must_answer:
            return None
        lead = NONE_TOPIC.format(topic=question.subject.name) if question.subject else NONE_NOTICES
        return BulletinAnswer(lead + contact, notices_button=bool(notices))
    shown = found[:NOTICES_IN_REPLY]
    if len(found) == 1:
        text = "社区通知：" + _notice_line(found[0], BODY_CHARS_SINGLE)
    else:
        lines = [f"{i}. {_notice_line(n, BODY_CHARS_IN_LIST)}" for i, n in enumerate(shown, start=1)]
        text = f"社区通知有{len(found)}条：\n" + "\n".join(lines)
    if len(found) > len(shown):
        text += f"\n还有{len(found) - len(shown)}条，请点“{NOTICES_BUTTON_TITLE}”看。"
    return BulletinAnswer(text, matched=[int(n.get("id") or 0) for n in shown])


def _warning_line(warning: dict[str, Any]) -> str:
    title = warning.get("title") or warning.get("headline") or "预警"
    sender = warning.get("sender_name") or ""
    expires = warning.get("expires_text") or ""
    parts = [f"{sender}发布" if sender else "", f"有效至{expires}" if expires else ""]
    meta = "，".join(p for p in parts if p)
    line = f"{title}（{meta}）" if meta else str(title)
    advice = _cut(warning.get("instruction") or warning.get("description") or "", BODY_CHARS_SINGLE)
    if advice:
        line += f"。{advice}"
    if warning.get("assembly_point"):
        line += f"。集合地点：{warning['assembly_point']}"
    return line.rstrip("。") + "。"


def answer_warnings(question: BulletinQuestion, board: dict[str, Any], contact: str) -> BulletinAnswer:
    warnings = list(board.get("warnings") or [])
    lead = ""
    if question.event:
        named = [w for w in warnings if question.event in f"{w.get('event', '')}{w.get('title', '')}"]
        if not named and warnings:
            lead = NONE_EVENT.format(event=question.event) + "现在生效的预警："
        elif not named:
            return BulletinAnswer(NONE_EVENT.format(event=question.event) + contact, notices_button=False)
        else:
            warnings = named
    if not warnings:
        return BulletinAnswer(NONE_WARNINGS + contact, notices_button=False)
    shown = warnings[:WARNINGS_IN_REPLY]
    if len(shown) == 1 and not lead:
        text = "现在有预警：" + _warning_line(shown[0])
    else:
        lines = [f"{i}. {_warning_line(w)}" for i, w in enumerate(shown, start=1)]
        text = (lead or f"现在有{len(warnings)}条预警：") + "\n" + "\n".join(lines)
    return BulletinAnswer(text, notices_button=False, matched=[int(w.get("id") or 0) for w in shown])


def answer(question: BulletinQuestion, board: dict[str, Any], contact: str) -> BulletinAnswer | None:
    """The reply to a bulletin question from a community's board, or None to let the knowledge base answer."""
    if question.kind == "warnings":
        return answer_warnings(question, board, contact)
    found = answer_notices(question, board, contact)
    warnings = list(board.get("warnings") or [])
    if found is not None and warnings and question.subject is None and not question.content:
        # 「最近有什么通知」 while a warning is in force: the warning is what matters most, said first.
        titles = "、".join(str(w.get("title") or "预警") for w in warnings[:WARNINGS_IN_REPLY])
        found.text = WARNINGS_FIRST.format(titles=titles) + found.text
    return found


def reply_of(found: BulletinAnswer) -> Reply:
    """The chat reply: the answer, 「全部通知」 when there are notices to open, and 转人工."""
    buttons = [Button(title=NOTICES_BUTTON_TITLE, payload=NOTICES_PAYLOAD)] if found.notices_button else []
    return replies.make_reply(found.text, [*buttons, replies.HUMAN_BUTTON])
