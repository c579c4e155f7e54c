"""Customer-service replies that missed the 5-second window, through the one outbox.

A late answer becomes a row of the one outbox (``assistant.handoff.outbox``, ``kind`` = the channel) holding the
reply text and the recipient's OpenID/UserID encrypted; the dialogue thread then tries it once at once (the
resident is waiting), and whatever does not go out is retried by the one drain (``shequ worker``) with the one
backoff. The recipient is wiped once the row is delivered or parked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping

import httpx
from sqlalchemy.orm import Session, sessionmaker

from assistant.channels.api_client import CustomerServiceSender
from assistant.channels.config import load_accounts
from assistant.channels.protocol import limit_text
from assistant.delivery import Sender
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import Backoff, deliver_now
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import utcnow

REPLY_EVENT = "reply"


def reply_key(channel: str, inbound_id: int | None) -> str:
    """One reply per received message (a second enqueue for it is refused by the unique key)."""
    return f"{channel}:reply:{inbound_id}" if inbound_id is not None else f"{channel}:push:{uuid.uuid4().hex}"


def enqueue_reply(db: Session, cipher: PersonalDataCipher, channel: str, user_id: str, session_id: str, text: str,
                  inbound_id: int | None = None, now: dt.datetime | None = None) -> OutboxMessage:
    at = now or utcnow()
    row = OutboxMessage(kind=channel, order_id=None, order_number="", event=REPLY_EVENT,
                        idempotency_key=reply_key(channel, inbound_id), department="",
                        payload={"text": limit_text(text)}, status="pending", attempts=0, last_error="",
                        created_at=at, next_attempt_at=at, session_id=session_id,
                        recipient_encrypted=cipher.encrypt(user_id), inbound_id=inbound_id)
    db.add(row)
    return row


class ChannelReplies:
    """The channels' side of the one outbox: queue a late reply, and try it at once."""

    def __init__(self, sessions: sessionmaker[Session], cipher: PersonalDataCipher, senders: Mapping[str, Sender],
                 backoff: Backoff, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.senders = senders
        self.backoff = backoff
        self.clock = clock

    def enqueue(self, channel: str, user_id: str, session_id: str, text: str, inbound_id: int | None = None) -> int:
        with session_scope(self.sessions) as db:
            row = enqueue_reply(db, self.cipher, channel, user_id, session_id, text, inbound_id, self.clock())
            db.flush()
            return row.id

    def send_now(self, row_id: int) -> str | None:
        """``delivered``, ``pending`` (the worker retries it), ``failed``, or ``None`` (not ours to send)."""
        return deliver_now(self.sessions, row_id, self.senders, backoff=self.backoff, cipher=self.cipher,
                           now=self.clock())


def channel_senders(settings: Settings, sessions: sessionmaker[Session], cipher: PersonalDataCipher,
                    http: httpx.Client) -> dict[str, CustomerServiceSender]:
    """The one outbox's senders for the configured channels (``wechat``, ``wecom``), keyed by row kind."""
    accounts, _ = load_accounts(settings)
    return {kind: CustomerServiceSender(account, sessions, cipher, http) for kind, account in accounts.items()}
