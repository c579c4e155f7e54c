"""Announcing live-queue changes and new conversation messages on the event bus, after they are committed.

A staff page that receives ``queue.changed`` or ``message`` fetches the queue or the transcript at once. The
events go through ``assistant.events.after_commit``: their data is read just before the commit (counts, the
newest message id: the resident's turn is inserted after the handoff code runs), they are published right after
it, once per transaction, and never for a rolled-back one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.communities.scope import CITY_FIELD, COMMUNITY_FIELD, default_code, scope
from assistant.events import EventBus
from assistant.events.after_commit import publish_after_commit
from assistant.events.bus import MESSAGE, QUEUE_CHANGED
from assistant.storage.models import HandoffRequest, Turn

_BUS = "shequ.push.bus"  # in Session.info: the bus this session's queue and message events go to


def track(db: Session, bus: EventBus | None) -> None:
    """Lets this database session publish queue and message events with ``bus`` after it commits."""
    if bus is not None:
        db.info.setdefault(_BUS, bus)


def queue_changed(db: Session, community: str | None = None) -> None:
    """The queue of ``community`` changed (None: the default community's, as an unstamped request gets).

    The event names the community and carries that community's counts: it reaches that community's staff and
    city staff (``assistant.communities.scope.event_for``), never another community's.
    """
    bus = db.info.get(_BUS)
    if bus is None:
        return

    def counts(session: Session) -> dict[str, object]:
        code = community or default_code(session)
        # The city's totals ride along for city staff's badge; the stream gives community staff only their
        # own counts (``assistant.communities.scope.event_for``).
        return {**waiting_counts(session, code), COMMUNITY_FIELD: code, CITY_FIELD: waiting_counts(session)}

    publish_after_commit(db, bus, QUEUE_CHANGED, counts, key=f"{QUEUE_CHANGED}:{community or ''}")


def message_added(db: Session, session_id: str, handoff_id: int | None) -> None:
    """A message was added to a conversation that is queued or with an agent (or was, in this transaction)."""
    bus = db.info.get(_BUS)
    if bus is None or handoff_id is None:
        return

    def newest(session: Session) -> dict[str, object]:
        last = session.scalar(select(func.max(Turn.id)).where(Turn.session_id == session_id)) or 0
        community = session.scalar(select(HandoffRequest.community_code).where(HandoffRequest.id == handoff_id))
        # The newest message id of the conversation (see conversation.messages: 2·turn id + 1 is the reply).
        return {"handoff_id": handoff_id, "session_id": session_id, "id": 2 * last + 1,
                COMMUNITY_FIELD: community or default_code(session)}

    publish_after_commit(db, bus, MESSAGE, newest, key=f"{MESSAGE}:{session_id}")


def waiting_counts(db: Session, community: str | None = None) -> dict[str, int]:
    """Residents waiting for a person (排队中) and conversations with one (接待中), of one community
    (None: the whole city)."""
    from assistant.handoff.live import QUEUED, SERVING  # live imports this module

    query = select(HandoffRequest.status, func.count()).where(HandoffRequest.status.in_((QUEUED, SERVING)))
    rows = dict(db.execute(scope(query, HandoffRequest, community).group_by(HandoffRequest.status)).all())
    return {"waiting": int(rows.get(QUEUED, 0)), "serving": int(rows.get(SERVING, 0))}
