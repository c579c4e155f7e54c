"""Administrator pages for staff accounts: create, unlock, disable/enable, reset password, change role,
reset the second factor; and every signed-in person's own page ``/staff/account`` (TOTP on/off, recovery codes).

Disabling and changing a role are confirmed on a page of their own (a form the server renders, so the step
works without JavaScript): the first POST only shows what will happen, the second (``confirmed=1``) does it.
Every change is audited by ``assistant.auth.service`` (user.disable, user.enable, user.reset_password, user.role)
or ``assistant.auth.totp`` (auth.totp.enable, auth.totp.disable, auth.totp.recovery_codes, auth.totp_reset).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.auth import ROLE_LABELS, AccountLocked, AuthError, totp
from assistant.auth.deps import StaffUser, require_roles
from assistant.auth.models import StaffAccount
from assistant.auth.service import (
    LEAST_PRIVILEGE_ROLE,
    ROLES_BY_PRIVILEGE,
    USERNAME_RE,
    LockoutPolicy,
    aware,
    change_role,
    create_account,
    get_account,
    now,
    reset_password,
    set_active,
    set_community,
    unlock,
)
from assistant.clock import china_time
from assistant.communities.scope import CITY_LABEL, choices, community_of
from assistant.console.auth_routes import setup_view
from assistant.console.departments import department_choices
from assistant.console.templating import render
from assistant.console.web import CSRF, Admin, FormFields, app_context, redirect
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

# Mounted by ``admin_routes`` under its ``/staff`` prefix.
router = APIRouter(include_in_schema=False)
CONFIRMED = "1"
# Any signed-in person, for their own account page.
Me = Annotated[StaffUser, Depends(require_roles())]


def _roles() -> dict[str, str]:
    """Role labels from the least to the most privileged: the first one is the default of every form."""
    return {code: ROLE_LABELS[code] for code in ROLES_BY_PRIVILEGE}


def _view(account: StaffAccount) -> dict[str, Any]:
    return {"username": account.username, "role": account.role, "department": account.department or "",
            "active": account.active, "locked": bool(account.locked_until and aware(account.locked_until) > now()),
            "last_login": account.last_login_at, "created": account.created_at,
            "totp_enabled": totp.is_enabled(account), "community": account.community_code or ""}


def _communities(request: Request) -> list[tuple[str, str]]:
    """The select of communities: 「全市」 (city staff, who see every community) first."""
    return [("", CITY_LABEL), *choices(app_context(request))]


def _community_codes(request: Request) -> list[str]:
    return [code for code, _label in choices(app_context(request))]


def _refuse_community_admin(request: Request, user: StaffUser) -> Response | None:
    """Only city administrators create accounts or change whose community an account serves: an
    administrator of one community could otherwise give themselves the city."""
    if community_of(user) is None:
        return None
    return render(request, "staff/error.html", {"message": "只有全市管理员可以新建账号或更改账号的社区",
                                                "back": "/staff/users"}, status_code=403)


def _accounts(request: Request, user: StaffUser | None = None) -> list[dict[str, Any]]:
    query = select(StaffAccount).order_by(StaffAccount.username)
    own = community_of(user)
    if own is not None:  # a community administrator sees the accounts of their community
        query = query.where(StaffAccount.community_code == own)
    with session_scope(app_context(request).sessions) as session:
        return [_view(a) for a in session.scalars(query)]


def _list_page(request: Request, user: StaffUser, *, error: str = "", values: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    values = values or {"role": LEAST_PRIVILEGE_ROLE}
    labels = dict(_communities(request))
    return render(request, "staff/users.html", {
        "accounts": _accounts(request, user), "roles": _roles(), "departments": department_choices(request),
        "communities": _communities(request), "community_labels": labels,
        "city_admin": community_of(user) is None, "error": error, "values": values}, status_code=status_code)


@router.get("/users")
def users_page(request: Request, user: Admin) -> Response:
    return _list_page(request, user)


@router.post("/users", dependencies=CSRF)
def create_user(request: Request, user: Admin, form: FormFields) -> Response:
    refused = _refuse_community_admin(request, user)
    if refused is not None:
        return refused
    values = {k: form.get(k, "").strip() for k in ("username", "role", "department", "community")}
    try:
        if values["role"] == "department" and values["department"] not in department_choices(request):
            raise AuthError("部门经办人要从列表里选择所属部门")
        department = values["department"] if values["role"] == "department" else ""
        with session_scope(app_context(request).sessions) as session:
            create_account(session, values["username"], values["role"], form.get("password", ""),
                           department=department, actor=user.username, community=values["community"] or None,
                           communities=_community_codes(request))
    except AuthError as exc:
        return _list_page(request, user, error=str(exc), values=values, status_code=422)
    return redirect("/staff/users", "user_created")


@router.post("/users/{username}/community", dependencies=CSRF)
def change_user_community(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    refused = _refuse_community_admin(request, user)
    if refused is not None:
        return refused
    _account_or_404(request, username, user)
    community = form.get("community", "").strip() or None
    return _apply(request, username,
                  lambda session: set_community(session, username, community, user.username,
                                                communities=_community_codes(request)), "community_changed")


@router.post("/users/unlock", dependencies=CSRF)
def unlock_user(request: Request, user: Admin, form: FormFields) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            unlock(session, form.get("username", ""), user.username)
    except AuthError as exc:
        return render(request, "staff/error.html", {"message": str(exc), "back": "/staff/users"}, status_code=404)
    return redirect("/staff/users", "unlocked")


def _account_or_404(request: Request, username: str, user: StaffUser | None = None) -> dict[str, Any]:
    if not USERNAME_RE.match(username):
        raise HTTPException(404)
    with session_scope(app_context(request).sessions) as session:
        account = get_account(session, username)
        own = community_of(user)
        if account is None or (own is not None and account.community_code != own):
            raise HTTPException(404)  # another community's account is not revealed to its administrator
        return _view(account)


def _account_page(request: Request, username: str, *, error: str = "", status_code: int = 200,
                  new_password: str = "", notice: str = "") -> Response:
    account = _account_or_404(request, username)
    return render(request, "staff/user_account.html", {
        "account": account, "roles": _roles(), "departments": department_choices(request), "error": error,
        "communities": _communities(request), "community_labels": dict(_communities(request)),
        "new_password": new_password, "notice": notice}, status_code=status_code)


@router.get("/users/{username}")
def account_page(request: Request, username: str, user: Admin) -> Response:
    _account_or_404(request, username, user)
    return _account_page(request, username)


def _confirm(request: Request, username: str, *, title: str, lines: list[str], action: str, button: str,
             fields: dict[str, str]) -> Response:
    return render(request, "staff/user_confirm.html", {
        "username": username, "title": title, "lines": lines, "action": action, "button": button,
        "fields": fields})


@router.post("/users/{username}/disable", dependencies=CSRF)
def disable_user(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    account = _account_or_404(request, username, user)
    if form.get("confirmed") != CONFIRMED:
        return _confirm(request, username, title=f"停用账号 {username}？", action=f"/staff/users/{username}/disable",
                        lines=[f"{username}（{ROLE_LABELS.get(account['role'], account['role'])}）将不能再登录。",
                               "它现在打开的页面会立刻退出登录。", "以后可以重新启用。"],
                        button="确认停用", fields={})
    return _apply(request, username, lambda session: set_active(session, username, False, user.username),
                  "user_disabled")


@router.post("/users/{username}/enable", dependencies=CSRF)
def enable_user(request: Request, username: str, user: Admin) -> Response:
    _account_or_404(request, username, user)
    return _apply(request, username, lambda session: set_active(session, username, True, user.username),
                  "user_enabled")


@router.post("/users/{username}/password", dependencies=CSRF)
def reset_user_password(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    _account_or_404(request, username, user)
    typed = form.get("password", "")
    try:
        with session_scope(app_context(request).sessions) as session:
            password = reset_password(session, username, user.username, typed or None)
    except AuthError as exc:
        return _account_page(request, username, error=str(exc), status_code=422)
    if typed:
        return redirect(f"/staff/users/{username}", "password_reset")
    # Shown once, on this response only (never in a URL, a log or the audit row); the page is not cached.
    return _account_page(request, username, new_password=password)


@router.post("/users/{username}/role", dependencies=CSRF)
def change_user_role(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    account = _account_or_404(request, username, user)
    role, department = form.get("role", "").strip(), form.get("department", "").strip()
    if role not in ROLE_LABELS:
        return _account_page(request, username, error="请选择角色", status_code=422)
    # The list, plus the department the account already has (kept when only the role is confirmed again).
    departments = [*department_choices(request), *([account["department"]] if account["department"] else [])]
    if role == "department" and department not in departments:
        return _account_page(request, username, error="部门经办人要从列表里选择所属部门", status_code=422)
    if form.get("confirmed") != CONFIRMED:
        before = ROLE_LABELS.get(account["role"], account["role"])
        after = ROLE_LABELS[role] + (f"（{department}）" if role == "department" else "")
        return _confirm(request, username, title=f"更改 {username} 的角色？",
                        action=f"/staff/users/{username}/role", button="确认更改角色",
                        lines=[f"从「{before}」改为「{after}」。", "账号能看到和能做的事会随之改变。"],
                        fields={"role": role, "department": department})
    return _apply(request, username,
                  lambda session: change_role(session, username, role, user.username, department=department,
                                              departments=departments), "role_changed")


def _apply(request: Request, username: str, change: Callable[[Session], object], msg: str) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            change(session)
    except AuthError as exc:
        return _account_page(request, username, error=str(exc), status_code=409)
    return redirect(f"/staff/users/{username}", msg)


@router.post("/users/{username}/totp-reset", dependencies=CSRF)
def reset_user_totp(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    """A lost phone: the account signs in with its password alone again (and sets TOTP up again when its role
    requires it). Audited as ``auth.totp_reset``."""
    _account_or_404(request, username, user)
    if username == user.username:
        return _account_page(request, username, error="自己的两步验证请在「我的账号」页面关闭或重新设置。",
                             status_code=409)
    if form.get("confirmed") != CONFIRMED:
        return _confirm(request, username, title=f"重置 {username} 的两步验证？",
                        action=f"/staff/users/{username}/totp-reset", button="确认重置",
                        lines=[f"{username} 的手机验证器和备用码全部作废。", "下次登录只需要密码；之后可以重新开启两步验证。",
                               "请先当面或电话确认是本人（例如手机丢了）。"], fields={})
    try:
        with session_scope(app_context(request).sessions) as session:
            account = get_account(session, username)
            assert account is not None  # checked above
            totp.reset(session, account, user.username)
    except AuthError as exc:
        return _account_page(request, username, error=str(exc), status_code=409)
    return _account_page(request, username, notice="两步验证已重置，该账号下次登录只需要密码。")


# ---------------------------------------------------------------- one's own account: the second factor

def _policy(request: Request) -> LockoutPolicy:
    settings = app_context(request).settings
    return LockoutPolicy(settings.staff_lockout_failures, settings.staff_lockout_minutes)


def _me_page(request: Request, user: StaffUser, *, error: str = "", notice: str = "",
             status_code: int = 200) -> Response:
    settings = app_context(request).settings
    with session_scope(app_context(request).sessions) as session:
        account = get_account(session, user.username)
        if account is None:
            raise HTTPException(404)
        me = {"username": account.username, "role": account.role, "department": account.department or "",
              "last_login": account.last_login_at, "totp_enabled": totp.is_enabled(account),
              "totp_enabled_at": account.totp_enabled_at, "recovery_left": totp.unused_recovery_codes(session, account)}
    can_disable = account.role not in totp.required_roles(settings)
    return render(request, "staff/account.html", {"me": me, "can_disable": can_disable, "error": error,
                                                  "notice": notice}, status_code=status_code)


@router.get("/account")
def my_account(request: Request, user: Me) -> Response:
    return _me_page(request, user)


def _my_setup_page(request: Request, user: StaffUser, *, error: str = "", status_code: int = 200,
                   restart: bool = False) -> Response:
    with session_scope(app_context(request).sessions) as session:
        account = get_account(session, user.username)
        if account is None:
            raise HTTPException(404)
        if totp.is_enabled(account):
            return redirect("/staff/account")
        secret = totp.begin_setup(session, account, totp.cipher_for(app_context(request).settings), restart=restart)
    return render(request, "staff/totp_setup.html", {
        **setup_view(secret, user.username), "action": "/staff/account/totp", "fields": {},
        "during_sign_in": False, "error": error}, status_code=status_code)


@router.get("/account/totp")
def my_totp_setup(request: Request, user: Me) -> Response:
    return _my_setup_page(request, user)


@router.post("/account/totp", dependencies=CSRF)
def my_totp_confirm(request: Request, user: Me, form: FormFields) -> Response:
    """Turns TOTP on once a current code from the phone matches; then the recovery codes, shown once."""
    context = app_context(request)
    try:
        with session_scope(context.sessions) as session:
            account = get_account(session, user.username)
            if account is None:
                raise HTTPException(404)
            if totp.is_enabled(account):
                return redirect("/staff/account")
            codes = totp.confirm_setup(session, account, totp.cipher_for(context.settings), form.get("code"),
                                       actor=user.username)
    except AuthError as exc:
        return _my_setup_page(request, user, error=str(exc), status_code=422)
    return render(request, "staff/totp_codes.html", {"codes": codes, "continue_to": "/staff/account",
                                                     "first_time": True})


def _with_current_code(request: Request, user: StaffUser,
                       change: Callable[[Session, StaffAccount], Any]) -> tuple[Any, str, int]:
    """Runs ``change`` (which checks a current code, counted toward the lockout); (result, error, status)."""
    context = app_context(request)
    result: Any = None
    error, status = "", 200
    with session_scope(context.sessions) as session:
        account = get_account(session, user.username)
        if account is None:
            raise HTTPException(404)
        try:
            result = change(session, account)
        except AccountLocked as exc:
            error, status = f"连续输错，账号已锁定到 {china_time(exc.until, '%H:%M')}。", 423
        except AuthError as exc:
            error, status = str(exc), 422
        # Either way the block ends normally: a failure's audit row is committed with the count.
    return result, error, status


@router.post("/account/totp/recovery-codes", dependencies=CSRF)
def my_new_recovery_codes(request: Request, user: Me, form: FormFields) -> Response:
    cipher = totp.cipher_for(app_context(request).settings)
    codes, error, status = _with_current_code(request, user, lambda session, account: totp.regenerate_recovery_codes(
        session, account, cipher, form.get("code"), _policy(request)))
    if error:
        return _me_page(request, user, error=error, status_code=status)
    return render(request, "staff/totp_codes.html", {"codes": codes, "continue_to": "/staff/account",
                                                     "first_time": False})


@router.post("/account/totp/disable", dependencies=CSRF)
def my_totp_disable(request: Request, user: Me, form: FormFields) -> Response:
    context = app_context(request)
    cipher = totp.cipher_for(context.settings)
    _, error, status = _with_current_code(request, user, lambda session, account: totp.disable(
        session, account, cipher, form.get("code"), _policy(request), context.settings))
    if error:
        return _me_page(request, user, error=error, status_code=status)
    return _me_page(request, user, notice="两步验证已关闭。")
