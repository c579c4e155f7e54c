"""A resident's conversation, restored after a reload or an app switch.

``GET /api/v1/sessions/{session_id}/history`` returns the latest messages of the conversation in order —
resident (as stored: ID and phone numbers already masked), bot, agent and system — with the handoff status,
so the web chat can show the conversation again and resume polling ``/messages?after=<last_id>``.

``GET /api/v1/sessions/{session_id}/events`` is server push (SSE) for that one conversation: a ``message``
event whenever staff claim, reply or close, so the page fetches ``/messages`` at once instead of at its next
poll (polling stays as the safety net). Only the holder of the server-issued (unguessable) session id can read
either; an unknown or purged id is a 404 with a Chinese message, and the page then starts afresh.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from assistant.api.deps import ContextDep, EngineDep
from assistant.api.errors import error_body
from assistant.api.routes.events import event_stream, start_id
from assistant.auth.secret import server_secret
from assistant.dialogue.turn_store import issued_session_id
from assistant.events.bus import MESSAGE, Event
from assistant.events.hub import hub_for
from assistant.handoff import conversation, queries, tickets
from assistant.storage.db import session_scope
from assistant.storage.models import ChatSession, Turn

router = APIRouter(prefix="/api/v1", tags=["sessions"])

HISTORY_TURNS = 100  # the latest turns restored; older ones stay stored but a phone screen needs no more
NO_SESSION = ("no_session", "没有找到这个对话，请重新开始", "no such session")
STREAM_SECONDS = 300.0  # then the browser reconnects at once (SSE retry), as the staff stream does


@router.get("/sessions/{session_id}/history")
def session_history(session_id: str, context: ContextDep, engine: EngineDep) -> dict[str, Any]:
    if not issued_session_id(session_id):  # derived channel ids and legacy client-made ids are not readable here
        raise HTTPException(404, error_body(*NO_SESSION))
    with session_scope(context.sessions) as db:
        if db.get(ChatSession, session_id) is None:
            raise HTTPException(404, error_body(*NO_SESSION))
        # A queue entry nobody claimed in time becomes 留言 now, not at the next poll.
        engine.handoff.sweep(db, session_id=session_id)
        db.flush()
        turn_ids = list(db.scalars(select(Turn.id).where(Turn.session_id == session_id)
                                   .order_by(Turn.id.desc()).limit(HISTORY_TURNS)))
        first = min(turn_ids) if turn_ids else 0
        # Message ids are 2·turn (resident) and 2·turn+1 (reply): "after" the reply of the turn before the first.
        # The turn before the first may be this session's too: it counts against the limit, hence + 1.
        messages = conversation.messages(db, session_id, max(2 * first - 1, 0), limit=HISTORY_TURNS + 1)
        emergencies = set(db.scalars(select(Turn.id).where(Turn.session_id == session_id, Turn.id >= first,
                                                           Turn.action == "emergency")))
        for message in messages:
            if message["from"] == "bot" and message["id"] // 2 in emergencies:
                message["emergency"] = True
        return {"session_id": session_id, "messages": messages,
                "last_id": messages[-1]["id"] if messages else 0,
                "handoff": engine.handoff.status_of(db, session_id)}


@router.get("/sessions/{session_id}/orders/{number}/link", include_in_schema=False)
def order_link(session_id: str, number: str, context: ContextDep) -> dict[str, Any]:
    """The status link (with its token) for a receipt's QR code, for the conversation the order was made in
    only: the session id is the proof, as for reading the conversation."""
    cleaned = queries.normalize_number(number[:200])[:40]
    with session_scope(context.sessions) as db:
        mine = issued_session_id(session_id) and tickets.owner_session(db, cleaned) == session_id
    if not mine:
        raise HTTPException(404, error_body("no_order", "没有找到这个对话的工单", "no such order in this session"))
    path = queries.status_path(server_secret(context.settings), cleaned)
    base = context.settings.public_base_url.strip().rstrip("/")
    return {"number": cleaned, "path": path, "url": base + path if base else None}


def _exists(context: Any, session_id: str) -> bool:
    with session_scope(context.sessions) as db:
        return db.get(ChatSession, session_id) is not None


@router.get("/sessions/{session_id}/events", include_in_schema=False)
async def session_events(session_id: str, request: Request, context: ContextDep) -> StreamingResponse:
    if not issued_session_id(session_id) or not await asyncio.to_thread(_exists, context, session_id):
        raise HTTPException(404, error_body(*NO_SESSION))
    bus = context.events
    after = await asyncio.to_thread(start_id, request, bus)

    def mine(event: Event) -> bool:
        # Only this conversation's messages; the event carries ids, never text, so nothing else leaks here.
        return event.kind == MESSAGE and event.data.get("session_id") == session_id

    stream = event_stream(hub_for(request.app.state, bus), after, request.is_disconnected, show=mine,
                          lifetime=STREAM_SECONDS)
    return StreamingResponse(stream,
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
