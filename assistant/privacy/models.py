"""Tables of the privacy package (migration ``0012_privacy``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class PersonalDataKey(Base):
    """One phone or ID number seen in a conversation, a work order or a handoff request, as a keyed hash.

    ``key`` is HMAC-SHA256 of "kind:canonical number" under a key derived from the server secret: a database
    copy alone cannot tell whose numbers are in it (an unkeyed hash of the 10^10 mobile numbers is reversed in
    minutes). ``session_id`` is empty for a work order staff entered by hand.
    """

    __tablename__ = "personal_data_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    work_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    handoff_request_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PendingErasure(Base):
    """A resident's erasure that must wait: their work order is still open (the department needs the contact
    to finish it) or their conversation is still with an agent. The daily purge completes it once it can."""

    __tablename__ = "privacy_pending_erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    work_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(80))


class RetentionRun(Base):
    """One row per China day on which the daily purge started: the primary key lets exactly one worker of one
    node claim the day, however many run the background loop."""

    __tablename__ = "retention_runs"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, China date
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
