"""Lists for staff (open, near-due, overdue) and the resident's masked view of one order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from assistant.handoff.calendar import CHINA
from assistant.handoff.lifecycle import OPEN_STATUSES
from assistant.handoff.tickets import TICKET_NUMBER
from assistant.storage.models import WorkOrder, WorkOrderEvent

VIEWS = {"open": "办理中", "near_due": "临近期限", "overdue": "已超期", "closed": "已办结", "all": "全部"}
PAGE_SIZE = 200


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def orders_query(view: str, *, now: dt.datetime, near_hours: int, department: str | None = None,
                 status: str | None = None) -> Select[tuple[WorkOrder]]:
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
    order_by = WorkOrder.due_at.asc() if view in ("open", "near_due", "overdue") else WorkOrder.created_at.desc()
    return query.order_by(order_by, WorkOrder.id).limit(PAGE_SIZE)


def list_orders(db: Session, view: str = "open", *, now: dt.datetime | None = None, near_hours: int = 24,
                department: str | None = None, status: str | None = None) -> list[WorkOrder]:
    now = now or dt.datetime.now(dt.UTC)
    return list(db.scalars(orders_query(view if view in VIEWS else "open", now=now, near_hours=near_hours,
                                        department=department, status=status)))


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


def china_time(value: dt.datetime | None) -> str:
    """Staff pages: a stored (UTC) time as China local time, to the minute."""
    value = _utc(value)
    return f"{value.astimezone(CHINA):%Y-%m-%d %H:%M}" if value else ""


@dataclass(frozen=True)
class PublicStep:
    status: str
    at: str


@dataclass(frozen=True)
class PublicOrder:
    """What anyone holding the number may see: no description, no contact, no names of staff."""

    number: str
    status: str
    department: str
    category: str
    created: str
    due: str
    steps: list[PublicStep]
    finished: bool


def _day(value: dt.datetime | None) -> str:
    value = _utc(value)
    return f"{value.astimezone(CHINA):%Y年%m月%d日}" if value else ""


def public_view(db: Session, number: str) -> PublicOrder | None:
    number = (number or "").strip().upper()
    if len(number) > 32 or not TICKET_NUMBER.fullmatch(number):
        return None
    order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
    if order is None:
        return None
    events = db.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id)
                        .order_by(WorkOrderEvent.id))
    steps: list[PublicStep] = []
    for event in events:
        # Only changes of status: internal notes (退单 reasons, 催办) are for staff.
        if not steps or steps[-1].status != event.to_status:
            steps.append(PublicStep(event.to_status, _day(event.at)))
    return PublicOrder(order.number, order.status, order.department, order.category, _day(order.created_at),
                       _day(order.due_at), steps, order.status not in OPEN_STATUSES)
