"""Rasa-compatible REST channel: ``POST /webhooks/rest/webhook`` with ``{"sender", "message"}``."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictStr

from assistant.api.deps import EngineDep
from assistant.api.routes.chat import check_text
from assistant.dialogue.schemas import ChatRequest

router = APIRouter(tags=["rasa"])


class RasaMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sender: StrictStr
    message: StrictStr


def session_for_sender(sender: str) -> str:
    # A stable session per sender id, without storing the sender's own id.
    return "rasa-" + hashlib.sha256(sender.encode("utf-8")).hexdigest()[:32]


@router.post("/webhooks/rest/webhook")
async def rest_webhook(body: RasaMessage, engine: EngineDep) -> list[dict[str, object]]:
    check_text(body.message)
    response = await engine.handle_async(ChatRequest(session_id=session_for_sender(body.sender), text=body.message,
                                         channel="api"))
    message: dict[str, object] = {"recipient_id": body.sender, "text": response.reply.text}
    if response.reply.buttons:
        message["buttons"] = [b.model_dump() for b in response.reply.buttons]
    return [message]
