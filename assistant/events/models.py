"""Tables of the alert feature (migration ``0006_alerts``): the ``events`` table of the db event bus, and the
columns it adds to core tables (appended here, as ``assistant/handoff/models.py`` does, so the core module
stays the lead's). Every added column is nullable, so a process that never imports this module still works.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.handoff.models import OutboxMessage
from assistant.storage.models import Alert, Base, utcnow

# When nobody acknowledged the alert in time and administrators and the department were told.
Alert.escalated_at = mapped_column(DateTime(timezone=True), nullable=True)
# An outbox row belongs to a work order or, for an escalated emergency, to an alert.
OutboxMessage.alert_id = mapped_column(Integer, nullable=True, index=True)


class EventRow(Base):
    """One published event; kept for a few minutes so a page that reconnects gets what it missed."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
