"""Sign-in and sign-out pages of the staff console.

Sign-in has up to two steps on the one address ``/staff/login`` (so no extra public route exists): the
password, then, for accounts with TOTP (``assistant.auth.totp``), a 6-digit code or a recovery code. Between
the two the browser holds only a short "pending" cookie, which no other page accepts. When the role requires
TOTP (``staff_totp_required_roles``) and the account has none, the second step is setting it up.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from assistant.auth import AccountLocked, AuthError, InvalidCode, InvalidCredentials, RateLimited, totp
from assistant.auth.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    current_user,
    set_session_cookie,
    verify_csrf,
)
from assistant.auth.models import StaffAccount
from assistant.auth.ratelimit import RateLimiter, client_address
from assistant.auth.secret import server_secret
from assistant.auth.service import (
    LockoutPolicy,
    authenticate,
    close_session,
    open_session,
    signed_value,
    unsign,
)
from assistant.clock import china_time
from assistant.console.templating import render
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff", include_in_schema=False)


RATE_WINDOW_SECONDS = 60.0
PENDING_COOKIE = "shequ_staff_2fa"  # the half-signed-in state: password right, second step to come
PENDING_PURPOSE = "pending-sign-in"
STEP_CODE = "code"
STEP_SETUP = "setup"
EXPIRED = "登录已超时，请重新输入用户名和密码。"


def _limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        context = request.app.state.context
        limiter = context.rate_limiter  # the database or Redis (Settings.rate_limit_url)
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
    token = _pending_token(request)
    if token:
        with session_scope(request.app.state.context.sessions) as session:
            found = totp.resolve_pending(session, token)
            if found is not None and found[1] == totp.ENROLL:
                return _setup_page(request, session, found[0], safe_next(next))
        if found is not None:
            return _code_page(request, safe_next(next))
        response = _login_form(request, next, EXPIRED, status=200)
        clear_pending_cookie(response)
        return response
    return render(request, "staff/login.html", {"next": safe_next(next), "error": "", "username": ""})


def _login_form(request: Request, next: str, error: str, *, username: str = "", status: int = 200) -> Response:
    return render(request, "staff/login.html", {"next": safe_next(next), "error": error, "username": username[:40]},
                  status_code=status)


def _code_page(request: Request, next: str, error: str = "", status: int = 200) -> Response:
    return render(request, "staff/login_code.html", {"next": next, "error": error}, status_code=status)


def _setup_page(request: Request, session: Session, account: StaffAccount, next: str, error: str = "",
                status: int = 200) -> Response:
    """Setting up TOTP as the second step of a sign-in (the role requires it)."""
    secret = totp.begin_setup(session, account, totp.cipher_for(request.app.state.context.settings))
    return render(request, "staff/totp_setup.html", {
        **setup_view(secret, account.username), "action": "/staff/login", "fields": {"step": STEP_SETUP, "next": next},
        "during_sign_in": True, "error": error}, status_code=status)


def setup_view(secret: str, username: str) -> dict[str, str]:
    """What the set-up page shows: the QR code for the phone, and the secret to type in by hand."""
    uri = totp.provisioning_uri(secret, username)
    return {"qr": totp.qr_data_uri(uri), "secret_grouped": totp.group_secret(secret), "issuer": totp.ISSUER,
            "username": username}


def _pending_token(request: Request) -> str | None:
    secret = server_secret(request.app.state.context.settings)
    return unsign(secret, PENDING_PURPOSE, request.cookies.get(PENDING_COOKIE))


def _set_pending_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.context.settings
    response.set_cookie(PENDING_COOKIE, signed_value(server_secret(settings), PENDING_PURPOSE, token),
                        max_age=int(totp.PENDING_MINUTES * 60), httponly=True, samesite="strict",
                        secure=settings.staff_cookie_secure, path="/staff")


def clear_pending_cookie(response: Response) -> None:
    response.delete_cookie(PENDING_COOKIE, path="/staff")


def _policy(request: Request) -> LockoutPolicy:
    settings = request.app.state.context.settings
    return LockoutPolicy(settings.staff_lockout_failures, settings.staff_lockout_minutes)


def _locked_message(until: dt.datetime) -> str:
    return f"连续输错，账号已锁定到 {china_time(until, '%H:%M')}，请稍后再试或联系管理员。"



def cookie_warning(request: Request) -> bool:
    """Secure cookies are dropped on plain HTTP (except on localhost): say so instead of looping on sign-in."""
    secure = request.app.state.context.settings.staff_cookie_secure
    local = request.url.hostname in ("localhost", "127.0.0.1", "::1")
    return secure and request.url.scheme != "https" and not local


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login_submit(request: Request, username: Annotated[str, Form(max_length=80)] = "",
                 password: Annotated[str, Form(max_length=300)] = "",
                 next: Annotated[str, Form(max_length=500)] = "/staff/",
                 step: Annotated[str, Form(max_length=10)] = "",
                 code: Annotated[str, Form(max_length=300)] = "") -> Response:
    if step == STEP_CODE:
        return _code_submit(request, code, safe_next(next))
    if step == STEP_SETUP:
        return _setup_submit(request, code, safe_next(next))
    context = request.app.state.context
    settings = context.settings
    client = client_address(request)
    error = ""
    status = 200
    retry_after = RATE_WINDOW_SECONDS
    token = ""
    pending = ""
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
                role = account.role
                if totp.is_enabled(account):
                    pending = totp.open_pending(session, account, totp.VERIFY)
                elif totp.must_enroll(settings, account):
                    pending = totp.open_pending(session, account, totp.ENROLL)
                else:
                    token = open_session(session, account, settings.staff_session_hours)
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
    if pending:
        response = RedirectResponse(f"/staff/login?next={quote(safe_next(next))}", status_code=303)
        _set_pending_cookie(request, response, pending)
        return response
    response = RedirectResponse(_target(next, role), status_code=303)
    set_session_cookie(request, response, token)
    return response


def _target(next: str, role: str) -> str:
    target = safe_next(next)
    return _home_for(role) if target == "/staff/" else target


class _LostRace(Exception):
    """Another submission finished this pending sign-in first: this one must change nothing."""


def _expired(request: Request, next: str) -> Response:
    response = _login_form(request, next, EXPIRED, status=401)
    clear_pending_cookie(response)
    return response


def _pending_username(request: Request, token: str | None, purpose: str) -> str | None:
    """Looked up in a short session of its own: the rate limiter then takes a connection while none is held
    (a request holding one while waiting for another can starve the pool)."""
    with session_scope(request.app.state.context.sessions) as session:
        found = totp.resolve_pending(session, token)
        return found[0].username if found is not None and found[1] == purpose else None


def _pending_account(session: Session, token: str | None, purpose: str) -> StaffAccount | None:
    found = totp.resolve_pending(session, token)
    return found[0] if found is not None and found[1] == purpose else None


def _too_many(request: Request, next: str, exc: RateLimited, page: str = "code") -> Response:
    message = f"尝试次数太多，请 {int(exc.retry_after) + 1} 秒后再试。"
    response = _code_page(request, next, message, 429) if page == "code" else _login_form(request, next, message,
                                                                                           status=429)
    response.headers["Retry-After"] = str(int(exc.retry_after) + 1)
    return response


def _code_submit(request: Request, code: str, next: str) -> Response:
    """The second step: a 6-digit code or a recovery code, counted toward the password lockout."""
    context = request.app.state.context
    settings = context.settings
    token = _pending_token(request)
    try:
        totp.parse_code(code)
    except InvalidCode as exc:  # a typo, not a guess: not counted
        return _code_page(request, next, str(exc), 422)
    username = _pending_username(request, token, totp.VERIFY)
    if username is None:
        return _expired(request, next)
    try:
        _count_attempt(request, username)
    except RateLimited as exc:
        return _too_many(request, next, exc)
    session_token, role = "", ""
    failure: AuthError | None = None
    try:
        with session_scope(context.sessions) as session:
            account = _pending_account(session, token, totp.VERIFY)
            if account is None:
                return _expired(request, next)
            try:
                totp.verify_sign_in_code(session, account, code, _policy(request), totp.cipher_for(settings),
                                         client_address(request))
            except (InvalidCode, AccountLocked) as exc:
                failure = exc  # leave the block normally: the count and the audit row must be committed
            else:
                if not totp.close_pending(session, token):
                    raise _LostRace
                session_token = open_session(session, account, settings.staff_session_hours)
                role = account.role
    except _LostRace:  # rolled back: the code this request used stays as the winner left it
        failure = InvalidCode(totp.WRONG_CODE)
    if isinstance(failure, AccountLocked):
        with session_scope(context.sessions) as session:
            totp.close_pending(session, token)
        response = _login_form(request, next, _locked_message(failure.until), status=423)
        clear_pending_cookie(response)
        return response
    if failure is not None:
        return _code_page(request, next, str(failure), 401)
    response = RedirectResponse(_target(next, role), status_code=303)
    clear_pending_cookie(response)
    set_session_cookie(request, response, session_token)
    return response


def _setup_submit(request: Request, code: str, next: str) -> Response:
    """Confirming the TOTP set-up that the role requires; then the recovery codes, and the sign-in is done."""
    context = request.app.state.context
    settings = context.settings
    token = _pending_token(request)
    username = _pending_username(request, token, totp.ENROLL)
    if username is None:
        return _expired(request, next)
    try:
        _count_attempt(request, username)
    except RateLimited as exc:
        return _too_many(request, next, exc, page="login")
    try:
        with session_scope(context.sessions) as session:
            account = _pending_account(session, token, totp.ENROLL)
            if account is None:
                return _expired(request, next)
            try:
                codes = totp.confirm_setup(session, account, totp.cipher_for(settings), code, actor=account.username)
            except InvalidCode as exc:
                return _setup_page(request, session, account, next, str(exc), 422)
            if not totp.close_pending(session, token):
                raise _LostRace
            session_token = open_session(session, account, settings.staff_session_hours)
            role = account.role
    except _LostRace:
        return _expired(request, next)
    response = render(request, "staff/totp_codes.html", {"codes": codes, "continue_to": _target(next, role),
                                                         "first_time": True})
    clear_pending_cookie(response)
    set_session_cookie(request, response, session_token)
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
    pending = _pending_token(request)
    if pending:  # "换个账号登录" on the code page: the half-finished sign-in ends too
        with session_scope(context.sessions) as session:
            totp.close_pending(session, pending)
    response = RedirectResponse("/staff/login", status_code=303)
    clear_session_cookie(response)
    clear_pending_cookie(response)
    return response
