"""The kiosk fleet's API: every call carries the kiosk's device token (``Authorization: Bearer …``).

- ``POST /api/v1/kiosk/heartbeat``: version, device health and uptime in; the kiosk's configuration out;
- ``GET /api/v1/kiosk/config``: the configuration alone;
- ``POST /api/v1/kiosk/chat``: a chat turn (the body of ``POST /api/v1/chat``) whose new conversation belongs
  to the kiosk's community. The token decides the community, not a field of the body, so a browser cannot
  pass itself off as a community's kiosk.
- ``GET /api/v1/kiosk/bulletins``: the kiosk community's warnings and notices (the JSON of
  ``GET /api/v1/bulletins``, ETag/304), polled every ``bulletin_poll_seconds``.

A missing or unknown token gets 401 (Chinese and English, ``WWW-Authenticate: Bearer``); heartbeats and config
pulls are limited per token (``Settings.kiosk_api_rate_per_minute``, 429 with ``Retry-After``). Bulletin polls
count in a scope of their own, sized from the poll interval: a kiosk polling every 2 s (30 a minute) would use
up the heartbeat allowance by itself and lock itself out of its configuration.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.errors import error_body
from assistant.api.routes.bulletins import bulletin_response
from assistant.api.routes.chat import check_text
from assistant.auth import RateLimited
from assistant.clock import now_utc
from assistant.console import kiosk_routes as kiosk_pages
from assistant.context import AppContext
from assistant.dialogue.schemas import ChatRequest, ChatResponse
from assistant.dialogue.turn_store import issued_session_id
from assistant.kiosks import KIOSK_CHANNEL, registry
from assistant.kiosks.registry import hash_token
from assistant.storage.db import session_scope

router = APIRouter(prefix="/api/v1/kiosk", tags=["kiosk"])

RATE_SCOPE = "kiosk-token"
RATE_WINDOW_SECONDS = 60.0
BULLETIN_RATE_SCOPE = "kiosk-bulletins"
# Bulletin polls allowed per kiosk: this many times what polling every ``bulletin_poll_seconds`` needs (a
# restart, a retry after a network blip), and never fewer than BULLETIN_RATE_MIN a minute.
BULLETIN_RATE_HEADROOM = 3.0
BULLETIN_RATE_MIN = 60
BAD_TOKEN = ("自助机令牌无效，请让管理员重新登记这台自助机", "missing or invalid kiosk token")
TOO_OFTEN = ("自助机上报太频繁，请稍后再试", "too many kiosk requests, retry later")

Authorization = Annotated[str | None, Header()]


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: StrictStr = Field(default="", max_length=40)
    # {"printer": "ok|low_paper|no_paper|offline|none", "reader": "ok|offline|none", "microphone": "ok|none"}
    health: dict[str, Any] = Field(default_factory=dict, max_length=20)
    uptime: float | None = Field(default=None, ge=0)


class KioskConfigOut(BaseModel):
    kiosk: dict[str, Any]
    community: dict[str, str]
    settings: dict[str, Any]


def _refuse_token() -> HTTPException:
    return HTTPException(401, error_body("invalid_kiosk_token", *BAD_TOKEN), headers={"WWW-Authenticate": "Bearer"})


def bulletin_rate_per_minute(context: AppContext) -> int:
    """Bulletin polls a kiosk may make a minute (0: unlimited, like ``kiosk_api_rate_per_minute`` = 0)."""
    if context.settings.kiosk_api_rate_per_minute <= 0:
        return 0
    poll = max(context.settings.bulletin_poll_seconds, 0.5)
    return max(BULLETIN_RATE_MIN, round(RATE_WINDOW_SECONDS / poll * BULLETIN_RATE_HEADROOM))


def _count(context: AppContext, token: str, scope: str = RATE_SCOPE, limit: int | None = None) -> None:
    limit = context.settings.kiosk_api_rate_per_minute if limit is None else limit
    if limit <= 0:
        return
    try:
        context.rate_limiter.hit(scope, hash_token(token), limit, RATE_WINDOW_SECONDS)
    except RateLimited as exc:
        raise HTTPException(429, error_body("too_many_kiosk_requests", *TOO_OFTEN),
                            headers={"Retry-After": str(max(1, round(exc.retry_after)))}) from None


def _report(context: AppContext, authorization: str | None, beat: Heartbeat | None) -> dict[str, Any]:
    token = registry.bearer_token(authorization)
    with session_scope(context.sessions) as db:
        kiosk = registry.find_by_token(db, token)
        if kiosk is None or token is None:
            raise _refuse_token()
        _count(context, token)  # counted per kiosk, after the token is known good: a stranger cannot use it up
        if beat is not None:
            registry.record_heartbeat(db, kiosk, beat.version, beat.health, beat.uptime, now_utc())
        return registry.kiosk_config(kiosk, registry.community_name(db, kiosk.community_code), context.settings)


@router.post("/heartbeat", response_model=KioskConfigOut)
def heartbeat(body: Heartbeat, context: ContextDep, authorization: Authorization = None) -> dict[str, Any]:
    """The kiosk is alive: its version and device health are stored; its configuration is returned."""
    return _report(context, authorization, body)


@router.get("/config", response_model=KioskConfigOut)
def config(context: ContextDep, authorization: Authorization = None) -> dict[str, Any]:
    """The kiosk's configuration, without reporting in."""
    return _report(context, authorization, None)


def _community_of(context: AppContext, authorization: str | None) -> str:
    token = registry.bearer_token(authorization)
    with session_scope(context.sessions) as db:
        kiosk = registry.find_by_token(db, token)
        if kiosk is None:
            raise _refuse_token()
        return kiosk.community_code


@router.post("/chat", response_model=ChatResponse)
async def kiosk_chat(request: ChatRequest, context: ContextDep, engine: EngineDep,
                     authorization: Authorization = None) -> ChatResponse:
    """``POST /api/v1/chat`` for a registered kiosk: its new conversations belong to the kiosk's community."""
    community = await asyncio.to_thread(_community_of, context, authorization)
    check_text(request.text)
    session_id = request.session_id if request.session_id and issued_session_id(request.session_id) else None
    request = request.model_copy(update={"session_id": session_id, "community": community,
                                         "channel": KIOSK_CHANNEL})
    return await engine.handle_async(request)


def _bulletins_of(context: AppContext, authorization: str | None) -> dict[str, Any]:
    token = registry.bearer_token(authorization)
    with session_scope(context.sessions) as db:
        kiosk = registry.find_by_token(db, token)
        if kiosk is None or token is None:
            raise _refuse_token()
        community = kiosk.community_code
    _count(context, token, BULLETIN_RATE_SCOPE, bulletin_rate_per_minute(context))
    return context.bulletins.for_community(community)


@router.get("/bulletins")
async def kiosk_bulletins(request: Request, context: ContextDep, authorization: Authorization = None) -> Response:
    """The kiosk community's warnings and notices (``GET /api/v1/bulletins``); ETag/304 like it."""
    board = await asyncio.to_thread(_bulletins_of, context, authorization)
    return bulletin_response(request, board)


routers = [router, kiosk_pages.router]  # the API, and the console page 「自助机」
