"""Tables of the auth package: staff accounts and their server-side sign-in sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.models import Base, utcnow


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(40), default="")
    # The community a community worker serves; empty for city staff, who see every community.
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Second factor (migration ``0011_admin_totp``, ``assistant.auth.totp``). Secrets are Fernet ciphertext
    # (PersonalDataCipher); ``totp_pending_secret`` is one being set up, not yet confirmed with a code.
    totp_secret: Mapped[str | None] = mapped_column(String(400), nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(400), nullable=True)
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The last accepted 30-second time step: a code of this step or an earlier one is never accepted again.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StaffSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie token is stored, so a database leak signs no one in."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInLimit(Base):
    """One shared rate-limit counter (migration ``0009_sign_in_limits``), kept as a GCRA "free at" time.

    ``bucket`` is a keyed SHA-256 of (scope, key): client addresses and usernames are not stored. A counter
    whose ``free_at`` has passed is empty and is deleted as new attempts come in.
    """

    __tablename__ = "sign_in_limits"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    free_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds when the counter is empty again


class RecoveryCode(Base):
    """One one-time recovery code of an account, kept only as an argon2id hash."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PendingSignIn(Base):
    """"Password right, second step not yet done": a few minutes to enter a code (``verify``) or to set up
    TOTP when the role requires it (``enroll``). It is not a ``StaffSession``, so it opens no page."""

    __tablename__ = "staff_pending_sign_ins"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
