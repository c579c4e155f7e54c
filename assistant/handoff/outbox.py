"""The one outbox: everything that must reach another system, written in the same transaction as the change,
delivered afterwards.

Rows are work-order events and escalated alerts for department webhooks (``kind = "webhook"``) and WeChat/WeCom
replies that missed the 5-second window (``kind = "wechat" | "wecom"``, enqueued by ``assistant.channels.outbox``).
A change and its outbox row commit together, so a message is never lost even when the receiver is down; the one
drain (``OrdersWorker.run_once``: ``shequ worker``, ``shequ orders drain`` or the server's background task) hands
each due row to the sender registered for its kind (``{"webhook": WebhookSink, "wechat": …}``) and, on a
``TransientDeliveryError``, schedules the next attempt with the one ``Backoff``; a ``PermanentDeliveryError`` (or
the last attempt) parks the row as failed, where staff can requeue it.

Several drainers may run at once. Rows are claimed in small batches: on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED`` (concurrent drainers take disjoint rows without waiting) and a lease written
in the same transaction; on SQLite, whose writers are serialised anyway, with a conditional UPDATE per row. The
lease (``locked_until``) brings back the rows of a drainer that crashed. Delivery is at least once: a crash
between sending and recording success sends the row again, with the same ``Idempotency-Key``, and the receiver
drops the repeat. Rows of one order go out in order: a row is claimable only while no earlier row of its order
is still pending, so a later event waits while an earlier one is retried (a parked row holds nothing back).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from assistant.clock import as_utc, now_utc
from assistant.delivery import Delivery, DeliveryError, PermanentDeliveryError, Sender
from assistant.handoff.models import OutboxMessage
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
# Rows claimed per round trip: a batch must be sent well within its lease (a webhook may take its 10 s timeout).
CLAIM_BATCH = 5
EVENT_CODES = {"受理": "created", "派单": "dispatched", "签收": "accepted", "退单": "returned", "办结": "resolved",
               "回访": "followed_up", "评价": "rated", "重办": "reopened", "催办": "reminded",
               "申请延期": "extension_requested", "批准延期": "extension_approved", "驳回延期": "extension_rejected"}


def _iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
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
    at = as_utc(event.at) or now_utc()
    row = OutboxMessage(kind="webhook", order_id=order.id, order_number=order.number, event=code,
                        idempotency_key=key, department=order.department, status="pending", attempts=0,
                        last_error="", created_at=at, next_attempt_at=at,
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
    at = as_utc(at) or at
    row = OutboxMessage(kind="webhook", order_id=None, order_number=number, event="alert_escalated",
                        idempotency_key=key, department=department, status="pending", attempts=0, last_error="",
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

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    max_attempts: int = 20

    def delay(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0)))


def as_senders(senders: Mapping[str, Sender] | Sender) -> dict[str, Sender]:
    """The registry by kind; a lone sender (a ``TicketSink``, as older callers pass) is the webhook sender."""
    if isinstance(senders, Mapping):
        return dict(senders)
    return {"webhook": senders}


def _claimable(now: dt.datetime, kinds: list[str]) -> ColumnElement[bool]:
    earlier = aliased(OutboxMessage)
    waits = exists().where(earlier.order_id == OutboxMessage.order_id, earlier.status == "pending",
                           earlier.id < OutboxMessage.id)
    # A row without an order (an alert, a reply) waits for nothing; testing that first spares the subquery.
    return and_(OutboxMessage.status == "pending", OutboxMessage.kind.in_(kinds),
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
                or_(OutboxMessage.order_id.is_(None), ~waits))


def _claim(factory: sessionmaker[Session], kinds: list[str], now: dt.datetime, limit: int,
           row_id: int | None = None) -> list[int]:
    """Leases up to ``limit`` due rows (or just ``row_id``) to this drainer; returns their ids in order."""
    lease = now + LEASE
    with session_scope(factory) as db:
        query = select(OutboxMessage.id).where(_claimable(now, kinds)).order_by(OutboxMessage.id).limit(limit)
        if row_id is not None:
            query = query.where(OutboxMessage.id == row_id)
        if db.get_bind().dialect.name == "postgresql":
            # Rows another drainer is claiming right now are skipped, not waited for.
            ids = list(db.scalars(query.with_for_update(skip_locked=True, of=OutboxMessage)))
            if ids:
                db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(locked_until=lease))
            return ids
        candidates = list(db.scalars(query))
    claimed = []
    for candidate in candidates:
        with session_scope(factory) as db:
            result = db.execute(update(OutboxMessage).where(OutboxMessage.id == candidate, _claimable(now, kinds))
                                .values(locked_until=lease))
            if result.rowcount == 1:
                claimed.append(candidate)
    return claimed


def _delivery(db: Session, row: OutboxMessage, cipher: PersonalDataCipher | None) -> Delivery:
    body = dict(row.payload)
    order = db.get(WorkOrder, row.order_id) if row.order_id is not None else None
    if order is not None and order.contact_encrypted and cipher is not None:
        body["contact"] = cipher.decrypt(order.contact_encrypted)
    recipient = None
    if row.recipient_encrypted and cipher is not None:
        recipient = cipher.decrypt(row.recipient_encrypted)  # None when unreadable: the sender parks the row
    return Delivery(row.idempotency_key, row.event, row.department, body, row.kind, recipient)


def _load(factory: sessionmaker[Session], ids: list[int], cipher: PersonalDataCipher | None) -> dict[int, Delivery]:
    """The leased rows as deliveries, read in one transaction (rows gone or no longer pending are left out)."""
    with session_scope(factory) as db:
        return {row.id: _delivery(db, row, cipher) for row in db.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending"))}


def _send(factory: sessionmaker[Session], senders: Mapping[str, Sender], row_id: int, delivery: Delivery,
          backoff: Backoff, now: dt.datetime, report: DrainReport) -> str:
    """Sends one leased row and records the outcome: ``delivered``, ``pending`` (to retry) or ``failed``."""
    try:
        sender = senders.get(delivery.kind)
        if sender is None:  # not claimed without a sender; kept for safety
            raise PermanentDeliveryError(f"no sender for {delivery.kind}")
        sender.deliver(delivery)
    except DeliveryError as exc:
        return _record_failure(factory, row_id, exc.reason, exc.permanent, backoff, now, report)
    except Exception as exc:  # a bug in a sender must neither lose the message nor stop the drain
        log.error("outbox message %s: unexpected %s while sending", row_id, type(exc).__name__)
        return _record_failure(factory, row_id, f"error:{type(exc).__name__}", False, backoff, now, report)
    with session_scope(factory) as db:
        db.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                   .values(status="delivered", delivered_at=now, attempts=OutboxMessage.attempts + 1,
                           locked_until=None, last_error="", recipient_encrypted=None))
    report.delivered += 1
    return "delivered"


def drain(factory: sessionmaker[Session], senders: Mapping[str, Sender] | Sender, *, backoff: Backoff | None = None,
          cipher: PersonalDataCipher | None = None, now: dt.datetime | None = None,
          limit: int = 100) -> DrainReport:
    """Sends due rows of every kind that has a sender (rows of other kinds wait for a drainer that has one)."""
    registry = as_senders(senders)
    kinds = sorted(registry)
    backoff = backoff or Backoff()
    now = as_utc(now) or now_utc()
    report = DrainReport()
    # Rows handled here are no longer claimable (delivered, parked, or due later), so each batch is new rows;
    # the cap on rounds only guards against a zero backoff making a failing row due again at once.
    for _ in range(limit):
        if report.handled >= limit:
            break
        batch = _claim(factory, kinds, now, min(CLAIM_BATCH, limit - report.handled))
        if not batch:
            break
        deliveries = _load(factory, batch, cipher)
        for row_id in batch:
            if row_id in deliveries:
                _send(factory, registry, row_id, deliveries[row_id], backoff, now, report)
    if report.handled:
        log.info("outbox: %d delivered, %d to retry, %d failed", report.delivered, report.retried, report.failed)
    return report


def deliver_now(factory: sessionmaker[Session], row_id: int, senders: Mapping[str, Sender], *,
                backoff: Backoff | None = None, cipher: PersonalDataCipher | None = None,
                now: dt.datetime | None = None) -> str | None:
    """One row at once (a late reply just enqueued), through the same claim and bookkeeping as ``drain``.
    ``None`` when the row is not due, not pending or held by another drainer; otherwise its new status."""
    now = as_utc(now) or now_utc()
    registry = as_senders(senders)
    if not _claim(factory, sorted(registry), now, 1, row_id):
        return None
    delivery = _load(factory, [row_id], cipher).get(row_id)
    if delivery is None:
        return None
    return _send(factory, registry, row_id, delivery, backoff or Backoff(), now, DrainReport())


def _record_failure(factory: sessionmaker[Session], row_id: int, error: str, permanent: bool, backoff: Backoff,
                    now: dt.datetime, report: DrainReport) -> str:
    with session_scope(factory) as db:
        row = db.get(OutboxMessage, row_id)
        if row is None:
            return "gone"
        row.attempts += 1
        row.last_error = error[:500]
        row.locked_until = None
        report.errors.append(error)
        what = row.order_number or row.kind
        if permanent or row.attempts >= backoff.max_attempts:
            row.status = "failed"
            row.recipient_encrypted = None  # a parked reply is never sent: its recipient is not kept
            report.failed += 1
            log.error("outbox message %s for %s parked as failed after %d attempts: %s", row.id, what,
                      row.attempts, error)
            return "failed"
        row.next_attempt_at = now + backoff.delay(row.attempts)
        report.retried += 1
        log.warning("outbox message %s for %s not delivered (attempt %d), next at %s: %s", row.id, what,
                    row.attempts, row.next_attempt_at.isoformat(timespec="seconds"), error)
        return "pending"


def requeue(db: Session, ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Puts failed rows back in the queue (all failed rows when ``ids`` is None)."""
    query = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    due = (now or now_utc()).astimezone(dt.UTC)
    result = db.execute(query.values(status="pending", attempts=0, next_attempt_at=due,
                                     locked_until=None))
    return int(result.rowcount or 0)


def counts(db: Session) -> dict[str, int]:
    return {status: int(n) for status, n in db.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()}

