"""Live handoff to a person: queueing a conversation for the staff inbox.

The queue row carries the conversation; staff claim it in the inbox. Outside office hours the resident
is asked to leave a message and a callback number instead, which becomes a work order.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.dialogue import replies
from assistant.dialogue.schemas import Action, Button, TicketInfo
from assistant.handoff.tickets import CHINA, next_queue_number
from assistant.settings import Settings
from assistant.storage.models import ChatSession, HandoffRequest

log = logging.getLogger(__name__)

OPEN_STATUSES = ("排队中", "接待中")


@dataclass
class HandoffOutcome:
    action: Action
    text: str
    buttons: list[Button] = field(default_factory=list)
    ticket: TicketInfo | None = None


class HandoffService:
    def __init__(self, settings: Settings, clock: callable | None = None) -> None:  # type: ignore[valid-type]
        self.settings = settings
        self.clock = clock or (lambda: dt.datetime.now(CHINA))

    def in_office_hours(self) -> bool:
        now = self.clock().astimezone(CHINA)
        if now.weekday() >= 5 and not self.settings.office_weekends:
            return False
        start, end = self.settings.office_hours.split("-")
        return start <= now.strftime("%H:%M") < end

    def request(self, db: Session, chat: ChatSession, channel: str, reason: str) -> HandoffOutcome:
        existing = db.scalar(select(HandoffRequest).where(HandoffRequest.session_id == chat.id,
                                                          HandoffRequest.status.in_(OPEN_STATUSES)))
        if existing is not None:
            text = replies.HANDOFF_QUEUED.format(number=existing.queue_number)
            return HandoffOutcome("handoff", text, ticket=TicketInfo(number=existing.queue_number,
                                                                     status=existing.status, department="社区"))
        if not self.in_office_hours():
            chat.handoff_status = "留言"
            return HandoffOutcome("handoff", replies.HANDOFF_OFFLINE)
        number = next_queue_number(db)
        db.add(HandoffRequest(session_id=chat.id, channel=channel, queue_number=number, reason=reason))
        chat.handoff_status = "排队中"
        log.info("session %s queued for a person as %s", chat.id, number)
        return HandoffOutcome("handoff", replies.HANDOFF_QUEUED.format(number=number),
                              ticket=TicketInfo(number=number, status="排队中", department="社区"))
