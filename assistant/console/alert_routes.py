"""Emergency alerts in the console: the 紧急求助 page, and the JSON calls of every page's alert banner.

- ``GET /staff/alerts``: every recent alert, open ones first, with the acknowledge form;
- ``POST /staff/alerts/{id}/acknowledge``: the form (redirects back with a message);
- ``GET /staff/api/alerts``: open alerts and the event id to stream from (``cursor``), read in that order so
  an alert raised in between arrives by the stream instead of being missed;
- ``POST /staff/api/alerts/{id}/acknowledge``: the banner's 「我来处理」 (``X-CSRF-Token`` header).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from assistant.api.routes.events import ALERT_ROLES
from assistant.auth.deps import StaffUser, require_roles
from assistant.console.templating import render
from assistant.console.web import CSRF, app_context, redirect
from assistant.handoff import alerts
from assistant.storage.db import session_scope

router = APIRouter(include_in_schema=False)
Responder = Annotated[StaffUser, Depends(require_roles(*ALERT_ROLES))]


@router.get("/staff/alerts")
def alerts_page(request: Request, user: Responder) -> Response:
    with session_scope(app_context(request).sessions) as db:
        rows = alerts.recent_alerts(db, who=user)
    notice = {"taken": "已确认，由您处理。请尽快联系居民。", "already": "这条求助已有人处理。",
              "missing": "没有这条紧急求助。"}.get(request.query_params.get("ack", ""), "")
    return render(request, "staff/alerts.html", {"alerts": rows, "notice": notice})


@router.post("/staff/alerts/{alert_id}/acknowledge", dependencies=CSRF)
def acknowledge_form(request: Request, alert_id: int, user: Responder) -> Response:
    context = app_context(request)
    with session_scope(context.sessions) as db:
        result = alerts.acknowledge(db, context.events, alert_id, user.username, who=user)
    code = "taken" if result.ok else ("already" if result.alert else "missing")
    return redirect("/staff/alerts", ack=code)


@router.get("/staff/api/alerts")
def open_alerts(request: Request, user: Responder) -> JSONResponse:
    context = app_context(request)
    cursor = context.events.latest()  # first: anything published after it reaches the page by the stream
    with session_scope(context.sessions) as db:
        rows = alerts.open_alerts(db, who=user)
    return JSONResponse({"alerts": rows, "cursor": cursor}, headers={"Cache-Control": "no-store"})


@router.post("/staff/api/alerts/{alert_id}/acknowledge", dependencies=CSRF)
def acknowledge_api(request: Request, alert_id: int, user: Responder) -> JSONResponse:
    context = app_context(request)
    with session_scope(context.sessions) as db:
        result = alerts.acknowledge(db, context.events, alert_id, user.username, who=user)
    status = 200 if result.ok else (409 if result.alert else 404)
    return JSONResponse({"ok": result.ok, "message": result.message, "alert": result.alert}, status_code=status)
