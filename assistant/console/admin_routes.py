"""Administrator pages: staff accounts and the append-only audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from assistant.auth import ROLE_LABELS, ROLES, AuthError
from assistant.auth.models import StaffAccount
from assistant.auth.service import aware, create_account, now, unlock
from assistant.console.templating import render
from assistant.console.web import CSRF, Admin, FormFields, app_context, redirect
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE_SIZE = 100


def _accounts(request: Request) -> list[dict[str, object]]:
    with session_scope(app_context(request).sessions) as session:
        moment = now()
        return [{"username": a.username, "role": a.role, "department": a.department, "active": a.active,
                 "locked": bool(a.locked_until and aware(a.locked_until) > moment),
                 "last_login": a.last_login_at}
                for a in session.scalars(select(StaffAccount).order_by(StaffAccount.username))]


@router.get("/users")
def users_page(request: Request, user: Admin) -> Response:
    return render(request, "staff/users.html", {"accounts": _accounts(request), "roles": ROLE_LABELS,
                                                "error": "", "values": {}})


@router.post("/users", dependencies=CSRF)
def create_user(request: Request, user: Admin, form: FormFields) -> Response:
    values = {k: form.get(k, "").strip() for k in ("username", "role", "department")}
    try:
        if values["role"] not in ROLES:
            raise AuthError("请选择角色")
        with session_scope(app_context(request).sessions) as session:
            create_account(session, values["username"], values["role"], form.get("password", ""),
                           department=values["department"], actor=user.username)
    except AuthError as exc:
        return render(request, "staff/users.html", {"accounts": _accounts(request), "roles": ROLE_LABELS,
                                                    "error": str(exc), "values": values}, status_code=422)
    return redirect("/staff/users", "user_created")


@router.post("/users/unlock", dependencies=CSRF)
def unlock_user(request: Request, user: Admin, form: FormFields) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            unlock(session, form.get("username", ""), user.username)
    except AuthError as exc:
        return render(request, "staff/error.html", {"message": str(exc), "back": "/staff/users"}, status_code=404)
    return redirect("/staff/users", "unlocked")


@router.get("/audit")
def audit_page(request: Request, user: Admin, action: str = "", actor: str = "", page: int = 1) -> Response:
    page = max(1, min(page, 10_000))
    with session_scope(app_context(request).sessions) as session:
        query = select(AuditLog)
        if action:
            query = query.where(AuditLog.action.startswith(action[:60]))
        if actor:
            query = query.where(AuditLog.actor == actor[:80])
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.order_by(AuditLog.id.desc()).offset((page - 1) * PAGE_SIZE)
                                    .limit(PAGE_SIZE)))
    return render(request, "staff/audit.html", {"rows": rows, "action": action[:60], "actor": actor[:80],
                                                "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
                                                "total": total})
