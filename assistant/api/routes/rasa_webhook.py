"""Rasa-compatible REST channel: ``POST /webhooks/rest/webhook`` with ``{"sender", "message"}``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictStr

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.routes.chat import check_text
from assistant.auth.secret import server_secret
from assistant.context import AppContext
from assistant.dialogue.schemas import ChatRequest
from assistant.dialogue.turn_store import derived_session_id, ensure_session
from assistant.storage.db import session_scope

router = APIRouter(tags=["rasa"])


class RasaMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sender: StrictStr
    message: StrictStr


def session_for_sender(secret: bytes, sender: str) -> str:
    # A stable session per sender id, without storing the sender's own id; keyed, so that knowing a sender
    # string is not enough to compute (and then read) its conversation.
    return derived_session_id(secret, "rasa-", "rasa", sender)


def _open_session(context: AppContext, sender: str) -> str:
    session_id = session_for_sender(server_secret(context.settings), sender)
    with session_scope(context.sessions) as db:
        ensure_session(db, session_id, "api")
    return session_id


@router.post("/webhooks/rest/webhook")
async def rest_webhook(body: RasaMessage, engine: EngineDep, context: ContextDep) -> list[dict[str, object]]:
    check_text(body.message)
    session_id = await asyncio.to_thread(_open_session, context, body.sender)
    response = await engine.handle_async(ChatRequest(session_id=session_id, text=body.message, channel="api"))
    message: dict[str, object] = {"recipient_id": body.sender, "text": response.reply.text}
    if response.reply.buttons:
        message["buttons"] = [b.model_dump() for b in response.reply.buttons]
    return [message]
