"""WeChat Official Account and WeCom callbacks: ``GET/POST /channels/wechat`` and ``/channels/wecom``.

GET is the URL check WeChat makes when the callback is saved; POST carries messages. A bad signature, a
timestamp outside the window or a nonce already used (a replay) is the same 403, checked before the body is
read; a body that is not a WeChat message is a 400; a body over ``MAX_BODY_BYTES`` is a 413, also when it
comes chunked without a Content-Length. A client that goes away mid-body costs one log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect

from assistant.api.deps import EngineDep
from assistant.api.errors import error_body
from assistant.channels import ChannelNotConfigured, MalformedMessage, SignatureError
from assistant.channels.service import ChannelService
from assistant.dialogue.engine import DialogueEngine

log = logging.getLogger(__name__)

# WeChat messages are a few kilobytes at most, encrypted ones included.
MAX_BODY_BYTES = 32 * 1024


@asynccontextmanager
async def channels_lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the application's lifespan, so the context (database, settings) already exists.
    context = app.state.context
    service = ChannelService(context, speech=context.speech)  # voice messages use the process's one recogniser
    app.state.channels = service
    try:
        yield
    finally:
        service.close()


router = APIRouter(prefix="/channels", tags=["channels"], lifespan=channels_lifespan)


def get_channels(request: Request) -> ChannelService:
    service = getattr(request.app.state, "channels", None)
    if service is None:
        raise HTTPException(503, error_body("channels_unavailable", "服务还没有准备好，请稍后再试",
                                            "the channel service is not running"))
    return service


ChannelsDep = Annotated[ChannelService, Depends(get_channels)]


def _refuse(kind: str, error: Exception) -> HTTPException:
    if isinstance(error, ChannelNotConfigured):
        return HTTPException(404, error_body("channel_off", "这个渠道没有开通", f"the {kind} channel is not configured"))
    if isinstance(error, SignatureError):
        # Bad signature, stale timestamp and replayed nonce answer alike; only the log says which.
        log.warning("%s: refused a callback: %s", kind, error)
        return HTTPException(403, error_body("bad_signature", "签名不正确", "signature does not match"))
    log.info("%s: refused a malformed message: %s", kind, error)
    return HTTPException(400, error_body("malformed_message", "消息格式不正确", "not a valid WeChat message"))


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, error_body("too_large", "请求内容太大", "request body too large"))
        chunks.append(chunk)
    return b"".join(chunks)


def _verify(kind: str, request: Request, channels: ChannelService) -> PlainTextResponse:
    try:
        return PlainTextResponse(channels.verify(kind, request.query_params))
    except (ChannelNotConfigured, SignatureError, MalformedMessage) as e:
        raise _refuse(kind, e) from None


async def _receive(kind: str, request: Request, channels: ChannelService, engine: DialogueEngine) -> Response:
    try:
        await asyncio.to_thread(channels.precheck, kind, request.query_params)
    except (ChannelNotConfigured, SignatureError, MalformedMessage) as e:
        raise _refuse(kind, e) from None
    try:
        body = await _read_body(request)
    except ClientDisconnect:
        # Nothing was claimed yet, so WeChat's retry of the same message is still answered.
        log.info("%s: the client went away before the body was complete", kind)
        return Response(status_code=400)
    try:
        reply = await channels.handle(kind, request.query_params, body, engine)
    except (ChannelNotConfigured, SignatureError, MalformedMessage) as e:
        raise _refuse(kind, e) from None
    if reply.startswith("<xml>"):
        return Response(reply, media_type="application/xml")
    return PlainTextResponse(reply)


@router.get("/wechat", response_class=PlainTextResponse)
def wechat_verify(request: Request, channels: ChannelsDep) -> PlainTextResponse:
    """Official Account URL check: echoes ``echostr`` when ``signature`` matches the token."""
    return _verify("wechat", request, channels)


@router.post("/wechat")
async def wechat_message(request: Request, channels: ChannelsDep, engine: EngineDep) -> Response:
    """Official Account messages, plaintext or safe mode (``encrypt_type=aes``)."""
    return await _receive("wechat", request, channels, engine)


@router.get("/wecom", response_class=PlainTextResponse)
def wecom_verify(request: Request, channels: ChannelsDep) -> PlainTextResponse:
    """WeCom URL check: decrypts ``echostr`` and echoes the plaintext when ``msg_signature`` matches."""
    return _verify("wecom", request, channels)


@router.post("/wecom")
async def wecom_message(request: Request, channels: ChannelsDep, engine: EngineDep) -> Response:
    """WeCom application messages (always encrypted)."""
    return await _receive("wecom", request, channels, engine)
