"""The default event bus: an ``events`` table every worker and node of one deployment shares.

``publish`` inserts a row in its own short transaction; ``since`` reads rows after an id. Rows older than
``keep`` are pruned now and then, because the table only bridges the time a page takes to reconnect.

Ids must become visible in order, or a reader that has seen id 11 would skip id 10 committing a moment later.
SQLite has one writer at a time, so that holds there; on PostgreSQL publishers serialise on a transaction-level
advisory lock, held until commit, so ids commit in the order they were drawn.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from assistant.clock import as_utc, now_utc
from assistant.events.bus import Event
from assistant.events.models import EventRow
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

KEEP = dt.timedelta(minutes=10)  # longer than any reconnect; older events are pruned
PRUNE_EVERY_SECONDS = 60.0  # a worker prunes at most this often (each publish would be wasteful)
_ADVISORY_LOCK = 0x5E0E0  # the PostgreSQL advisory-lock key of "publish an event" (any fixed number)


class DbBus:
    def __init__(self, sessions: sessionmaker[Session], keep: dt.timedelta = KEEP) -> None:
        self.sessions = sessions
        self.keep = keep
        self._postgres = sessions.kw["bind"].dialect.name == "postgresql"
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        try:
            with session_scope(self.sessions) as db:
                if self._postgres:
                    db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
                db.add(EventRow(kind=kind, data=dict(data), created_at=now_utc()))
            self._maybe_prune()
        except Exception:  # a lost event must not break the turn or the staff action that raised it
            log.exception("could not publish event %s", kind)

    def since(self, last_id: int, limit: int = 100) -> list[Event]:
        with session_scope(self.sessions) as db:
            rows = db.scalars(select(EventRow).where(EventRow.id > last_id).order_by(EventRow.id).limit(limit))
            return [Event(row.id, row.kind, dict(row.data), as_utc(row.created_at) or now_utc()) for row in rows]

    def latest(self) -> int:
        with session_scope(self.sessions) as db:
            return int(db.scalar(select(func.max(EventRow.id))) or 0)

    def prune(self, now: dt.datetime | None = None) -> int:
        cutoff = (now or now_utc()) - self.keep
        with session_scope(self.sessions) as db:
            # The newest row is kept whatever its age, so ids never restart (SQLite reuses a freed max id).
            newest = db.scalar(select(func.max(EventRow.id))) or 0
            result = db.execute(delete(EventRow).where(EventRow.created_at < cutoff, EventRow.id < newest))
            return int(result.rowcount or 0)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        with self._prune_lock:
            if now - self._last_prune < PRUNE_EVERY_SECONDS:
                return
            self._last_prune = now
        self.prune()
