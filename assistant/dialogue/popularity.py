"""What residents ask most: answered turns per topic over the last weeks, counted now and then.

Broad requests list their options partly by this, so that 「补贴」 offers first what people here ask about.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assistant.storage.db import session_scope
from assistant.storage.models import Turn

log = logging.getLogger(__name__)

REFRESH_SECONDS = 600.0
WINDOW_DAYS = 90


class TopicPopularity:
    def __init__(self, sessions: sessionmaker[Session], refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.sessions = sessions
        self.refresh_seconds = refresh_seconds
        self._counts: dict[str, int] = {}
        self._counted_at = float("-inf")
        self._lock = threading.Lock()

    def counts(self) -> Mapping[str, int]:
        if time.monotonic() - self._counted_at >= self.refresh_seconds and self._lock.acquire(blocking=False):
            try:
                self._counts = self._count()
            finally:
                self._counted_at = time.monotonic()
                self._lock.release()
        return self._counts

    def _count(self) -> dict[str, int]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=WINDOW_DAYS)
        query = (select(Turn.topic_id, func.count()).where(Turn.action == "answer", Turn.topic_id.is_not(None),
                                                           Turn.created_at >= since).group_by(Turn.topic_id))
        try:
            with session_scope(self.sessions) as db:
                return {str(topic): int(n) for topic, n in db.execute(query)}
        except SQLAlchemyError as exc:  # popularity only orders options; an outage must not stop a turn
            log.warning("topic popularity not counted: %s", type(exc).__name__)
            return self._counts
