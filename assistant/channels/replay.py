"""Replay protection for callbacks: a timestamp window and a nonce cache shared by every worker.

WeChat signs only ``token, timestamp, nonce`` (plus the payload in safe mode), so a captured callback stays
valid forever unless the server refuses old timestamps and nonces it has already seen. Both refusals are
``ReplayError``, a ``SignatureError``: the caller answers them exactly like a bad signature, so a client
learns nothing about which check failed.

The nonce is recorded only after the signature checks out, so unsigned junk cannot fill the table or burn
nonces WeChat has yet to use. Two workers receiving the same replay at once race on the primary key: one
insert wins, the other is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assistant.channels import SignatureError
from assistant.channels.models import ChannelNonce
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

# WeChat nonces are short numbers or letters; anything longer is not from WeChat and would not fit the column.
MAX_NONCE_CHARS = 64
# Epoch seconds fit in 10 digits until 2286; a longer "timestamp" is not one.
MAX_TIMESTAMP_DIGITS = 12


class ReplayError(SignatureError):
    """A stale timestamp or a nonce already used: refused like a bad signature."""


class ReplayGuard:
    def __init__(self, factory: sessionmaker[Session], window_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.factory = factory
        self.window = max(1.0, float(window_seconds))
        self.clock = clock

    def check_fresh(self, timestamp: str, nonce: str) -> None:
        """The cheap part, no database: the timestamp within ±window of our clock, a plausible nonce."""
        if not nonce or len(nonce) > MAX_NONCE_CHARS:
            raise ReplayError("nonce missing or too long")
        if not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
            raise ReplayError("timestamp is not a number")
        if abs(self.clock() - int(timestamp)) > self.window:
            raise ReplayError("timestamp outside the window")

    def seen(self, channel: str, nonce: str) -> bool:
        """A read-only look before the body is read; ``claim`` is the check that counts."""
        with session_scope(self.factory) as db:
            return db.scalar(select(ChannelNonce.nonce).where(ChannelNonce.channel == channel,
                                                              ChannelNonce.nonce == nonce)) is not None

    def claim(self, channel: str, nonce: str) -> None:
        """Records the nonce of a callback whose signature is valid; raises ``ReplayError`` if it was used."""
        try:
            with session_scope(self.factory) as db:
                db.add(ChannelNonce(channel=channel, nonce=nonce, seen_at=self.clock()))
        except IntegrityError as e:
            raise ReplayError("nonce already used") from e

    def prune(self) -> int:
        """Forgets nonces no replay could use any more. A timestamp up to one window ahead of the moment the
        nonce was seen is still accepted for one more window, hence two windows."""
        cutoff = self.clock() - 2 * self.window
        with session_scope(self.factory) as db:
            return db.execute(delete(ChannelNonce).where(ChannelNonce.seen_at < cutoff)).rowcount or 0
