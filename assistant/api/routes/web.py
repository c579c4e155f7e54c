"""The resident web chat page, the work-order look-up form (``/t/``) and their static files (no CDN).

``/t/{number}`` itself (the page behind a receipt's QR code) lives with the other work-order routes but is
answered by :func:`status_response` here. Order numbers are sequential, so a number alone shows only the form:
the status needs the QR code's token or the last four digits of the contact phone, and an address that gets
them wrong too often is refused for a while (the database-backed limiter the sign-in uses, shared by all workers).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from assistant.api.deps import ContextDep
from assistant.auth import RateLimited
from assistant.auth.ratelimit import RateLimiter, client_address
from assistant.auth.secret import server_secret
from assistant.storage.db import session_scope

if TYPE_CHECKING:
    from assistant.context import AppContext
    from assistant.handoff.queries import PublicOrder

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
MAX_NUMBER_CHARS = 40  # longer than any ticket number; a longer input is cut, never an error page

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["communities"])
Outcome = Literal["shown", "ask", "wrong", "limited"]
STATUS_CODES: dict[str, int] = {"shown": 200, "ask": 200, "wrong": 404, "limited": 429}


@router.get("/", response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    # The community (``/?c=CODE``) is read by chat.js, which checks it against /api/v1/communities, remembers
    # it and sends it with every chat request: the page itself is the same for every community (cacheable).
    return templates.TemplateResponse(request, "chat.html", {})


class CommunityChoice(BaseModel):
    code: str = Field(description="what to send as ``community`` in /api/v1/chat (and to put in /?c=)")
    label: str = Field(description="how residents see it: district, street and name")


class CommunityList(BaseModel):
    communities: list[CommunityChoice]
    default: str = Field(description="the community of a request that names none")


@api.get("/communities", response_model=CommunityList)
def list_communities(context: ContextDep) -> CommunityList:
    """The communities a resident may choose from (code and label only; nothing else of their profiles)."""
    directory = context.communities
    return CommunityList(communities=[CommunityChoice(code=c.code, label=c.label)
                                      for c in directory.all() if c.active],
                         default=directory.default_code)


@router.get("/t", response_class=HTMLResponse)
@router.get("/t/", response_class=HTMLResponse)
def ticket_lookup(request: Request, number: str = "") -> Response:
    """The look-up form; a submitted number goes to its status page (spaces and case do not matter)."""
    from assistant.handoff.queries import normalize_number  # the one normalisation, shared with /t/{number}
    from assistant.handoff.tickets import TICKET_NUMBER

    cleaned = normalize_number(number[:200])[:MAX_NUMBER_CHARS]
    if TICKET_NUMBER.fullmatch(cleaned):
        return RedirectResponse(f"/t/{quote(cleaned, safe='')}", status_code=303)
    # Blank: the form. Not a number at all: the same "没有找到" page /t/{number} shows, with the form.
    response = templates.TemplateResponse(request, "ticket_status.html", {"order": None, "number": cleaned},
                                          status_code=404 if cleaned else 200)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.post("/t", response_class=HTMLResponse)
@router.post("/t/", response_class=HTMLResponse)
def ticket_lookup_submit(request: Request, context: ContextDep, number: Annotated[str, Form()] = "",
                         phone4: Annotated[str, Form()] = "") -> Response:
    """The form sent with the last four phone digits (POST: they stay out of addresses and access logs)."""
    return status_response(request, context, number, phone_tail=phone4)


LOOKUP_SCOPE = "order-lookup"  # failed look-ups of an address, counted apart from sign-ins


def _limiter(request: Request, context: AppContext) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "order_lookup_limiter", None)
    if limiter is None:
        limiter = context.rate_limiter  # the database or Redis (Settings.rate_limit_url)
        request.app.state.order_lookup_limiter = limiter
    return limiter


def resident_order(request: Request, context: AppContext, number: str, *, phone_tail: str = "",
                   token: str = "") -> tuple[PublicOrder | None, Outcome]:
    """The order's resident view if the caller proved it is theirs; otherwise why not. A missing order and a
    wrong phone ending look the same, so the page cannot be used to find which numbers exist."""
    from assistant.handoff.queries import normalize_number, proves_owner, public_view
    from assistant.handoff.tickets import TICKET_NUMBER

    if not phone_tail and not token:
        return None, "ask"
    limiter = _limiter(request, context)
    address = client_address(request)
    limit, window = context.settings.order_lookup_max_failures, context.settings.order_lookup_window_seconds
    if limiter.blocked(LOOKUP_SCOPE, address, limit, window):
        return None, "limited"
    cleaned = normalize_number(number[:200])[:MAX_NUMBER_CHARS]
    view = None
    if TICKET_NUMBER.fullmatch(cleaned):
        with session_scope(context.sessions) as db:
            if proves_owner(db, cleaned, server_secret(context.settings), phone_tail=phone_tail, token=token):
                view = public_view(db, cleaned)
    if view is None:
        try:
            limiter.hit(LOOKUP_SCOPE, address, limit, window)  # only failures count
        except RateLimited:
            return None, "limited"
        return None, "wrong"
    return view, "shown"


def status_response(request: Request, context: AppContext, number: str, *, phone_tail: str = "",
                    token: str = "") -> Response:
    """The /t/ page for one number: the status, or the form asking for the phone ending (and why)."""
    from assistant.handoff.queries import normalize_number

    view, outcome = resident_order(request, context, number, phone_tail=phone_tail, token=token)
    cleaned = normalize_number(number[:200])[:MAX_NUMBER_CHARS]
    response = templates.TemplateResponse(request, "ticket_status.html",
                                          {"order": view, "number": cleaned, "outcome": outcome},
                                          status_code=STATUS_CODES[outcome])
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


router.include_router(api)  # GET /api/v1/communities: served with the page that asks for it (in the API schema)
