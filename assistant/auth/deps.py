"""FastAPI dependencies for staff pages and staff APIs.

- ``require_roles(*roles)``: the signed-in ``StaffUser``; anonymous browsers are redirected to
  ``/staff/login``, anonymous API calls get 401 JSON, a signed-in user of another role gets 403.
  ``admin`` passes every check.
- ``csrf_token(request)``: the token to put in every form (``<input type="hidden" name="csrf_token">``) or
  in the ``X-CSRF-Token`` header of a fetch; ``verify_csrf``: a dependency that refuses unsafe requests
  without it (safe methods pass, so it can guard a whole router).

The session cookie (``shequ_staff``) carries a random token signed with the server secret; the database keeps
only its hash, so signing out, disabling an account or changing a password ends the session at once.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.auth import ROLE_LABELS, ROLES
from assistant.auth.secret import server_secret
from assistant.auth.service import resolve_session, sign, signed_value, unsign
from assistant.settings import Settings
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

SESSION_COOKIE = "shequ_staff"
ANON_CSRF_COOKIE = "shequ_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/staff/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    department: str = ""
    community: str | None = None  # the community a community worker serves; None: city staff (all)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


class StaffAccessDenied(StarletteHTTPException):
    """401/403 (or a redirect to the sign-in page); ``assistant.console`` renders it as HTML for browsers."""

    def __init__(self, status_code: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=reason, headers=headers)
        self.reason = reason


def _settings(request: Request) -> Settings:
    return request.app.state.context.settings


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/staff/api/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _session_token(request: Request) -> str | None:
    cached = getattr(request.state, "staff_token", None)
    if cached is not None:
        return cached or None
    token = unsign(server_secret(_settings(request)), "session", request.cookies.get(SESSION_COOKIE))
    request.state.staff_token = token or ""
    return token


def current_user(request: Request) -> StaffUser | None:
    """The signed-in user, or None (looked up once per request)."""
    if hasattr(request.state, "staff_user"):
        return request.state.staff_user
    user: StaffUser | None = None
    token = _session_token(request)
    if token:
        with session_scope(request.app.state.context.sessions) as session:
            account = resolve_session(session, token)
            if account is not None and account.role in ROLES:
                user = StaffUser(account.username, account.role, account.department or "",
                                 account.community_code or None)
    request.state.staff_user = user
    return user


def require_roles(*roles: str) -> Callable[[Request], StaffUser]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def dependency(request: Request) -> StaffUser:
        user = current_user(request)
        if user is None:
            if wants_html(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise StaffAccessDenied(303, "login", {"Location": f"{LOGIN_PATH}?next={quote(target)}"})
            raise StaffAccessDenied(401, "login")
        if roles and not user.has_role(*roles):
            log.info("role %s refused at %s", user.role, request.url.path)
            raise StaffAccessDenied(403, "role")
        return user

    dependency.__name__ = f"require_roles_{'_'.join(roles) or 'any'}"
    dependency.roles = roles  # type: ignore[attr-defined]  # read by the route-enumeration test
    return dependency


# ---------------------------------------------------------------- CSRF

def _anon_seed(request: Request) -> str:
    seed = getattr(request.state, "anon_csrf_seed", None)
    if seed:
        return seed
    seed = unsign(server_secret(_settings(request)), "anon-csrf", request.cookies.get(ANON_CSRF_COOKIE))
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.new_anon_csrf_seed = seed
    request.state.anon_csrf_seed = seed
    return seed


def _expected_token(request: Request) -> str:
    secret = server_secret(_settings(request))
    token = _session_token(request)
    if token:
        return sign(secret, "csrf", token)
    return sign(secret, "csrf-anon", _anon_seed(request))


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page (bound to the sign-in session, or to a pre-sign-in cookie)."""
    return _expected_token(request)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    """Sets the pre-sign-in CSRF cookie when ``csrf_token`` had to create one (the sign-in page)."""
    seed = getattr(request.state, "new_anon_csrf_seed", None)
    if seed:
        settings = _settings(request)
        response.set_cookie(ANON_CSRF_COOKIE, signed_value(server_secret(settings), "anon-csrf", seed),
                            httponly=True, samesite="strict", secure=settings.staff_cookie_secure, path="/")


async def verify_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER, "")
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value: Any = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else ""
    if not submitted or not hmac.compare_digest(submitted, _expected_token(request)):
        log.info("CSRF check failed at %s", request.url.path)
        raise StaffAccessDenied(403, "csrf")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(SESSION_COOKIE, signed_value(server_secret(settings), "session", token),
                        max_age=int(settings.staff_session_hours * 3600), httponly=True, samesite="strict",
                        secure=settings.staff_cookie_secure, path="/")
    response.delete_cookie(ANON_CSRF_COOKIE, path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
