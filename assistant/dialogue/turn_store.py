"""Reading and writing a turn: the session row, the stored turn and the unanswered-question record.

The hot path uses statements built once and run with parameters: the ORM's unit of work cost more than the
rest of a turn together. The handoff code, which changes the session's handoff status, gets the ORM object
on demand (``TurnContext.chat``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.communities.directory import TURN_COMMUNITY
from assistant.dialogue.state import DialogueState
from assistant.privacy.index import record_personal_data
from assistant.storage.models import ChatSession, Turn, UnansweredQuery
from knowledge_base.engine import KnowledgeBase
from pii import find_personal_data, mask_text

SESSIONS = ChatSession.__table__
# Built once: a statement made per turn with ``.values(...)`` cost more to construct than to run.
SELECT_SESSION = select(SESSIONS.c.state, SESSIONS.c.handoff_status, SESSIONS.c.community_code).where(SESSIONS.c.id == bindparam("session_key"))
UPDATE_SESSION = (update(SESSIONS).where(SESSIONS.c.id == bindparam("session_key"))
                  .values(turn_count=SESSIONS.c.turn_count + 1))
INSERT_SESSION = insert(SESSIONS)
INSERT_TURN = insert(Turn.__table__)
INSERT_UNANSWERED = insert(UnansweredQuery.__table__)
SESSION_ID_MAX_CHARS = 64
SESSION_ID_BYTES = 16  # 128 random bits: the id is the bearer secret for reading the conversation
# What new_session_id makes: token_urlsafe(16) is 22 characters of the URL-safe alphabet.
ISSUED_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")
DERIVED_DIGEST_CHARS = 40  # 160 bits of the HMAC: as unguessable as an issued id, and fits 64 characters


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
    community: str | None = None  # the conversation's community code (assistant/communities)
    orm_chat: ChatSession | None = None

    @property
    def chat(self) -> ChatSession:
        """The session as an ORM object, for the handoff code; the row is created first for a new session."""
        if self.orm_chat is None:
            if not self.stored:
                self.db.connection().execute(INSERT_SESSION, {"id": self.session_id, "channel": self.channel,
                                                              "state": {}, "turn_count": 0,
                                                              "community_code": self.community})
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


def open_turn(db: Session, session_id: str | None, channel: str, knowledge: KnowledgeBase, text: str,
              community: str | None = None) -> TurnContext:
    """The stored conversation ``session_id`` names, or a new one with a new server-issued id.

    An id nobody issued is never adopted: a client that could choose its id could choose someone else's.
    Channel sessions (derived ids) exist before their first turn, made by :func:`ensure_session`.
    ``community`` is the (resolved) code a new conversation belongs to; a stored one keeps its own.
    """
    row = None
    if community:
        db.info[TURN_COMMUNITY] = community  # for records this turn creates before its session row exists
    if valid_session_id(session_id):
        row = db.connection().execute(SELECT_SESSION, {"session_key": session_id}).first()
    if row is None or session_id is None:
        return TurnContext(db, new_session_id(), False, None, DialogueState(), knowledge, text, channel, community)
    return TurnContext(db, session_id, True, row.handoff_status, DialogueState.from_json(row.state), knowledge,
                       text, channel, row.community_code or community)


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
                                                      "state": state, "turn_count": 1,
                                                      "community_code": turn.community})
        turn.stored = True


def store_turn(turn: TurnContext, normalized: str, stored: StoredTurn, latency_ms: float) -> None:
    found = find_personal_data(turn.text)  # one scan per turn, for the masked copy and the index both
    masked = mask_text(turn.text, found=found)
    connection = turn.db.connection()
    inserted = connection.execute(INSERT_TURN, {
        "session_id": turn.session_id, "channel": turn.channel, "user_text": masked, "action": stored.action,
        "intent": stored.intent, "intent_confidence": stored.intent_confidence, "topic_id": stored.topic_id,
        "topic_score": stored.topic_score, "aspect": stored.aspect, "reply_text": stored.reply_text,
        "candidates": stored.candidates, "latency_ms": round(latency_ms, 2), "feedback": None, "sender": "bot"})
    record_personal_data(turn.db, turn.session_id, turn.text, found=found)  # only keyed hashes are kept
    if stored.unanswered_reason:
        connection.execute(INSERT_UNANSWERED, {
            "session_id": turn.session_id, "turn_id": inserted.inserted_primary_key[0], "channel": turn.channel,
            "query": masked, "normalized": mask_text(normalized), "reason": stored.unanswered_reason,
            "intent": stored.intent, "candidates": stored.candidates, "community_code": turn.community})


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def valid_session_id(session_id: str | None) -> bool:
    """Shaped like a session id at all (issued or derived): worth a database look-up."""
    return (bool(session_id) and len(session_id or "") <= SESSION_ID_MAX_CHARS and (session_id or "").isprintable()
            and " " not in (session_id or ""))


def issued_session_id(session_id: str | None) -> bool:
    """An id of the form the server issues to chat clients. The public chat and session routes accept only
    these: derived channel ids are never handed out, so nothing public needs to name them."""
    return bool(session_id) and ISSUED_SESSION_ID.fullmatch(session_id or "") is not None


def derived_session_id(secret: bytes, prefix: str, scope: str, user_id: str) -> str:
    """A stable session id for a channel user (a Rasa sender, a WeChat OpenID), keyed with the server secret:
    an unkeyed hash of a guessable user id (a phone number, a pinyin name) would let anyone compute it."""
    digest = hmac.new(secret, f"{scope}\n{user_id}".encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:DERIVED_DIGEST_CHARS]


def ensure_session(db: Session, session_id: str, channel: str, community: str | None = None) -> None:
    """Creates a derived channel session's row before its first turn (the server-side path; the public chat
    API never creates a session under an id it was sent)."""
    connection = db.connection()
    if connection.execute(SELECT_SESSION, {"session_key": session_id}).first() is not None:
        return
    try:
        with db.begin_nested():  # two first messages at once: the loser finds the winner's row
            db.connection().execute(INSERT_SESSION, {"id": session_id, "channel": channel, "state": {},
                                                     "turn_count": 0, "community_code": community})
    except IntegrityError:
        pass
