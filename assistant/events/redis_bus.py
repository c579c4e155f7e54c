"""The event bus over Redis: one capped stream (XADD … MAXLEN ~ N) that every node publishes to and reads.

Stream ids (``<milliseconds>-<sequence>``) become one growing integer, ``ms·1000 + seq``, so SSE's
Last-Event-ID is a plain number on every backend; ``since`` turns it back into the next stream id. (A
sequence reaches 1000 only with a thousand events in one millisecond, far beyond what this bus carries.)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from assistant.events.bus import Event

log = logging.getLogger(__name__)

STREAM = "shequ:events"
MAXLEN = 1000  # approximate cap: a reconnecting page needs the last minutes, not history
SEQ_BASE = 1000
TIMEOUT_SECONDS = 2.0  # a publish waits at most this long on Redis before it is logged and dropped


def to_int(stream_id: str | bytes) -> int:
    value = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = value.partition("-")
    return int(ms) * SEQ_BASE + int(seq or 0)


def next_stream_id(last_id: int) -> str:
    """The smallest stream id after ``last_id`` (XRANGE's start is inclusive)."""
    if last_id <= 0:
        return "-"
    ms, seq = divmod(last_id, SEQ_BASE)
    return f"{ms}-{seq + 1}"


class RedisBus:
    def __init__(self, url: str, stream: str = STREAM, maxlen: int = MAXLEN, client: Any = None) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS,
                                          socket_connect_timeout=TIMEOUT_SECONDS)
        self.client = client
        self.stream = stream
        self.maxlen = maxlen

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self.client.xadd(self.stream, {"kind": kind, "data": json.dumps(data, ensure_ascii=False)},
                             maxlen=self.maxlen, approximate=True)
        except Exception:  # a lost event must not break the turn or the staff action that raised it
            log.exception("could not publish event %s to Redis", kind)

    def since(self, last_id: int, limit: int = 100) -> list[Event]:
        entries = self.client.xrange(self.stream, min=next_stream_id(last_id), max="+", count=limit)
        return [self._event(stream_id, fields) for stream_id, fields in entries]

    def latest(self) -> int:
        entries = self.client.xrevrange(self.stream, max="+", min="-", count=1)
        return to_int(entries[0][0]) if entries else 0

    @staticmethod
    def _event(stream_id: str | bytes, fields: dict[Any, Any]) -> Event:
        def field(name: str) -> str:
            value = fields.get(name.encode(), fields.get(name, b""))
            return value.decode() if isinstance(value, bytes) else str(value)

        number = to_int(stream_id)
        at = dt.datetime.fromtimestamp(number // SEQ_BASE / 1000, dt.UTC)
        return Event(number, field("kind"), json.loads(field("data") or "{}"), at)
