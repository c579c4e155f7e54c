"""The turn pipeline: text → rules → intent → retrieval → policy → reply → stored turn.

``DialogueEngine.handle`` is the one entry point of every channel (web, kiosk, API, WeChat). Each turn
runs in one database transaction: the session state, the stored turn and anything the turn created
(an alert, a work order, a handoff, an unanswered-question record) commit together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.dialogue import replies
from assistant.dialogue.aspects import ASPECT_BUTTONS, ASPECT_LEADS, detect_aspect, residual_after_aspect
from assistant.dialogue.forms import ReportIssueForm
from assistant.dialogue.rules import is_emergency, is_report_opener, parse_payload, switch_topic, wants_human
from assistant.dialogue.schemas import (
    Action,
    Button,
    ChatRequest,
    ChatResponse,
    IntentInfo,
    Reply,
    TicketInfo,
    TopicInfo,
)
from assistant.dialogue.state import DialogueState
from assistant.evaluation import Prediction
from assistant.handoff import tickets
from assistant.handoff.live import ACTIVE_STATUSES, HandoffService
from assistant.kb_runtime import KnowledgeBaseProvider
from assistant.logging_setup import redact
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, ChatSession, Turn, UnansweredQuery
from intents.base import FALLBACK_INTENT, IntentClassifier, IntentResult
from intents.choices import extract_choice, resolve_choice
from knowledge_base.engine import KnowledgeBase
from knowledge_base.normalize import normalize
from knowledge_base.retrieval.fusion import Decision
from knowledge_base.retrieval.index import SearchResult

log = logging.getLogger(__name__)

SMALLTALK = {"greet": replies.GREET, "goodbye": replies.GOODBYE, "thanks": replies.THANKS,
             "bot_capabilities": replies.CAPABILITIES, "affirm": replies.AFFIRM}
# Intent confidence above which a non-service intent wins over a strong retrieval match.
INTENT_OVERRIDE = 0.75
# A near-miss that the classifier calls out of scope is answered only on an almost certain match.
OUT_OF_SCOPE_RETRIEVAL_OVERRIDE = 0.97
LOW_CONFIDENCE_MARGIN = 0.1


@dataclass
class TurnOutcome:
    action: Action
    reply: Reply
    intent: IntentInfo | None = None
    topic: TopicInfo | None = None
    aspect: str | None = None
    ticket: TicketInfo | None = None
    unanswered_reason: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)


class DialogueEngine:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        kb: KnowledgeBaseProvider,
        classifier: IntentClassifier,
        cipher: PersonalDataCipher,
        handoff: HandoffService | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.kb = kb
        self.classifier = classifier
        self.cipher = cipher
        self.handoff = handoff or HandoffService(settings, cipher=cipher)
        # SQLite has one writer at a time: threads of one worker queue here instead of in SQLite's
        # busy handler, whose sleeps (up to 100 ms each) made tail latency explode under load. The GIL
        # already runs one turn at a time per process, so nothing is lost.
        sqlite = settings.resolved_database_url().startswith("sqlite")
        self._turn_lock: threading.Lock | nullcontext[None] = threading.Lock() if sqlite else nullcontext()
        # For the same reason a SQLite turn runs on the event loop itself: a thread hop per turn buys no
        # parallelism there, only GIL hand-offs. PostgreSQL turns go to threads, so that one waiting on a
        # row lock does not stop the worker.
        self.turns_inline = sqlite

    async def handle_async(self, request: ChatRequest) -> ChatResponse:
        """``handle`` for async callers (the API routes)."""
        if self.turns_inline:
            return self.handle(request)
        return await asyncio.to_thread(self.handle, request)

    # --- entry points ---
    def handle(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        knowledge = self.kb.current()
        text = request.text[: self.settings.max_text_length]
        with self._turn_lock, session_scope(self.sessions) as db:
            turn = self._open_turn(db, request.session_id, request.channel, knowledge, text)
            outcome = self._respond(turn)
            response = ChatResponse(session_id=turn.session_id, action=outcome.action, reply=outcome.reply,
                                    intent=outcome.intent, topic=outcome.topic, aspect=outcome.aspect,
                                    ticket=outcome.ticket)
            if outcome.action not in {"clarify"} and outcome.reply.text:
                turn.state.last_reply = response.model_dump(mode="json")
            self._save_session(turn)
            self._store_turn(turn, outcome, (time.perf_counter() - started) * 1000)
        return response

    def predict(self, session_id: str | None, text: str) -> Prediction:
        """The evaluation view of one turn (topic only when the turn answered from the KB)."""
        response = self.handle(ChatRequest(session_id=session_id, text=text, channel="api"))
        answered = response.action == "answer" and response.topic is not None
        intent = response.intent.name if response.intent else None
        if response.action == "fallback" and intent in (None, "ask_service", FALLBACK_INTENT):
            intent = "out_of_scope"
        return Prediction(response.session_id, response.topic.id if answered else None, intent,
                          response.aspect if answered else None, response.topic.score if response.topic else None)

    # --- the policy ---
    def _respond(self, turn: _TurnContext) -> TurnOutcome:
        if not turn.normalized:
            return TurnOutcome("smalltalk", replies.make_reply(replies.EMPTY_INPUT))
        # While a person (or a callback message) has the conversation, the resident talks to them, not the bot.
        if turn.handoff_status in ACTIVE_STATUSES:
            live = self.handoff.intercept(turn.db, turn.chat, turn.text, turn.channel)
            if live is not None:
                return TurnOutcome(live.action, replies.make_reply(live.text, live.buttons), ticket=live.ticket)
        payload = parse_payload(turn.text)
        if payload is not None:
            return self._payload(turn, payload.command, payload.argument)
        if is_emergency(turn.normalized):
            return self._emergency(turn, IntentInfo(name="emergency", confidence=1.0))
        if turn.state.form is not None:
            return self._continue_form(turn)
        if is_report_opener(turn.normalized):
            return self._start_form(turn, IntentInfo(name="report_issue", confidence=1.0))
        result = self.classifier.classify(turn.text)
        intent = IntentInfo(name=result.name, confidence=round(result.confidence, 4))
        ticket_entity = result.first("ticket_number")
        if result.name == "emergency" and result.confidence >= 0.6:
            return self._emergency(turn, intent)
        if wants_human(turn.normalized) or result.name == "request_human":
            return self._handoff(turn, IntentInfo(name="request_human", confidence=max(intent.confidence, 0.9)))
        if ticket_entity is not None or (turn.state.awaiting == "ticket_number" and result.name != "ask_service"):
            return self._ticket_status(turn, intent, str(ticket_entity.value) if ticket_entity else None)
        if turn.state.pending_choices:
            chosen = self._choice(turn, result)
            if chosen is not None:
                return chosen
        return self._by_intent(turn, result, intent)

    def _by_intent(self, turn: _TurnContext, result: IntentResult, intent: IntentInfo) -> TurnOutcome:
        name = result.name
        if name == "check_ticket_status":
            return self._ticket_status(turn, intent, None)
        if name == "report_issue":
            return self._start_form(turn, intent)
        if name in ("repeat", "slower"):
            return self._repeat(turn, intent, slow=name == "slower")
        if name == "choose_option":
            return TurnOutcome("smalltalk", replies.make_reply(replies.CHOICE_INVALID), intent)
        if name == "deny":
            turn.state.pending_choices = []
            return TurnOutcome("smalltalk", replies.make_reply(replies.DENY_NO_CONTEXT, [replies.HUMAN_BUTTON]), intent)

        aspect = detect_aspect(turn.normalized)
        if aspect and turn.state.topic_id in turn.knowledge.entries and not residual_after_aspect(turn.normalized):
            return self._aspect_answer(turn, turn.state.topic_id, aspect, intent, score=None)
        query = switch_topic(turn.normalized) or turn.text
        search = turn.knowledge.search(query)
        top = search.top
        if name in SMALLTALK:
            strong = top is not None and search.decision == Decision.answer and len(turn.normalized) >= 8
            if not strong or result.confidence >= INTENT_OVERRIDE:
                return TurnOutcome("smalltalk", replies.make_reply(SMALLTALK[name]), intent)
        if name == "out_of_scope" and (top is None or top.score < OUT_OF_SCOPE_RETRIEVAL_OVERRIDE):
            return self._fallback(turn, intent, search, out_of_scope=True)
        return self._from_search(turn, search, intent, aspect)

    def _from_search(self, turn: _TurnContext, search: SearchResult, intent: IntentInfo,
                     aspect: str | None) -> TurnOutcome:
        top = search.top
        if search.decision == Decision.answer and top is not None:
            low = top.score < self.settings.answer_threshold + LOW_CONFIDENCE_MARGIN
            if aspect:
                outcome = self._aspect_answer(turn, top.entry_id, aspect, intent, score=top.score)
            else:
                outcome = self._answer(turn, top.entry_id, intent, top.score)
            if low:
                outcome.unanswered_reason = "low_confidence"
                outcome.candidates = _candidates(search)
            return outcome
        if search.decision == Decision.clarify:
            return self._clarify(turn, search, intent)
        return self._fallback(turn, intent, search)

    # --- answers ---
    def _answer(self, turn: _TurnContext, entry_id: str, intent: IntentInfo | None, score: float) -> TurnOutcome:
        knowledge = turn.knowledge
        entry = knowledge.entries[entry_id]
        turn.state.topic_id = entry_id
        turn.state.pending_choices = []
        turn.state.fallbacks_in_a_row = 0
        buttons = [Button(title=label, payload=f"/aspect {name}")
                   for name, label in ASPECT_BUTTONS if getattr(entry.aspects, name)]
        buttons.append(replies.HUMAN_BUTTON)
        reply = replies.make_reply(knowledge.rendered_answer(entry_id), buttons)
        return TurnOutcome("answer", reply, intent, TopicInfo(id=entry_id, title=entry.title, score=round(score, 4)))

    def _aspect_answer(self, turn: _TurnContext, entry_id: str, aspect: str, intent: IntentInfo | None,
                       score: float | None) -> TurnOutcome:
        knowledge = turn.knowledge
        entry = knowledge.entries[entry_id]
        turn.state.topic_id = entry_id
        turn.state.pending_choices = []
        turn.state.fallbacks_in_a_row = 0
        body = knowledge.rendered_aspect(entry_id, aspect)
        short_title = entry.title.split("（")[0]
        if body:
            text = f"{short_title}——{ASPECT_LEADS[aspect]}：{body}"
        else:
            text = f"{short_title}：{replies.ASPECT_MISSING.format(department=entry.department)}"
        buttons = [Button(title=label, payload=f"/aspect {name}") for name, label in ASPECT_BUTTONS
                   if name != aspect and getattr(entry.aspects, name)]
        buttons.append(replies.HUMAN_BUTTON)
        topic = TopicInfo(id=entry_id, title=entry.title, score=round(score if score is not None else 1.0, 4))
        return TurnOutcome("answer", replies.make_reply(text, buttons), intent, topic, aspect)

    def _clarify(self, turn: _TurnContext, search: SearchResult, intent: IntentInfo) -> TurnOutcome:
        threshold = self.settings.clarify_threshold
        options = [c for c in search.candidates if c.score >= threshold][:3] or search.candidates[:1]
        turn.state.pending_choices = [c.entry_id for c in options]
        lines = [f"{i}. {c.title}" for i, c in enumerate(options, start=1)]
        buttons = [Button(title=f"{i}. {c.title}", payload=f"/choose {i}") for i, c in enumerate(options, start=1)]
        buttons.append(Button(title="都不是", payload="/choose 0"))
        reply = replies.make_reply(replies.CLARIFY_LEAD + "\n" + "\n".join(lines), buttons)
        return TurnOutcome("clarify", reply, intent, None, unanswered_reason="low_confidence",
                           candidates=_candidates(search))

    def _choice(self, turn: _TurnContext, result: IntentResult) -> TurnOutcome | None:
        entity = result.first("choice") or extract_choice(turn.normalized)
        if result.name == "deny":
            turn.state.pending_choices = []
            return TurnOutcome("smalltalk", replies.make_reply(replies.CLARIFY_NONE, [replies.HUMAN_BUTTON]),
                               IntentInfo(name="deny", confidence=result.confidence))
        if entity is None or (result.name not in ("choose_option", FALLBACK_INTENT) and len(turn.normalized) > 6):
            return None
        return self._pick(turn, int(entity.value), IntentInfo(name="choose_option", confidence=result.confidence))

    def _pick(self, turn: _TurnContext, index: int, intent: IntentInfo) -> TurnOutcome:
        options = turn.state.pending_choices
        position = resolve_choice(index, len(options))
        if position is None or options[position] not in turn.knowledge.entries:
            return TurnOutcome("smalltalk", replies.make_reply(replies.CHOICE_INVALID), intent)
        return self._answer(turn, options[position], intent, 1.0)

    def _fallback(self, turn: _TurnContext, intent: IntentInfo, search: SearchResult | None,
                  out_of_scope: bool = False) -> TurnOutcome:
        turn.state.fallbacks_in_a_row += 1
        turn.state.pending_choices = []
        if turn.state.fallbacks_in_a_row >= 2:
            reply = replies.make_reply(replies.FALLBACK_AGAIN, [replies.HUMAN_BUTTON])
        else:
            reply = replies.make_reply(replies.OUT_OF_SCOPE if out_of_scope else replies.FALLBACK_FIRST,
                                       [replies.HUMAN_BUTTON])
        outcome = TurnOutcome("fallback", reply, intent)
        outcome.unanswered_reason = "fallback"
        outcome.candidates = _candidates(search) if search else []
        return outcome

    def _repeat(self, turn: _TurnContext, intent: IntentInfo, slow: bool) -> TurnOutcome:
        last = turn.state.last_reply
        if not last:
            return TurnOutcome("smalltalk", replies.make_reply(replies.NOTHING_TO_REPEAT), intent)
        reply = Reply.model_validate({**last["reply"], "speech_rate": "slow" if slow else "normal"})
        topic = TopicInfo.model_validate(last["topic"]) if last.get("topic") else None
        return TurnOutcome(last["action"], reply, intent, topic, last.get("aspect"))

    # --- emergency, handoff, tickets, forms ---
    def _emergency(self, turn: _TurnContext, intent: IntentInfo) -> TurnOutcome:
        turn.db.add(Alert(session_id=turn.session_id, channel=turn.channel, kind="emergency",
                          text=redact(turn.text)[:1000]))
        log.warning("emergency alert raised in session %s", turn.session_id)
        reply = replies.make_reply(replies.EMERGENCY, [Button(title="呼叫工作人员", payload="/human")])
        return TurnOutcome("emergency", reply, intent)

    def _handoff(self, turn: _TurnContext, intent: IntentInfo) -> TurnOutcome:
        turn.state.pending_choices = []
        turn.state.fallbacks_in_a_row = 0
        outcome = self.handoff.request(turn.db, turn.chat, turn.channel, reason=intent.name)
        return TurnOutcome(outcome.action, replies.make_reply(outcome.text, outcome.buttons), intent,
                           ticket=outcome.ticket)

    def _ticket_status(self, turn: _TurnContext, intent: IntentInfo, number: str | None) -> TurnOutcome:
        intent = IntentInfo(name="check_ticket_status", confidence=max(intent.confidence, 0.9 if number else 0.0))
        if number is None:
            mine = tickets.orders_of_session(turn.db, turn.session_id)
            if not mine:
                turn.state.awaiting = "ticket_number"
                return TurnOutcome("ticket", replies.make_reply(replies.TICKET_ASK_NUMBER), intent)
            number = mine[0].number
        turn.state.awaiting = None
        view = tickets.find_work_order(turn.db, number)
        if view is None:
            return TurnOutcome("ticket", replies.make_reply(replies.TICKET_NOT_FOUND.format(number=number),
                                                            [replies.HUMAN_BUTTON]), intent)
        due = f"预计{view.due_at.astimezone(tickets.CHINA):%m月%d日}前办结。" if view.due_at else ""
        text = replies.TICKET_STATUS.format(number=view.number, status=view.status, department=view.department,
                                            due=due)
        return TurnOutcome("ticket", replies.make_reply(text), intent,
                           ticket=TicketInfo(number=view.number, status=view.status, department=view.department))

    def _start_form(self, turn: _TurnContext, intent: IntentInfo) -> TurnOutcome:
        form = ReportIssueForm.start(turn.text)
        return self._advance_form(turn, form, intent)

    def _continue_form(self, turn: _TurnContext) -> TurnOutcome:
        form = ReportIssueForm.from_json(turn.state.form or {})
        if form.contact:  # kept encrypted in the session state between turns, like every phone number at rest
            form.contact = self.cipher.decrypt(form.contact)
        intent = IntentInfo(name="report_issue", confidence=1.0)
        if wants_human(turn.normalized):
            turn.state.form = None
            return self._handoff(turn, IntentInfo(name="request_human", confidence=1.0))
        if form.cancelled_by(turn.normalized):
            turn.state.form = None
            return TurnOutcome("ticket", replies.make_reply(replies.REPORT_CANCELLED), intent)
        form.fill(turn.text)
        return self._advance_form(turn, form, intent)

    def _advance_form(self, turn: _TurnContext, form: ReportIssueForm, intent: IntentInfo) -> TurnOutcome:
        question = form.next_question()
        if question is not None:
            turn.state.form = form.to_json()
            if form.contact:
                turn.state.form["contact"] = self.cipher.encrypt(form.contact)
            return TurnOutcome("ticket", replies.make_reply(question), intent)
        turn.state.form = None
        search = turn.knowledge.search(form.what)
        entry = turn.knowledge.get(search.top.entry_id) if search.top and search.top.score >= 0.3 else None
        order = tickets.create_work_order(
            turn.db, self.cipher, source="report_issue", description=form.what, location=form.where,
            contact=form.contact, category=entry.category_name if entry else "一般诉求",
            department=entry.department if entry else "社区", topic_id=entry.id if entry else None,
            session_id=turn.session_id, channel=turn.channel, transcript=form.transcript(),
            policy=self.handoff.policy,
        )
        text = replies.REPORT_DONE.format(number=order.number, department=order.department)
        return TurnOutcome("ticket", replies.make_reply(text), intent,
                           ticket=TicketInfo(number=order.number, status=order.status, department=order.department))

    # --- payloads from buttons ---
    def _payload(self, turn: _TurnContext, command: str, argument: str) -> TurnOutcome:
        button = IntentInfo(name="choose_option", confidence=1.0)
        if command == "choose":
            if argument == "0":
                turn.state.pending_choices = []
                return TurnOutcome("smalltalk", replies.make_reply(replies.CLARIFY_NONE, [replies.HUMAN_BUTTON]),
                                   IntentInfo(name="deny", confidence=1.0))
            if argument.isdigit() and turn.state.pending_choices:
                return self._pick(turn, int(argument) - 1, button)
            return TurnOutcome("smalltalk", replies.make_reply(replies.CHOICE_INVALID), button)
        if command == "aspect" and turn.state.topic_id in turn.knowledge.entries and argument in ASPECT_LEADS:
            return self._aspect_answer(turn, turn.state.topic_id, argument, IntentInfo(name="ask_service",
                                                                                        confidence=1.0), None)
        if command == "topic" and argument in turn.knowledge.entries:
            return self._answer(turn, argument, IntentInfo(name="ask_service", confidence=1.0), 1.0)
        if command == "human":
            return self._handoff(turn, IntentInfo(name="request_human", confidence=1.0))
        if command in ("repeat", "slower"):
            return self._repeat(turn, IntentInfo(name=command, confidence=1.0), slow=command == "slower")
        return TurnOutcome("smalltalk", replies.make_reply(replies.FALLBACK_FIRST), None)

    # --- storage ---
    # The hot path reads and writes the session row and the turn with Core statements: the ORM's unit of work
    # cost more than the rest of a turn together. The handoff code, which changes the session's handoff
    # status, gets the ORM object on demand (``_TurnContext.chat``).
    def _open_turn(self, db: Session, session_id: str | None, channel: str, knowledge: KnowledgeBase,
                   text: str) -> _TurnContext:
        row = None
        if session_id:
            row = db.connection().execute(SELECT_SESSION, {"session_key": session_id}).first()
        if row is None:
            session_id = session_id if _valid_session_id(session_id) else new_session_id()
            return _TurnContext(db, session_id, False, None, DialogueState(), knowledge, text, normalize(text),
                                channel)
        return _TurnContext(db, session_id, True, row.handoff_status, DialogueState.from_json(row.state),
                            knowledge, text, normalize(text), channel)

    @staticmethod
    def _save_session(turn: _TurnContext) -> None:
        state = turn.state.to_json()
        if turn.orm_chat is not None:
            turn.orm_chat.state = state
            turn.orm_chat.turn_count += 1
            turn.db.flush()  # before the turn row, whose foreign key needs the session row
        elif turn.stored:
            turn.db.connection().execute(UPDATE_SESSION, {"session_key": turn.session_id, "state": state})
        else:
            turn.db.connection().execute(INSERT_SESSION, {"id": turn.session_id, "channel": turn.channel,
                                                          "state": state, "turn_count": 1})
            turn.stored = True

    def _store_turn(self, turn: _TurnContext, outcome: TurnOutcome, latency_ms: float) -> None:
        masked = redact(turn.text)
        intent = outcome.intent.name if outcome.intent else None
        connection = turn.db.connection()
        inserted = connection.execute(INSERT_TURN, {
            "session_id": turn.session_id, "channel": turn.channel, "user_text": masked, "action": outcome.action,
            "intent": intent, "intent_confidence": outcome.intent.confidence if outcome.intent else None,
            "topic_id": outcome.topic.id if outcome.topic else None,
            "topic_score": outcome.topic.score if outcome.topic else None, "aspect": outcome.aspect,
            "reply_text": outcome.reply.text, "candidates": outcome.candidates, "latency_ms": round(latency_ms, 2),
            "feedback": None, "sender": "bot"})
        if outcome.unanswered_reason:
            connection.execute(INSERT_UNANSWERED, {
                "session_id": turn.session_id, "turn_id": inserted.inserted_primary_key[0], "channel": turn.channel,
                "query": masked, "normalized": redact(turn.normalized), "reason": outcome.unanswered_reason,
                "intent": intent, "candidates": outcome.candidates})


SESSIONS = ChatSession.__table__
# Built once: a statement made per turn with ``.values(...)`` cost more to construct than to run.
SELECT_SESSION = select(SESSIONS.c.state, SESSIONS.c.handoff_status).where(SESSIONS.c.id == bindparam("session_key"))
UPDATE_SESSION = (update(SESSIONS).where(SESSIONS.c.id == bindparam("session_key"))
                  .values(turn_count=SESSIONS.c.turn_count + 1))
INSERT_SESSION = insert(SESSIONS)
INSERT_TURN = insert(Turn.__table__)
INSERT_UNANSWERED = insert(UnansweredQuery.__table__)


@dataclass
class _TurnContext:
    db: Session
    session_id: str
    stored: bool  # whether the chat_sessions row exists yet
    handoff_status: str | None
    state: DialogueState
    knowledge: KnowledgeBase
    text: str
    normalized: str
    channel: str
    orm_chat: ChatSession | None = None

    @property
    def chat(self) -> ChatSession:
        """The session as an ORM object, for the handoff code; the row is created first for a new session."""
        if self.orm_chat is None:
            if not self.stored:
                self.db.connection().execute(INSERT_SESSION, {"id": self.session_id, "channel": self.channel,
                                                              "state": {}, "turn_count": 0})
                self.stored = True
            self.orm_chat = self.db.get_one(ChatSession, self.session_id)
        return self.orm_chat


def _candidates(search: SearchResult) -> list[dict[str, Any]]:
    return [{"id": c.entry_id, "title": c.title, "score": round(c.score, 4),
             "signals": {k: round(v, 3) for k, v in c.signals.items()}} for c in search.candidates[:5]]


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def _valid_session_id(session_id: str | None) -> bool:
    # A client may choose its own id (a kiosk terminal, a WeChat OpenID hash): printable, short.
    return bool(session_id) and len(session_id) <= 64 and session_id.isprintable() and " " not in session_id
