"""The communities table (migration ``0014_communities``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class Community(Base):
    """A community (社区) of the city: its code, where it is, and the profile its answers are filled from."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    street: Mapped[str] = mapped_column(String(80), default="")  # 街道 / 乡镇
    district: Mapped[str] = mapped_column(String(80), default="")  # 城区 / 县
    # The profile as in community_profile.example.yaml (address, hours, phones, departments' phones, places).
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # The default community of a single installation follows the profile file at every start.
    follows_profile_file: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
