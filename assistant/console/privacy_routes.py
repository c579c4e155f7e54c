"""个人信息查询: an administrator answers a resident's request to see, copy or erase their personal data.

- ``GET /staff/privacy``: the form (a phone or ID number and the reason);
- ``POST /staff/privacy``: the lookup — what is held, masked (a POST, so the number is never in a URL or an
  access log);
- ``POST /staff/privacy/export``: the resident's data as a JSON file;
- ``POST /staff/privacy/erase``: first a confirmation page of what will happen, then (``confirmed=1``) the
  erasure.

After the lookup the pages carry ``ref``, the number's blind key and masked form signed with the server secret,
never the number. Every lookup, export and erasure is audited (``privacy.lookup``/``export``/``erase``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.auth.secret import server_secret
from assistant.auth.service import signed_value, unsign
from assistant.clock import today_china
from assistant.console.templating import SECURITY_HEADERS, render
from assistant.console.web import CSRF, Admin, FormFields, app_context
from assistant.privacy import PrivacyError, index, requests
from assistant.privacy.index import Target
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
REF_PURPOSE = "privacy-ref"
CONFIRMED = "1"
REASONS = ("居民申请查阅", "居民申请复制", "居民申请删除", "居民投诉核查")
STALE_REF = "页面已过期，请重新查询。"


def _ref(request: Request, target: Target) -> str:
    secret = server_secret(app_context(request).settings)
    return signed_value(secret, REF_PURPOSE, f"{target.kind}|{target.key}|{target.masked}")


def _target_from_ref(request: Request, ref: str) -> Target:
    value = unsign(server_secret(app_context(request).settings), REF_PURPOSE, ref)
    parts = value.split("|") if value else []
    if len(parts) != 3:
        raise PrivacyError(STALE_REF)
    return Target(*parts)


def _page(request: Request, *, status_code: int = 200, **values: Any) -> Response:
    context: dict[str, Any] = {"reasons": REASONS, "error": "", "notice": "", "holdings": None, "ref": "",
                               "values": {"number": "", "reason": ""}}
    context.update(values)
    return render(request, "staff/privacy.html", context, status_code=status_code)


@router.get("/staff/privacy")
def privacy_page(request: Request, user: Admin) -> Response:
    return _page(request)


@router.post("/staff/privacy", dependencies=CSRF)
def look_up(request: Request, user: Admin, form: FormFields) -> Response:
    reason_typed = form.get("reason", "")[:requests.MAX_REASON_CHARS * 2]
    values = {"number": "", "reason": reason_typed}  # the number is not echoed back into the page
    try:
        reason = requests.checked_reason(reason_typed)
        settings = app_context(request).settings
        target = index.parse_identifier(form.get("number", "")).target(index.key_for_settings(settings))
    except PrivacyError as exc:
        return _page(request, error=str(exc), values=values, status_code=422)
    with session_scope(app_context(request).sessions) as db:
        holdings = requests.look_up(db, target, user.username, reason)
    return _page(request, holdings=holdings, ref=_ref(request, target), values=values)


def _checked(request: Request, form: dict[str, str]) -> tuple[Target, str]:
    return _target_from_ref(request, form.get("ref", "")), requests.checked_reason(form.get("reason", ""))


@router.post("/staff/privacy/export", dependencies=CSRF)
def export(request: Request, user: Admin, form: FormFields) -> Response:
    try:
        target, reason = _checked(request, form)
    except PrivacyError as exc:
        return _page(request, error=str(exc), status_code=422)
    with session_scope(app_context(request).sessions) as db:
        data = requests.export(db, target, user.username, reason)
    name = f"personal-data-{today_china():%Y%m%d}.json"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json; charset=utf-8",
                    headers=headers)


@router.post("/staff/privacy/erase", dependencies=CSRF)
def erase(request: Request, user: Admin, form: FormFields) -> Response:
    try:
        target, reason = _checked(request, form)
    except PrivacyError as exc:
        return _page(request, error=str(exc), status_code=422)
    sessions = app_context(request).sessions
    if form.get("confirmed") != CONFIRMED:
        with session_scope(sessions) as db:
            holdings = requests.find(db, target)
        return render(request, "staff/privacy_confirm.html", {
            "holdings": holdings, "ref": form.get("ref", ""), "reason": reason,
            "waiting_sessions": [s for s in holdings.sessions if s.kept_reason],
            "open_orders": [o for o in holdings.orders if o.open]})
    with session_scope(sessions) as db:
        result = requests.erase(db, target, user.username, reason)
    log.info("personal data erased by %s: %s", user.username, result.summary())
    with session_scope(sessions) as db:
        holdings = requests.find(db, target)
    return _page(request, notice="已处理：" + result.summary() + "。", holdings=holdings, ref=form.get("ref", ""),
                 values={"number": "", "reason": reason})
