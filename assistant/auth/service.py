"""Accounts, passwords (argon2id), lockout and server-side sessions (the sign-in rate limit: ``ratelimit``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from assistant.auth import (
    ROLES,
    AccountExists,
    AccountLocked,
    InvalidAccount,
    InvalidCredentials,
    password_policy,
)
from assistant.auth.models import PendingSignIn, StaffAccount, StaffSession
from assistant.auth.password_policy import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH  # noqa: F401  (re-exported)
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,40}$")
GENERATED_PASSWORD_LENGTH = 14
GENERATED_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# New accounts start with the least privilege: department handlers see only their department's orders.
ROLES_BY_PRIVILEGE: tuple[str, ...] = ("department", "staff", "approver", "admin")
LEAST_PRIVILEGE_ROLE = ROLES_BY_PRIVILEGE[0]

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


def validate_new_account(username: str, role: str, password: str, department: str = "") -> None:
    if not USERNAME_RE.match(username or ""):
        raise InvalidAccount("用户名要 2 到 40 位，只能用字母、数字、点、下划线或减号")
    validate_role(role, department)
    validate_password(password, username)


def validate_role(role: str, department: str = "") -> None:
    if role not in ROLES:
        raise InvalidAccount("请选择角色")
    if role == "department" and not department.strip():
        # Without one the handler would see no work order at all (orders are filtered by department).
        raise InvalidAccount("部门经办人要选择所属部门")


def validate_password(password: str, username: str = "") -> None:
    """The one password policy (``assistant.auth.password_policy``)."""
    password_policy.check(password, username)


def validate_community(community: str | None, communities: tuple[str, ...] | list[str] | None) -> str | None:
    """The community an account is limited to (None: city staff); ``communities`` are the known codes."""
    community = (community or "").strip() or None
    if community is not None and communities is not None and community not in communities:
        raise InvalidAccount("请从列表里选择社区")
    return community


def create_account(session: Session, username: str, role: str, password: str, *, department: str = "",
                   actor: str = "cli", community: str | None = None,
                   communities: tuple[str, ...] | list[str] | None = None) -> StaffAccount:
    """A new account; ``community`` limits it to one community's records (None: city staff, who see all)."""
    validate_new_account(username, role, password, department)
    community = validate_community(community, communities)
    if session.scalar(select(StaffAccount).where(StaffAccount.username == username)) is not None:
        raise AccountExists(f"用户名 {username} 已经有人用了")
    account = StaffAccount(username=username, role=role, department=department.strip()[:40],
                           password_hash=_hasher.hash(password), community_code=community)
    session.add(account)
    session.flush()
    detail = f"role={role}" + (f" community={community}" if community else "")
    session.add(AuditLog(actor=actor, action="auth.user.create", target=username, detail=detail))
    return account


def set_community(session: Session, username: str, community: str | None, actor: str, *,
                  communities: tuple[str, ...] | list[str] | None = None) -> StaffAccount:
    """Limits an account to one community (or, with None, lets it see the whole city). The account is read
    on every request, so what it sees changes with its next page."""
    community = validate_community(community, communities)
    account = _existing(session, username)
    if (account.community_code or None) == community:
        return account
    before = account.community_code or "city"
    account.community_code = community
    session.add(AuditLog(actor=actor, action="user.community", target=username,
                         detail=f"{before} → {community or 'city'}"))
    return account


def set_password(session: Session, username: str, password: str, actor: str) -> None:
    reset_password(session, username, actor, password)


def unlock(session: Session, username: str, actor: str) -> None:
    account = _existing(session, username)
    account.failed_attempts = 0
    account.locked_until = None
    session.add(AuditLog(actor=actor, action="auth.user.unlock", target=username))


def get_account(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))


def _existing(session: Session, username: str) -> StaffAccount:
    account = get_account(session, username) if username else None
    if account is None:
        raise InvalidAccount(f"找不到账号 {username[:40]}")
    return account


# ---------------------------------------------------------------- administering accounts

def end_sessions(session: Session, account: StaffAccount) -> None:
    """Signs the account out of every browser at once (the session table is checked on every request).

    Half-finished sign-ins (password right, code not yet entered) end too.
    """
    session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))
    session.execute(delete(PendingSignIn).where(PendingSignIn.account_id == account.id))


def _active_admins(session: Session) -> int:
    # Locked so that two administrators demoting each other at the same moment cannot both succeed (PostgreSQL).
    rows = session.scalars(select(StaffAccount.id).where(StaffAccount.role == "admin", StaffAccount.active.is_(True))
                           .with_for_update())
    return len(list(rows))


def _keeps_an_admin(session: Session, account: StaffAccount) -> None:
    if account.role == "admin" and account.active and _active_admins(session) <= 1:
        raise InvalidAccount("这是最后一个在用的管理员账号，不能停用或改成其他角色；请先给另一个人管理员角色")


def set_active(session: Session, username: str, active: bool, actor: str) -> StaffAccount:
    """Enables or disables an account; disabling signs it out everywhere at once."""
    account = _existing(session, username)
    if not active:
        if username == actor:
            raise InvalidAccount("不能停用自己正在使用的账号")
        _keeps_an_admin(session, account)
        end_sessions(session, account)
    if account.active != active:
        account.active = active
        session.add(AuditLog(actor=actor, action="user.enable" if active else "user.disable", target=username))
    return account


def generate_password(length: int = GENERATED_PASSWORD_LENGTH) -> str:
    """A random password without look-alike characters (0/O, 1/l/I), easy to read out to someone once."""
    return "".join(secrets.choice(GENERATED_PASSWORD_ALPHABET) for _ in range(length))


def reset_password(session: Session, username: str, actor: str, password: str | None = None) -> str:
    """Sets ``password`` (or a generated one, returned to be shown once); the account's sessions end.

    The audit row names the actor and the account, never the password.
    """
    account = _existing(session, username)
    new_password = password if password else generate_password()
    validate_password(new_password, username)
    account.password_hash = _hasher.hash(new_password)
    account.failed_attempts = 0
    account.locked_until = None
    end_sessions(session, account)
    session.add(AuditLog(actor=actor, action="user.reset_password", target=username,
                         detail="generated" if not password else "set"))
    return new_password


def change_role(session: Session, username: str, role: str, actor: str, *, department: str = "",
                departments: tuple[str, ...] | list[str] = ()) -> StaffAccount:
    """A new role (and, for department handlers, a department from the fixed list)."""
    validate_role(role, department)
    department = department.strip() if role == "department" else ""
    if department and departments and department not in departments:
        raise InvalidAccount("请从列表里选择部门")
    account = _existing(session, username)
    if role != account.role:
        _keeps_an_admin(session, account)
    if (role, department) == (account.role, account.department or ""):
        return account
    before = f"{account.role}/{account.department}" if account.department else account.role
    after = f"{role}/{department}" if department else role
    account.role, account.department = role, department
    session.add(AuditLog(actor=actor, action="user.role", target=username, detail=f"{before} → {after}"))
    return account


def authenticate(session: Session, username: str, password: str, policy: LockoutPolicy,
                 client: str = "") -> StaffAccount:
    """Checks a password; locks the account after ``policy.max_failures`` failures in a row.

    Every attempt first claims a slot with one atomic UPDATE (``claim_attempt``) and only then verifies the
    password, so parallel guesses on any number of workers each count, at most ``max_failures`` of them are
    ever checked before the lock, and while locked even the right password is refused.
    """
    account = get_account(session, username) if username else None
    if account is None or not account.active:
        _safe_verify(_DUMMY_HASH, password)
        session.add(AuditLog(actor=username[:80] or "?", action="auth.login.fail", detail="unknown user"))
        raise InvalidCredentials("wrong username or password")
    claim = claim_attempt(session, account.id, policy)
    if claim.refused_until is not None:
        session.add(AuditLog(actor=account.username, action="auth.login.locked"))
        raise AccountLocked(claim.refused_until)
    if not _safe_verify(account.password_hash, password):
        detail = f"failure {claim.number}"
        if claim.locks:
            detail += ", locked"
            log.warning("staff account locked after repeated sign-in failures")
        session.add(AuditLog(actor=account.username, action="auth.login.fail", detail=detail))
        raise InvalidCredentials("wrong username or password")
    if account.totp_secret:
        # A second step follows (assistant.auth.totp). The password alone does not reset the run of failures:
        # otherwise someone who knows it could try codes for ever (password, 4 wrong codes, password, …).
        session.add(AuditLog(actor=account.username, action="auth.login.password", detail=client[:60]))
    else:
        finish_sign_in(session, account)
        session.add(AuditLog(actor=account.username, action="auth.login", detail=client[:60]))
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def finish_sign_in(session: Session, account: StaffAccount) -> None:
    """Every factor checked: the run of failures ends (the caller writes the ``auth.login`` audit row)."""
    session.execute(update(StaffAccount).where(StaffAccount.id == account.id)
                    .values(failed_attempts=0, locked_until=None, last_login_at=now()))
    session.refresh(account)


@dataclass(frozen=True)
class AttemptClaim:
    number: int = 0  # this attempt's place in the current run of failures (1-based)
    locks: bool = False  # the last allowed attempt: the lock is already set; a right password lifts it
    refused_until: dt.datetime | None = None  # locked: the attempt is refused without checking the password


def claim_attempt(session: Session, account_id: int, policy: LockoutPolicy) -> AttemptClaim:
    """Counts one attempt atomically, before the password is checked, and sets the lock on the last one.

    One conditional ``UPDATE … SET failed_attempts = failed_attempts + 1 … RETURNING`` (SQLite ≥ 3.35 and
    PostgreSQL): the database serialises concurrent updates of the row, so ten parallel guesses get the
    numbers 1…10, never ten times "1". The count restarts at 0 when the lock is set, so after the lock
    expires the account gets ``max_failures`` fresh tries. Commits ``session`` (see below): call it before adding
    anything that must not be committed yet.
    """
    moment = now()
    until = moment + dt.timedelta(minutes=policy.lock_minutes)
    reaches = StaffAccount.failed_attempts + 1 >= policy.max_failures
    statement = (
        update(StaffAccount)
        .where(StaffAccount.id == account_id,
               (StaffAccount.locked_until.is_(None)) | (StaffAccount.locked_until <= moment))
        .values(failed_attempts=case((reaches, 0), else_=StaffAccount.failed_attempts + 1),
                locked_until=case((reaches, until), else_=StaffAccount.locked_until))
        .returning(StaffAccount.failed_attempts, StaffAccount.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    current = None if row else session.scalar(select(StaffAccount.locked_until).where(StaffAccount.id == account_id))
    # Committed at once, on the session's own connection: the count is visible to other workers before the
    # slow password check, and the row (PostgreSQL) or database (SQLite) lock is not held during it. A second
    # connection would deadlock the pool when every pooled connection is a sign-in waiting for one more.
    session.commit()
    if row is None:
        return AttemptClaim(refused_until=aware(current) or until)
    count, locked_until = row
    if count == 0 and locked_until is not None:
        return AttemptClaim(number=policy.max_failures, locks=True)
    return AttemptClaim(number=count)


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- sessions

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
    session.add(StaffSession(token_hash=token_hash(token), account_id=account.id,
                             expires_at=now() + dt.timedelta(hours=hours)))
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now()))
    return token


def token_hash(token: str) -> str:
    """What is stored of a bearer token (sessions, pending sign-ins): its hash, so a database copy signs nobody in."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def live_token_row(session: Session, model: Any, token: str) -> tuple[Any, StaffAccount] | None:
    """(row, account) of an unexpired token row of ``model`` whose account is active; an expired row goes."""
    row = session.get(model, token_hash(token))
    if row is None:
        return None
    expires = aware(row.expires_at)
    if expires is None or expires <= now():
        session.delete(row)
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active:
        return None
    return row, account


def resolve_session(session: Session, token: str) -> StaffAccount | None:
    found = live_token_row(session, StaffSession, token)
    return found[1] if found else None


def close_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
