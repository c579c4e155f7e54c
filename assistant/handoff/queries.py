"""Lists for staff (open, near-due, overdue) and the resident's masked view of one order.

The resident's view is given only to whoever proves the order is theirs: the last four digits of the contact
phone, or the token the receipt's QR code carries (:func:`order_token`). Order numbers are sequential, so the
number alone proves nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from assistant.clock import as_utc, china_time
from assistant.communities.scope import scope
from assistant.handoff.lifecycle import OPEN_STATUSES
from assistant.handoff.tickets import TICKET_NUMBER
from assistant.storage.models import WorkOrder, WorkOrderEvent
from pii import mask_text

VIEWS = {"open": "办理中", "near_due": "临近期限", "overdue": "已超期", "closed": "已办结", "all": "全部"}
PAGE_SIZE = 200


_utc = as_utc  # stored times are UTC (SQLite keeps no zone)


def orders_query(view: str, *, now: dt.datetime, near_hours: int, department: str | None = None,
                 status: str | None = None, who: object = None) -> Select[tuple[WorkOrder]]:
    now = _utc(now) or dt.datetime.now(dt.UTC)  # SQLite compares stored UTC text: never pass local time
    query = select(WorkOrder)
    if view == "open":
        query = query.where(WorkOrder.status.in_(OPEN_STATUSES))
    elif view == "near_due":
        query = query.where(WorkOrder.status.in_(OPEN_STATUSES), WorkOrder.due_at >= now,
                            WorkOrder.due_at <= now + dt.timedelta(hours=near_hours))
    elif view == "overdue":
        query = query.where(WorkOrder.status.in_(OPEN_STATUSES), WorkOrder.due_at < now)
    elif view == "closed":
        query = query.where(WorkOrder.status.not_in(OPEN_STATUSES))
    if department:
        query = query.where(WorkOrder.department == department)
    if status:
        query = query.where(WorkOrder.status == status)
    query = scope(query, WorkOrder, who)  # community staff: their community's orders only
    order_by = WorkOrder.due_at.asc() if view in ("open", "near_due", "overdue") else WorkOrder.created_at.desc()
    return query.order_by(order_by, WorkOrder.id).limit(PAGE_SIZE)


def list_orders(db: Session, view: str = "open", *, now: dt.datetime | None = None, near_hours: int = 24,
                department: str | None = None, status: str | None = None, who: object = None) -> list[WorkOrder]:
    now = now or dt.datetime.now(dt.UTC)
    return list(db.scalars(orders_query(view if view in VIEWS else "open", now=now, near_hours=near_hours,
                                        department=department, status=status, who=who)))


def deadline_state(order: WorkOrder, now: dt.datetime, near_hours: int = 24) -> str:
    """``overdue``, ``near_due`` or ``ok`` for open orders; ``closed`` otherwise."""
    if order.status not in OPEN_STATUSES:
        return "closed"
    due = _utc(order.due_at)
    if due is None:
        return "ok"
    if due < now:
        return "overdue"
    if due <= now + dt.timedelta(hours=near_hours):
        return "near_due"
    return "ok"


# What a resident reads for each status: plain words, not the staff's workflow names.
RESIDENT_STATUS = {"受理": "已受理，正在安排", "派单": "已派给{department}", "办理中": "{department}正在办理"}
RESIDENT_FINISHED = "已办结"
FINISHED_STATUSES = ("办结", "回访", "已评价")
RESOLUTION_ACTION = "办结"  # the step whose note is the result the resident is told
MAX_RESULT_CHARS = 200


def resident_status(status: str, department: str) -> str:
    """The plain-Chinese status a resident sees (受理 → 已受理，正在安排; 办结/回访/已评价 → 已办结)."""
    if status in FINISHED_STATUSES:
        return RESIDENT_FINISHED
    template = RESIDENT_STATUS.get(status)
    return template.format(department=department or "社区") if template else "正在办理"


@dataclass(frozen=True)
class PublicStep:
    status: str
    at: str  # China time, to the minute
    text: str = ""  # the step in plain words


@dataclass(frozen=True)
class PublicOrder:
    """What anyone holding the number may see: no description, no contact, no names of staff, no notes of
    staff — except the result written at 办结, once the order is finished (ID and phone numbers masked)."""

    number: str
    status: str
    department: str
    category: str
    created: str
    due: str
    steps: list[PublicStep]
    finished: bool
    status_text: str = ""
    result: str = ""


def _day(value: dt.datetime | None) -> str:
    return china_time(value, "%Y年%m月%d日")


def _minute(value: dt.datetime | None) -> str:
    return china_time(value, "%Y年%m月%d日 %H:%M")


def normalize_number(number: str | None) -> str:
    """A number as typed or scanned: case and spaces (also full-width ones) do not matter."""
    return re.sub(r"\s+", "", number or "").upper()


def _result(events: list[WorkOrderEvent]) -> str:
    """The note of the latest 办结 step, personal numbers masked: the one staff note meant for the resident."""
    for event in reversed(events):
        if event.to_status == RESOLUTION_ACTION and (event.note or "").strip():
            return mask_text(event.note.strip())[:MAX_RESULT_CHARS]
    return ""


# Said in chat instead of the details when the order was not made in this conversation.
NOT_YOURS_NOTE = "详细情况请扫回执上的二维码，或在查询页输入登记手机号的后四位查看。"
ORDER_TOKEN_CHARS = 32  # 128 bits of the HMAC: as unguessable as a session id
PHONE_TAIL_DIGITS = 4


def order_token(secret: bytes, number: str) -> str:
    """The token of a receipt's QR link (``/t/{number}?token=…``): an HMAC of the number with the server secret,
    so it needs no column and cannot be made up for the next number."""
    message = f"order\n{normalize_number(number)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:ORDER_TOKEN_CHARS]


def status_path(secret: bytes, number: str) -> str:
    """The path a receipt's QR code points to (prefix it with the public address of the server)."""
    number = normalize_number(number)
    return f"/t/{number}?token={order_token(secret, number)}"


def proves_owner(db: Session, number: str, secret: bytes, *, phone_tail: str = "", token: str = "") -> bool:
    """Whether the caller showed the order's token or the last four digits of its contact phone."""
    number = normalize_number(number)
    if token and hmac.compare_digest(token.strip().lower(), order_token(secret, number)):
        return db.scalar(select(WorkOrder.id).where(WorkOrder.number == number)) is not None
    tail = re.sub(r"\D", "", phone_tail or "")
    if len(tail) != PHONE_TAIL_DIGITS:
        return False
    masked = db.scalar(select(WorkOrder.contact_masked).where(WorkOrder.number == number))
    # The masked phone keeps its last four digits (139****5678): no decryption needed to compare them.
    digits = re.sub(r"\D", "", masked or "")
    return len(digits) >= PHONE_TAIL_DIGITS and hmac.compare_digest(digits[-PHONE_TAIL_DIGITS:], tail)


def public_view(db: Session, number: str) -> PublicOrder | None:
    """The resident's view of an order, for callers that have already checked who is asking."""
    number = normalize_number(number)
    if len(number) > 32 or not TICKET_NUMBER.fullmatch(number):
        return None
    order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
    if order is None:
        return None
    events = list(db.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id)
                             .order_by(WorkOrderEvent.id)))
    steps: list[PublicStep] = []
    for event in events:
        # Only changes of status: internal notes (退单 reasons, 催办) are for staff.
        if not steps or steps[-1].status != event.to_status:
            steps.append(PublicStep(event.to_status, _minute(event.at),
                                    _step_text(event.to_status, order.department)))
    finished = order.status not in OPEN_STATUSES
    return PublicOrder(order.number, order.status, order.department, order.category, _day(order.created_at),
                       _day(order.due_at), steps, finished, resident_status(order.status, order.department),
                       _result(events) if finished else "")


def _step_text(status: str, department: str) -> str:
    # A step names what happened then; 回访 and 已评价 are the community calling back, not a new result.
    return {"回访": "社区已回访", "已评价": "已记录您的评价"}.get(status) or resident_status(status, department)
