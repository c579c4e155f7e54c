"""Tables of the console: knowledge-base drafts going through review before they are published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class KbDraft(Base):
    """An edit of one entry on its way to residents: draft → submitted → approved → published.

    The live entry (``kb_entries``) is untouched until publication, so residents keep the published answer
    while a change is in review. ``base_version`` is the live version the edit started from: publishing an
    edit of an outdated version is refused instead of silently overwriting a newer one.
    """

    __tablename__ = "kb_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(80), index=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    note: Mapped[str] = mapped_column(Text, default="")  # the editor's summary or the reviewer's reason
    source: Mapped[str] = mapped_column(String(40), default="edit")  # edit | new | cluster | import
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
