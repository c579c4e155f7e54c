"""Publishing an event once the transaction that made the change has committed — the one way the server does it.

A page that receives an event fetches what changed at once, so the event must not go out before the change is
visible to another connection, and must not go out at all for a rolled-back change. Events are queued on the
database session (``Session.info``); their data may be a function of the session, read just before the commit
(queue counts, the newest message id of a conversation whose turn is inserted after the code that announces
it). Events with the same ``key`` are sent once per transaction. A publish that fails is logged and dropped: an
event is a courtesy and never breaks the resident's turn or the staff action that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from assistant.events.bus import EventBus

log = logging.getLogger(__name__)

EventData = dict[str, Any] | Callable[[Session], dict[str, Any] | None]
_KEY = "shequ.after_commit"


@dataclass
class _Pending:
    queued: dict[str, tuple[EventBus, str, EventData]] = field(default_factory=dict)
    ready: list[tuple[EventBus, str, dict[str, Any]]] = field(default_factory=list)


def publish_after_commit(db: Session, bus: EventBus, kind: str, data: EventData, *, key: str | None = None) -> None:
    """Publishes ``kind`` with ``data`` (or ``data(db)`` read just before the commit; None sends nothing) after
    ``db``'s transaction commits."""
    pending = db.info.get(_KEY)
    if pending is None:
        # Hooked once per session (a listener cannot be removed while SQLAlchemy runs it); sessions are short.
        pending = db.info[_KEY] = _Pending()
        event.listen(db, "before_commit", _before_commit)
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_transaction_end", _after_transaction_end)
    if not db.in_transaction():
        db.begin()  # so that a rollback before any statement still ends "this" transaction and drops the event
    pending.queued[key or f"#{len(pending.queued)}:{kind}"] = (bus, kind, data)


def _before_commit(db: Session) -> None:
    pending: _Pending | None = db.info.get(_KEY)
    # A SAVEPOINT's release fires this hook too (queue numbers use one); only the real commit counts.
    if pending is None or not pending.queued or db.in_nested_transaction():
        return
    queued, pending.queued = pending.queued, {}
    try:
        db.flush()
        for bus, kind, data in queued.values():
            value = data(db) if callable(data) else data
            if value is not None:
                pending.ready.append((bus, kind, value))
    except Exception:  # the change itself must still commit
        log.warning("could not prepare events before the commit", exc_info=True)


def _after_commit(db: Session) -> None:
    pending: _Pending | None = db.info.get(_KEY)
    if pending is None:
        return
    ready, pending.ready = pending.ready, []
    for bus, kind, data in ready:
        try:
            bus.publish(kind, data)
        except Exception:  # the change is stored; pages still find it when they next load
            log.warning("could not publish a %s event", kind, exc_info=True)


def _after_transaction_end(db: Session, transaction: Any) -> None:
    """The outermost transaction ended (after_commit has published): a rolled-back one publishes nothing."""
    pending: _Pending | None = db.info.get(_KEY)
    if pending is not None and transaction.parent is None:
        pending.queued.clear()
        pending.ready.clear()
