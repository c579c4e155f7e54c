"""Administrator pages for staff accounts: create, unlock, disable/enable, reset password, change role.

Disabling and changing a role are confirmed on a page of their own (a form the server renders, so the step
works without JavaScript): the first POST only shows what will happen, the second (``confirmed=1``) does it.
Every change is audited by ``assistant.auth.service`` (user.disable, user.enable, user.reset_password, user.role).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.auth import ROLE_LABELS, AuthError
from assistant.auth.models import StaffAccount
from assistant.auth.service import (
    LEAST_PRIVILEGE_ROLE,
    ROLES_BY_PRIVILEGE,
    USERNAME_RE,
    aware,
    change_role,
    create_account,
    get_account,
    now,
    reset_password,
    set_active,
    unlock,
)
from assistant.console.departments import department_choices
from assistant.console.templating import render
from assistant.console.web import CSRF, Admin, FormFields, app_context, redirect
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

# Mounted by ``admin_routes`` under its ``/staff`` prefix.
router = APIRouter(include_in_schema=False)
CONFIRMED = "1"


def _roles() -> dict[str, str]:
    """Role labels from the least to the most privileged: the first one is the default of every form."""
    return {code: ROLE_LABELS[code] for code in ROLES_BY_PRIVILEGE}


def _view(account: StaffAccount) -> dict[str, Any]:
    return {"username": account.username, "role": account.role, "department": account.department or "",
            "active": account.active, "locked": bool(account.locked_until and aware(account.locked_until) > now()),
            "last_login": account.last_login_at, "created": account.created_at}


def _accounts(request: Request) -> list[dict[str, Any]]:
    with session_scope(app_context(request).sessions) as session:
        return [_view(a) for a in session.scalars(select(StaffAccount).order_by(StaffAccount.username))]


def _list_page(request: Request, *, error: str = "", values: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    values = values or {"role": LEAST_PRIVILEGE_ROLE}
    return render(request, "staff/users.html", {
        "accounts": _accounts(request), "roles": _roles(), "departments": department_choices(request),
        "error": error, "values": values}, status_code=status_code)


@router.get("/users")
def users_page(request: Request, user: Admin) -> Response:
    return _list_page(request)


@router.post("/users", dependencies=CSRF)
def create_user(request: Request, user: Admin, form: FormFields) -> Response:
    values = {k: form.get(k, "").strip() for k in ("username", "role", "department")}
    try:
        if values["role"] == "department" and values["department"] not in department_choices(request):
            raise AuthError("部门经办人要从列表里选择所属部门")
        department = values["department"] if values["role"] == "department" else ""
        with session_scope(app_context(request).sessions) as session:
            create_account(session, values["username"], values["role"], form.get("password", ""),
                           department=department, actor=user.username)
    except AuthError as exc:
        return _list_page(request, error=str(exc), values=values, status_code=422)
    return redirect("/staff/users", "user_created")


@router.post("/users/unlock", dependencies=CSRF)
def unlock_user(request: Request, user: Admin, form: FormFields) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            unlock(session, form.get("username", ""), user.username)
    except AuthError as exc:
        return render(request, "staff/error.html", {"message": str(exc), "back": "/staff/users"}, status_code=404)
    return redirect("/staff/users", "unlocked")


def _account_or_404(request: Request, username: str) -> dict[str, Any]:
    if not USERNAME_RE.match(username):
        raise HTTPException(404)
    with session_scope(app_context(request).sessions) as session:
        account = get_account(session, username)
        if account is None:
            raise HTTPException(404)
        return _view(account)


def _account_page(request: Request, username: str, *, error: str = "", status_code: int = 200,
                  new_password: str = "") -> Response:
    account = _account_or_404(request, username)
    return render(request, "staff/user_account.html", {
        "account": account, "roles": _roles(), "departments": department_choices(request), "error": error,
        "new_password": new_password}, status_code=status_code)


@router.get("/users/{username}")
def account_page(request: Request, username: str, user: Admin) -> Response:
    return _account_page(request, username)


def _confirm(request: Request, username: str, *, title: str, lines: list[str], action: str, button: str,
             fields: dict[str, str]) -> Response:
    return render(request, "staff/user_confirm.html", {
        "username": username, "title": title, "lines": lines, "action": action, "button": button,
        "fields": fields})


@router.post("/users/{username}/disable", dependencies=CSRF)
def disable_user(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    account = _account_or_404(request, username)
    if form.get("confirmed") != CONFIRMED:
        return _confirm(request, username, title=f"停用账号 {username}？", action=f"/staff/users/{username}/disable",
                        lines=[f"{username}（{ROLE_LABELS.get(account['role'], account['role'])}）将不能再登录。",
                               "它现在打开的页面会立刻退出登录。", "以后可以重新启用。"],
                        button="确认停用", fields={})
    return _apply(request, username, lambda session: set_active(session, username, False, user.username),
                  "user_disabled")


@router.post("/users/{username}/enable", dependencies=CSRF)
def enable_user(request: Request, username: str, user: Admin) -> Response:
    _account_or_404(request, username)
    return _apply(request, username, lambda session: set_active(session, username, True, user.username),
                  "user_enabled")


@router.post("/users/{username}/password", dependencies=CSRF)
def reset_user_password(request: Request, username: str, user: Admin, form: FormFields) -> Response:
    _account_or_404(request, username)
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
    account = _account_or_404(request, username)
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
