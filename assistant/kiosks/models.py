"""The ``kiosks`` table (migration ``0017_kiosks``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class Kiosk(Base):
    """A self-service kiosk of a community, known by the hash of its device token."""

    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    # SHA-256 (hex) of the device token: the token itself is shown once at registration and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    version: Mapped[str] = mapped_column(String(40), default="")
    uptime_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"printer": "ok|low_paper|no_paper|offline|none", "reader": "ok|offline|none", "microphone": "ok|none"}
    health: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The open alert of each problem ({"offline": alert id, "no_paper": alert id}): one alert per problem,
    # closed when the kiosk recovers.
    open_alerts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
