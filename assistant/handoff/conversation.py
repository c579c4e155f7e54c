"""The message stream of a conversation, as the resident's polling and the staff inbox see it.

Every message lives in the ``turns`` table: a resident turn holds the resident's (masked) text and the
bot's reply; an agent or system message is a turn with ``sender`` ``agent``/``system`` and only a reply.
Message ids are derived from turn ids (``2·id`` for the resident's text, ``2·id+1`` for the reply), so
they grow with time and ``after=<last id>`` never misses or repeats one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.handoff.calendar import CHINA
from assistant.storage.models import ChatSession, Turn
from pii import mask_text

# The bot's acknowledgement of a message forwarded to a person: the POST reply shows it, the stream does not.
LIVE_FORWARDED = "已转给工作人员，请稍等回复。"
MAX_MESSAGES = 200


def _iso(value: dt.datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.astimezone(CHINA).isoformat(timespec="seconds")


# What an agent's reply keeps in clear (see post).
AGENT_REPLY_KEEPS = ("landline",)


def post(db: Session, chat: ChatSession, sender: str, text: str, now: dt.datetime) -> Turn:
    """Adds an agent or system message to the conversation, personal data masked.

    The resident's page learns of the message by an event that carries only ids and then reads this stored
    copy, so the resident sees the masked text too: an agent repeating a resident's number or address
    shows it as the resident would recognise it (138****5678), and nothing personal is kept in clear.
    Landlines with an area code stay readable: in an agent's reply they are the office a resident is sent to
    call (0771-…), and a resident who cannot read the number cannot call it.
    """
    turn = Turn(session_id=chat.id, channel=chat.channel, user_text="", action=sender,
                reply_text=mask_text(text, keep=AGENT_REPLY_KEEPS),
                candidates=[], latency_ms=0.0, sender=sender, created_at=now)
    db.add(turn)
    chat.updated_at = now
    return turn


def messages(db: Session, session_id: str, after: int = 0, limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:
    first_turn = max(after, 0) // 2  # the turn holding message ``after`` may still have its reply to show
    turns = db.scalars(select(Turn).where(Turn.session_id == session_id, Turn.id >= first_turn)
                       .order_by(Turn.id).limit(limit))
    result: list[dict[str, Any]] = []
    for turn in turns:
        at = _iso(turn.created_at)
        if turn.user_text and 2 * turn.id > after:
            result.append({"id": 2 * turn.id, "from": "resident", "text": turn.user_text, "at": at})
        forwarded_ack = turn.sender == "bot" and turn.action == "handoff" and turn.reply_text == LIVE_FORWARDED
        if turn.reply_text and not forwarded_ack and 2 * turn.id + 1 > after:
            sender = turn.sender if turn.sender in ("agent", "system") else "bot"
            result.append({"id": 2 * turn.id + 1, "from": sender, "text": turn.reply_text, "at": at})
    return result


def for_staff(rows: list[dict[str, Any]], title_of: Callable[[str], str | None] = lambda _entry_id: None,
              ) -> list[dict[str, Any]]:
    """Messages as the staff inbox shows them: the resident's button presses in words, not ``/human``."""
    from assistant.handoff.question import readable  # question imports the dialogue rules; keep this light

    return [{**m, "text": readable(m["text"], title_of)} if m["from"] == "resident" else m for m in rows]


def transcript(db: Session, session_id: str, limit: int = 60) -> list[dict[str, str]]:
    """The last messages of a conversation for a work order (resident text is already masked)."""
    rows = messages(db, session_id, 0, limit=10_000)[-limit:]
    return [{"from": m["from"], "text": m["text"], "at": m["at"]} for m in rows]
