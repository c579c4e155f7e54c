"""「自助机」 (``GET /staff/kiosks``): every kiosk with its community, online or for how long offline, its printer,
reader and microphone, version and last heartbeat (China time).

A community worker (``StaffAccount.community_code`` set) sees the kiosks of that community only; city staff
(no community) see the whole city (``assistant.communities.scope.community_of``).

Administrators register a kiosk here too (``POST /staff/kiosks``, as ``shequ kiosks register``): the device
token is shown once, in the answer to that form, never in a URL and never stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.auth.deps import StaffUser
from assistant.clock import now_utc
from assistant.communities.scope import choices, community_of
from assistant.console.templating import render
from assistant.console.web import CSRF, Admin, FormFields, Reader, app_context
from assistant.kiosks import KioskError
from assistant.kiosks.fleet import page_row
from assistant.kiosks.registry import Registration, list_kiosks, register_kiosk
from assistant.storage.db import session_scope

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: StaffUser, status_code: int = 200, **extra: Any) -> Response:
    context = app_context(request)
    now = now_utc()
    community = community_of(user)  # the one rule of assistant.communities.scope: None sees the whole city
    with session_scope(context.sessions) as db:
        kiosks = list_kiosks(db, community)
        labels = {c.code: c.label for c in context.communities.all()}
        rows = [page_row(k, labels.get(k.community_code, k.community_code), now, context.settings) for k in kiosks]
    values: dict[str, Any] = {
        "kiosks": rows, "problems": sum(1 for r in rows if r["problem"]),
        "scope": labels.get(community, community) if community else "",
        "offline_minutes": context.settings.kiosk_offline_minutes,
        "communities": choices(context) if user.role == "admin" else [],
        "registered": None, "error": "", "form": {}}
    values.update(extra)
    return render(request, "staff/kiosks.html", values, status_code=status_code)


@router.get("/staff/kiosks")
def kiosks_page(request: Request, user: Reader) -> Response:
    return _page(request, user)


@router.post("/staff/kiosks", dependencies=CSRF)
def register_form(request: Request, user: Admin, form: FormFields) -> Response:
    context = app_context(request)
    try:
        with session_scope(context.sessions) as db:
            registered: Registration = register_kiosk(db, form.get("community", ""), form.get("name", ""),
                                                      actor=user.username)
    except KioskError as exc:
        return _page(request, user, 422, error=str(exc), form=form)
    return _page(request, user, registered=registered)
