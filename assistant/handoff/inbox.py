"""Live handoff, staff side: the queue, claiming a conversation, replying, closing, turning it into an order.

A claim is one conditional UPDATE (status still waiting), so when two agents click at once exactly one gets
the conversation and the other is told who has it. Urgent requests (an emergency in the session) come first in
the queue; each row shows the resident's real question and the topic being discussed (``question``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.communities.scope import scope, visible
from assistant.dialogue.state import DialogueState
from assistant.handoff import (
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    conversation,
    push,
    tickets,
)
from assistant.handoff.live import (
    ACTIVE_STATUSES,
    CLOSED,
    CONVERTED,
    MESSAGE,
    QUEUED,
    SERVING,
    HandoffService,
    utc,
)
from assistant.handoff.question import LOOK_BACK, ResidentTurn, real_question
from assistant.labels import zh
from assistant.storage.models import Alert, ChatSession, HandoffRequest, Turn, WorkOrder
from pii import split_phone

log = logging.getLogger(__name__)

AGENT_JOINED = "社区工作人员已接入，请直接说您的问题。"
AGENT_CLOSED = "本次人工服务已结束，谢谢您。还有问题可以继续问我。"
ORDER_FROM_CHAT = "工作人员已为您登记工单{number}，由{department}办理。可以随时问我“查工单{number}”看进度。"
MAX_REPLY = 1000


@dataclass(frozen=True)
class QueueItem:
    id: int
    session_id: str
    channel: str
    queue_number: str
    status: str
    agent: str | None
    created_at: dt.datetime
    waited_minutes: int
    preview: str  # the resident's real question (masked), or the message left for a callback
    urgent: bool = False  # an emergency was raised in the session
    topic: str = ""  # the title of the topic being discussed, "" for none
    channel_label: str = ""  # the channel in Chinese

    @property
    def waiting(self) -> bool:
        return self.status == QUEUED


PREVIEW_CHARS = 80


def _resident_turns(db: Session, session_id: str) -> list[ResidentTurn]:
    rows = db.execute(select(Turn.user_text, Turn.intent, Turn.topic_id)
                      .where(Turn.session_id == session_id, Turn.user_text != "")
                      .order_by(Turn.id.desc()).limit(LOOK_BACK)).all()
    return [ResidentTurn(text, intent, topic_id) for text, intent, topic_id in rows]


def queue(db: Session, service: HandoffService,
          title_of: Callable[[str], str | None] = lambda _entry_id: None, who: object = None) -> list[QueueItem]:
    """Open requests, urgent ones first, then oldest first; ``title_of`` names a knowledge-base entry;
    ``who`` (a staff user) limits them to that user's community (``assistant.communities.scope``)."""
    now = service.now()
    service.sweep(db, now=now)
    open_requests = select(HandoffRequest).where(HandoffRequest.status.in_(ACTIVE_STATUSES))
    rows = list(db.scalars(scope(open_requests, HandoffRequest, who)
                           .order_by(HandoffRequest.urgent.desc(), HandoffRequest.created_at, HandoffRequest.id)
                           .limit(200)))
    sessions = {row.session_id for row in rows}
    states = dict(db.execute(select(ChatSession.id, ChatSession.state)
                             .where(ChatSession.id.in_(sessions))).all()) if rows else {}
    # An emergency raised after queueing makes the row urgent at once (the flag is stored on the next request
    # or sweep), so staff see it first without waiting for that.
    alerted = set(db.scalars(select(Alert.session_id).where(Alert.session_id.in_(sessions)))) if rows else set()
    items = []
    for row in rows:
        preview = row.left_message or real_question(_resident_turns(db, row.session_id), title_of)
        topic_id = DialogueState.from_json(states.get(row.session_id)).topic_id
        waited = max(int((now - utc(row.created_at)).total_seconds() // 60), 0)
        items.append(QueueItem(row.id, row.session_id, row.channel, row.queue_number, row.status, row.agent,
                               utc(row.created_at), waited, preview[:PREVIEW_CHARS],
                               bool(row.urgent) or row.session_id in alerted,
                               (title_of(topic_id) or "") if topic_id else "", zh(row.channel, "channel")))
    return sorted(items, key=lambda item: not item.urgent)  # stable: oldest first within each group


def counts(db: Session, who: object = None) -> dict[str, int]:
    query = select(HandoffRequest.status, func.count()).where(HandoffRequest.status.in_(ACTIVE_STATUSES))
    return {status: int(n) for status, n in db.execute(
        scope(query, HandoffRequest, who).group_by(HandoffRequest.status)).all()}


def get(db: Session, handoff_id: int, who: object = None) -> HandoffRequest:
    """The request; one of another community than ``who``'s is "not found" (its existence is not revealed)."""
    request = db.get(HandoffRequest, handoff_id)
    if request is None or not visible(request, who):
        raise NotFound("没有这个会话")
    return request


def _chat(db: Session, request: HandoffRequest) -> ChatSession:
    chat = db.get(ChatSession, request.session_id)
    if chat is None:
        raise NotFound("这个会话已经不存在了")
    return chat


def _own(request: HandoffRequest, agent: str, role: str) -> None:
    if request.status != SERVING:
        raise IllegalTransition(f"这个会话现在是“{request.status}”，请先接待")
    if request.agent != agent and role != "admin":
        raise NotAllowed(f"这个会话由{request.agent}接待")


def claim(db: Session, service: HandoffService, handoff_id: int, agent: str) -> HandoffRequest:
    service.track(db)
    now = service.now()
    result = db.execute(update(HandoffRequest)
                        .where(HandoffRequest.id == handoff_id, HandoffRequest.status.in_((QUEUED, MESSAGE)))
                        .values(status=SERVING, agent=agent, claimed_at=now))
    request = get(db, handoff_id)
    if result.rowcount != 1:
        db.refresh(request)
        if request.status == SERVING and request.agent == agent:
            return request
        if request.status == SERVING:
            raise IllegalTransition(f"{request.agent}已经接待了这个会话")
        raise IllegalTransition(f"这个会话已经{request.status}")
    db.refresh(request)
    chat = _chat(db, request)
    chat.handoff_status = SERVING
    conversation.post(db, chat, "system", AGENT_JOINED, now)
    push.queue_changed(db, request.community_code)
    push.message_added(db, chat.id, request.id)
    log.info("handoff %s claimed by %s", handoff_id, agent)
    return request


def reply(db: Session, service: HandoffService, handoff_id: int, agent: str, role: str, text: str) -> Turn:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("请输入回复内容")
    if len(text) > MAX_REPLY:
        raise InvalidInput(f"回复太长了，请不要超过{MAX_REPLY}个字")
    request = get(db, handoff_id)
    _own(request, agent, role)
    service.track(db)
    push.message_added(db, request.session_id, request.id)
    return conversation.post(db, _chat(db, request), "agent", text, service.now())


def announce_end(db: Session, service: HandoffService, request: HandoffRequest) -> None:
    """Once committed, staff pages learn that the conversation left the queue and got a last system message."""
    service.track(db)
    push.queue_changed(db, request.community_code)
    push.message_added(db, request.session_id, request.id)


def close(db: Session, service: HandoffService, handoff_id: int, agent: str, role: str, note: str) -> None:
    note = (note or "").strip()
    if not note:
        raise InvalidInput("请写一句处理说明再结束")
    if len(note) > MAX_REPLY:
        raise InvalidInput(f"说明太长了，请不要超过{MAX_REPLY}个字")
    request = get(db, handoff_id)
    if request.status == SERVING:
        _own(request, agent, role)
    elif request.status not in ACTIVE_STATUSES:
        raise IllegalTransition(f"这个会话已经{request.status}")
    now = service.now()
    announce_end(db, service, request)
    request.status = CLOSED
    request.agent = request.agent or agent
    request.close_note = note
    request.closed_at = now
    chat = _chat(db, request)
    chat.handoff_status = None
    conversation.post(db, chat, "system", AGENT_CLOSED, now)
    log.info("handoff %s closed by %s", handoff_id, agent)


def convert(db: Session, service: HandoffService, handoff_id: int, agent: str, role: str, *, description: str,
            category: str = "", department: str = "", location: str = "", contact: str = "",
            use_resident_contact: bool = True) -> WorkOrder:
    """Turns the conversation into a work order (the transcript goes with it) and ends the live chat.

    The callback number is the one typed by staff, else (``use_resident_contact``) the one the resident gave
    in the chat, kept encrypted on the request. A chosen department must be on the fixed list.
    """
    request = get(db, handoff_id)
    if request.status == SERVING:
        _own(request, agent, role)
    elif request.status not in ACTIVE_STATUSES:
        raise IllegalTransition(f"这个会话已经{request.status}")
    description = (description or "").strip() or (request.left_message or "")
    if not description:
        raise InvalidInput("请写明居民反映的问题")
    if len(description) > tickets.MAX_DESCRIPTION:
        raise InvalidInput(f"问题描述太长了，请不要超过{tickets.MAX_DESCRIPTION}个字")
    department = department.strip()
    if department and not service.policy.is_department(department):
        raise InvalidInput(tickets.not_a_department(department))
    phone = None
    if contact.strip():
        phone, rest = split_phone(contact.strip())
        if phone is None or rest.strip():
            raise InvalidInput("联系电话不对，请填11位手机号或带区号的座机号")
    elif use_resident_contact and getattr(request, "contact_encrypted", None):
        phone = service.cipher.decrypt(request.contact_encrypted)
    # A chosen department is kept, but the report's words still set the category (安全隐患 → priority, deadline).
    category = category.strip() or service.policy.categorize(description, None)
    now = service.now()
    chat = _chat(db, request)
    order = tickets.create_work_order(
        db, service.cipher, source="handoff", description=description, location=location.strip(),
        contact=phone, category=category, department=department or None,
        priority=service.policy.priorities.get(category) if department else None,
        session_id=chat.id, channel=request.channel, transcript=conversation.transcript(db, chat.id),
        actor=agent, policy=service.policy, route=not department, now=now)
    announce_end(db, service, request)
    request.status = CONVERTED
    request.agent = request.agent or agent
    request.work_order_number = order.number
    request.closed_at = now
    chat.handoff_status = None
    conversation.post(db, chat, "system", ORDER_FROM_CHAT.format(number=order.number, department=order.department),
                      now)
    log.info("handoff %s became work order %s", handoff_id, order.number)
    return order
