"""Live handoff over HTTP.

- ``GET /api/v1/sessions/{session_id}/messages?after=<last id>``: the resident's chat polls this for agent and
  system messages (the contract: ``{"messages": [...], "handoff": {"status", "queue_number"} | null}``).
- ``/staff/api/handoffs…``: the inbox as JSON for scripts and the inbox page's polling (staff role, CSRF
  header on every POST).
- ``/staff/inbox…``: the inbox pages (queue, conversation, reply, close with a note, convert to a work order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.errors import error_body
from assistant.auth.deps import StaffUser, current_user, require_roles, verify_csrf
from assistant.clock import china_time
from assistant.communities.scope import community_of
from assistant.dialogue.turn_store import issued_session_id
from assistant.handoff import (
    HandoffError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    conversation,
    inbox,
    push,
)
from assistant.handoff.live import ACTIVE_STATUSES, SERVING
from assistant.storage.db import session_scope
from assistant.storage.models import ChatSession

log = logging.getLogger(__name__)

public = APIRouter(prefix="/api/v1", tags=["handoff"])
staff_api = APIRouter(prefix="/staff/api/handoffs", include_in_schema=False, dependencies=[Depends(verify_csrf)])
pages = APIRouter(prefix="/staff/inbox", include_in_schema=False, dependencies=[Depends(verify_csrf)])

AgentDep = Annotated[StaffUser, Depends(require_roles("staff"))]
_STATUS = {NotFound: (404, "not_found", "not found"), NotAllowed: (403, "not_allowed", "not allowed"),
           IllegalTransition: (409, "conflict", "not possible in the current state"),
           InvalidInput: (422, "invalid_input", "invalid input")}


def http_error(exc: HandoffError) -> HTTPException:
    status, code, en = _STATUS.get(type(exc), (400, "handoff_error", "request refused"))
    return HTTPException(status, error_body(code, str(exc), en))


# ---------------------------------------------------------------- the resident's polling

@public.get("/sessions/{session_id}/messages")
def session_messages(session_id: str, context: ContextDep, engine: EngineDep,
                     after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> dict[str, Any]:
    """Messages of the conversation after ``after`` (agent replies arrive here) and the handoff status."""
    if not issued_session_id(session_id):  # only server-issued ids: derived and legacy client-made ids are not readable
        raise HTTPException(404, error_body("no_session", "没有找到这个对话", "no such session"))
    with session_scope(context.sessions) as db:
        if db.get(ChatSession, session_id) is None:
            raise HTTPException(404, error_body("no_session", "没有找到这个对话", "no such session"))
        engine.handoff.sweep(db, session_id=session_id)
        return {"messages": conversation.messages(db, session_id, after),
                "handoff": engine.handoff.status_of(db, session_id)}


# ---------------------------------------------------------------- staff JSON API

class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: StrictStr = Field(max_length=inbox.MAX_REPLY)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    note: StrictStr = Field(max_length=inbox.MAX_REPLY)


class ConvertBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: StrictStr = Field(default="", max_length=2000)
    category: StrictStr = Field(default="", max_length=40)
    department: StrictStr = Field(default="", max_length=40)
    location: StrictStr = Field(default="", max_length=500)
    contact: StrictStr = Field(default="", max_length=40)
    use_resident_contact: bool = True  # no number typed: the one the resident gave in the chat


def _item(item: inbox.QueueItem) -> dict[str, Any]:
    return {"id": item.id, "session_id": item.session_id, "channel": item.channel,
            "channel_label": item.channel_label, "queue_number": item.queue_number, "status": item.status,
            "agent": item.agent, "created_at": item.created_at.isoformat(),
            "created_at_china": china_time(item.created_at), "waited_minutes": item.waited_minutes,
            "preview": item.preview, "topic": item.topic, "urgent": item.urgent}


def _title_of(engine: Any) -> Callable[[str], str | None]:
    """Names a knowledge-base entry by its title (the topic a queued resident was asking about)."""
    entries = engine.kb.current().entries

    def title_of(entry_id: str) -> str | None:
        entry = entries.get(entry_id)
        return entry.title if entry is not None else None

    return title_of


def _queue(db: Any, engine: Any, user: StaffUser) -> list[inbox.QueueItem]:
    return inbox.queue(db, engine.handoff, _title_of(engine), who=user)


@staff_api.get("")
def api_queue(user: AgentDep, context: ContextDep, engine: EngineDep) -> dict[str, Any]:
    with session_scope(context.sessions) as db:
        items = _queue(db, engine, user)
        return {"items": [_item(i) for i in items], "counts": push.waiting_counts(db, community_of(user))}


@staff_api.post("/{handoff_id}/claim")
def api_claim(handoff_id: int, user: AgentDep, context: ContextDep, engine: EngineDep) -> dict[str, Any]:
    try:
        with session_scope(context.sessions) as db:
            inbox.get(db, handoff_id, user)  # another community's conversation: 404
            request = inbox.claim(db, engine.handoff, handoff_id, user.username)
            return {"id": request.id, "status": request.status, "agent": request.agent}
    except HandoffError as exc:
        raise http_error(exc) from exc


@staff_api.get("/{handoff_id}/messages")
def api_messages(handoff_id: int, user: AgentDep, context: ContextDep, engine: EngineDep,
                 after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> dict[str, Any]:
    try:
        with session_scope(context.sessions) as db:
            request = inbox.get(db, handoff_id, user)
            return {"messages": conversation.for_staff(conversation.messages(db, request.session_id, after),
                                                       _title_of(engine)),
                    "status": request.status, "agent": request.agent}
    except HandoffError as exc:
        raise http_error(exc) from exc


@staff_api.post("/{handoff_id}/messages", status_code=201)
def api_reply(handoff_id: int, body: ReplyBody, user: AgentDep, context: ContextDep,
              engine: EngineDep) -> dict[str, Any]:
    try:
        with session_scope(context.sessions) as db:
            inbox.get(db, handoff_id, user)
            turn = inbox.reply(db, engine.handoff, handoff_id, user.username, user.role, body.text)
            db.flush()
            return {"id": 2 * turn.id + 1}
    except HandoffError as exc:
        raise http_error(exc) from exc


@staff_api.post("/{handoff_id}/close", status_code=204)
def api_close(handoff_id: int, body: CloseBody, user: AgentDep, context: ContextDep, engine: EngineDep) -> None:
    try:
        with session_scope(context.sessions) as db:
            inbox.get(db, handoff_id, user)
            inbox.close(db, engine.handoff, handoff_id, user.username, user.role, body.note)
    except HandoffError as exc:
        raise http_error(exc) from exc


@staff_api.post("/{handoff_id}/convert", status_code=201)
def api_convert(handoff_id: int, body: ConvertBody, user: AgentDep, context: ContextDep,
                engine: EngineDep) -> dict[str, Any]:
    try:
        with session_scope(context.sessions) as db:
            inbox.get(db, handoff_id, user)
            order = inbox.convert(db, engine.handoff, handoff_id, user.username, user.role,
                                  **body.model_dump())
            return {"number": order.number, "status": order.status, "department": order.department}
    except HandoffError as exc:
        raise http_error(exc) from exc


# ---------------------------------------------------------------- staff pages

def _render(request: Request, name: str, values: dict[str, Any], status_code: int = 200) -> Response:
    from assistant.console.templating import render, templates

    templates.env.filters.setdefault("china_time", china_time)
    return render(request, name, values, status_code=status_code)


def handoff_waiting(request: Request) -> int:
    """Residents waiting for a person, for the menu on every staff page (``_nav_handoff.html``)."""
    context = getattr(request.app.state, "context", None)
    if context is None:
        return 0
    try:
        with session_scope(context.sessions) as db:
            return push.waiting_counts(db, community_of(current_user(request)))["waiting"]
    except Exception:  # the count is a convenience: a page must render without it
        log.warning("could not count the waiting residents", exc_info=True)
        return 0


def _register_globals() -> None:
    from assistant.console.templating import templates

    templates.env.globals.setdefault("handoff_waiting", handoff_waiting)


_register_globals()

_FLASH = {"claimed": "已接待，请回复居民。", "closed": "会话已结束。", "sent": ""}


@pages.get("")
def inbox_page(request: Request, user: AgentDep, context: ContextDep, engine: EngineDep) -> Response:
    with session_scope(context.sessions) as db:
        items = _queue(db, engine, user)
    return _render(request, "staff/inbox.html", {"items": items, "in_hours": engine.handoff.in_office_hours()})


def _conversation_page(request: Request, handoff_id: int, user: StaffUser, context: Any, engine: Any,
                       error: str = "", status_code: int = 200, form: dict[str, str] | None = None,
                       contact: str = "") -> Response:
    # The convert/contact part of this page (imported here: the rest of this module is another feature's).
    from assistant.handoff import contact as contacts
    from assistant.handoff import conversion

    with session_scope(context.sessions) as db:
        try:
            item = inbox.get(db, handoff_id, user)
        except NotFound:
            return _render(request, "staff/inbox_missing.html", {}, status_code=404)
        messages = conversation.for_staff(conversation.messages(db, item.session_id, 0, limit=1000),
                                          _title_of(engine))
        last_id = messages[-1]["id"] if messages else 0
        mine = item.status == SERVING and (item.agent == user.username or user.role == "admin")
        values = {"item": item, "messages": messages, "last_id": last_id, "mine": mine,
                  "active": item.status in ACTIVE_STATUSES, "error": error,
                  "notice": _FLASH.get(request.query_params.get("done", ""), ""),
                  # 转为工单 starts from the conversation (what, where, phone, suggested department).
                  "form": {**conversion.draft(db, item, engine.handoff.policy).as_form(), **(form or {})},
                  "departments": engine.handoff.policy.departments, "contact": contact,
                  "contact_masked": item.contact_masked or "",
                  "can_reveal": bool(item.contact_encrypted) and contacts.may_reveal(item, user.username, user.role)}
    return _render(request, "staff/inbox_conversation.html", values, status_code=status_code)


@pages.get("/{handoff_id}")
def conversation_page(handoff_id: int, request: Request, user: AgentDep, context: ContextDep,
                      engine: EngineDep) -> Response:
    return _conversation_page(request, handoff_id, user, context, engine)


def _act(request: Request, handoff_id: int, user: StaffUser, context: Any, engine: Any, done: str, action: Any,
         form: dict[str, str] | None = None) -> Response:
    try:
        with session_scope(context.sessions) as db:
            inbox.get(db, handoff_id, user)  # another community's conversation: 404, before anything changes
            result = action(db)
    except HandoffError as exc:
        status = _STATUS.get(type(exc), (400,))[0]
        return _conversation_page(request, handoff_id, user, context, engine, error=str(exc),
                                  status_code=status, form=form)
    if isinstance(result, str):  # a new work order's number
        return RedirectResponse(f"/staff/orders/{result}?msg=order_created", status_code=303)
    return RedirectResponse(f"/staff/inbox/{handoff_id}?done={done}", status_code=303)


@pages.post("/{handoff_id}/claim")
def claim_submit(handoff_id: int, request: Request, user: AgentDep, context: ContextDep,
                 engine: EngineDep) -> Response:
    def action(db: Any) -> None:
        inbox.claim(db, engine.handoff, handoff_id, user.username)

    return _act(request, handoff_id, user, context, engine, "claimed", action)


@pages.post("/{handoff_id}/reply")
def reply_submit(handoff_id: int, request: Request, user: AgentDep, context: ContextDep, engine: EngineDep,
                 text: Annotated[str, Form(max_length=inbox.MAX_REPLY)] = "") -> Response:
    def action(db: Any) -> None:
        inbox.reply(db, engine.handoff, handoff_id, user.username, user.role, text)

    return _act(request, handoff_id, user, context, engine, "sent", action)


@pages.post("/{handoff_id}/close")
def close_submit(handoff_id: int, request: Request, user: AgentDep, context: ContextDep, engine: EngineDep,
                 note: Annotated[str, Form(max_length=inbox.MAX_REPLY)] = "") -> Response:
    return _act(request, handoff_id, user, context, engine, "closed",
                lambda db: inbox.close(db, engine.handoff, handoff_id, user.username, user.role, note))


@pages.post("/{handoff_id}/convert")
def convert_submit(handoff_id: int, request: Request, user: AgentDep, context: ContextDep, engine: EngineDep,
                   description: Annotated[str, Form(max_length=2000)] = "",
                   category: Annotated[str, Form(max_length=40)] = "",
                   department: Annotated[str, Form(max_length=40)] = "",
                   location: Annotated[str, Form(max_length=500)] = "",
                   contact: Annotated[str, Form(max_length=40)] = "",
                   use_resident_contact: Annotated[str, Form(max_length=3)] = "1") -> Response:
    form = {"description": description, "category": category, "department": department, "location": location,
            "contact": ""}  # a typed phone number is never echoed back into the page

    def action(db: Any) -> str:
        return inbox.convert(db, engine.handoff, handoff_id, user.username, user.role, description=description,
                             category=category, department=department, location=location,
                             contact=contact, use_resident_contact=use_resident_contact != "0").number

    return _act(request, handoff_id, user, context, engine, "converted", action, form)


@pages.post("/{handoff_id}/contact")
def reveal_contact_submit(handoff_id: int, request: Request, user: AgentDep, context: ContextDep,
                          engine: EngineDep) -> Response:
    """查看完整号码: the agent handling the conversation (or an administrator) sees the number; audited."""
    from assistant.handoff import contact as contacts

    try:
        with session_scope(context.sessions) as db:
            phone = contacts.reveal(db, inbox.get(db, handoff_id, user), engine.handoff.cipher, user.username, user.role)
    except HandoffError as exc:
        status = _STATUS.get(type(exc), (400,))[0]
        return _conversation_page(request, handoff_id, user, context, engine, error=str(exc), status_code=status)
    return _conversation_page(request, handoff_id, user, context, engine, contact=phone)


routers = [public, staff_api, pages]
