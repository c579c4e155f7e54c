"""Adds the staff console to the FastAPI app: its routers and how refusals look to browsers and APIs."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from assistant.api.errors import error_body
from assistant.auth.deps import StaffAccessDenied, wants_html
from assistant.console.templating import render

_REFUSALS = {
    "login": ("请先登录", "sign-in required"),
    "role": ("您的账号没有这个权限", "your role may not do this"),
    "csrf": ("页面已过期或来源不明，请刷新页面后重试", "missing or invalid CSRF token"),
}


def install_console(app: FastAPI) -> None:
    from assistant.console import routers

    for router in routers():
        app.include_router(router)

    @app.exception_handler(StaffAccessDenied)
    async def _refused(request: Request, exc: StaffAccessDenied) -> Response:
        if exc.status_code == 303:
            return RedirectResponse(exc.headers["Location"] if exc.headers else "/staff/login", status_code=303)
        zh, en = _REFUSALS.get(exc.reason, ("没有权限", "forbidden"))
        if wants_html(request):
            return render(request, "staff/denied.html", {"message": zh}, status_code=exc.status_code)
        return JSONResponse(error_body(f"staff_{exc.reason}", zh, en), status_code=exc.status_code)
