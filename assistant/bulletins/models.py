"""The ``notices``, ``early_warnings`` and ``warning_communities`` tables (migration ``0018_bulletins``).

Times are stored UTC (``assistant.clock``). A warning is kept once per (sender, identifier): CAP identifiers
are unique per sender, and the unique key is what makes a duplicate delivered by two workers at once harmless.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from assistant.storage.models import Base, utcnow

NOTICE_STATES = ("draft", "submitted", "approved", "published", "archived")
WARNING_STATES = ("active", "cancelled", "superseded", "expired")
WARNING_SOURCES = ("cap", "manual")


class Notice(Base):
    """A community notice (停水停电, 疫苗接种 …) on its way to residents, or shown to them while valid."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # NULL: every community of the city (written by city staff).
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(String(1000))
    category: Mapped[str] = mapped_column(String(20))
    # Age bounds of the audience (NULL = no bound; both NULL = 全体居民).
    audience_min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audience_max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    valid_to: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Deferred: lists and the board never load the picture, only its public URL serves it.
    image: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    image_type: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    submitted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EarlyWarning(Base):
    """A disaster warning (预警) from the CAP feed or issued by staff, and what became of it."""

    __tablename__ = "early_warnings"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_early_warnings_sender_identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(10), default="cap")  # cap | manual
    sender: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str] = mapped_column(String(200))
    msg_type: Mapped[str] = mapped_column(String(20), default="Alert")
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    event: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[str] = mapped_column(String(10), default="blue")  # blue | yellow | orange | red
    severity: Mapped[str] = mapped_column(String(20), default="Unknown")
    urgency: Mapped[str] = mapped_column(String(20), default="Unknown")
    certainty: Mapped[str] = mapped_column(String(20), default="Unknown")
    headline: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    instruction: Mapped[str] = mapped_column(Text, default="")
    area_desc: Mapped[str] = mapped_column(Text, default="")
    geocodes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[valueName, value], ...]
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    assembly_point: Mapped[str] = mapped_column(String(300), default="")
    sent: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    effective: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    onset: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    issued_by: Mapped[str] = mapped_column(String(80), default="")  # staff username of a manual warning


class WarningCommunity(Base):
    """Which communities a warning covers (worked out once, at ingest, from its area)."""

    __tablename__ = "warning_communities"

    warning_id: Mapped[int] = mapped_column(Integer, ForeignKey("early_warnings.id", ondelete="CASCADE"),
                                            primary_key=True)
    community_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
