"""Work-order numbers, creation and lookup (the lifecycle and routing live beside this module).

Numbers read ``GX`` + date + a 3-digit daily sequence (``GX20261128007``). The sequence is one row per
day incremented by a single UPDATE inside the creating transaction, so two processes never draw the
same number: PostgreSQL row-locks the counter and SQLite serialises writers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.handoff import InvalidInput
from assistant.handoff import models as _handoff_columns  # noqa: F401 - the lifecycle columns
from assistant.handoff.calendar import CHINA
from assistant.handoff.outbox import enqueue
from assistant.handoff.policy import OrderPolicy, default_policy
from assistant.privacy.index import record_personal_data
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.models import TicketCounter, WorkOrder, WorkOrderEvent
from pii import mask_phone

log = logging.getLogger(__name__)

TICKET_NUMBER = re.compile(r"GX\d{8}\d{3,}", re.IGNORECASE)
MAX_DESCRIPTION = 2000
INITIAL_STATUS = "受理"


@dataclass(frozen=True)
class TicketView:
    """What a resident may see of a work order: nothing personal beyond a masked contact."""

    number: str
    status: str
    department: str
    category: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    contact_masked: str
    description: str


def _increment(session: Session, key: str) -> int:
    for _attempt in range(3):
        result = session.execute(
            update(TicketCounter).where(TicketCounter.day == key).values(value=TicketCounter.value + 1)
            .returning(TicketCounter.value)
        ).first()
        if result is not None:
            return int(result[0])
        try:
            with session.begin_nested():
                session.add(TicketCounter(day=key, value=0))
        except IntegrityError:
            continue  # another process created the row first; increment that one
    raise RuntimeError(f"could not allocate a number for {key}")


def today_in_china() -> dt.date:
    return dt.datetime.now(CHINA).date()


def next_number(session: Session, today: dt.date | None = None, prefix: str = "GX") -> str:
    day = (today or today_in_china()).strftime("%Y%m%d")
    return f"{prefix}{day}{_increment(session, day):03d}"


def next_queue_number(session: Session, today: dt.date | None = None) -> str:
    """A short daily queue number for a live handoff (A001, A002 …), read out and printed at the kiosk."""
    day = (today or today_in_china()).strftime("%y%m%d")
    return f"A{_increment(session, 'Q' + day):03d}"


def create_work_order(
    session: Session,
    cipher: PersonalDataCipher,
    *,
    source: str,
    description: str,
    location: str = "",
    contact: str | None = None,
    category: str | None = None,
    department: str | None = None,
    topic_id: str | None = None,
    session_id: str | None = None,
    channel: str = "web",
    transcript: list[dict[str, str]] | None = None,
    priority: str | None = None,
    due_at: dt.datetime | None = None,
    actor: str = "assistant",
    policy: OrderPolicy | None = None,
    route: bool = True,
    now: dt.datetime | None = None,
) -> WorkOrder:
    """Accepts (受理) a work order: routes it, sets its deadline in working days and records the first event.

    With ``route`` (the default) the routing table may override ``department`` and the report's words may
    set the category (安全隐患, 投诉); staff creating an order by hand pass ``route=False`` to keep theirs.
    """
    policy = policy or default_policy()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)  # stored as UTC (SQLite keeps no zone)
    if route:
        decided = policy.route(description=description, category=category, topic_id=topic_id,
                               suggested_department=department)
        category, department = decided.category, decided.department
        priority = priority or decided.priority
    category = category or "一般诉求"
    department = department or policy.default_department
    if not policy.is_department(department):  # a typo would hide the order from the department's account
        raise InvalidInput(not_a_department(department))
    days = policy.deadline_days(category)
    order = WorkOrder(
        number=next_number(session, now.astimezone(CHINA).date()),
        source=source,
        description=description[:MAX_DESCRIPTION],
        location=location[:500],
        contact_encrypted=cipher.encrypt(contact) if contact else None,
        contact_masked=mask_phone(contact) if contact else "",
        category=category,
        department=department,
        topic_id=topic_id,
        session_id=session_id,
        channel=channel,
        transcript=transcript or [],
        priority=priority or "normal",
        status=INITIAL_STATUS,
        due_at=due_at or policy.due_at(now, days),
        created_at=now,
    )
    order.deadline_days = days
    order.reminders = 0
    session.add(order)
    session.flush()
    if contact:
        record_personal_data(session, session_id, contact, work_order_id=order.id)
    event = WorkOrderEvent(order_id=order.id, actor=actor, from_status=None, to_status=INITIAL_STATUS,
                           note=f"created from {source}", at=now)
    event.action = INITIAL_STATUS
    session.add(event)
    if policy.delivers_to(department):
        enqueue(session, order, event)
    log.info("work order %s created from %s for %s", order.number, source, department)
    return order


def not_a_department(name: str) -> str:
    return f"“{name[:40]}”不在承办部门列表里，请从列表中选择"


def find_work_order(session: Session, number: str) -> TicketView | None:
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == number.upper()))
    if order is None:
        return None
    return TicketView(order.number, order.status, order.department, order.category, order.created_at,
                      order.due_at, order.contact_masked, order.description)


def orders_of_session(session: Session, session_id: str) -> list[TicketView]:
    orders = session.scalars(select(WorkOrder).where(WorkOrder.session_id == session_id)
                             .order_by(WorkOrder.created_at.desc()).limit(5))
    return [TicketView(o.number, o.status, o.department, o.category, o.created_at, o.due_at, o.contact_masked,
                       o.description) for o in orders]


def owner_session(session: Session, number: str) -> str | None:
    """The chat session a work order was made in (None for orders staff entered or of unknown origin)."""
    return session.scalar(select(WorkOrder.session_id).where(WorkOrder.number == number.upper()))
