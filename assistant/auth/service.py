"""Accounts, passwords (argon2id), lockout, sign-in rate limit and server-side sessions."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assistant.auth import (
    ROLES,
    AccountExists,
    AccountLocked,
    InvalidAccount,
    InvalidCredentials,
    RateLimited,
)
from assistant.auth.models import StaffAccount, StaffSession
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,40}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the username does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_minutes: float = 15.0


def validate_new_account(username: str, role: str, password: str) -> None:
    if not USERNAME_RE.match(username or ""):
        raise InvalidAccount("username must be 2-40 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise InvalidAccount(f"role must be one of {', '.join(ROLES)}")
    validate_password(password)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccount(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise InvalidAccount("password must not start or end with spaces")


def create_account(session: Session, username: str, role: str, password: str, *, department: str = "",
                   actor: str = "cli") -> StaffAccount:
    validate_new_account(username, role, password)
    if session.scalar(select(StaffAccount).where(StaffAccount.username == username)) is not None:
        raise AccountExists(f"user '{username}' already exists")
    account = StaffAccount(username=username, role=role, department=department.strip()[:40],
                           password_hash=_hasher.hash(password))
    session.add(account)
    session.flush()
    session.add(AuditLog(actor=actor, action="auth.user.create", target=username, detail=f"role={role}"))
    return account


def set_password(session: Session, username: str, password: str, actor: str) -> None:
    validate_password(password)
    account = get_account(session, username)
    if account is None:
        raise InvalidAccount(f"no user '{username}'")
    account.password_hash = _hasher.hash(password)
    account.failed_attempts = 0
    account.locked_until = None
    session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))
    session.add(AuditLog(actor=actor, action="auth.user.password", target=username))


def unlock(session: Session, username: str, actor: str) -> None:
    account = get_account(session, username)
    if account is None:
        raise InvalidAccount(f"no user '{username}'")
    account.failed_attempts = 0
    account.locked_until = None
    session.add(AuditLog(actor=actor, action="auth.user.unlock", target=username))


def get_account(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))


def authenticate(session: Session, username: str, password: str, policy: LockoutPolicy,
                 client: str = "") -> StaffAccount:
    """Checks a password; counts failures and locks the account after ``policy.max_failures`` in a row."""
    account = get_account(session, username) if username else None
    if account is None or not account.active:
        _safe_verify(_DUMMY_HASH, password)
        session.add(AuditLog(actor=username[:80] or "?", action="auth.login.fail", detail="unknown user"))
        raise InvalidCredentials("wrong username or password")
    locked_until = aware(account.locked_until)
    if locked_until and locked_until > now():
        session.add(AuditLog(actor=account.username, action="auth.login.locked"))
        raise AccountLocked(locked_until)
    if not _safe_verify(account.password_hash, password):
        account.failed_attempts += 1
        detail = f"failure {account.failed_attempts}"
        if account.failed_attempts >= policy.max_failures:
            account.locked_until = now() + dt.timedelta(minutes=policy.lock_minutes)
            account.failed_attempts = 0
            detail += ", locked"
            log.warning("staff account locked after repeated sign-in failures")
        session.add(AuditLog(actor=account.username, action="auth.login.fail", detail=detail))
        raise InvalidCredentials("wrong username or password")
    account.failed_attempts = 0
    account.locked_until = None
    account.last_login_at = now()
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    session.add(AuditLog(actor=account.username, action="auth.login", detail=client[:60]))
    return account


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- sessions

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def sign(secret: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def signed_value(secret: bytes, purpose: str, value: str) -> str:
    return f"{value}.{sign(secret, purpose, value)}"


def unsign(secret: bytes, purpose: str, signed: str | None) -> str | None:
    """The value inside a ``value.signature`` string, or None when the signature does not match."""
    if not signed or "." not in signed or len(signed) > 300:
        return None
    value, _, signature = signed.rpartition(".")
    return value if hmac.compare_digest(sign(secret, purpose, value), signature) else None


def open_session(session: Session, account: StaffAccount, hours: float) -> str:
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_token_hash(token), account_id=account.id,
                             expires_at=now() + dt.timedelta(hours=hours)))
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now()))
    return token


def resolve_session(session: Session, token: str) -> StaffAccount | None:
    row = session.get(StaffSession, _token_hash(token))
    if row is None:
        return None
    expires = aware(row.expires_at)
    if expires is None or expires <= now():
        session.delete(row)
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active:
        return None
    return account


def close_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


# ---------------------------------------------------------------- rate limit

class LoginRateLimiter:
    """Sliding window per client address: at most ``limit`` sign-in attempts per ``window`` seconds.

    Kept in memory per worker (cheap, no extra service); the per-account lockout is in the database and
    therefore holds across workers.
    """

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> None:
        moment = time.monotonic()
        with self._lock:
            if len(self._attempts) > 10_000:  # bounded memory under a spray of addresses
                self._attempts.clear()
            attempts = self._attempts.setdefault(client, deque())
            while attempts and moment - attempts[0] > self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                raise RateLimited(self.window - (moment - attempts[0]))
            attempts.append(moment)
