"""Work orders over HTTP.

- ``GET /t/{number}``: the status page behind a receipt's QR code (masked, Chinese, large text, no login).
- ``GET /api/v1/orders/{number}``: the same masked view as JSON (kiosk, WeChat).
- ``/staff/orders…``: the staff pages (lists with near-due/overdue, detail with history, actions by role,
  new order, showing a contact number to call back — audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.errors import error_body
from assistant.api.routes.web import resident_order, status_response
from assistant.auth.deps import StaffUser, require_roles, verify_csrf
from assistant.clock import china_time
from assistant.communities.scope import choices, community_of, is_city, visible
from assistant.handoff import HandoffError, NotAllowed, NotFound, lifecycle, queries, tickets
from assistant.handoff import contact as contacts
from assistant.handoff.models import WorkOrderExtension
from assistant.handoff.policy import OrderPolicy
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder
from pii import split_phone

public = APIRouter(tags=["orders"])
staff_pages = APIRouter(prefix="/staff/orders", include_in_schema=False, dependencies=[Depends(verify_csrf)])

ViewerDep = Annotated[StaffUser, Depends(require_roles("staff", "approver", "department"))]
CreatorDep = Annotated[StaffUser, Depends(require_roles("staff"))]
_STATUS_CODES = {"NotFound": 404, "NotAllowed": 403, "IllegalTransition": 409, "InvalidInput": 422}
FLASH = {"order_created": "工单已登记。", "done": "已办理。", "revealed": ""}


# ---------------------------------------------------------------- public

@public.get("/t/{number}", response_class=HTMLResponse, include_in_schema=False)
def status_page(number: str, request: Request, context: ContextDep, token: str = "") -> Response:
    # The number alone shows the form asking for the phone ending; the QR code's link carries the token.
    return status_response(request, context, number[:200], token=token[:100])


@public.get("/api/v1/orders/{number}")
def order_status(number: str, request: Request, context: ContextDep, token: str = "",
                 phone4: str = "") -> dict[str, Any]:
    """A work order's status as a resident may see it (no description, no contact), with its token or the
    last four digits of its contact phone."""
    view, outcome = resident_order(request, context, number[:200], phone_tail=phone4[:20], token=token[:100])
    if outcome == "limited":
        raise HTTPException(429, error_body("too_many_lookups", "查询没对上的次数太多了，请过一会儿再试",
                                            "too many failed look-ups"))
    if view is None:
        raise HTTPException(404, error_body("no_order", "没有查到这个工单，请核对工单号和手机号后四位",
                                            "no such work order for that phone ending or token"))
    return {"number": view.number, "status": view.status, "department": view.department,
            "category": view.category, "created": view.created, "due": view.due, "finished": view.finished,
            "status_text": view.status_text, "result": view.result,
            "steps": [{"status": s.status, "at": s.at, "text": s.text} for s in view.steps]}


# ---------------------------------------------------------------- staff

def _render(request: Request, name: str, values: dict[str, Any], status_code: int = 200) -> Response:
    from assistant.console.templating import render, templates

    templates.env.filters.setdefault("china_time", china_time)
    return render(request, name, values, status_code=status_code)


def _department_of(user: StaffUser) -> str | None:
    """Department handlers see only their department's orders."""
    return (user.department or "-") if user.role == "department" else None


def _policy(engine: Any) -> OrderPolicy:
    return engine.handoff.policy


@staff_pages.get("")
def orders_page(request: Request, user: ViewerDep, context: ContextDep, engine: EngineDep, view: str = "open",
                status: str = "", department: str = "") -> Response:
    now = dt.datetime.now(dt.UTC)
    near = context.settings.orders_near_due_hours
    view = view if view in queries.VIEWS else "open"
    status = status if status in lifecycle.STATUSES else ""
    # A department handler sees only their own; others may filter by a department chosen from the list.
    chosen = department if _policy(engine).is_department(department) else ""
    scope = _department_of(user) or chosen or None
    with session_scope(context.sessions) as db:
        orders = queries.list_orders(db, view, now=now, near_hours=near, department=scope, status=status or None,
                                     who=user)
        rows = [{"order": o, "state": queries.deadline_state(o, now, near)} for o in orders]
        tallies = {name: len(queries.list_orders(db, name, now=now, near_hours=near, department=scope, who=user))
                   for name in ("near_due", "overdue")}
    return _render(request, "staff/orders.html", {"rows": rows, "view": view, "views": queries.VIEWS,
                                                   "statuses": lifecycle.STATUSES, "status": status,
                                                   "tallies": tallies, "department": chosen,
                                                   # who sees several communities' orders sees whose each is
                                                   "community_labels": dict(choices(context)) if is_city(user)
                                                   else {},
                                                   "departments": () if user.role == "department"
                                                   else _policy(engine).departments})


@staff_pages.get("/new")
def new_order_page(request: Request, user: CreatorDep, engine: EngineDep) -> Response:
    return _render(request, "staff/orders_new.html", {"error": "", "form": {}, "policy": _policy(engine),
                                                       "departments": _policy(engine).departments})


@staff_pages.post("")
def create_order(request: Request, user: CreatorDep, context: ContextDep, engine: EngineDep,
                 description: Annotated[str, Form(max_length=2000)] = "",
                 category: Annotated[str, Form(max_length=40)] = "",
                 department: Annotated[str, Form(max_length=40)] = "",
                 location: Annotated[str, Form(max_length=500)] = "",
                 contact: Annotated[str, Form(max_length=40)] = "") -> Response:
    policy = _policy(engine)
    form = {"description": description, "category": category, "department": department, "location": location}
    error = ""
    phone = None
    department = department.strip()
    if not description.strip():
        error = "请写明居民反映的问题"
    elif department and not policy.is_department(department):
        error = tickets.not_a_department(department)
    elif contact.strip():
        phone, rest = split_phone(contact.strip())
        if phone is None or rest.strip():
            error = "联系电话不对，请填11位手机号或带区号的座机号"
    if error:
        return _render(request, "staff/orders_new.html", {"error": error, "form": form, "policy": policy,
                                                           "departments": policy.departments}, status_code=422)
    # A chosen department is kept; the words still set the category (安全隐患 → priority and deadline).
    category = category.strip() or policy.categorize(description, None)
    with session_scope(context.sessions) as db:
        order = tickets.create_work_order(
            db, engine.cipher, source="staff", description=description.strip(), location=location.strip(),
            contact=phone, category=category, department=department or None,
            priority=policy.priorities.get(category) if department else None,
            channel="staff", actor=user.username, policy=policy, route=not department)
        if community_of(user):  # filed by a community's staff: that community's order, not the default one
            order.community_code = community_of(user)
        number = order.number
    return RedirectResponse(f"/staff/orders/{number}?msg=order_created", status_code=303)


def _load(db: Any, number: str, user: StaffUser) -> WorkOrder:
    order = lifecycle.get_order(db, number[:40])
    if not visible(order, user):  # another community's order: as if it did not exist
        raise NotFound(f"没有工单 {number[:40]}")
    department = _department_of(user)
    if department is not None and order.department != department:
        raise NotAllowed("这张工单不属于您的部门")
    return order


def _detail(request: Request, number: str, user: StaffUser, context: Any, engine: Any, error: str = "",
            status_code: int = 200, contact: str = "") -> Response:
    now = dt.datetime.now(dt.UTC)
    with session_scope(context.sessions) as db:
        try:
            order = _load(db, number, user)
        except HandoffError as exc:
            return _render(request, "staff/orders_missing.html", {"message": str(exc)},
                           status_code=_STATUS_CODES.get(type(exc).__name__, 400))
        actor = lifecycle.Actor.of(user)
        values = {
            "order": order, "events": lifecycle.history(db, order),
            "actions": lifecycle.available_actions(db, order, actor), "rules": lifecycle.RULES,
            "extensions": list(db.query(WorkOrderExtension).filter(WorkOrderExtension.order_id == order.id)
                               .order_by(WorkOrderExtension.id)),
            "state": queries.deadline_state(order, now, context.settings.orders_near_due_hours),
            "days_left": _days_left(_policy(engine), order, now), "error": error, "contact": contact,
            "departments": _policy(engine).departments,
            "can_reveal": bool(order.contact_encrypted) and user.role in ("admin", "staff", "department"),
            "notice": FLASH.get(request.query_params.get("msg", ""), ""),
        }
    return _render(request, "staff/orders_detail.html", values, status_code=status_code)


def _days_left(policy: OrderPolicy, order: WorkOrder, now: dt.datetime) -> int | None:
    if order.due_at is None or order.status not in lifecycle.OPEN_STATUSES:
        return None
    return policy.calendar.working_days_left(now, order.due_at)


@staff_pages.get("/{number}")
def order_page(number: str, request: Request, user: ViewerDep, context: ContextDep,
               engine: EngineDep) -> Response:
    return _detail(request, number, user, context, engine)


@staff_pages.post("/{number}/action")
def order_action(number: str, request: Request, user: ViewerDep, context: ContextDep, engine: EngineDep,
                 action: Annotated[str, Form(max_length=20)] = "",
                 note: Annotated[str, Form(max_length=lifecycle.MAX_NOTE)] = "",
                 department: Annotated[str, Form(max_length=40)] = "",
                 days: Annotated[str, Form(max_length=4)] = "",
                 satisfied: Annotated[str, Form(max_length=3)] = "") -> Response:
    try:
        with session_scope(context.sessions) as db:
            order = _load(db, number, user)
            lifecycle.transition(
                db, order, action, lifecycle.Actor.of(user), _policy(engine), note=note,
                department=department if action == "派单" and department.strip() else None,
                days=int(days) if days.strip().isdigit() else (None if not days.strip() else -1),
                satisfied={"yes": True, "no": False}.get(satisfied))
    except HandoffError as exc:
        return _detail(request, number, user, context, engine, error=str(exc),
                       status_code=_STATUS_CODES.get(type(exc).__name__, 400))
    return RedirectResponse(f"/staff/orders/{number.strip().upper()}?msg=done", status_code=303)


@staff_pages.post("/{number}/contact")
def reveal_contact(number: str, request: Request, user: Annotated[StaffUser, Depends(require_roles("staff",
                   "department"))], context: ContextDep, engine: EngineDep) -> Response:
    """Shows the full callback number once, for the call; every look is written to the audit log."""
    contact = ""
    try:
        with session_scope(context.sessions) as db:
            order = _load(db, number, user)
            if order.contact_encrypted:
                contact = engine.cipher.decrypt(order.contact_encrypted) or ""
                contacts.audit(db, user.username, order.number)  # the same audit code as the inbox's reveal
    except HandoffError as exc:
        return _detail(request, number, user, context, engine, error=str(exc),
                       status_code=_STATUS_CODES.get(type(exc).__name__, 400))
    return _detail(request, number, user, context, engine, contact=contact)


routers = [public, staff_pages]
