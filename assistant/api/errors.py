"""Error responses: every client mistake gets a 4xx with a message in Chinese and English."""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessibility.audio_input import MAX_AUDIO_BYTES
from assistant.api.db_faults import has_bad_characters_cause, is_database_outage, log_outage
from assistant.auth.deps import wants_html
from assistant.bulletins.cap import MAX_CAP_BYTES
from assistant.communities import CommunityError
from assistant.dialogue.schemas import BAD_CHARACTERS_ERROR

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Staff console forms are larger (a whole synonym dictionary); its spreadsheet upload larger still.
STAFF_BODY_BYTES = 1024 * 1024
STAFF_UPLOAD_BYTES = {"/staff/kb/import": 10 * 1024 * 1024}
# Public uploads: a recorded question (POST /api/v1/asr; its own cap is checked again while reading).
# The audio cap plus room for multipart framing and two small form fields.
ASR_BODY_BYTES = MAX_AUDIO_BYTES + 64 * 1024
PUBLIC_UPLOAD_BYTES = {"/api/v1/asr": ASR_BODY_BYTES, "/api/v1/warnings/cap": MAX_CAP_BYTES}


BAD_CHARACTERS_MESSAGE = ("内容里有无法识别的字符，请删掉后再发", "text contains a NUL or a lone surrogate character")
OUTAGE_MESSAGE = ("系统暂时忙不过来，请稍后再试", "the database is unavailable, please try again shortly")
DEFAULT_RETRY_AFTER_SECONDS = 10  # when the app has no settings yet (Settings.db_retry_after_seconds)
OUTAGE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>请稍后再试</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-size:20px;line-height:1.6;margin:2em"><h1>系统暂时忙不过来</h1>
<p>数据库暂时连不上，您的内容没有丢失。请稍等一会儿再刷新页面。</p></body></html>"""


def error_body(code: str, zh: str, en: str) -> dict[str, object]:
    return {"error": {"code": code, "message": f"{zh} / {en}", "message_zh": zh, "message_en": en}}


def bad_characters_response() -> JSONResponse:
    return JSONResponse(error_body("bad_characters", *BAD_CHARACTERS_MESSAGE), status_code=422)


def outage_response(scope: Scope) -> Response:
    """503 for a browser page (a Chinese page) or an API client (JSON in Chinese and English)."""
    context = getattr(getattr(scope.get("app"), "state", None), "context", None)
    retry = getattr(getattr(context, "settings", None), "db_retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS)
    headers = {"Retry-After": str(retry), "Cache-Control": "no-store"}
    request = Request(scope)
    if "text/event-stream" in request.headers.get("accept", ""):
        # A browser's EventSource gives up for good on any status but 200: tell it to come back later instead.
        return Response(f"retry: {int(retry) * 1000}\n\n", media_type="text/event-stream", headers=headers)
    if wants_html(request):
        return HTMLResponse(OUTAGE_PAGE, status_code=503, headers=headers)
    return JSONResponse(error_body("database_unavailable", *OUTAGE_MESSAGE), status_code=503, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str, str]:
    for error in exc.errors():
        kind = error.get("type", "")
        loc = [str(p) for p in error.get("loc", ())]
        field = loc[-1] if loc else "body"
        if kind in ("json_invalid", "value_error.jsondecode") or "json" in kind:
            return 400, "malformed_json", "请求内容不是有效的 JSON", "the request body is not valid JSON"
        if kind == BAD_CHARACTERS_ERROR:
            return 422, "bad_characters", *BAD_CHARACTERS_MESSAGE
        if kind == "missing":
            return 422, "missing_field", f"缺少字段 {field}", f"missing field '{field}'"
        if field == "text" and kind == "string_too_long":
            return 422, "text_too_long", "内容太长了，请不要超过500个字", "text is longer than 500 characters"
        if field == "channel":
            return (422, "invalid_channel", "channel 只能是 web、kiosk、api、wechat",
                    "channel must be one of web, kiosk, api, wechat")
        if kind.startswith("string") or kind in ("str_type",):
            return 422, "wrong_type", f"字段 {field} 应该是文字", f"field '{field}' must be a string"
        if kind in ("model_attributes_type", "dict_type"):
            return 422, "wrong_type", "请求内容应该是一个 JSON 对象", "the request body must be a JSON object"
    return 422, "invalid_request", "请求格式不正确", "the request is not valid"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, zh, en = _validation_message(exc)
        return JSONResponse(error_body(code, zh, en), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        messages = {404: ("找不到这个地址", "not found"), 405: ("不支持这种请求方式", "method not allowed"),
                    401: ("请先登录", "authentication required"), 403: ("没有权限", "forbidden"),
                    413: ("请求内容太大", "request body too large"), 415: ("请用 JSON 格式", "use JSON")}
        zh, en = messages.get(exc.status_code, ("请求有误", str(exc.detail)))
        return JSONResponse(error_body(f"http_{exc.status_code}", zh, en), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(CommunityError)
    async def _community(_request: Request, exc: CommunityError) -> JSONResponse:
        return JSONResponse(error_body("unknown_community", str(exc), "unknown community code"), status_code=422)

    @app.exception_handler(ValidationError)
    async def _inner_validation(_request: Request, exc: ValidationError) -> JSONResponse:
        # A model built inside a route from outside text (the Rasa channel builds a ChatRequest) refused it.
        if any(error.get("type") == BAD_CHARACTERS_ERROR for error in exc.errors()):
            return bad_characters_response()
        return _internal_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(exc)

    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(DatabaseFaultMiddleware)


def _internal_error(exc: Exception) -> JSONResponse:
    log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return JSONResponse(error_body("internal_error", "系统出了点问题，请稍后再试或找工作人员",
                                   "internal error, please try again later"), status_code=500)


def body_limit(path: str) -> int:
    return (PUBLIC_UPLOAD_BYTES.get(path) or STAFF_UPLOAD_BYTES.get(path)
            or (STAFF_BODY_BYTES if path.startswith("/staff/") else MAX_BODY_BYTES))


class BodyLimitMiddleware:
    """Refuses a declared Content-Length over the path's limit before the body is read.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware wraps every
    request in extra tasks and streams, which cost the chat API about a tenth of its throughput.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
            if length is not None:
                refusal = None
                if not length.isdigit():
                    refusal = JSONResponse(error_body("bad_length", "请求长度不正确", "invalid Content-Length"), 400)
                elif int(length) > body_limit(scope["path"]):
                    refusal = JSONResponse(error_body("too_large", "请求内容太大", "request body too large"), 413)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class DatabaseFaultMiddleware:
    """A database that refuses, hangs past its timeouts or drops connections: 503 with ``Retry-After``;
    text it cannot store (NUL, lone surrogates) that slipped past validation: 422.

    One place for every route (chat API, staff pages, SSE streams) instead of a try in each. Plain ASGI so that
    it also sees a stream that fails after its first bytes went out: that one is ended quietly (the browser's
    EventSource reconnects by itself). One short log line per failure, never a traceback or SQL values.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception as exc:
            if not started and has_bad_characters_cause(exc):
                # A NUL or lone surrogate that got past validation (a path, a query, a hashed id): still the
                # client's mistake, and caught here so that no traceback is logged for it.
                await bad_characters_response()(scope, receive, send)
                return
            if not is_database_outage(exc):
                raise
            log_outage(scope, exc, streaming=started)
            if started:
                with contextlib.suppress(Exception):  # the client may be gone already
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await outage_response(scope)(scope, receive, send)
