"""``POST /api/v1/chat`` (the contract of DESIGN.md) and answer feedback (👍/👎)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, StrictInt, StrictStr
from sqlalchemy import select

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.errors import error_body
from assistant.dialogue.schemas import MAX_TEXT_CHARS, ChatRequest, ChatResponse
from assistant.dialogue.turn_store import issued_session_id
from assistant.storage.db import session_scope
from assistant.storage.models import Turn, UnansweredQuery

router = APIRouter(prefix="/api/v1", tags=["chat"])


def check_text(text: str) -> None:
    if not text.strip():
        raise HTTPException(422, error_body("empty_text", "请输入您要问的内容", "text is empty"))
    if len(text) > MAX_TEXT_CHARS:
        raise HTTPException(422, error_body("text_too_long", "内容太长了，请不要超过500个字",
                                            "text is longer than 500 characters"))


@router.post("/chat", response_model=ChatResponse)
async def chat(request: ChatRequest, engine: EngineDep) -> ChatResponse:
    """One resident message in; the assistant's reply out. Send the returned session_id back next time."""
    check_text(request.text)
    if request.session_id is not None and not issued_session_id(request.session_id):
        # Only ids this server issued continue a conversation here; channel sessions (derived ids) are
        # reached through their own channel, never by naming them to the public API.
        request = request.model_copy(update={"session_id": None})
    return await engine.handle_async(request)


class Feedback(BaseModel):
    session_id: StrictStr
    rating: StrictInt
    comment: StrictStr | None = None


@router.post("/feedback", status_code=204)
def feedback(body: Feedback, context: ContextDep) -> None:
    """👍 (+1) or 👎 (-1) on the last answer of a session; 👎 puts the question in the review list."""
    if body.rating not in (1, -1):
        raise HTTPException(422, error_body("invalid_rating", "评价只能是 1 或 -1", "rating must be 1 or -1"))
    if not issued_session_id(body.session_id):
        raise HTTPException(404, error_body("no_answer", "没有找到可以评价的回答", "no answer to rate"))
    with session_scope(context.sessions) as db:
        turn = db.scalar(select(Turn).where(Turn.session_id == body.session_id, Turn.sender == "bot",
                                            Turn.action.in_(("answer", "clarify", "fallback")))
                         .order_by(Turn.id.desc()).limit(1))
        if turn is None:
            raise HTTPException(404, error_body("no_answer", "没有找到可以评价的回答", "no answer to rate"))
        turn.feedback = body.rating
        if body.rating < 0:
            db.add(UnansweredQuery(session_id=turn.session_id, turn_id=turn.id, channel=turn.channel,
                                   query=turn.user_text, normalized=turn.user_text, reason="thumbs_down",
                                   intent=turn.intent, candidates=turn.candidates or []))
