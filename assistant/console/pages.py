"""Pages every signed-in role can reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assistant.auth.deps import StaffUser, require_roles
from assistant.console.templating import render

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("/welcome")
def welcome(request: Request, user: Annotated[StaffUser, Depends(require_roles())]) -> Response:
    return render(request, "staff/welcome.html", {})
