"""「灾害预警」 pages (``/staff/warnings``): active and recent warnings, the manual warning form, 解除.

A warning speaks on every kiosk of its communities, so both issuing and cancelling take two steps: the form
posts once to a confirmation page (nothing changes yet), and only the confirmed post acts. Without the
``confirmed`` field a post, even a crafted one, only shows the confirmation again.

The rules (who may target which community, what a warning sets off) live in ``assistant.bulletins.warnings``;
community staff see and target only their own community (``assistant.communities.scope``).
"""

from __future__ import annotations

import logging
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from assistant.auth.deps import StaffUser
from assistant.bulletins import BulletinError, levels
from assistant.bulletins import warnings as svc
from assistant.communities.scope import community_of
from assistant.console import FormInvalid
from assistant.console.templating import render
from assistant.console.web import CSRF, FormFields, Reader, app_context, redirect
from assistant.labels import WARNING_STATUS as STATUS_LABELS
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/warnings", include_in_schema=False)

EVENTS = ("转移安置", "暴雨", "台风", "洪水", "山体滑坡", "高温", "寒潮", "其他")
EVACUATION = "转移安置"  # the event that must say where to go
DEFAULT_HOURS = 6
MAX_HOURS = 72  # a manual warning lasts at most three days; a longer danger is issued again
HEADLINE_MAX, INSTRUCTION_MAX, ASSEMBLY_MAX = 120, 500, 200
PAST_SHOWN = 20
ONE_LOOKUP_LIMIT = 1000  # how far back 解除 finds a warning (only active ones can be ended anyway)
SOURCE_LABELS = {"cap": "预警发布系统", "manual": "工作人员发布"}
DONE = {"issued": "预警已发布，各自助机和网页几秒内显示并播报。", "cancelled": "预警已解除，各自助机几秒内不再显示。"}


def _communities(request: Request, user: StaffUser) -> list[dict[str, Any]]:
    """The communities this user may target, grouped by district (city staff: all active ones)."""
    own = community_of(user)
    rows = [c for c in app_context(request).communities.all() if c.active and (own is None or c.code == own)]
    rows.sort(key=lambda c: (c.district, c.street, c.name or c.code))
    return [{"district": district or "其他", "items": [{"code": c.code, "label": c.label} for c in items]}
            for district, items in groupby(rows, key=lambda c: c.district)]


def _codes(groups: list[dict[str, Any]]) -> list[str]:
    return [item["code"] for group in groups for item in group["items"]]


def parse_form(form: dict[str, str], chosen: list[str], allowed: list[str]) -> svc.ManualWarning:
    """The posted fields as a ``ManualWarning``, or ``FormInvalid`` with a Chinese message per field."""
    errors: dict[str, str] = {}
    event = form.get("event", "")
    if event not in EVENTS:
        errors["event"] = "请选择预警类别"
    level = form.get("level", "")
    if level not in levels.LEVELS:
        errors["level"] = "请选择预警级别"
    headline = form.get("headline", "").strip()
    if not headline:
        errors["headline"] = "请填写标题，如：青秀区暴雨，请马上转移"
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = f"标题不超过 {HEADLINE_MAX} 字"
    instruction = form.get("instruction", "").strip()
    if len(instruction) > INSTRUCTION_MAX:
        errors["instruction"] = f"要做什么不超过 {INSTRUCTION_MAX} 字"
    assembly = form.get("assembly_point", "").strip()
    if event == EVACUATION and not assembly:
        errors["assembly_point"] = "转移安置要写明集合地点"
    elif len(assembly) > ASSEMBLY_MAX:
        errors["assembly_point"] = f"集合地点不超过 {ASSEMBLY_MAX} 字"
    communities = tuple(allowed) if form.get("all") == "1" else tuple(c for c in allowed if c in chosen)
    if not communities:
        errors["communities"] = "请至少选一个社区"
    try:
        hours = float(form.get("hours", ""))
        if not 1 <= hours <= MAX_HOURS:
            raise ValueError
    except ValueError:
        errors["hours"] = f"有效时长填 1 到 {MAX_HOURS} 小时"
        hours = 0.0
    if errors:
        raise FormInvalid(errors)
    return svc.ManualWarning(event=event, level=level, headline=headline, instruction=instruction,
                             assembly_point=assembly, communities=communities, expires_hours=hours)


async def _checked(request: Request) -> list[str]:
    """Every checked community: ``FormFields`` keeps one value per name, a checkbox list has many."""
    form = await request.form()
    return [v for k, v in form.multi_items() if k == "communities" and isinstance(v, str)]


# A dependency, so that the route stays synchronous (its database calls must not block the event loop).
Checked = Annotated[list[str], Depends(_checked)]


def _view(row: dict[str, Any], names: dict[str, str], user: StaffUser, active: bool) -> dict[str, Any]:
    """A warning of ``list_warnings`` as the page shows it: labels and China time, never a code."""
    level = levels.info(row.get("level", "")).code
    codes = list(row.get("communities") or ())
    own = community_of(user)
    return {"id": row["id"], "level": level, "level_label": levels.label(level),
            "title": levels.title(row.get("event", ""), level), "headline": row.get("headline", ""),
            "instruction": row.get("instruction", ""), "assembly_point": row.get("assembly_point", ""),
            # a manual warning's area is its community codes: the communities column names them already
            "area": row.get("area", "") if row.get("source") != "manual" else "", "communities": "、".join(names.get(c, c) for c in codes) or "—",
            "source": SOURCE_LABELS.get(row.get("source", ""), ""), "sender_name": row.get("sender_name", ""),
            "issued_by": row.get("issued_by", ""),
            "status": STATUS_LABELS.get(row.get("status", ""), "") if not active else STATUS_LABELS["active"],
            "effective": row.get("effective_text", ""), "expires": row.get("expires_text", ""), "active": active,
            # the service's rule, so the button is not offered where 解除 would be refused: community staff end
            # only a manual warning of their own community alone
            "cancellable": active and (own is None or (row.get("source") == "manual" and codes == [own]))}


def _rows(request: Request, user: StaffUser, limit: int = 100) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(active, past) warnings this user sees; "active" is the service's (not expired), not the stored status."""
    names = {c.code: c.label for c in app_context(request).communities.all()}
    with session_scope(app_context(request).sessions) as db:
        active = [_view(r, names, user, True) for r in svc.list_warnings(db, user, limit=limit)]
        ids = {r["id"] for r in active}
        past = [_view(r, names, user, False) for r in svc.list_warnings(db, user, include_past=True, limit=limit)
                if r["id"] not in ids]
    return active, past


def _page(request: Request, user: StaffUser, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, *, status_code: int = 200, error: str = "") -> Response:
    active, past = _rows(request, user)
    groups = _communities(request, user)
    own = community_of(user)
    values = values or {"event": "", "level": "", "hours": str(DEFAULT_HOURS), "communities": [own] if own else []}
    return render(request, "staff/warnings.html", {
        "active": active, "past": past[:PAST_SHOWN],
        "values": values, "errors": errors or {}, "error": error, "groups": groups, "city": own is None,
        "events": EVENTS, "levels": [(code, levels.label(code), levels.colors(code)) for code in levels.LEVELS],
        "done": DONE.get(request.query_params.get("done", ""), ""), "max_hours": MAX_HOURS},
        status_code=status_code)


@router.get("")
def warnings_page(request: Request, user: Reader) -> Response:
    return _page(request, user)


@router.post("", dependencies=CSRF)
def issue(request: Request, user: Reader, form: FormFields, chosen: Checked) -> Response:
    context = app_context(request)
    groups = _communities(request, user)
    values: dict[str, Any] = {**form, "communities": chosen}
    if form.get("edit") == "1":  # 返回修改 on the confirmation page: the form again, as it was filled
        return _page(request, user, values)
    try:
        manual = parse_form(form, chosen, _codes(groups))
    except FormInvalid as exc:
        return _page(request, user, values, exc.errors, status_code=422)
    if form.get("confirmed") != "1":  # the first post, or a crafted one: ask first
        names = {c.code: c.label for c in context.communities.all()}
        return render(request, "staff/warning_confirm.html", {
            "values": values, "manual": manual, "title": levels.title(manual.event, manual.level),
            "colors": levels.colors(manual.level), "chosen": list(manual.communities),
            "community_names": [names.get(c, c) for c in manual.communities]})
    try:
        with session_scope(context.sessions) as db:
            result = svc.issue_manual(db, context.events, user, manual, context.settings)
    except BulletinError as exc:
        return _page(request, user, values, {}, status_code=403 if "角色" in str(exc) else 409, error=str(exc))
    log.info("manual warning %s by %s: %s", result.warning_id, user.username, result.action)
    _refresh_board(request)
    return redirect("/staff/warnings", done="issued")


@router.get("/{warning_id}/cancel")
def cancel_confirm(request: Request, warning_id: int, user: Reader) -> Response:
    return render(request, "staff/warning_confirm.html", {"cancel": _one(request, user, warning_id)})


@router.post("/{warning_id}/cancel", dependencies=CSRF)
def cancel(request: Request, warning_id: int, user: Reader, form: FormFields) -> Response:
    row = _one(request, user, warning_id)
    if form.get("confirmed") != "1":
        return render(request, "staff/warning_confirm.html", {"cancel": row})
    context = app_context(request)
    try:
        with session_scope(context.sessions) as db:
            svc.cancel_warning(db, context.events, user, warning_id, context.settings)
    except BulletinError as exc:
        return render(request, "staff/error.html", {"message": str(exc), "back": "/staff/warnings"},
                      status_code=403 if "角色" in str(exc) or "只能" in str(exc) else 409)
    _refresh_board(request)
    return redirect("/staff/warnings", done="cancelled")


def _one(request: Request, user: StaffUser, warning_id: int) -> dict[str, Any]:
    """A warning this user sees (another community's, or none: 404, as elsewhere in the console)."""
    active, past = _rows(request, user, limit=ONE_LOOKUP_LIMIT)
    for row in active + past:
        if row["id"] == warning_id:
            return row
    raise HTTPException(404)


def _refresh_board(request: Request) -> None:
    """This node's board at once (the service invalidates after commit too; a second call is harmless)."""
    board = getattr(app_context(request), "bulletins", None)
    if board is not None:
        board.invalidate()
