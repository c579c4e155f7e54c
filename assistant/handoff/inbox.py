"""Live handoff, staff side: the queue, claiming a conversation, replying, closing, turning it into an order.

A claim is one conditional UPDATE (status still waiting), so when two agents click at once exactly one gets
the conversation and the other is told who has it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.handoff import IllegalTransition, InvalidInput, NotAllowed, NotFound, conversation, tickets
from assistant.handoff.live import (
    ACTIVE_STATUSES,
    CLOSED,
    CONVERTED,
    MESSAGE,
    QUEUED,
    SERVING,
    HandoffService,
    split_phone,
    utc,
)
from assistant.storage.models import ChatSession, HandoffRequest, Turn, WorkOrder

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
    preview: str  # the last resident message (masked), or the message left for a callback


def queue(db: Session, service: HandoffService) -> list[QueueItem]:
    now = service.now()
    service.sweep(db, now=now)
    rows = db.scalars(select(HandoffRequest).where(HandoffRequest.status.in_(ACTIVE_STATUSES))
                      .order_by(HandoffRequest.created_at, HandoffRequest.id).limit(200))
    items = []
    for row in rows:
        preview = row.left_message or db.scalar(
            select(Turn.user_text).where(Turn.session_id == row.session_id, Turn.user_text != "")
            .order_by(Turn.id.desc()).limit(1)) or ""
        waited = max(int((now - utc(row.created_at)).total_seconds() // 60), 0)
        items.append(QueueItem(row.id, row.session_id, row.channel, row.queue_number, row.status, row.agent,
                               utc(row.created_at), waited, preview[:80]))
    return items


def counts(db: Session) -> dict[str, int]:
    return {status: int(n) for status, n in db.execute(
        select(HandoffRequest.status, func.count()).where(HandoffRequest.status.in_(ACTIVE_STATUSES))
        .group_by(HandoffRequest.status)).all()}


def get(db: Session, handoff_id: int) -> HandoffRequest:
    request = db.get(HandoffRequest, handoff_id)
    if request is None:
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
    return conversation.post(db, _chat(db, request), "agent", text, service.now())


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
    request.status = CLOSED
    request.agent = request.agent or agent
    request.close_note = note
    request.closed_at = now
    chat = _chat(db, request)
    chat.handoff_status = None
    conversation.post(db, chat, "system", AGENT_CLOSED, now)
    log.info("handoff %s closed by %s", handoff_id, agent)


def convert(db: Session, service: HandoffService, handoff_id: int, agent: str, role: str, *, description: str,
            category: str = "", department: str = "", location: str = "", contact: str = "") -> WorkOrder:
    """Turns the conversation into a work order (the transcript goes with it) and ends the live chat."""
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
    phone = None
    if contact.strip():
        phone, rest = split_phone(contact.strip())
        if phone is None or rest.strip():
            raise InvalidInput("联系电话不对，请填11位手机号或带区号的座机号")
    now = service.now()
    chat = _chat(db, request)
    order = tickets.create_work_order(
        db, service.cipher, source="handoff", description=description, location=location.strip(),
        contact=phone, category=category.strip() or None, department=department.strip() or None,
        session_id=chat.id, channel=request.channel, transcript=conversation.transcript(db, chat.id),
        actor=agent, policy=service.policy, route=not department.strip(), now=now)
    request.status = CONVERTED
    request.agent = request.agent or agent
    request.work_order_number = order.number
    request.closed_at = now
    chat.handoff_status = None
    conversation.post(db, chat, "system", ORDER_FROM_CHAT.format(number=order.number, department=order.department),
                      now)
    log.info("handoff %s became work order %s", handoff_id, order.number)
    return order
