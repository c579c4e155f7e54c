"""Live handoff to a person, resident side: queueing, forwarding messages, leaving a message for a callback.

``HandoffService.request`` puts the session in the queue with a daily queue number (A001 …) that the kiosk
prints. While the conversation is queued or with an agent, ``intercept`` takes the resident's messages
before the bot does, so they go to the person (the engine stores them as turns; the agent sees them).
Outside office hours, or when nobody claims the conversation within the configured time, the resident is
offered to leave a message and a callback number, which becomes a work order.

A request made in a session that raised an emergency (an ``Alert`` row exists for it, which is also the case
when the resident taps the emergency reply's 呼叫工作人员 button) is *urgent*: it goes first in the queue, is
never swept to 留言 and is never offered the out-of-hours message path; it waits for a person.

Every change of the queue and every message of a queued or served conversation is announced on the event bus
(``push``) once committed, so the staff pages update without a reload.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from assistant.dialogue import payloads, replies
from assistant.dialogue.payloads import Command
from assistant.dialogue.rules import is_cancel, is_emergency
from assistant.dialogue.schemas import Action, Button, TicketInfo
from assistant.events import EventBus
from assistant.handoff import contact, conversation, push, tickets
from assistant.handoff import models as _columns  # noqa: F401  # maps HandoffRequest.urgent
from assistant.handoff.calendar import CHINA
from assistant.handoff.policy import OrderPolicy, policy_from_settings
from assistant.privacy.index import record_personal_data
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.models import Alert, ChatSession, HandoffRequest
from knowledge_base.normalize import normalize
from pii import mask_text, split_phone

log = logging.getLogger(__name__)

QUEUED, SERVING, MESSAGE = "排队中", "接待中", "留言"
CONVERTED, CLOSED, CANCELLED = "已转工单", "已结束", "已取消"
OPEN_STATUSES = (QUEUED, SERVING)
ACTIVE_STATUSES = (QUEUED, SERVING, MESSAGE)

SERVING_ALREADY = "工作人员正在为您服务，请直接说您的问题。"
QUEUE_CANCELLED = "好的，已取消排队。还有什么可以帮您？"
TIMEOUT_OFFER = ("现在工作人员都在忙，暂时没有人接待您。您可以留下问题和联系电话，工作人员会尽快给您回电。"
                 "请直接说您的问题和电话号码。")
# Only what is true: the request is first in the queue, but nobody may be looking at the inbox right now.
URGENT_QUEUED = "您的排队号是{number}，已排在最前面，工作人员看到会马上接入；如有危险请先拨打120/110/119。"
URGENT_OFF_HOURS = "现在不是办公时间，" + URGENT_QUEUED
MESSAGE_ASK_PHONE = "好的，已记下您的问题。请留一个电话号码，方便工作人员回电。不想留可以说“不留”。"
MESSAGE_DONE = "已记下您的留言，工单号是{number}。工作人员会尽快打{phone}给您回电。"
MESSAGE_DONE_NO_PHONE = "已记下您的留言，工单号是{number}。您可以随时问我“查工单{number}”看进度。"
MESSAGE_CANCELLED = "好的，不留言了。还有什么可以帮您？"
RESIDENT_ENDED = "好的，已结束人工服务。还有问题可以继续问我。"
NO_MESSAGE_DESCRIPTION = "居民请求人工服务，没有留下具体问题，请回电了解。"
CANCEL_BUTTON = Button(title="不用了", payload=payloads.CANCEL)

_DIGIT_RUN = re.compile(r"\d{5,}")
_NO_CONTACT = re.compile(r"不留|不用留|不想留|不方便留|没有电话|没电话")
_FILLER = re.compile(r"^[\s,，。.!！?？、]*(?:我的)?(?:电话|号码|手机|手机号)?(?:是|号码是)?[\s,，。.!！?？、:：]*$")
MAX_MESSAGE = 1000
ADDRESS_KEPT = ("address",)  # a left message becomes a work order: staff need the place in clear


@dataclass
class HandoffOutcome:
    action: Action
    text: str
    buttons: list[Button] = field(default_factory=list)
    ticket: TicketInfo | None = None


def utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class HandoffService:
    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] | None = None,
                 cipher: PersonalDataCipher | None = None, policy: OrderPolicy | None = None,
                 events: EventBus | None = None) -> None:
        self.settings = settings
        self.events = events
        self.clock = clock or (lambda: dt.datetime.now(CHINA))
        self._cipher = cipher
        self.policy = policy or policy_from_settings(settings)

    @property
    def cipher(self) -> PersonalDataCipher:
        if self._cipher is None:
            self._cipher = PersonalDataCipher.from_settings(self.settings.encryption_key, self.settings.var_dir)
        return self._cipher

    def now(self) -> dt.datetime:
        return utc(self.clock())

    def track(self, db: Session) -> None:
        """Lets ``db`` announce queue changes and messages on the event bus once it commits."""
        push.track(db, self.events)

    # --- office hours ---
    def in_office_hours(self, now: dt.datetime | None = None) -> bool:
        local = (now or self.clock()).astimezone(CHINA)
        calendar = self.policy.calendar
        if calendar.is_statutory_holiday(local.date()):
            return False
        if not calendar.is_workday(local.date()) and not self.settings.office_weekends:
            return False
        match = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", self.settings.office_hours or "")
        if not match:
            log.warning("office_hours %r is not HH:MM-HH:MM; treating the office as open", self.settings.office_hours)
            return True
        start, end = (value.zfill(5) for value in match.groups())
        return start <= local.strftime("%H:%M") < end

    # --- the queue ---
    def active(self, db: Session, session_id: str) -> HandoffRequest | None:
        return db.scalar(select(HandoffRequest).where(HandoffRequest.session_id == session_id,
                                                      HandoffRequest.status.in_(ACTIVE_STATUSES))
                         .order_by(HandoffRequest.id.desc()).limit(1))

    def had_emergency(self, db: Session, session_id: str) -> bool:
        return bool(db.scalar(select(exists().where(Alert.session_id == session_id))))

    def request(self, db: Session, chat: ChatSession, channel: str, reason: str) -> HandoffOutcome:
        self.track(db)
        now = self.now()
        urgent = self.had_emergency(db, chat.id)
        self.sweep(db, now=now, session_id=chat.id)
        existing = self.active(db, chat.id)
        if existing is not None and existing.status == SERVING:
            return HandoffOutcome("handoff", SERVING_ALREADY, ticket=_queue_ticket(existing))
        if existing is not None and urgent:
            return self._make_urgent(db, chat, existing, now)
        if existing is not None and existing.status == QUEUED:
            return HandoffOutcome("handoff", replies.HANDOFF_QUEUED.format(number=existing.queue_number),
                                  ticket=_queue_ticket(existing))
        if existing is not None:  # already leaving a message
            return HandoffOutcome("handoff", replies.HANDOFF_OFFLINE, [CANCEL_BUTTON])
        push.queue_changed(db, chat.community_code)
        if not self.in_office_hours() and not urgent:
            db.add(HandoffRequest(session_id=chat.id, channel=channel, queue_number="", reason=reason[:40],
                                  status=MESSAGE, created_at=now))
            chat.handoff_status = MESSAGE
            log.info("session %s asked for a person outside office hours", chat.id)
            return HandoffOutcome("handoff", replies.HANDOFF_OFFLINE, [CANCEL_BUTTON])
        number = tickets.next_queue_number(db, now.astimezone(CHINA).date())
        request = HandoffRequest(session_id=chat.id, channel=channel, queue_number=number, reason=reason[:40],
                                 status=QUEUED, created_at=now, urgent=urgent)
        db.add(request)
        chat.handoff_status = QUEUED
        if urgent:
            log.warning("session %s queued first for a person as %s after an emergency", chat.id, number)
            return HandoffOutcome("handoff", self._urgent_text(number, now), [CANCEL_BUTTON],
                                  ticket=_queue_ticket(request))
        log.info("session %s queued for a person as %s", chat.id, number)
        return HandoffOutcome("handoff", replies.HANDOFF_QUEUED.format(number=number), [CANCEL_BUTTON],
                              ticket=_queue_ticket(request))

    def _urgent_text(self, number: str, now: dt.datetime) -> str:
        return (URGENT_QUEUED if self.in_office_hours(now) else URGENT_OFF_HOURS).format(number=number)

    def _make_urgent(self, db: Session, chat: ChatSession, request: HandoffRequest,
                     now: dt.datetime) -> HandoffOutcome:
        """An open request of a session that has since raised an emergency: first in the queue, out of 留言."""
        if request.status == MESSAGE:  # leaving a message for a callback: back into the queue instead
            request.status = QUEUED
            request.queue_number = request.queue_number or tickets.next_queue_number(
                db, now.astimezone(CHINA).date())
            chat.handoff_status = QUEUED
            push.queue_changed(db, request.community_code or chat.community_code)
        if not request.urgent:
            push.queue_changed(db, request.community_code or chat.community_code)
        request.urgent = True
        log.warning("queue number %s is urgent after an emergency", request.queue_number)
        return HandoffOutcome("handoff", self._urgent_text(request.queue_number, now), [CANCEL_BUTTON],
                              ticket=_queue_ticket(request))

    def sweep(self, db: Session, *, now: dt.datetime | None = None, session_id: str | None = None) -> int:
        """Offers a message and callback to everyone queued longer than the claim timeout.

        Urgent requests are never swept, nor is a request whose session has raised an emergency since it
        queued: it becomes urgent instead and keeps waiting for a person.
        """
        self.track(db)
        now = utc(now) if now else self.now()
        cutoff = now - dt.timedelta(seconds=max(self.settings.handoff_claim_timeout_seconds, 0))
        query = select(HandoffRequest).where(HandoffRequest.status == QUEUED, HandoffRequest.created_at < cutoff,
                                             HandoffRequest.urgent.is_(False))
        if session_id is not None:
            query = query.where(HandoffRequest.session_id == session_id)
        expired = list(db.scalars(query.limit(500)))
        emergencies = set(db.scalars(select(Alert.session_id).where(
            Alert.session_id.in_({r.session_id for r in expired})))) if expired else set()
        swept = 0
        for request in expired:
            push.queue_changed(db, request.community_code)
            if request.session_id in emergencies:
                request.urgent = True
                log.warning("queue number %s is urgent after an emergency; not offering 留言", request.queue_number)
                continue
            request.status = MESSAGE
            chat = db.get(ChatSession, request.session_id)
            if chat is not None:
                chat.handoff_status = MESSAGE
                conversation.post(db, chat, "system", TIMEOUT_OFFER, now)
                push.message_added(db, chat.id, request.id)
            log.info("queue number %s was not claimed in time; offering a callback", request.queue_number)
            swept += 1
        return swept

    # --- the resident's messages while a person has the conversation ---
    def intercept(self, db: Session, chat: ChatSession, text: str, channel: str) -> HandoffOutcome | None:
        """The reply when a person (or a callback) has this conversation; None lets the bot answer."""
        if chat.handoff_status not in ACTIVE_STATUSES:
            return None
        self.track(db)
        now = self.now()
        self.sweep(db, now=now, session_id=chat.id)
        request = self.active(db, chat.id)
        if request is None:
            chat.handoff_status = None
            return None
        # The resident's turn is stored after this returns, whoever answers it: the agent's page shows it.
        push.message_added(db, chat.id, request.id)
        contact.capture(request, text, self.cipher)  # a number said in the chat is kept encrypted for the agent
        record_personal_data(db, request.session_id, text, handoff_request_id=request.id)
        normalized = normalize(text)
        if is_emergency(normalized):
            return None  # the engine raises the alert; the agent still sees the message in the transcript
        payload = payloads.parse(text)
        if payload is not None and payload.command not in (Command.human, Command.cancel, Command.callback):
            return None  # a button from an earlier answer: the bot answers it
        command = payload.command if payload else None
        if command == Command.human:  # also while leaving a message: after an emergency it queues again
            return self.request(db, chat, channel, "request_human")
        if request.status == MESSAGE:
            return self._leave_message(db, chat, request, text, channel, now)
        if command == Command.cancel or (request.status == QUEUED and is_cancel(normalized)):
            return self._resident_ends(db, chat, request, now)
        return HandoffOutcome("handoff", conversation.LIVE_FORWARDED, ticket=_queue_ticket(request))

    def _resident_ends(self, db: Session, chat: ChatSession, request: HandoffRequest,
                       now: dt.datetime) -> HandoffOutcome:
        queued = request.status == QUEUED
        push.queue_changed(db, request.community_code or chat.community_code)
        request.status = CANCELLED if queued else CLOSED
        request.closed_at = now
        request.close_note = "居民取消排队" if queued else "居民结束对话"
        chat.handoff_status = None
        return HandoffOutcome("handoff", QUEUE_CANCELLED if queued else RESIDENT_ENDED)

    def _leave_message(self, db: Session, chat: ChatSession, request: HandoffRequest, text: str, channel: str,
                       now: dt.datetime) -> HandoffOutcome:
        payload = payloads.parse(text)
        callback = payload is not None and payload.command == Command.callback
        normalized = normalize(payload.argument if payload and callback else text)
        if (payload and payload.command == Command.cancel) or is_cancel(normalized):
            request.status = CANCELLED
            request.closed_at = now
            request.close_note = "居民不留言"
            chat.handoff_status = None
            push.queue_changed(db, request.community_code or chat.community_code)
            return HandoffOutcome("handoff", MESSAGE_CANCELLED)
        phone, rest = split_phone(normalized)
        declined = bool(_NO_CONTACT.search(rest))
        if declined:
            rest = _NO_CONTACT.sub(" ", rest)
        rest = rest.strip(" ,，。.!！?？、")
        if rest and not _FILLER.match(rest) and not callback:
            if _DIGIT_RUN.fullmatch(rest.replace(" ", "")) and phone is None:
                return HandoffOutcome("handoff", replies.INVALID_PHONE, [CANCEL_BUTTON])
            # The message becomes the order's description: the place stays for whoever goes there
            # (exports mask it).
            masked = mask_text(rest, keep=ADDRESS_KEPT)
            joined = f"{request.left_message}；{masked}" if request.left_message else masked
            request.left_message = joined[:MAX_MESSAGE]
        if phone is None and not declined:
            if callback:
                return HandoffOutcome("handoff", replies.INVALID_PHONE, [CANCEL_BUTTON])
            if request.left_message:
                return HandoffOutcome("handoff", MESSAGE_ASK_PHONE, [CANCEL_BUTTON])
            return HandoffOutcome("handoff", replies.HANDOFF_OFFLINE, [CANCEL_BUTTON])
        order = tickets.create_work_order(
            db, self.cipher, source="message", description=request.left_message or NO_MESSAGE_DESCRIPTION,
            contact=phone, session_id=chat.id, channel=channel,
            transcript=conversation.transcript(db, chat.id), policy=self.policy, now=now)
        request.status = CONVERTED
        request.work_order_number = order.number
        request.closed_at = now
        chat.handoff_status = None
        push.queue_changed(db, request.community_code or chat.community_code)
        log.info("message left in session %s became work order %s", chat.id, order.number)
        text_out = (MESSAGE_DONE.format(number=order.number, phone=order.contact_masked) if phone
                    else MESSAGE_DONE_NO_PHONE.format(number=order.number))
        return HandoffOutcome("ticket", text_out,
                              ticket=TicketInfo(number=order.number, status=order.status,
                                                department=order.department))

    # --- what the resident's page shows ---
    def status_of(self, db: Session, session_id: str) -> dict[str, str] | None:
        latest = db.scalar(select(HandoffRequest).where(HandoffRequest.session_id == session_id)
                           .order_by(HandoffRequest.id.desc()).limit(1))
        if latest is None:
            return None
        return {"status": latest.status, "queue_number": latest.queue_number or ""}


def _queue_ticket(request: HandoffRequest) -> TicketInfo | None:
    if not request.queue_number:
        return None
    return TicketInfo(number=request.queue_number, status=request.status, department="社区")
