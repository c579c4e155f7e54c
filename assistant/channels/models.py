"""Tables of the WeChat/WeCom channels (migration ``0005_channels``).

No raw OpenID/UserID is stored in plain: sessions and menus are keyed by a keyed hash of it, and the one
outbox (``assistant.handoff.models.OutboxMessage``, migration ``0015_one_outbox``) keeps a late reply's
recipient Fernet-encrypted only until the message is sent or given up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class ChannelInbound(Base):
    """One received message, for dedupe: WeChat retries a callback three times when it gets no answer
    within 5 seconds. ``reply_text`` lets a retry of an answered message get the same answer again."""

    __tablename__ = "channel_inbound"
    __table_args__ = (UniqueConstraint("channel", "dedupe_key", name="uq_channel_inbound_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of MsgId or sender + CreateTime
    session_id: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))  # processing | replied | queued | ignored
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ChannelToken(Base):
    """The access token of an account, shared by every worker: fetching a new one invalidates the old one
    after a few minutes, so workers must not each keep their own. Stored encrypted."""

    __tablename__ = "channel_tokens"

    account: Mapped[str] = mapped_column(String(120), primary_key=True)  # "wechat:<AppID>", "wecom:<CorpID>:<AgentID>"
    token_encrypted: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float] = mapped_column(Float)
    fetched_at: Mapped[float] = mapped_column(Float)


class ChannelMenu(Base):
    """The numbered options last shown to a session, so that "1" can mean the first button."""

    __tablename__ = "channel_menus"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    payloads: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ChannelNonce(Base):
    """A callback nonce already used (migration ``0010_callback_nonces``): a replayed callback carries the
    same nonce and is refused while its timestamp is still inside the window. Shared by every worker
    through the database; pruned once no replay of it could pass the timestamp check any more."""

    __tablename__ = "channel_nonces"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds, server clock
