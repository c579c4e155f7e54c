"""Reading and writing a turn: the session row, the stored turn and the unanswered-question record.

The hot path uses statements built once and run with parameters: the ORM's unit of work cost more than the
rest of a turn together. The handoff code, which changes the session's handoff status, gets the ORM object
on demand (``TurnContext.chat``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from assistant.dialogue.state import DialogueState
from assistant.logging_setup import redact
from assistant.storage.models import ChatSession, Turn, UnansweredQuery
from knowledge_base.engine import KnowledgeBase

SESSIONS = ChatSession.__table__
# Built once: a statement made per turn with ``.values(...)`` cost more to construct than to run.
SELECT_SESSION = select(SESSIONS.c.state, SESSIONS.c.handoff_status).where(SESSIONS.c.id == bindparam("session_key"))
UPDATE_SESSION = (update(SESSIONS).where(SESSIONS.c.id == bindparam("session_key"))
                  .values(turn_count=SESSIONS.c.turn_count + 1))
INSERT_SESSION = insert(SESSIONS)
INSERT_TURN = insert(Turn.__table__)
INSERT_UNANSWERED = insert(UnansweredQuery.__table__)
SESSION_ID_MAX_CHARS = 64


@dataclass
class TurnContext:
    """One turn's database session, the conversation's state and the text as received."""

    db: Session
    session_id: str
    stored: bool  # whether the chat_sessions row exists yet
    handoff_status: str | None
    state: DialogueState
    knowledge: KnowledgeBase
    text: str
    channel: str
    orm_chat: ChatSession | None = None

    @property
    def chat(self) -> ChatSession:
        """The session as an ORM object, for the handoff code; the row is created first for a new session."""
        if self.orm_chat is None:
            if not self.stored:
                self.db.connection().execute(INSERT_SESSION, {"id": self.session_id, "channel": self.channel,
                                                              "state": {}, "turn_count": 0})
                self.stored = True
            self.orm_chat = self.db.get_one(ChatSession, self.session_id)
        return self.orm_chat


@dataclass(frozen=True)
class StoredTurn:
    """What a turn stores about itself (the reply's text, what it decided, the retrieval candidates)."""

    action: str
    reply_text: str
    intent: str | None
    intent_confidence: float | None
    topic_id: str | None
    topic_score: float | None
    aspect: str | None
    unanswered_reason: str | None
    candidates: list[dict[str, Any]]


def open_turn(db: Session, session_id: str | None, channel: str, knowledge: KnowledgeBase, text: str) -> TurnContext:
    row = None
    if session_id:
        row = db.connection().execute(SELECT_SESSION, {"session_key": session_id}).first()
    if row is None:
        session_id = session_id if valid_session_id(session_id) else new_session_id()
        return TurnContext(db, session_id, False, None, DialogueState(), knowledge, text, channel)
    return TurnContext(db, session_id, True, row.handoff_status, DialogueState.from_json(row.state), knowledge,
                       text, channel)


def save_session(turn: TurnContext) -> None:
    state = turn.state.to_json()
    if turn.orm_chat is not None:
        turn.orm_chat.state = state
        turn.orm_chat.turn_count += 1
        turn.db.flush()  # before the turn row, whose foreign key needs the session row
    elif turn.stored:
        turn.db.connection().execute(UPDATE_SESSION, {"session_key": turn.session_id, "state": state})
    else:
        turn.db.connection().execute(INSERT_SESSION, {"id": turn.session_id, "channel": turn.channel,
                                                      "state": state, "turn_count": 1})
        turn.stored = True


def store_turn(turn: TurnContext, normalized: str, stored: StoredTurn, latency_ms: float) -> None:
    masked = redact(turn.text)
    connection = turn.db.connection()
    inserted = connection.execute(INSERT_TURN, {
        "session_id": turn.session_id, "channel": turn.channel, "user_text": masked, "action": stored.action,
        "intent": stored.intent, "intent_confidence": stored.intent_confidence, "topic_id": stored.topic_id,
        "topic_score": stored.topic_score, "aspect": stored.aspect, "reply_text": stored.reply_text,
        "candidates": stored.candidates, "latency_ms": round(latency_ms, 2), "feedback": None, "sender": "bot"})
    if stored.unanswered_reason:
        connection.execute(INSERT_UNANSWERED, {
            "session_id": turn.session_id, "turn_id": inserted.inserted_primary_key[0], "channel": turn.channel,
            "query": masked, "normalized": redact(normalized), "reason": stored.unanswered_reason,
            "intent": stored.intent, "candidates": stored.candidates})


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def valid_session_id(session_id: str | None) -> bool:
    # A client may choose its own id (a kiosk terminal, a WeChat OpenID hash): printable, short.
    return (bool(session_id) and len(session_id or "") <= SESSION_ID_MAX_CHARS and (session_id or "").isprintable()
            and " " not in (session_id or ""))
