"""The event-bus seam: a Protocol, and an in-process implementation (tests, single worker)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.clock import now_utc

# Kinds of event (the one vocabulary the server publishes and the pages listen for).
ALERT_RAISED = "alert.raised"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_ESCALATED = "alert.escalated"
QUEUE_CHANGED = "queue.changed"
MESSAGE = "message"
BULLETIN_CHANGED = "bulletin.changed"  # a community's notices or warnings changed (issue 17)


@dataclass(frozen=True)
class Event:
    id: int  # grows with every event of the bus; SSE's Last-Event-ID resumes after it
    kind: str
    data: dict[str, Any]
    at: dt.datetime = field(default_factory=now_utc)


class EventBus(Protocol):
    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Announces an event to every subscriber on every worker; never raises for a delivery failure."""
        ...

    def since(self, last_id: int, limit: int = 100) -> list[Event]:
        """Events after ``last_id`` (oldest first) that are still kept."""
        ...

    def latest(self) -> int:
        """The id of the newest event (0 for none): where a fresh stream starts, so it replays nothing old."""
        ...


class MemoryBus:
    """One process only: what tests and a single-worker server use."""

    def __init__(self, keep: int = 1000) -> None:
        self._events: list[Event] = []
        self._next = 1
        self._keep = keep
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(Event(self._next, kind, dict(data)))
            self._next += 1
            del self._events[: max(len(self._events) - self._keep, 0)]

    def since(self, last_id: int, limit: int = 100) -> list[Event]:
        with self._lock:
            return [e for e in self._events if e.id > last_id][:limit]

    def latest(self) -> int:
        with self._lock:
            return self._next - 1
