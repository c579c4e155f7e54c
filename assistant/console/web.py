"""Small helpers shared by the console's route modules."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from assistant.api.errors import BAD_CHARACTERS_MESSAGE, error_body
from assistant.auth.deps import StaffUser, require_roles, verify_csrf
from assistant.context import AppContext
from assistant.dialogue.schemas import has_bad_characters

MAX_FIELD_CHARS = 20_000

# Reading pages: everyone who keeps the knowledge base; editing: staff; reviewing: approvers (admin: all).
Reader = Annotated[StaffUser, Depends(require_roles("staff", "approver"))]
Editor = Annotated[StaffUser, Depends(require_roles("staff"))]
Reviewer = Annotated[StaffUser, Depends(require_roles("approver"))]
Admin = Annotated[StaffUser, Depends(require_roles("admin"))]
CSRF = [Depends(verify_csrf)]


def app_context(request: Request) -> AppContext:
    return request.app.state.context


async def _form_fields(request: Request) -> dict[str, str]:
    """Text fields of a posted form (files are read by the routes that accept them); over-long values cut.

    A NUL (``%00``) or a lone surrogate cannot be stored (PostgreSQL refuses NUL): the form is refused with
    422 and a plain message rather than failing later with a 500.
    """
    form = await request.form()
    fields = {key: value[:MAX_FIELD_CHARS] for key, value in form.multi_items() if isinstance(value, str)}
    if any(has_bad_characters(key) or has_bad_characters(value) for key, value in fields.items()):
        raise HTTPException(422, error_body("bad_characters", *BAD_CHARACTERS_MESSAGE))
    return fields


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


def redirect(path: str, msg: str = "", **params: str) -> RedirectResponse:
    query = {k: v for k, v in {"msg": msg, **params}.items() if v}
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)
