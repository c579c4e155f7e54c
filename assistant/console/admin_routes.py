"""Administrator pages: staff accounts and the append-only audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select

from assistant.clock import china_seconds
from assistant.console import account_routes
from assistant.console.audit_text import audit_text
from assistant.console.templating import render
from assistant.console.web import Admin, app_context
from assistant.labels import AUDIT, AUDIT_GROUPS, zh
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE_SIZE = 100


# Accounts (create, unlock, disable/enable, reset password, change role) are in account_routes.
router.include_router(account_routes.router)


@router.get("/audit")
def audit_page(request: Request, user: Admin, action: str = "", actor: str = "", page: int = 1) -> Response:
    page = max(1, min(page, 10_000))
    action, actor = action[:60], actor[:80]
    with session_scope(app_context(request).sessions) as session:
        query = select(AuditLog)
        if action in AUDIT_GROUPS:  # a group such as 紧急求助 (alert.*)
            query = query.where(or_(*(AuditLog.action.startswith(p) for p in AUDIT_GROUPS[action][1])))
        elif action:  # one code, or a prefix typed into an old bookmark (kb.)
            query = query.where(AuditLog.action.startswith(action))
        if actor:
            query = query.where(AuditLog.actor == actor)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = [{"at": china_seconds(r.at), "actor": zh(r.actor, "actor"), "action": zh(r.action, "audit"),
                 "target": audit_text(r.target, codes=False), "detail": audit_text(r.detail)}
                for r in session.scalars(query.order_by(AuditLog.id.desc()).offset((page - 1) * PAGE_SIZE)
                                         .limit(PAGE_SIZE))]
    choices = [(key, f"{name}（全部）") for key, (name, _) in AUDIT_GROUPS.items()] + list(AUDIT.items())
    return render(request, "staff/audit.html", {"rows": rows, "action": action, "actor": actor, "choices": choices,
                                                "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
                                                "total": total})
