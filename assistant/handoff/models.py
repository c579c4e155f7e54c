"""Tables of the handoff feature: the one delivery outbox and deadline extensions, plus a few columns on the core
work-order and handoff tables (added by migration ``0004_handoff``).

The extra columns are appended to the core mapped classes here, with SQLAlchemy's documented "add a column to an
existing declarative class" mechanism, so the core module stays the lead's and every column of this feature
lives in this feature's module. All of them are nullable or have a server default, so a process that never
imports this module can still insert rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, HandoffRequest, WorkOrder, WorkOrderEvent, utcnow

# --- columns on core tables ---
# Which lifecycle action produced the event (派单, 催办, 延期 …); from/to status alone cannot tell 催办 from 延期.
WorkOrderEvent.action = mapped_column(String(20), nullable=False, server_default=text("''"), default="")
# Working days the deadline was computed with (from the category), for display and for 重办.
WorkOrder.deadline_days = mapped_column(Integer, nullable=True)
# The resident's verdict at the follow-up call: 1 satisfied, 0 not satisfied (allows 重办), NULL not asked yet.
WorkOrder.rating = mapped_column(Integer, nullable=True)
WorkOrder.reminders = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
WorkOrder.resolved_at = mapped_column(DateTime(timezone=True), nullable=True)
HandoffRequest.claimed_at = mapped_column(DateTime(timezone=True), nullable=True)
HandoffRequest.close_note = mapped_column(Text, nullable=True)
HandoffRequest.work_order_number = mapped_column(String(32), nullable=True)
# What a resident left as a message (phone numbers and ID numbers masked) while waiting for a callback.
HandoffRequest.left_message = mapped_column(Text, nullable=True)
# An emergency was raised in the session (migration 0007_urgent_handoff): first in the queue, never 留言.
HandoffRequest.urgent = mapped_column(Boolean, nullable=False, server_default=false(), default=False)
# The phone number a resident gave in the live chat, encrypted, and its masked form (0008_handoff_contact).
HandoffRequest.contact_encrypted = mapped_column(Text, nullable=True)
HandoffRequest.contact_masked = mapped_column(String(20), nullable=False, server_default=text("''"), default="")


# Which sender delivers an outbox row (``kind``): the department webhook or a customer-service API.
OUTBOX_KINDS = ("webhook", "wechat", "wecom")
CHANNEL_KINDS = ("wechat", "wecom")


class OutboxMessage(Base):
    """One message to deliver to another system; kept until delivered (at-least-once). The one outbox
    (migration ``0015_one_outbox``): work-order events and escalated alerts for department webhooks
    (``kind = "webhook"``) and late WeChat/WeCom replies (``kind = "wechat" | "wecom"``) share it.

    ``idempotency_key`` is sent with every attempt so the receiver can drop repeats. The payload holds no
    personal data: a work order's contact is decrypted and added only at send time, and a reply's recipient
    (OpenID/UserID) is kept encrypted in ``recipient_encrypted`` and wiped once the row is delivered or parked.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="webhook", server_default=text("'webhook'"))
    # NULL for an escalated alert (``alert_id``, migration 0006_alerts) and a channel reply.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True,
                                                 nullable=True)
    order_number: Mapped[str] = mapped_column(String(32))  # "" for a channel reply
    event: Mapped[str] = mapped_column(String(30))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    department: Mapped[str] = mapped_column(String(40))  # the webhook's target; "" for a channel reply
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # A lease: the drainer that set it owns the row until then (a crashed drainer's rows come back after it).
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A channel reply: the chat session (for erasure), the recipient encrypted, the callback it answers.
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    recipient_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    inbound_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WorkOrderExtension(Base):
    """A request to extend a work order's deadline (延期) and the approver's decision."""

    __tablename__ = "work_order_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(80))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="待审批", index=True)  # 待审批|已批准|已驳回
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    previous_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    new_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
