"""Database tables. Every schema change comes with an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class KbEntryRow(Base):
    """The current state of one knowledge-base entry (any status)."""

    __tablename__ = "kb_entries"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Hash of the shipped YAML version this row last took; a staff edit sets staff_modified so a later
    # shipped update is parked in pending_shipped instead of overwriting the edit.
    shipped_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff_modified: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_shipped: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="shipped")
    # Community overlays (issue 15, migration 0016): NULL = a city entry every community sees; else the
    # community whose residents alone see it (its id is namespaced ``CODE--…``). The attribute is not called
    # ``community_code`` on purpose: the communities module stamps that attribute on every new row it finds.
    community: Mapped[str | None] = mapped_column("community_code", String(32), nullable=True, index=True)
    # For a community's override: the city entry whose answer and aspects it replaces (the rest comes from
    # the city entry when the knowledge base is built). NULL for city and local entries.
    overrides: Mapped[str | None] = mapped_column(String(80), nullable=True)


class KbEntryVersion(Base):
    """Append-only history of every saved version of an entry (for diff and rollback)."""

    __tablename__ = "kb_entry_versions"
    __table_args__ = (Index("ix_kb_entry_versions_entry_version", "entry_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(String(200), default="")


class KbDocument(Base):
    """Whole-KB documents that staff edit as one: the synonym dictionary and the community profile."""

    __tablename__ = "kb_documents"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    shipped_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff_modified: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="shipped")


class KbState(Base):
    """A single row whose revision grows with every change residents can see; workers poll it."""

    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditLog(Base):
    """Append-only: who changed what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(120), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class ChatSession(Base):
    """One conversation; ``state`` holds the dialogue state between turns (topic, pending choices …)."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    handoff_status: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    # The community it belongs to (assistant/communities); records inherit their conversation's.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class Turn(Base):
    """One resident message and the reply; resident text is stored with ID and phone numbers masked."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_text: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(20), index=True)
    intent: Mapped[str | None] = mapped_column(String(40), nullable=True)
    intent_confidence: Mapped[float | None] = mapped_column(nullable=True)
    topic_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    topic_score: Mapped[float | None] = mapped_column(nullable=True)
    aspect: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reply_text: Mapped[str] = mapped_column(Text)
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    feedback: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 👍, -1 👎
    sender: Mapped[str] = mapped_column(String(20), default="bot")  # bot | agent


class VoiceClip(Base):
    """A resident's recording, kept only when ``Settings.asr_keep_audio`` says so: encrypted (Fernet), and
    deleted with its conversation (retention purge, a resident's erasure)."""

    __tablename__ = "voice_clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    audio_encrypted: Mapped[bytes] = mapped_column(LargeBinary)


class UnansweredQuery(Base):
    """A turn the assistant could not answer well, kept for staff review."""

    __tablename__ = "unanswered_queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    turn_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    query: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(20), index=True)  # fallback | low_confidence | thumbs_down
    intent: Mapped[str | None] = mapped_column(String(40), nullable=True)
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    resolved_entry_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The community it belongs to (assistant/communities); records inherit their conversation's.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class Alert(Base):
    """Something staff must see at once (an emergency reported through the assistant)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The community it belongs to (assistant/communities); records inherit their conversation's.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class WorkOrder(Base):
    """A work order (工单) handed to a department; contact details are encrypted at rest."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # report_issue | handoff | staff | message
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(20), default="web")
    category: Mapped[str] = mapped_column(String(40), default="一般诉求")
    topic_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    department: Mapped[str] = mapped_column(String(40), default="社区")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="受理", index=True)
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text, default="")
    contact_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_masked: Mapped[str] = mapped_column(String(40), default="")
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    assignee: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The community it belongs to (assistant/communities); records inherit their conversation's.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class WorkOrderEvent(Base):
    """Append-only history of a work order's transitions."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")


class TicketCounter(Base):
    """Per-day sequence for readable work-order numbers (GX + date + sequence)."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class HandoffRequest(Base):
    """A conversation waiting for, or talking with, a live agent."""

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    queue_number: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="排队中", index=True)
    reason: Mapped[str] = mapped_column(String(40), default="request_human")
    agent: Mapped[str | None] = mapped_column(String(80), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The community it belongs to (assistant/communities); records inherit their conversation's.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
