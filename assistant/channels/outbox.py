"""Customer-service messages that missed the 5-second window: stored, sent, retried with backoff.

Several workers (processes) may drain the same table: a row is claimed with a conditional UPDATE, and a
claim that is never finished (a crashed worker) expires after ``LEASE_SECONDS``. The recipient's
OpenID/UserID is kept encrypted and wiped once the row is sent or given up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.channels import DeliveryError, PermanentDeliveryError
from assistant.channels.models import ChannelOutbox
from assistant.channels.protocol import limit_text
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import utcnow

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (5.0, 15.0, 60.0, 300.0, 900.0)
LEASE_SECONDS = 120.0
FINISHED_TTL = dt.timedelta(days=30)  # how long sent and failed rows stay for staff to look into


class Sender(Protocol):
    def send_text(self, user_id: str, text: str) -> None: ...


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], cipher: PersonalDataCipher, senders: Mapping[str, Sender],
                 *, max_attempts: int = 6, clock: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.senders = senders
        self.max_attempts = max(1, max_attempts)
        self.clock = clock

    def enqueue(self, channel: str, user_id: str, session_id: str, text: str, inbound_id: int | None = None) -> int:
        with session_scope(self.sessions) as db:
            row = ChannelOutbox(channel=channel, session_id=session_id, text=limit_text(text),
                                recipient_encrypted=self.cipher.encrypt(user_id), status="pending", attempts=0,
                                next_attempt_at=self.clock(), locked_until=0.0, inbound_id=inbound_id)
            db.add(row)
            db.flush()
            return row.id

    def due_ids(self, limit: int = 20) -> list[int]:
        now = self.clock()
        with session_scope(self.sessions) as db:
            return list(db.scalars(select(ChannelOutbox.id).where(self._claimable(now))
                                   .order_by(ChannelOutbox.next_attempt_at).limit(limit)))

    @staticmethod
    def _claimable(now: float):
        return or_(and_(ChannelOutbox.status == "pending", ChannelOutbox.next_attempt_at <= now),
                   and_(ChannelOutbox.status == "sending", ChannelOutbox.locked_until < now))

    def _claim(self, row_id: int) -> tuple[str, str | None, str] | None:
        now = self.clock()
        with session_scope(self.sessions) as db:
            claimed = db.execute(update(ChannelOutbox)
                                 .where(ChannelOutbox.id == row_id, self._claimable(now))
                                 .values(status="sending", locked_until=now + LEASE_SECONDS)).rowcount
            if claimed != 1:
                return None
            row = db.get(ChannelOutbox, row_id)
            assert row is not None
            recipient = self.cipher.decrypt(row.recipient_encrypted) if row.recipient_encrypted else None
            return row.channel, recipient, row.text

    def deliver(self, row_id: int) -> str | None:
        """Tries one row if it is due and nobody else holds it; returns its new status."""
        claimed = self._claim(row_id)
        if claimed is None:
            return None
        channel, recipient, text = claimed
        sender = self.senders.get(channel)
        try:
            if recipient is None:
                raise PermanentDeliveryError("recipient_unreadable")
            if sender is None:
                raise PermanentDeliveryError("not_configured")
            sender.send_text(recipient, text)
        except DeliveryError as e:
            return self._failed(row_id, e)
        except Exception as e:  # a bug in a sender must not lose the message or kill the worker
            log.error("outbox %d: unexpected %s while sending", row_id, type(e).__name__)
            return self._failed(row_id, DeliveryError(f"error:{type(e).__name__}"))
        with session_scope(self.sessions) as db:
            row = db.get(ChannelOutbox, row_id)
            assert row is not None
            row.status, row.sent_at, row.recipient_encrypted, row.last_error = "sent", utcnow(), None, None
            row.attempts += 1
        log.info("outbox %d: sent through the %s customer-service API", row_id, channel)
        return "sent"

    def _failed(self, row_id: int, error: DeliveryError) -> str:
        with session_scope(self.sessions) as db:
            row = db.get(ChannelOutbox, row_id)
            assert row is not None
            row.attempts += 1
            row.last_error = error.reason[:200]
            if isinstance(error, PermanentDeliveryError) or row.attempts >= self.max_attempts:
                row.status, row.recipient_encrypted = "failed", None
                log.warning("outbox %d: given up after %d attempt(s): %s", row_id, row.attempts, error.reason)
                return "failed"
            delay = BACKOFF_SECONDS[min(row.attempts - 1, len(BACKOFF_SECONDS) - 1)]
            row.status, row.next_attempt_at, row.locked_until = "pending", self.clock() + delay, 0.0
            log.info("outbox %d: attempt %d failed (%s); next in %.0f s", row_id, row.attempts, error.reason, delay)
            return "pending"

    def prune_finished(self, now: dt.datetime | None = None, keep: dt.timedelta = FINISHED_TTL) -> int:
        """Deletes sent and given-up rows older than ``keep``: they hold only the reply text by then, and
        an outbox that is never emptied grows with every late answer."""
        cutoff = (now or utcnow()) - keep
        with session_scope(self.sessions) as db:
            return db.execute(delete(ChannelOutbox).where(ChannelOutbox.status.in_(("sent", "failed")),
                                                          ChannelOutbox.created_at < cutoff)).rowcount or 0

    def drain(self, limit: int = 20) -> DrainResult:
        result = DrainResult()
        for row_id in self.due_ids(limit):
            status = self.deliver(row_id)
            if status == "sent":
                result.sent += 1
            elif status == "pending":
                result.retried += 1
            elif status == "failed":
                result.failed += 1
        return result


class OutboxWorker:
    """A background thread that drains the outbox when woken (a new message) and every ``interval``."""

    def __init__(self, outbox: Outbox, interval: float = 2.0,
                 housekeeping: Callable[[], object] | None = None, housekeeping_every: float = 3600.0) -> None:
        self.outbox = outbox
        self.interval = interval
        self.housekeeping = housekeeping
        self.housekeeping_every = housekeeping_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="channel-outbox", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        last_housekeeping = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.outbox.drain()
                if self.housekeeping and time.monotonic() - last_housekeeping > self.housekeeping_every:
                    last_housekeeping = time.monotonic()
                    self.housekeeping()
            except Exception as e:  # the database may be briefly away; keep the thread alive
                log.error("outbox worker: %s", type(e).__name__)
            self._wake.wait(self.interval)
