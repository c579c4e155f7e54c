"""The turn pipeline: text → understanding (rules, intents, aspects, retrieval) → policy → reply → stored turn.

``DialogueEngine.handle`` is the one entry point of every channel (web, kiosk, API, WeChat). The stages are
separate parts built once from the application context: ``Understanding`` collects the evidence,
``policy.decide`` (a pure function) chooses what to do, this module carries the decision out (alerts, work
orders, handoffs, the reply) and ``turn_store`` stores the turn. Each turn runs in one database
transaction: the session state, the stored turn and anything the turn created commit together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from assistant.api.metrics import observe_turn
from assistant.communities.directory import CommunityDirectory
from assistant.dialogue import notices, payloads, replies
from assistant.dialogue.forms import ReportIssueForm
from assistant.dialogue.policy import (
    UNSURE_ACTS,
    Act,
    Decision,
    Evidence,
    PolicyThresholds,
    choose_reading,
    decide,
)
from assistant.dialogue.schemas import (
    Button,
    ChatRequest,
    ChatResponse,
    IntentInfo,
    Reply,
    TicketInfo,
    TopicInfo,
)
from assistant.dialogue.turn_store import StoredTurn, TurnContext, open_turn, save_session, store_turn
from assistant.dialogue.understanding import Understanding
from assistant.events import EventBus, MemoryBus
from assistant.handoff import alerts, tickets
from assistant.handoff import queries as order_queries
from assistant.handoff.live import ACTIVE_STATUSES, HandoffService
from assistant.kb_runtime import KnowledgeBaseProvider
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.db import session_scope
from intents.choices import resolve_choice
from knowledge_base.aspects import aspect_table
from knowledge_base.engine import KnowledgeBase
from knowledge_base.retrieval.index import SearchResult
from pii import mask_text

log = logging.getLogger(__name__)

SMALLTALK = {"greet": replies.GREET, "goodbye": replies.GOODBYE, "thanks": replies.THANKS,
             "bot_capabilities": replies.CAPABILITIES, "affirm": replies.AFFIRM}
REPORT_MATCH_MIN_SCORE = 0.3  # a report is routed to the department of a KB entry this close to it
# After an alert, 「先做什么」「打几号」 are about getting help: this entry (when the knowledge base has it) is the
# conversation's topic, so they are answered from it instead of 「不会回答」.
EMERGENCY_TOPIC = "emergency-help"


@dataclass
class TurnOutcome:
    action: str
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
        sessions: Any,
        kb: KnowledgeBaseProvider,
        understanding: Understanding,
        cipher: PersonalDataCipher,
        thresholds: PolicyThresholds,
        handoff: HandoffService | None = None,
        events: EventBus | None = None,
        communities: CommunityDirectory | None = None,
        bulletins: Callable[[str | None], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.kb = kb
        self.understanding = understanding
        self.cipher = cipher
        self.thresholds = thresholds
        self.handoff = handoff or HandoffService(settings, cipher=cipher)
        self.events = events or MemoryBus()  # alerts reach staff pages through it (AppContext.events)
        self.communities = communities  # None: one community, records left to the default
        # A community's board (BulletinBoard.for_community): notices and warnings asked about; None: not answered.
        self.bulletins = bulletins
        table = aspect_table()
        self.aspect_leads = table.leads()
        self.aspect_labels = table.labels()
        self.aspect_buttons = table.buttons()
        # SQLite has one writer at a time: threads of one worker queue here instead of in SQLite's
        # busy handler, whose sleeps (up to 100 ms each) made tail latency explode under load. The GIL
        # already runs one turn at a time per process, so nothing is lost.
        sqlite = settings.resolved_database_url().startswith("sqlite")
        self._turn_lock: threading.Lock | nullcontext[None] = threading.Lock() if sqlite else nullcontext()
        # For the same reason a SQLite turn runs on the event loop itself: a thread hop per turn buys no
        # parallelism there, only GIL hand-offs. PostgreSQL turns go to threads, so that one waiting on a
        # row lock does not stop the worker.
        self.turns_inline = sqlite

    @property
    def classifier(self) -> Any:
        return self.understanding.classifier

    async def handle_async(self, request: ChatRequest) -> ChatResponse:
        """``handle`` for async callers (the API routes)."""
        if self.turns_inline:
            return self.handle(request)
        return await asyncio.to_thread(self.handle, request)

    def handle(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        knowledge = self.kb.current()
        text = request.text[: self.settings.max_text_length]
        # An unknown community is refused before anything is stored (UnknownCommunity → 422).
        community = self.communities.resolve(request.community) if self.communities else request.community
        with self._turn_lock, session_scope(self.sessions) as db:
            turn = open_turn(db, request.session_id, request.channel, knowledge, text, community)
            turn.knowledge = knowledge.for_community(turn.community)
            evidence = self._read(turn, text, request.alternatives)
            outcome = self._respond(turn, evidence)
            response = ChatResponse(session_id=turn.session_id, action=outcome.action, reply=outcome.reply,
                                    intent=outcome.intent, topic=outcome.topic, aspect=outcome.aspect,
                                    ticket=outcome.ticket)
            if outcome.action != "clarify" and outcome.reply.text:
                turn.state.last_reply = response.model_dump(mode="json")
            save_session(turn)
            stored = StoredTurn(outcome.action, outcome.reply.text, outcome.intent.name if outcome.intent else None,
                                outcome.intent.confidence if outcome.intent else None,
                                outcome.topic.id if outcome.topic else None,
                                outcome.topic.score if outcome.topic else None, outcome.aspect,
                                outcome.unanswered_reason, outcome.candidates)
            store_turn(turn, evidence.normalized, stored, (time.perf_counter() - started) * 1000)
        observe_turn(request.channel, outcome.action, time.perf_counter() - started)  # /metrics
        return response

    def _read(self, turn: TurnContext, text: str, alternatives: list[str]) -> Evidence:
        """The evidence for the text, or for the spoken reading that was understood (choose_reading)."""
        evidence = self.understanding.read(turn.knowledge, turn.state, text)
        readings = [alt[: self.settings.max_text_length] for alt in alternatives if alt.strip() and alt != text]
        if not readings or not evidence.normalized:
            return evidence
        first = decide(turn.state, evidence, self.thresholds)
        if first.act not in UNSURE_ACTS:
            return evidence
        others = [self.understanding.read(turn.knowledge, turn.state, reading) for reading in readings]
        chosen = choose_reading([first, *(decide(turn.state, ev, self.thresholds) for ev in others)])
        if chosen == 0:
            return evidence
        turn.text = readings[chosen - 1]
        return others[chosen - 1]

    # --- carrying out the policy's decision ---
    def _respond(self, turn: TurnContext, ev: Evidence) -> TurnOutcome:
        if not ev.normalized:
            return TurnOutcome("smalltalk", replies.make_reply(replies.EMPTY_INPUT))
        # While a person (or a callback message) has the conversation, the resident talks to them, not the bot;
        # only a danger to life is answered first.
        if turn.handoff_status in ACTIVE_STATUSES and ev.emergency is None:
            live = self.handoff.intercept(turn.db, turn.chat, turn.text, turn.channel)
            if live is not None:
                return TurnOutcome(live.action, replies.make_reply(live.text, live.buttons), ticket=live.ticket)
        bulletin = self._bulletin(turn, ev)  # 「最近有什么通知」「哪天停水」: see dialogue/notices.py
        if bulletin is not None:
            return bulletin
        decision = decide(turn.state, ev, self.thresholds)
        intent = IntentInfo(name=decision.intent, confidence=round(decision.confidence, 4)) if decision.intent \
            else None
        outcome = self._carry_out(turn, ev, decision, intent)
        if decision.act not in (Act.clarify, Act.topic_menu, Act.fallback, Act.none_of_them):
            turn.state.fallbacks_in_a_row = 0
        return outcome

    def _carry_out(self, turn: TurnContext, ev: Evidence, d: Decision, intent: IntentInfo | None) -> TurnOutcome:
        act = d.act
        if act == Act.emergency:
            return self._emergency(turn, d, intent)
        if act == Act.answer:
            return self._answer_decision(turn, ev, d, intent)
        if act == Act.clarify:
            return self._clarify(turn, ev, d, intent)
        if act == Act.topic_menu:
            return self._topic_menu(turn, ev, d, intent)
        if act == Act.fallback:
            return self._fallback(turn, intent, ev.alone, out_of_scope=d.out_of_scope)
        if act == Act.handoff:
            return self._handoff(turn, intent)
        if act == Act.start_report:
            return self._advance_form(turn, ReportIssueForm.start(turn.text), intent)
        if act == Act.continue_report:
            return self._continue_form(turn, ev)
        if act == Act.ticket_status:
            return self._ticket_status(turn, intent, d.number)
        if act == Act.smalltalk:
            return TurnOutcome("smalltalk", replies.make_reply(SMALLTALK[d.intent or "greet"]), intent)
        if act == Act.repeat:
            return self._repeat(turn, intent, slow=d.slow)
        if act == Act.pick:
            return self._pick(turn, d.index if d.index is not None else -99, intent)
        if act == Act.none_of_them:
            turn.state.pending_choices = []
            return TurnOutcome("smalltalk", replies.make_reply(replies.CLARIFY_NONE, [replies.HUMAN_BUTTON]), intent)
        if act == Act.choice_invalid:
            return TurnOutcome("smalltalk", replies.make_reply(replies.CHOICE_INVALID), intent)
        if act == Act.call:
            text = replies.CALL_NUMBER.format(number=d.number or "")
            return TurnOutcome("emergency", replies.make_reply(text, [replies.STAFF_BUTTON]), intent)
        turn.state.pending_choices = []  # Act.deny
        return TurnOutcome("smalltalk", replies.make_reply(replies.DENY_NO_CONTEXT, [replies.HUMAN_BUTTON]), intent)

    # --- notices and warnings (issue 17) ---
    def _bulletin(self, turn: TurnContext, ev: Evidence) -> TurnOutcome | None:
        """A question about the community's notices or warnings, answered from its board; None otherwise."""
        asks_list = ev.payload is not None and ev.payload.command == payloads.Command.notices  # 「全部通知」
        if self.bulletins is None or (ev.payload is not None and not asks_list) or ev.emergency is not None \
                or turn.state.form:
            return None
        question = notices.read_question(turn.text) or notices.read_question(ev.normalized)
        if question is None:
            return None
        contact = turn.knowledge.profile.render(notices.CONTACT)
        found = notices.answer(question, self.bulletins(turn.community), contact)
        if found is None:
            return None
        # The conversation left its KB topic: 「要带什么」 next is not about it.
        turn.state.pending_choices, turn.state.topic_id, turn.state.aspect = [], None, None
        turn.state.fallbacks_in_a_row = 0
        return TurnOutcome("answer", notices.reply_of(found), IntentInfo(name="ask_service", confidence=1.0))

    # --- answers ---
    def _answer_decision(self, turn: TurnContext, ev: Evidence, d: Decision, intent: IntentInfo | None) -> TurnOutcome:
        knowledge = turn.knowledge
        entry_id = d.topic_id or ""
        if entry_id not in knowledge.entries:
            return TurnOutcome("smalltalk", replies.make_reply(replies.FALLBACK_FIRST, [replies.HUMAN_BUTTON]), intent)
        score = d.score if d.score is not None else 1.0
        if d.aspect and d.aspect in self.aspect_leads:
            outcome = self._aspect_answer(turn, entry_id, d.aspect, intent, score)
        else:
            outcome = self._answer(turn, entry_id, intent, score)
        if d.low_confidence:
            outcome.unanswered_reason = "low_confidence"
            outcome.candidates = _candidates(ev.alone)
        return outcome

    def _aspect_buttons(self, knowledge: KnowledgeBase, entry_id: str, skip: str | None = None) -> list[Button]:
        entry = knowledge.entries[entry_id]
        return [Button(title=self.aspect_buttons[name], payload=payloads.aspect(name))
                for name in self.aspect_buttons if name != skip and getattr(entry.aspects, name)]

    def _answer(self, turn: TurnContext, entry_id: str, intent: IntentInfo | None, score: float) -> TurnOutcome:
        knowledge = turn.knowledge
        entry = knowledge.entries[entry_id]
        turn.state.topic_id = entry_id
        turn.state.aspect = None
        turn.state.pending_choices = []
        buttons = [*self._aspect_buttons(knowledge, entry_id)[:5], replies.HUMAN_BUTTON]
        reply = replies.make_reply(knowledge.rendered_answer(entry_id), buttons)
        return TurnOutcome("answer", reply, intent, TopicInfo(id=entry_id, title=entry.title, score=round(score, 4)))

    def _aspect_answer(self, turn: TurnContext, entry_id: str, aspect: str, intent: IntentInfo | None,
                       score: float) -> TurnOutcome:
        knowledge = turn.knowledge
        entry = knowledge.entries[entry_id]
        turn.state.topic_id = entry_id
        turn.state.aspect = aspect
        turn.state.pending_choices = []
        body = knowledge.rendered_aspect(entry_id, aspect)
        short_title = entry.title.split("（")[0]
        if body:
            text = f"{short_title}——{self.aspect_leads[aspect]}：{body}"
        else:  # say so, and whom to ask: never 「不会回答」 about the topic being discussed
            text = replies.ASPECT_MISSING_CONTACT.format(title=short_title, label=self.aspect_labels[aspect],
                                                          department=entry.department,
                                                          contact=self._contact(knowledge, entry_id))
        buttons = [*self._aspect_buttons(knowledge, entry_id, skip=aspect)[:5], replies.HUMAN_BUTTON]
        topic = TopicInfo(id=entry_id, title=entry.title, score=round(score, 4))
        return TurnOutcome("answer", replies.make_reply(text, buttons), intent, topic, aspect)

    @staticmethod
    def _contact(knowledge: KnowledgeBase, entry_id: str) -> str:
        entry = knowledge.entries[entry_id]
        contact = knowledge.rendered_aspect(entry_id, "contact")
        if contact:
            return contact.rstrip("。")
        # An unknown number drops out of the list (see knowledge_base/profile_text.py), leaving 12345.
        if entry.department in knowledge.profile.department_phones:
            return knowledge.profile.render(f"{{部门电话:{entry.department}}}；12345")
        return knowledge.profile.render("{社区电话}；12345")

    def _clarify(self, turn: TurnContext, ev: Evidence, d: Decision, intent: IntentInfo | None) -> TurnOutcome:
        knowledge = turn.knowledge
        options = [o for o in d.options if o in knowledge.entries]
        turn.state.pending_choices = options
        turn.state.pending_aspect = d.aspect
        lines = [f"{i}. {knowledge.entries[o].title}" for i, o in enumerate(options, start=1)]
        buttons = [Button(title=f"{i}. {knowledge.entries[o].title}", payload=payloads.choose(i))
                   for i, o in enumerate(options, start=1)]
        buttons.append(Button(title="都不是", payload=payloads.NONE_OF_THEM))
        lead = replies.BROAD_LEAD if d.broad else replies.CLARIFY_LEAD
        reply = replies.make_reply(lead + "\n" + "\n".join(lines), buttons)
        return TurnOutcome("clarify", reply, intent, None, unanswered_reason="low_confidence",
                           candidates=_candidates(ev.alone))

    def _topic_menu(self, turn: TurnContext, ev: Evidence, d: Decision, intent: IntentInfo | None) -> TurnOutcome:
        knowledge = turn.knowledge
        entry_id = d.topic_id or ""
        title = knowledge.entries[entry_id].title.split("（")[0]
        buttons = [*self._aspect_buttons(knowledge, entry_id), replies.HUMAN_BUTTON]
        reply = replies.make_reply(replies.TOPIC_MENU.format(title=title), buttons)
        return TurnOutcome("clarify", reply, intent, None, unanswered_reason="fallback",
                           candidates=_candidates(ev.alone))

    def _pick(self, turn: TurnContext, index: int, intent: IntentInfo | None) -> TurnOutcome:
        options = turn.state.pending_choices
        position = resolve_choice(index, len(options))
        if position is None or options[position] not in turn.knowledge.entries:
            return TurnOutcome("smalltalk", replies.make_reply(replies.CHOICE_INVALID), intent)
        aspect, turn.state.pending_aspect = turn.state.pending_aspect, None
        if aspect and aspect in self.aspect_leads:
            return self._aspect_answer(turn, options[position], aspect, intent, 1.0)
        return self._answer(turn, options[position], intent, 1.0)

    def _fallback(self, turn: TurnContext, intent: IntentInfo | None, search: SearchResult | None,
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
        outcome.candidates = _candidates(search)
        return outcome

    def _repeat(self, turn: TurnContext, intent: IntentInfo | None, slow: bool) -> TurnOutcome:
        last = turn.state.last_reply
        if not last:
            return TurnOutcome("smalltalk", replies.make_reply(replies.NOTHING_TO_REPEAT), intent)
        reply = Reply.model_validate({**last["reply"], "speech_rate": "slow" if slow else "normal"})
        topic = TopicInfo.model_validate(last["topic"]) if last.get("topic") else None
        return TurnOutcome(last["action"], reply, intent, topic, last.get("aspect"))

    # --- emergency, handoff, tickets, forms ---
    def _emergency(self, turn: TurnContext, d: Decision, intent: IntentInfo | None) -> TurnOutcome:
        kind = d.emergency_kind if d.emergency_kind in replies.EMERGENCY_BY_KIND else "emergency"
        # Stored (and announced to staff once this turn commits) before the reply says it was sent.
        alerts.raise_alert(turn.db, self.events, turn.session_id, turn.channel, kind, mask_text(turn.text))
        if EMERGENCY_TOPIC in turn.knowledge.entries:
            turn.state.topic_id, turn.state.aspect, turn.state.pending_choices = EMERGENCY_TOPIC, None, []
        advice = replies.EMERGENCY_BY_KIND.get(kind, replies.EMERGENCY_ADVICE)
        text = replies.EMERGENCY_NUMBERS + advice + replies.EMERGENCY_SENT
        first = replies.EMERGENCY_FIRST_CALL.get(kind, replies.EMERGENCY_CALLS[0])
        numbers = [first, *(n for n in replies.EMERGENCY_CALLS if n != first)]
        calls = [Button(title=f"拨打{n}", payload=payloads.call(n)) for n in numbers]
        return TurnOutcome("emergency", replies.make_reply(text, [*calls, replies.STAFF_BUTTON]), intent)

    def _handoff(self, turn: TurnContext, intent: IntentInfo | None) -> TurnOutcome:
        turn.state.pending_choices = []
        turn.state.form = None
        outcome = self.handoff.request(turn.db, turn.chat, turn.channel, reason="request_human")
        return TurnOutcome(outcome.action, replies.make_reply(outcome.text, outcome.buttons), intent,
                           ticket=outcome.ticket)

    def _ticket_status(self, turn: TurnContext, intent: IntentInfo | None, number: str | None) -> TurnOutcome:
        if number is None:
            mine = tickets.orders_of_session(turn.db, turn.session_id)
            if not mine:
                turn.state.awaiting = "ticket_number"
                return TurnOutcome("ticket", replies.make_reply(replies.TICKET_ASK_NUMBER), intent)
            number = mine[0].number
        turn.state.awaiting = None
        # The resident's view, the same as the /t/ page: plain status words, the result once finished, no notes.
        view = order_queries.public_view(turn.db, number)
        if view is None:
            return TurnOutcome("ticket", replies.make_reply(replies.TICKET_NOT_FOUND.format(number=number),
                                                            [replies.HUMAN_BUTTON]), intent)
        if tickets.owner_session(turn.db, view.number) != turn.session_id:
            # Numbers are sequential: anyone can type the next one. Someone else's order gets its status words
            # only (refusing would not protect more: the words say nothing of the case); the result note can
            # tell what was reported and where, so it is for the order's own conversation or the /t/ page.
            text = replies.TICKET_STATUS.format(number=view.number, status=view.status_text, due="")
            return TurnOutcome("ticket", replies.make_reply(text + order_queries.NOT_YOURS_NOTE), intent,
                               ticket=TicketInfo(number=view.number, status=view.status, department=view.department))
        if view.finished:
            text = (replies.TICKET_FINISHED.format(number=view.number, result=view.result) if view.result
                    else replies.TICKET_FINISHED_NO_RESULT.format(number=view.number))
        else:
            due = replies.TICKET_DUE.format(date=view.due) if view.due else ""
            text = replies.TICKET_STATUS.format(number=view.number, status=view.status_text, due=due)
        return TurnOutcome("ticket", replies.make_reply(text), intent,
                           ticket=TicketInfo(number=view.number, status=view.status, department=view.department))

    def _continue_form(self, turn: TurnContext, ev: Evidence) -> TurnOutcome:
        form = ReportIssueForm.from_json(turn.state.form or {})
        if form.contact:  # kept encrypted in the session state between turns, like every phone number at rest
            form.contact = self.cipher.decrypt(form.contact)
        intent = IntentInfo(name="report_issue", confidence=1.0)
        if ev.wants_human:
            return self._handoff(turn, IntentInfo(name="request_human", confidence=1.0))
        if form.cancelled_by(ev.normalized):
            turn.state.form = None
            return TurnOutcome("ticket", replies.make_reply(replies.REPORT_CANCELLED), intent)
        form.fill(turn.text)
        return self._advance_form(turn, form, intent)

    def _advance_form(self, turn: TurnContext, form: ReportIssueForm, intent: IntentInfo | None) -> TurnOutcome:
        question = form.next_question()
        if question is not None:
            turn.state.form = form.to_json()
            if form.contact:
                turn.state.form["contact"] = self.cipher.encrypt(form.contact)
            return TurnOutcome("ticket", replies.make_reply(question), intent)
        turn.state.form = None
        description = form.description()
        search = turn.knowledge.search(description)
        top = search.top
        entry = turn.knowledge.get(top.entry_id) if top and top.score >= REPORT_MATCH_MIN_SCORE else None
        # The routing rules read the problem first (漏水 → 物业 …); a close KB entry's department is only a
        # suggestion, mapped onto the fixed list of departments by the policy.
        order = tickets.create_work_order(
            turn.db, self.cipher, source="report_issue", description=description, location=form.where,
            contact=form.contact, category=entry.category_name if entry else "一般诉求",
            department=entry.department if entry else None, topic_id=entry.id if entry else None,
            session_id=turn.session_id, channel=turn.channel, transcript=form.transcript(),
            policy=self.handoff.policy,
        )
        text = replies.REPORT_DONE.format(number=order.number, department=order.department)
        return TurnOutcome("ticket", replies.make_reply(text), intent,
                           ticket=TicketInfo(number=order.number, status=order.status, department=order.department))


def _candidates(search: SearchResult | None) -> list[dict[str, Any]]:
    if search is None:
        return []
    return [{"id": c.entry_id, "title": c.title, "score": round(c.score, 4),
             "signals": {k: round(v, 3) for k, v in c.signals.items()}} for c in search.candidates[:5]]
