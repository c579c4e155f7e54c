"""A resident's request about their personal data (个人信息保护法 第四十四至四十七条): what is held, a copy, erasure.

Everything starts from one phone or ID number and the blind index (``index.py``): the conversations, work orders
and handoff requests it was seen in, plus the work orders and handoff requests of those conversations.

Erasure deletes the conversations (turns, unanswered questions, handoff requests, acknowledged alerts, channel
rows). Work orders are records the department must keep, so they are anonymised instead: contact, transcript,
conversation link removed, description, location and notes masked; number, category, department, status and
dates stay for the statistics. What cannot be touched yet (an open work order, a conversation with an agent or
an unacknowledged alert) is recorded as a pending erasure that the daily purge completes once it has ended.

Every lookup, export and erasure writes an audit row with the number's masked form and the stated reason, never
the number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

import pii
from assistant.channels.models import ChannelInbound, ChannelMenu
from assistant.clock import china_seconds, now_utc
from assistant.handoff.lifecycle import OPEN_STATUSES as OPEN_ORDER_STATUSES
from assistant.handoff.live import ACTIVE_STATUSES as ACTIVE_HANDOFF_STATUSES
from assistant.handoff.models import OutboxMessage, WorkOrderExtension
from assistant.privacy import InvalidLookup
from assistant.privacy.index import Target
from assistant.privacy.models import PendingErasure, PersonalDataKey
from assistant.storage.db import session_scope
from assistant.storage.models import (
    Alert,
    AuditLog,
    ChatSession,
    HandoffRequest,
    Turn,
    UnansweredQuery,
    VoiceClip,
    WorkOrder,
    WorkOrderEvent,
)

LOOKUP_ACTION = "privacy.lookup"
EXPORT_ACTION = "privacy.export"
ERASE_ACTION = "privacy.erase"
MAX_REASON_CHARS = 200
NO_REASON = "请写明查询原因，例如：居民申请查阅、居民申请删除。"
MAX_ITEMS = 500  # per kind: one resident with more than this is a data problem to look at by hand
KEPT_OPEN_ORDER = "有未办结的工单"
KEPT_HANDOFF = "人工接待还没结束"
KEPT_ALERT = "紧急求助还没人确认"


def checked_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidLookup(NO_REASON)
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidLookup(f"原因太长了，请写在 {MAX_REASON_CHARS} 个字以内。")
    return reason


# ---------------------------------------------------------------- finding

@dataclass(frozen=True)
class SessionHeld:
    id: str
    channel: str
    started: dt.datetime
    last: dt.datetime
    turns: int
    kept_reason: str  # why erasure must wait; "" when it can go now


@dataclass(frozen=True)
class OrderHeld:
    id: int
    number: str
    status: str
    category: str
    department: str
    created: dt.datetime
    contact_masked: str

    @property
    def open(self) -> bool:
        return self.status in OPEN_ORDER_STATUSES


@dataclass(frozen=True)
class HandoffHeld:
    id: int
    session_id: str
    queue_number: str
    status: str
    created: dt.datetime
    contact_masked: str

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_HANDOFF_STATUSES


@dataclass
class Holdings:
    target: Target
    sessions: list[SessionHeld] = field(default_factory=list)
    orders: list[OrderHeld] = field(default_factory=list)
    handoffs: list[HandoffHeld] = field(default_factory=list)
    pending: int = 0  # erasures of these already waiting

    @property
    def empty(self) -> bool:
        return not (self.sessions or self.orders or self.handoffs)

    def counts(self) -> str:
        return f"会话 {len(self.sessions)}，工单 {len(self.orders)}，人工接待 {len(self.handoffs)}"


def _kept_reason(db: Session, session_id: str) -> str:
    if db.scalar(select(func.count()).select_from(WorkOrder).where(
            WorkOrder.session_id == session_id, WorkOrder.status.in_(OPEN_ORDER_STATUSES))):
        return KEPT_OPEN_ORDER
    if db.scalar(select(func.count()).select_from(HandoffRequest).where(
            HandoffRequest.session_id == session_id, HandoffRequest.status.in_(ACTIVE_HANDOFF_STATUSES))):
        return KEPT_HANDOFF
    if db.scalar(select(func.count()).select_from(Alert).where(
            Alert.session_id == session_id, Alert.acknowledged_at.is_(None))):
        return KEPT_ALERT
    return ""


def find(db: Session, target: Target) -> Holdings:
    """Everything held about the number: from the index, widened by one step (the orders and handoff requests
    of the conversations it was typed in, the conversations of the orders and requests it was given for)."""
    rows = db.execute(select(PersonalDataKey.session_id, PersonalDataKey.work_order_id,
                             PersonalDataKey.handoff_request_id)
                      .where(PersonalDataKey.key == target.key).limit(MAX_ITEMS * 3)).all()
    session_ids = {r.session_id for r in rows if r.session_id}
    order_ids = {r.work_order_id for r in rows if r.work_order_id is not None}
    handoff_ids = {r.handoff_request_id for r in rows if r.handoff_request_id is not None}
    if order_ids:
        session_ids |= set(db.scalars(select(WorkOrder.session_id).where(
            WorkOrder.id.in_(order_ids), WorkOrder.session_id.is_not(None))))
    if handoff_ids:
        session_ids |= set(db.scalars(select(HandoffRequest.session_id).where(HandoffRequest.id.in_(handoff_ids))))
    holdings = Holdings(target)
    orders_query = select(WorkOrder).where(WorkOrder.id.in_(order_ids) | WorkOrder.session_id.in_(session_ids))
    handoffs_query = select(HandoffRequest).where(
        HandoffRequest.id.in_(handoff_ids) | HandoffRequest.session_id.in_(session_ids))
    if session_ids:
        turns = dict(db.execute(select(Turn.session_id, func.count()).where(Turn.session_id.in_(session_ids))
                                .group_by(Turn.session_id)).all())
        for chat in db.scalars(select(ChatSession).where(ChatSession.id.in_(session_ids))
                               .order_by(ChatSession.created_at.desc()).limit(MAX_ITEMS)):
            holdings.sessions.append(SessionHeld(chat.id, chat.channel, chat.created_at, chat.updated_at,
                                                 int(turns.get(chat.id, 0)), _kept_reason(db, chat.id)))
    for order in db.scalars(orders_query.order_by(WorkOrder.created_at.desc()).limit(MAX_ITEMS)):
        holdings.orders.append(OrderHeld(order.id, order.number, order.status, order.category, order.department,
                                         order.created_at, order.contact_masked or ""))
    for request in db.scalars(handoffs_query.order_by(HandoffRequest.created_at.desc()).limit(MAX_ITEMS)):
        holdings.handoffs.append(HandoffHeld(request.id, request.session_id, request.queue_number, request.status,
                                             request.created_at, request.contact_masked or ""))
    ids_sessions = [s.id for s in holdings.sessions]
    ids_orders = [o.id for o in holdings.orders]
    holdings.pending = db.scalar(select(func.count()).select_from(PendingErasure).where(
        PendingErasure.session_id.in_(ids_sessions) | PendingErasure.work_order_id.in_(ids_orders))) or 0
    return holdings


def audit(db: Session, actor: str, action: str, target: Target, reason: str, detail: str = "") -> None:
    """The audit row of a lookup, export or erasure: the number's masked form and the reason, never the number."""
    text = f"原因：{reason}" + (f"；{detail}" if detail else "")
    db.add(AuditLog(actor=actor, action=action, target=target.describe()[:120],
                    detail=text[:2000]))


def look_up(db: Session, target: Target, actor: str, reason: str) -> Holdings:
    holdings = find(db, target)
    audit(db, actor, LOOKUP_ACTION, target, reason, f"找到{holdings.counts()}")
    return holdings


# ---------------------------------------------------------------- the copy for the resident

def export(db: Session, target: Target, actor: str, reason: str) -> dict[str, Any]:
    """What is held, as a JSON-ready dict with Chinese keys and China times.

    Values stay masked, the resident's own numbers included: turns were stored masked and cannot be unmasked,
    and the file leaves the server (printed, e-mailed, on a USB stick), where a masked copy lost or sent to the
    wrong person exposes nothing. The resident proves who they are at the counter, where staff can read them
    the full contact number from the order page (itself audited) if they ask.
    """
    from assistant.labels import zh

    holdings = find(db, target)
    sessions = []
    for held in holdings.sessions:
        turns = db.scalars(select(Turn).where(Turn.session_id == held.id).order_by(Turn.id))
        sessions.append({"渠道": zh(held.channel, "channel"), "开始时间": china_seconds(held.started),
                         "最后时间": china_seconds(held.last),
                         "对话": [{"时间": china_seconds(t.created_at), "居民说": t.user_text,
                                   ("工作人员回复" if t.sender == "agent" else "小助手回复"): t.reply_text}
                                  for t in turns]})
    orders = []
    for held in holdings.orders:
        order = db.get_one(WorkOrder, held.id)
        events = db.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == held.id)
                            .order_by(WorkOrderEvent.id))
        orders.append({"工单号": order.number, "状态": order.status, "类别": order.category,
                       "承办部门": order.department, "登记时间": china_seconds(order.created_at),
                       "问题描述": pii.mask_text(order.description or ""),
                       "地点": pii.mask_address(order.location or ""), "联系电话": order.contact_masked or "",
                       "办理记录": [{"时间": china_seconds(e.at), "状态": e.to_status,
                                     "说明": pii.mask_text(e.note or "")} for e in events]})
    handoffs = []
    for held in holdings.handoffs:
        request = db.get_one(HandoffRequest, held.id)
        handoffs.append({"排队号": request.queue_number, "状态": request.status,
                         "时间": china_seconds(request.created_at),
                         "留言": pii.mask_text(request.left_message or ""),
                         "联系电话": request.contact_masked or ""})
    audit(db, actor, EXPORT_ACTION, target, reason, f"导出{holdings.counts()}")
    return {"说明": "社区小助手保存的与该号码有关的个人信息。号码等敏感信息已遮挡。",
            "号码": target.describe(), "导出时间": china_seconds(now_utc()),
            "会话": sessions, "工单": orders, "人工接待": handoffs}


# ---------------------------------------------------------------- erasure

@dataclass
class ErasureResult:
    sessions_deleted: int = 0
    turns_deleted: int = 0
    handoffs_deleted: int = 0
    orders_anonymised: int = 0
    sessions_waiting: int = 0
    orders_waiting: int = 0

    def summary(self) -> str:
        text = (f"删除会话 {self.sessions_deleted}（对话 {self.turns_deleted}），人工接待 {self.handoffs_deleted}，"
                f"工单匿名化 {self.orders_anonymised}")
        if self.sessions_waiting or self.orders_waiting:
            text += f"；待办结后处理：会话 {self.sessions_waiting}，工单 {self.orders_waiting}"
        return text


def _chunks(values: Iterable[Any], size: int = MAX_ITEMS) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def delete_sessions(db: Session, session_ids: list[str]) -> tuple[int, int, int]:
    """Deletes conversations and everything of theirs; returns (sessions, turns, handoff requests) deleted.
    The caller has checked that none is still needed (open order, active handoff, unacknowledged alert)."""
    sessions = turns = handoffs = 0
    for ids in _chunks(session_ids):
        alert_ids = list(db.scalars(select(Alert.id).where(Alert.session_id.in_(ids))))
        if alert_ids:
            db.execute(delete(OutboxMessage).where(OutboxMessage.alert_id.in_(alert_ids)))
            db.execute(delete(Alert).where(Alert.id.in_(alert_ids)))
        handoff_ids = list(db.scalars(select(HandoffRequest.id).where(HandoffRequest.session_id.in_(ids))))
        handoffs += len(handoff_ids)
        db.execute(delete(HandoffRequest).where(HandoffRequest.session_id.in_(ids)))
        db.execute(delete(UnansweredQuery).where(UnansweredQuery.session_id.in_(ids)))
        db.execute(delete(VoiceClip).where(VoiceClip.session_id.in_(ids)))
        turns += db.execute(delete(Turn).where(Turn.session_id.in_(ids))).rowcount or 0
        db.execute(delete(OutboxMessage).where(OutboxMessage.session_id.in_(ids)))  # late replies, recipient too
        for model in (ChannelMenu, ChannelInbound):
            db.execute(delete(model).where(model.session_id.in_(ids)))
        db.execute(delete(PendingErasure).where(PendingErasure.session_id.in_(ids)))
        sessions += db.execute(delete(ChatSession).where(ChatSession.id.in_(ids))).rowcount or 0
        _forget_keys(db, session_ids=ids, handoff_ids=handoff_ids)
    return sessions, turns, handoffs


def anonymise_order(db: Session, order: WorkOrder) -> None:
    """Keeps the order as a record of the department's work, without the resident in it."""
    order.contact_encrypted = None
    order.contact_masked = ""
    order.description = pii.mask_text(order.description or "")
    order.location = pii.mask_address(order.location or "")
    order.transcript = []
    order.session_id = None
    for event in db.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id)):
        event.note = pii.mask_text(event.note or "")
    for extension in db.scalars(select(WorkOrderExtension).where(WorkOrderExtension.order_id == order.id)):
        extension.reason = pii.mask_text(extension.reason or "")
    db.execute(delete(PendingErasure).where(PendingErasure.work_order_id == order.id))
    db.execute(delete(PersonalDataKey).where(PersonalDataKey.work_order_id == order.id))


def _forget_keys(db: Session, *, session_ids: list[str], handoff_ids: list[int]) -> None:
    """Index rows whose every target is gone (or anonymised) point at nothing of the resident any more."""
    candidates = db.scalars(select(PersonalDataKey).where(
        PersonalDataKey.session_id.in_(session_ids) | PersonalDataKey.handoff_request_id.in_(handoff_ids)))
    for row in candidates:
        session_gone = row.session_id is None or db.get(ChatSession, row.session_id) is None
        order_gone = row.work_order_id is None or db.get(WorkOrder, row.work_order_id) is None
        handoff_gone = row.handoff_request_id is None or db.get(HandoffRequest, row.handoff_request_id) is None
        if session_gone and order_gone and handoff_gone:
            db.delete(row)


def _wait(db: Session, actor: str, *, session_id: str | None = None, order_id: int | None = None) -> None:
    column, value = (PendingErasure.session_id, session_id) if session_id else (PendingErasure.work_order_id, order_id)
    if db.scalar(select(func.count()).select_from(PendingErasure).where(column == value)):
        return
    db.add(PendingErasure(session_id=session_id, work_order_id=order_id, requested_by=actor[:80]))


def erase(db: Session, target: Target, actor: str, reason: str) -> ErasureResult:
    holdings = find(db, target)
    result = ErasureResult()
    for order in holdings.orders:
        if order.open:
            _wait(db, actor, order_id=order.id)
            result.orders_waiting += 1
        else:
            anonymise_order(db, db.get_one(WorkOrder, order.id))
            result.orders_anonymised += 1
    db.flush()
    free = []
    for chat in holdings.sessions:
        if _kept_reason(db, chat.id):
            _wait(db, actor, session_id=chat.id)
            result.sessions_waiting += 1
        else:
            free.append(chat.id)
    result.sessions_deleted, result.turns_deleted, result.handoffs_deleted = delete_sessions(db, free)
    # A finished handoff request found by the number whose conversation stays (an open order points to it).
    loose = [h.id for h in holdings.handoffs if not h.active and h.session_id not in free]
    if loose:
        result.handoffs_deleted += db.execute(delete(HandoffRequest).where(HandoffRequest.id.in_(loose))).rowcount or 0
        _forget_keys(db, session_ids=[], handoff_ids=loose)
    audit(db, actor, ERASE_ACTION, target, reason, result.summary())
    return result


# ---------------------------------------------------------------- erasures that had to wait

def _completable(db: Session, pending: PendingErasure) -> bool:
    if pending.work_order_id is not None:
        order = db.get(WorkOrder, pending.work_order_id)
        return order is None or order.status not in OPEN_ORDER_STATUSES
    if pending.session_id:
        return db.get(ChatSession, pending.session_id) is None or not _kept_reason(db, pending.session_id)
    return True


def completable_erasures(db: Session) -> int:
    return sum(1 for pending in db.scalars(select(PendingErasure)) if _completable(db, pending))


def complete_pending_erasures(factory: sessionmaker[Session], actor: str) -> int:
    """Completes the erasures whose order has ended or whose conversation is no longer needed; one short
    transaction each. Returns how many were completed."""
    with session_scope(factory) as db:
        ids = list(db.scalars(select(PendingErasure.id).order_by(PendingErasure.id)))
    done = 0
    for pending_id in ids:
        with session_scope(factory) as db:
            pending = db.get(PendingErasure, pending_id)
            if pending is None or not _completable(db, pending):
                continue
            if pending.work_order_id is not None:
                order = db.get(WorkOrder, pending.work_order_id)
                if order is not None:
                    anonymise_order(db, order)
            elif pending.session_id:
                delete_sessions(db, [pending.session_id])
            db.execute(delete(PendingErasure).where(PendingErasure.id == pending_id))
            done += 1
    return done
