"""The outbox: work-order events written in the same transaction as the change, delivered afterwards.

A change and its outbox row commit together, so an event is never lost even when the department system is
down; a drain (the server's background task or ``shequ orders drain``) sends due rows through the sink, and
on failure schedules the next attempt with exponential backoff. Delivery is at least once: a crash between
sending and recording success sends the row again, with the same ``Idempotency-Key``, and the receiver
drops the repeat. Rows of one order go out in order: a later event waits while an earlier one is retried.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.handoff import DeliveryError
from assistant.handoff.models import OutboxMessage
from assistant.handoff.sinks import Delivery, TicketSink
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
EVENT_CODES = {"受理": "created", "派单": "dispatched", "签收": "accepted", "退单": "returned", "办结": "resolved",
               "回访": "followed_up", "评价": "rated", "重办": "reopened", "催办": "reminded",
               "申请延期": "extension_requested", "批准延期": "extension_approved", "驳回延期": "extension_rejected"}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    value = _utc(value)
    return value.isoformat() if value else None


def order_snapshot(order: WorkOrder) -> dict[str, Any]:
    """What a department receives about an order; the contact is added only at send time."""
    return {"number": order.number, "status": order.status, "category": order.category,
            "department": order.department, "priority": order.priority, "source": order.source,
            "description": order.description, "location": order.location, "channel": order.channel,
            "created_at": _iso(order.created_at), "due_at": _iso(order.due_at),
            "transcript": list(order.transcript or [])}


def enqueue(db: Session, order: WorkOrder, event: WorkOrderEvent) -> OutboxMessage:
    db.flush()  # the event needs its id for the idempotency key
    code = EVENT_CODES.get(event.action or "", "updated")
    key = f"{order.number}:{event.id}"
    at = _utc(event.at) or dt.datetime.now(dt.UTC)
    row = OutboxMessage(order_id=order.id, order_number=order.number, event=code, idempotency_key=key,
                        department=order.department, status="pending", attempts=0, last_error="",
                        created_at=at, next_attempt_at=at,
                        payload={"event": code, "action": event.action, "idempotency_key": key,
                                 "occurred_at": _iso(at),
                                 "note": event.note, "order": order_snapshot(order)})
    db.add(row)
    return row


def enqueue_alert(db: Session, alert: Any, department: str, at: dt.datetime) -> OutboxMessage:
    """An emergency nobody acknowledged in time, for the department's webhook (same delivery, same retries).

    ``alert`` is an ``Alert`` row; its text is already masked, and nothing else about the resident is sent.
    """
    key = f"alert:{alert.id}:escalated"
    number = f"ALERT{alert.id}"
    row = OutboxMessage(order_id=None, order_number=number, event="alert_escalated", idempotency_key=key,
                        department=department, status="pending", attempts=0, last_error="",
                        created_at=at, next_attempt_at=at,
                        payload={"event": "alert_escalated", "idempotency_key": key, "occurred_at": _iso(at),
                                 "alert": {"id": alert.id, "kind": alert.kind, "channel": alert.channel,
                                           "text": alert.text, "raised_at": _iso(alert.created_at)}})
    row.alert_id = alert.id  # type: ignore[attr-defined]  # column of migration 0006_alerts
    db.add(row)
    return row


@dataclass
class DrainReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    max_attempts: int = 20

    def delay(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0)))


def _claim(factory: sessionmaker[Session], row_id: int, now: dt.datetime) -> bool:
    with session_scope(factory) as db:
        result = db.execute(update(OutboxMessage)
                            .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending",
                                   or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))
                            .values(locked_until=now + LEASE))
        return result.rowcount == 1


def _delivery(db: Session, row: OutboxMessage, cipher: PersonalDataCipher | None) -> Delivery:
    body = dict(row.payload)
    order = db.get(WorkOrder, row.order_id) if row.order_id is not None else None
    if order is not None and order.contact_encrypted and cipher is not None:
        body["contact"] = cipher.decrypt(order.contact_encrypted)
    return Delivery(row.idempotency_key, row.event, row.department, body)


def drain(factory: sessionmaker[Session], sink: TicketSink, *, backoff: Backoff | None = None,
          cipher: PersonalDataCipher | None = None, now: dt.datetime | None = None,
          limit: int = 100) -> DrainReport:
    backoff = backoff or Backoff()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    report = DrainReport()
    with session_scope(factory) as db:
        pending = db.execute(select(OutboxMessage.id, OutboxMessage.order_id, OutboxMessage.next_attempt_at)
                             .where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
                             .limit(limit * 4)).all()
    blocked: set[int] = set()
    for row_id, order_id, next_attempt_at in pending:
        # An alert row (no order) is independent of every other row: it blocks nothing, nothing blocks it.
        order_id = order_id if order_id is not None else -row_id
        if report.delivered + report.retried + report.failed >= limit:
            break
        if order_id in blocked:
            continue
        if _utc(next_attempt_at) > now or not _claim(factory, row_id, now):
            blocked.add(order_id)
            continue
        with session_scope(factory) as db:
            row = db.get(OutboxMessage, row_id)
            if row is None:
                continue
            delivery = _delivery(db, row, cipher)
        try:
            sink.deliver(delivery)
        except DeliveryError as exc:
            _record_failure(factory, row_id, str(exc), exc.permanent, backoff, now, report)
            if not exc.permanent:
                # A parked row does not hold back the order's next events: each carries the whole order.
                blocked.add(order_id)
            continue
        with session_scope(factory) as db:
            db.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                       .values(status="delivered", delivered_at=now, attempts=OutboxMessage.attempts + 1,
                               locked_until=None, last_error=""))
        report.delivered += 1
    if report.delivered or report.retried or report.failed:
        log.info("outbox: %d delivered, %d to retry, %d failed", report.delivered, report.retried, report.failed)
    return report


def _record_failure(factory: sessionmaker[Session], row_id: int, error: str, permanent: bool, backoff: Backoff,
                    now: dt.datetime, report: DrainReport) -> None:
    with session_scope(factory) as db:
        row = db.get(OutboxMessage, row_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = error[:500]
        row.locked_until = None
        if permanent or row.attempts >= backoff.max_attempts:
            row.status = "failed"
            report.failed += 1
            log.error("outbox message %s for %s parked as failed after %d attempts: %s", row.id,
                      row.order_number, row.attempts, error)
        else:
            row.next_attempt_at = now + backoff.delay(row.attempts)
            report.retried += 1
            log.warning("outbox message %s for %s not delivered (attempt %d), next at %s: %s", row.id,
                        row.order_number, row.attempts, row.next_attempt_at.isoformat(timespec="seconds"), error)
        report.errors.append(error)


def requeue(db: Session, ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Puts failed rows back in the queue (all failed rows when ``ids`` is None)."""
    query = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    due = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    result = db.execute(query.values(status="pending", attempts=0, next_attempt_at=due,
                                     locked_until=None))
    return int(result.rowcount or 0)


def counts(db: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {status: int(n) for status, n in db.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()}
