"""The resident web chat page, the work-order look-up form (``/t/``) and their static files (no CDN).

``/t/{number}`` itself (the page behind a receipt's QR code) lives with the other work-order routes; this
module serves the form that leads there, so a resident without the QR code can type the number.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
MAX_NUMBER_CHARS = 40  # longer than any ticket number; a longer input is cut, never an error page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "chat.html", {})


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
