"""Staff accounts, sign-in sessions, CSRF protection and the audit of personal-data access.

Exceptions::

    AuthError
    ├── InvalidCredentials   wrong username or password (one message for both: no user enumeration)
    ├── AccountLocked        too many failures; carries the unlock time
    ├── RateLimited          too many attempts from one address or on one account (assistant.auth.ratelimit)
    ├── InvalidAccount       bad username, role or password when creating/changing an account
    ├── AccountExists        the username is taken
    └── InvalidCode          a wrong, reused or malformed second-factor code (assistant.auth.totp)
"""

from __future__ import annotations

import datetime as dt

ROLES: tuple[str, ...] = ("admin", "staff", "approver", "department")
ROLE_LABELS: dict[str, str] = {"admin": "管理员", "staff": "工作人员", "approver": "审核人", "department": "部门经办人"}


class AuthError(Exception):
    """Base of every error of the auth package."""


class InvalidCredentials(AuthError):
    pass


class AccountLocked(AuthError):
    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"account locked until {until.isoformat(timespec='minutes')}")
        self.until = until


class RateLimited(AuthError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many sign-in attempts; retry in {retry_after:.0f}s")
        self.retry_after = retry_after


class InvalidAccount(AuthError):
    pass


class AccountExists(AuthError):
    pass


class InvalidCode(AuthError):
    """The message is Chinese and meant for the person at the keyboard."""
