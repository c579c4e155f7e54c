"""Sign-in and sign-out pages of the staff console."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant.auth import AccountLocked, AuthError, InvalidCredentials, RateLimited
from assistant.auth.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    current_user,
    set_session_cookie,
    verify_csrf,
)
from assistant.auth.ratelimit import SharedRateLimiter, client_address
from assistant.auth.secret import server_secret
from assistant.auth.service import (
    LockoutPolicy,
    authenticate,
    close_session,
    open_session,
    unsign,
)
from assistant.clock import china_time
from assistant.console.templating import render
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff", include_in_schema=False)


RATE_WINDOW_SECONDS = 60.0


def _limiter(request: Request) -> SharedRateLimiter:
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        context = request.app.state.context
        limiter = SharedRateLimiter(context.engine, server_secret(context.settings))
        request.app.state.login_limiter = limiter
    return limiter


def _count_attempt(request: Request, username: str) -> None:
    """Per address and per account, counted in the database so every worker sees the same numbers."""
    settings = request.app.state.context.settings
    limiter = _limiter(request)
    limiter.hit("login-address", client_address(request), settings.staff_login_rate_per_minute,
                RATE_WINDOW_SECONDS)
    if username:
        # Case-folded: "Admin" and "admin" are one target for someone spraying guesses.
        limiter.hit("login-account", username.lower(), settings.staff_login_account_rate_per_minute,
                    RATE_WINDOW_SECONDS)


def safe_next(target: str | None) -> str:
    """Only local console paths: an open redirect would let a phishing link borrow our sign-in page."""
    if not target:
        return "/staff/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/staff") or "\\" in target:
        return "/staff/"
    return target


def _home_for(role: str) -> str:
    return "/staff/" if role in ("admin", "staff", "approver") else "/staff/welcome"


@router.get("/login")
def login_page(request: Request, next: str = "/staff/") -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "staff/login.html", {"next": safe_next(next), "error": "", "username": ""})


def cookie_warning(request: Request) -> bool:
    """Secure cookies are dropped on plain HTTP (except on localhost): say so instead of looping on sign-in."""
    secure = request.app.state.context.settings.staff_cookie_secure
    local = request.url.hostname in ("localhost", "127.0.0.1", "::1")
    return secure and request.url.scheme != "https" and not local


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login_submit(request: Request, username: Annotated[str, Form(max_length=80)] = "",
                 password: Annotated[str, Form(max_length=300)] = "",
                 next: Annotated[str, Form(max_length=500)] = "/staff/") -> Response:
    context = request.app.state.context
    settings = context.settings
    client = client_address(request)
    error = ""
    status = 200
    retry_after = RATE_WINDOW_SECONDS
    token = ""
    role = ""
    try:
        _count_attempt(request, username.strip())
        failure: AuthError | None = None
        with session_scope(context.sessions) as session:
            try:
                account = authenticate(session, username.strip(), password,
                                       LockoutPolicy(settings.staff_lockout_failures, settings.staff_lockout_minutes),
                                       client)
            except (InvalidCredentials, AccountLocked) as exc:
                failure = exc  # leave the block normally: the failure count and audit row must be committed
            else:
                token = open_session(session, account, settings.staff_session_hours)
                role = account.role
        if failure is not None:
            raise failure
    except RateLimited as exc:
        retry_after = exc.retry_after
        error, status = f"尝试次数太多，请 {int(retry_after) + 1} 秒后再试。", 429
    except AccountLocked as exc:
        error, status = f"连续输错密码，账号已锁定到 {china_time(exc.until, '%H:%M')}，请稍后再试或联系管理员。", 423
    except InvalidCredentials:
        error, status = "用户名或密码不对。", 401
    if error:
        response = render(request, "staff/login.html",
                          {"next": safe_next(next), "error": error, "username": username[:40]}, status_code=status)
        if status == 429:
            response.headers["Retry-After"] = str(int(retry_after) + 1)
        return response
    target = safe_next(next)
    if target == "/staff/":
        target = _home_for(role)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> Response:
    context = request.app.state.context
    token = unsign(server_secret(context.settings), "session", request.cookies.get(SESSION_COOKIE))
    user = current_user(request)
    if token:
        with session_scope(context.sessions) as session:
            close_session(session, token)
            if user:
                session.add(AuditLog(actor=user.username, action="auth.logout"))
    response = RedirectResponse("/staff/login", status_code=303)
    clear_session_cookie(response)
    return response
