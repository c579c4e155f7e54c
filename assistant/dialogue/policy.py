"""The dialogue policy: what to do with a turn, as a pure function of what the earlier stages found.

``decide(state, evidence, thresholds)`` reads the conversation's state, the rule hits, the intent ranking,
the retrieval results (the message alone, a 那…呢 target, the request clauses of a long message, a broad
request's options), the words of the message each candidate topic never uses and the aspect prediction, and returns one
``Decision``. It touches no database and no model: the engine carries the decision out. Every number it
compares against is a field of ``PolicyThresholds``, which ``Settings`` fills.

The order of the checks is the order of precedence: a danger to life outranks everything, then a button
the resident tapped, then a form in progress, a request for a person, ticket look-ups and pending choices,
then follow-ups in the current topic, and only then a fresh reading of the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from assistant.dialogue.payloads import Command, Payload
from assistant.dialogue.state import DialogueState
from assistant.settings import Settings
from intents.aspects import AspectPrediction
from intents.base import FALLBACK_INTENT, IntentResult
from knowledge_base.retrieval.fusion import Decision as RetrievalDecision
from knowledge_base.retrieval.index import SearchResult

SMALLTALK_INTENTS = frozenset({"greet", "goodbye", "thanks", "bot_capabilities", "affirm"})
# Intents that lose to a confident aspect reading in a topic when they are not sure themselves (步骤是什么 is no
# "repeat", 修要多久 is no new report, 「手机交得唔得」 is no denial although 行不行 holds 不行).
_COMMAND_INTENTS = frozenset({"repeat", "slower", "choose_option", "report_issue", "check_ticket_status", "deny"})
GENERAL = "general"  # the aspect recogniser's label for "about the topic as a whole"
PROCESS = "process"


@dataclass(frozen=True)
class PolicyThresholds:
    answer: float = 0.4  # calibrated retrieval score from which a topic is answered
    clarify: float = 0.2  # score from which a topic is worth offering as a choice
    low_confidence_margin: float = 0.1  # answered, but within this of ``answer``: logged for review
    intent_override: float = 0.75  # a small-talk intent this sure wins over a strong retrieval match
    smalltalk_min_chars: int = 8  # shorter messages with a small-talk intent are small talk
    out_of_scope_override: float = 0.97  # an out-of-scope intent loses only to an almost certain match …
    in_scope_margin: float = 0.03  # … or to an answer the pretrained encoder finds this much nearer than any
    # out-of-scope example (Evidence.in_scope_margin): 「新农合今年几钱一个人」 is no chit-chat
    emergency_intent: float = 0.6  # intent classifier's emergency confidence that raises an alert
    emergency_model: float = 0.3  # emergency detector's probability of danger that raises an alert
    emergency_model_suicide: float = 0.25  # … when the likeliest danger is someone ending their life
    emergency_model_asking: float = 0.85  # … when the message asks whom to tell or what to apply for
    emergency_kind: float = 0.2  # when the rules raise the alert, the model's kind is used from this danger on
    emergency_agreeing: float = 0.2  # the detector's danger and the classifier's emergency probability both this high
    # A message about to get the scope message whose closest emergency example the pretrained encoder finds this
    # much nearer than its closest calm one (「阿公成身出冷汗 面色好白」): an alert. Developer sets, December 2026:
    # out-of-scope questions 0.008 at most, emergencies 0.025 at the median.
    emergency_encoder_margin: float = 0.015
    # … for a service question that retrieval placed nowhere: safety questions the knowledge base has no entry for
    # end there too (烟雾报警器隔一阵就哔一声 came out 0.023 nearer a fire; developer sets' highest, December 2026)
    emergency_encoder_margin_unplaced: float = 0.025
    aspect_followup: float = 0.45  # aspect recogniser's confidence for a follow-up in the current topic
    aspect_certain: float = 0.95  # … so sure, in a short follow-up, that a not-sure out-of-scope reading loses
    aspect_new_topic: float = 0.7  # … for answering only that aspect of a newly named topic
    new_topic: float = 0.5  # the message alone names another topic this strongly: it is a new topic
    new_topic_with_aspect: float = 0.7  # … when the message also reads as an aspect follow-up
    new_topic_certain: float = 0.95  # … so strongly that it is a new topic even if the current one fits too
    aspect_second_choice: float = 0.2  # a short follow-up whose likeliest reading is "in general" asks this aspect
    short_followup_chars: int = 8
    weak_command_intent: float = 0.75  # in a topic, repeat/slower/choose below this lose to an aspect reading
    two_topics: float = 0.45  # two request clauses each point at their own topic this clearly: offer both
    two_topics_lead: float = 2.0  # … each clause's topic this many times its runner-up
    support_candidates: int = 5  # … and among this many candidates of the whole message
    confident_topic: float = 0.7  # a match this good is answered even if the message has words the entry lacks
    out_of_scope_doubt: float = 0.2  # … below it, this much out-of-scope probability plus such words: no answer
    out_of_scope_over_broad: float = 0.5  # 「比特币多少钱」: an out-of-scope reading this sure is no broad request
    dominant_floor: float = 0.2  # a clarify-level top candidate this good …
    dominant_ratio: float = 4.0  # … and this many times the runner-up is answered when …
    surely_in_scope: float = 0.1  # … the classifier gives out-of-scope less than this
    agreeing_readings: float = 0.25  # a long message's request and the whole message agree on a topic this good
    switch_kin: float = 0.02  # 那X呢 with a broad X: an entry of X this good sharing the topic's subject is meant
    broad_min_options: int = 3
    broad_max_options: int = 6
    clarify_max_options: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicyThresholds:
        named = {name: getattr(settings, f"policy_{name}") for name in cls.__dataclass_fields__
                 if hasattr(settings, f"policy_{name}")}
        return cls(answer=settings.answer_threshold, clarify=settings.clarify_threshold, **named)


class Act(StrEnum):
    emergency = "emergency"
    answer = "answer"  # topic_id, aspect (None: the whole answer)
    clarify = "clarify"  # options
    topic_menu = "topic_menu"  # in a topic, unclear what else is asked: offer its aspects
    fallback = "fallback"  # out_of_scope says which message
    handoff = "handoff"
    start_report = "start_report"
    continue_report = "continue_report"
    ticket_status = "ticket_status"  # number (None: ask for it / look up the session's own)
    smalltalk = "smalltalk"  # name: greet, goodbye, thanks, bot_capabilities, affirm
    repeat = "repeat"  # slow
    pick = "pick"  # index (0-based) into the pending choices
    none_of_them = "none_of_them"
    choice_invalid = "choice_invalid"
    deny = "deny"
    call = "call"  # number: a call button came back as text (a device that cannot dial); say the number


@dataclass(frozen=True)
class EmergencySignal:
    kind: str | None  # medical, fire, gas, … (None: the rules matched, the kind is unknown)
    source: str  # "rule", "model", "intent" or "encoder"


@dataclass(frozen=True)
class Evidence:
    """What the stages before the policy found about one message."""

    normalized: str  # normalised, dialect rewritten to Mandarin
    payload: Payload | None = None
    emergency: EmergencySignal | None = None
    wants_human: bool = False
    report_opener: bool = False
    asks_whom: bool = False  # asks who handles something or how to report it (归谁管, 怎么反映, 找哪个部门)
    cancel: bool = False
    intent: IntentResult | None = None
    ticket_number: str | None = None
    choice: int | None = None  # 0-based option a message names (第二个 → 1; -1 = the last)
    aspect: AspectPrediction = field(default_factory=lambda: AspectPrediction(None, 0.0, []))
    alone: SearchResult | None = None  # retrieval of the message (its request clauses when long)
    whole: SearchResult | None = None  # a long message read whole, when its request clauses did not settle it
    uncovered_current: tuple[str, ...] = ()  # words of the message the current topic never uses
    uncovered_other: tuple[str, ...] = ()  # … and that the message-alone top entry never uses
    uncovered_alone: tuple[str, ...] = ()  # words of the message the message-alone top entry never uses
    topic_words: tuple[str, ...] | None = None  # words of the message outside the aspect vocabulary (None: unread)
    unknown_words: frozenset[str] = frozenset()  # … that no entry uses at all (scraps like 要排, or 股票)
    top_aspects: frozenset[str] = frozenset()  # the aspects the message-alone top entry describes
    current_aspects: frozenset[str] = frozenset()  # … and those the topic being discussed describes
    switch: SearchResult | None = None  # 那X呢: retrieval of X
    clauses: tuple[SearchResult, ...] = ()  # each request clause of a long message on its own
    broad_options: tuple[str, ...] = ()  # a broad request's options (entry ids)
    broad_bare: bool = False  # the message is nothing but broad words (「医保」): a choice before anything else
    topic_known: bool = False  # the state's topic is still a published entry
    referrals: frozenset[str] = frozenset()  # entry ids that are referrals
    # When the classifier reads "out of scope" but retrieval would answer: the pretrained encoder's cosine of the
    # message with the top entry's closest question, minus that with the closest out-of-scope example (None: not
    # asked, or no encoder).
    in_scope_margin: float | None = None


@dataclass(frozen=True)
class Decision:
    act: Act
    topic_id: str | None = None
    aspect: str | None = None
    score: float | None = None
    options: tuple[str, ...] = ()
    reason: str = ""  # why: for tests, the review list and the turn record
    intent: str | None = None
    confidence: float = 0.0
    emergency_kind: str | None = None
    out_of_scope: bool = False
    slow: bool = False
    index: int | None = None
    number: str | None = None
    low_confidence: bool = False
    broad: bool = False  # a clarification of a broad request (补贴, 医保), not between close candidates


# A spoken question comes with the recogniser's other readings (its n-best list). The first reading is acted on
# unless the machine was unsure of it (these acts) and another reading was understood.
UNSURE_ACTS = frozenset({Act.clarify, Act.topic_menu, Act.fallback, Act.choice_invalid})


def choose_reading(decisions: list[Decision]) -> int:
    """Which of a spoken question's readings to act on (0: the recogniser's best).

    Homophones are most of what a recogniser gets wrong (医保/一宝): when the best reading leaves the machine
    unsure and another reading is an emergency or a confident answer, that one is what was said. An emergency
    outranks an answer, as everywhere.
    """
    if not decisions or decisions[0].act not in UNSURE_ACTS:
        return 0
    for wanted in (Act.emergency, Act.answer):
        for index, decision in enumerate(decisions[1:], start=1):
            if decision.act == wanted:
                return index
    return 0


def decide(state: DialogueState, ev: Evidence, th: PolicyThresholds) -> Decision:
    intent = ev.intent
    name = intent.name if intent else None
    confidence = intent.confidence if intent else 0.0
    if ev.emergency is not None:
        return Decision(Act.emergency, intent="emergency", confidence=1.0, emergency_kind=ev.emergency.kind,
                        reason=f"emergency:{ev.emergency.source}")
    if ev.payload is not None:
        return _payload(state, ev, ev.payload)
    if state.form is not None:
        return Decision(Act.continue_report, intent="report_issue", confidence=1.0, reason="form")
    if ev.report_opener:
        return Decision(Act.start_report, intent="report_issue", confidence=1.0, reason="report opener")
    if ev.wants_human or name == "request_human":
        return Decision(Act.handoff, intent="request_human", confidence=max(confidence, 0.9), reason="human")
    if ev.ticket_number is not None or (state.awaiting == "ticket_number" and name != "ask_service"):
        return Decision(Act.ticket_status, number=ev.ticket_number, intent="check_ticket_status",
                        confidence=max(confidence, 0.9 if ev.ticket_number else 0.0), reason="ticket")
    if state.pending_choices:
        chosen = _pending_choice(ev, name, confidence)
        if chosen is not None:
            return chosen
        if _elliptical_aspect(ev, th):
            # 「找谁申请」 while two services are offered: the resident asks about one of them, not about whatever
            # the words alone match (个税退税). The same choice again, and the answer of the one picked is that aspect.
            return Decision(Act.clarify, options=tuple(state.pending_choices), aspect=_followup_aspect(ev, th),
                            intent="ask_service", confidence=confidence, reason="aspect of a pending choice")
    if ev.broad_bare and len(ev.broad_options) >= th.broad_min_options and name not in SMALLTALK_INTENTS \
            and not (state.topic_id and ev.topic_known and _elliptical_aspect(ev, th)):
        # 「要给钱吗」 after an answer asks what that service costs: 钱 is broad only when it is all there is
        return _broad(ev, name, confidence, th)
    nothing_to_choose = name == "choose_option" and not state.pending_choices
    if (state.topic_id and ev.topic_known and name in _COMMAND_INTENTS
            and (confidence < th.weak_command_intent or nothing_to_choose) and _followup_aspect(ev, th) is not None):
        # 「步骤是什么」 is no request to repeat, and 「点进去第一步选什么」 with no choices offered chooses nothing:
        # an aspect follow-up
        name = "ask_service"
    by_intent = _non_service_intent(ev, name, confidence, th)
    if by_intent is not None:
        return by_intent
    if state.topic_id and ev.topic_known:
        followed = _in_context(state, ev, name, confidence, th)
        if followed is not None:
            return followed
        fresh = _fresh(state, ev, name, confidence, th)
        if fresh.act == Act.fallback and not fresh.out_of_scope:
            # Never 「不会回答」 in a conversation: what the current topic can tell is offered instead.
            return Decision(Act.topic_menu, topic_id=state.topic_id, intent=fresh.intent or "ask_service",
                            confidence=confidence, reason=f"in a topic, read afresh: {fresh.reason}")
        return fresh
    return _fresh(state, ev, name, confidence, th)


# --- buttons -----------------------------------------------------------------------------------------

def _payload(state: DialogueState, ev: Evidence, payload: Payload) -> Decision:
    command = payload.command
    if command == Command.choose:
        if payload.argument == "0":
            return Decision(Act.none_of_them, intent="deny", confidence=1.0, reason="button")
        if payload.number is not None and state.pending_choices:
            return Decision(Act.pick, index=payload.number - 1, intent="choose_option", confidence=1.0,
                            reason="button")
        return Decision(Act.choice_invalid, intent="choose_option", confidence=1.0, reason="button")
    if command == Command.aspect and state.topic_id and ev.topic_known and payload.argument:
        return Decision(Act.answer, topic_id=state.topic_id, aspect=payload.argument, intent="ask_service",
                        confidence=1.0, reason="aspect button")
    if command == Command.topic and payload.argument:
        return Decision(Act.answer, topic_id=payload.argument, intent="ask_service", confidence=1.0,
                        reason="topic button", score=1.0)
    if command == Command.human:
        return Decision(Act.handoff, intent="request_human", confidence=1.0, reason="button")
    if command in (Command.repeat, Command.slower):
        return Decision(Act.repeat, slow=command == Command.slower, intent=str(command), confidence=1.0)
    if command == Command.call and payload.argument:
        return Decision(Act.call, number=payload.argument, intent="emergency", confidence=1.0, reason="call button")
    return Decision(Act.fallback, reason="unknown button")


def _pending_choice(ev: Evidence, name: str | None, confidence: float) -> Decision | None:
    if name == "deny":
        return Decision(Act.none_of_them, intent="deny", confidence=confidence, reason="deny choices")
    if ev.choice is None or (name not in ("choose_option", FALLBACK_INTENT) and len(ev.normalized) > 6):
        return None
    return Decision(Act.pick, index=ev.choice, intent="choose_option", confidence=confidence, reason="spoken choice")


# --- intents that are not a service question -------------------------------------------------------------

def _non_service_intent(ev: Evidence, name: str | None, confidence: float, th: PolicyThresholds) -> Decision | None:
    if name == "check_ticket_status":
        return Decision(Act.ticket_status, intent=name, confidence=confidence, reason="intent")
    if name == "report_issue":
        answered = ev.alone is not None and ev.alone.decision == RetrievalDecision.answer
        if ev.asks_whom and answered:
            return None  # 「路灯坏了归谁管」 asks who handles it: the entry answers, no work order yet
        return Decision(Act.start_report, intent=name, confidence=confidence, reason="intent")
    if name in ("repeat", "slower"):
        return Decision(Act.repeat, slow=name == "slower", intent=name, confidence=confidence)
    if name == "choose_option":
        return Decision(Act.choice_invalid, intent=name, confidence=confidence, reason="no choices pending")
    if name == "deny":
        return Decision(Act.deny, intent=name, confidence=confidence)
    if name in SMALLTALK_INTENTS:
        alone = ev.alone
        strong = (alone is not None and alone.decision == RetrievalDecision.answer
                  and len(ev.normalized) >= th.smalltalk_min_chars)
        if not strong or confidence >= th.intent_override:
            return Decision(Act.smalltalk, intent=name, confidence=confidence)
    return None


# --- follow-ups in the current topic ---------------------------------------------------------------------

def _in_context(state: DialogueState, ev: Evidence, name: str | None, confidence: float,
                th: PolicyThresholds) -> Decision | None:
    current = state.topic_id
    assert current is not None
    switched = _switch(state, ev, th)
    if switched is not None:
        return switched
    aspect = _followup_aspect(ev, th)
    if (aspect is None and state.aspect is None and ev.aspect.name is None and _names_nothing(ev)
            and ev.aspect.confidence >= th.aspect_followup and PROCESS in ev.current_aspects):
        # 「咋个弄嘛」 right after the whole answer: "how do I go about it" in general was just answered, so the
        # steps are what is asked, not the same answer again
        aspect = PROCESS
    alone_top = ev.alone.top if ev.alone else None
    alone_score = alone_top.score if alone_top else 0.0
    # Another topic is named when the message alone points at it and uses words of that topic that the current
    # one never uses (「社保卡丢了」 while on 辅助器具). 「发票要原件吗」 finds 发票 alone, but 手工报销 uses those
    # words too: a follow-up. Only a near-certain match switches without that evidence.
    # Words no entry uses cannot tell two topics apart.
    other_fits_better = (len(set(ev.uncovered_other) - ev.unknown_words)
                         < len(set(ev.uncovered_current) - ev.unknown_words))
    needed = th.new_topic if other_fits_better else th.new_topic_certain
    if aspect and not other_fits_better:
        needed = max(needed, th.new_topic_with_aspect)
    if (not other_fits_better and alone_top is not None and alone_top.entry_id in ev.referrals
            and current not in ev.referrals):
        # A referral says who else handles a matter, never a detail of the service being discussed: in words
        # the current topic uses as well (发票 while on 手工报销), it is no reason to leave that topic.
        needed = float("inf")
    # 「附近哪里有」 is made of aspect words only (附近, 哪里): it names no topic, whatever it matches alone.
    elliptical = _elliptical_aspect(ev, th)
    names_other = (not elliptical and alone_top is not None and alone_top.entry_id != current
                   and ev.alone is not None and ev.alone.decision == RetrievalDecision.answer
                   and alone_score >= needed)
    if names_other and not ev.broad_options:
        return None  # a new question: read afresh
    # A follow-up is answered from the topic being discussed; its score is that topic's in the message alone,
    # or certainty when the message is elliptical (like an aspect button).
    context_score = _score_of(ev.alone, current) or 1.0
    if name == "out_of_scope" and ev.uncovered_current and not _surely_aspect(ev, confidence, th):
        return None  # 「今天股票大盘怎么走」: words the topic never uses, and no service at all
    if aspect is not None:
        return Decision(Act.answer, topic_id=current, aspect=aspect, score=context_score, intent="ask_service",
                        confidence=max(confidence, ev.aspect.confidence), reason="aspect follow-up")
    # 「点样搞」 after an answer: nothing in it but question words, so an out-of-scope reading says nothing.
    if (name == "out_of_scope" and not _names_nothing(ev)) or ev.broad_options:
        return None
    in_topic_words = not ev.uncovered_current and bool(ev.normalized)
    weak_alone = ev.alone is None or ev.alone.decision != RetrievalDecision.answer or alone_top is None \
        or alone_top.entry_id == current
    if in_topic_words and weak_alone:
        return Decision(Act.answer, topic_id=current, score=context_score, intent="ask_service",
                        confidence=confidence, reason="follow-up in the topic's own words")
    if not weak_alone and len(ev.normalized) <= th.short_followup_chars:
        # 「中午休息吗」 finds 社区卫生服务中心 alone, but it is no better fit than the topic being discussed
        # (the check above): a short question after an answer is about that answer.
        return Decision(Act.topic_menu, topic_id=current, intent=name or "ask_service", confidence=confidence,
                        reason="short question, no other topic clearly named")
    if ev.alone is None or ev.alone.decision == RetrievalDecision.no_answer:
        # Never 「不会回答」 in a conversation: offer what the current topic can tell.
        return Decision(Act.topic_menu, topic_id=current, intent=name or "ask_service", confidence=confidence,
                        reason="unclear follow-up")
    return None


def _names_nothing(ev: Evidence) -> bool:
    """Nothing in the message but words of the aspect table and question words (点样搞, 附近哪里有, 要给钱吗)."""
    return ev.topic_words is not None and not ev.topic_words


def _elliptical_aspect(ev: Evidence, th: PolicyThresholds) -> bool:
    """A message that names nothing and reads as an aspect: a follow-up on the current topic, whatever it matches."""
    return _names_nothing(ev) and _followup_aspect(ev, th) is not None


def _surely_aspect(ev: Evidence, confidence: float, th: PolicyThresholds) -> bool:
    """「每户出多少钱」 after 老楼加装电梯: short, certainly about money, and the classifier's out-of-scope reading
    (每户 is no word of the topic) is not sure — a follow-up, not a question from nowhere."""
    return (len(ev.normalized) <= th.short_followup_chars and ev.aspect.name is not None
            and ev.aspect.confidence >= th.aspect_certain and confidence < th.out_of_scope_override)


def _followup_aspect(ev: Evidence, th: PolicyThresholds) -> str | None:
    if ev.aspect.name is not None:
        return ev.aspect.name if ev.aspect.confidence >= th.aspect_followup else None
    # 「点样搞」 after an answer: the whole answer was just given, so a short question that is second most
    # likely a particular aspect asks for that aspect.
    # So does one made only of aspect words (「身份证同户口簿就得？」: documents, and "is that enough").
    runner_up = next(((name, p) for name, p in ev.aspect.ranking if name != GENERAL), None)
    short_or_nameless = len(ev.normalized) <= th.short_followup_chars or _names_nothing(ev)
    if runner_up and short_or_nameless and runner_up[1] >= th.aspect_second_choice:
        return runner_up[0]
    return None


def _switch(state: DialogueState, ev: Evidence, th: PolicyThresholds) -> Decision | None:
    """那X呢: X is the new topic, asked about the aspect being discussed."""
    if ev.switch is None or ev.switch.top is None:
        return None
    top = ev.switch.top
    if ev.switch.decision == RetrievalDecision.answer:
        return Decision(Act.answer, topic_id=top.entry_id, aspect=state.aspect, score=top.score,
                        intent="ask_service", confidence=top.score, reason="那…呢 switch",
                        low_confidence=top.score < th.answer + th.low_confidence_margin)
    if ev.switch.decision == RetrievalDecision.clarify:
        clarified = _clarify(ev.switch, th, "那…呢 unclear")
        if clarified.act == Act.clarify:
            return clarified
        if top.score >= th.answer:
            # 「那两项补贴呢」: one candidate only, made of words the index does not know as such; 那…呢 asks
            # for another topic, and this is the only one there is.
            return Decision(Act.answer, topic_id=top.entry_id, aspect=state.aspect, score=top.score,
                            intent="ask_service", confidence=top.score, reason="那…呢 switch, one candidate",
                            low_confidence=True)
    return None


# --- a message read afresh ---------------------------------------------------------------------------------

def _fresh(state: DialogueState, ev: Evidence, name: str | None, confidence: float,
           th: PolicyThresholds) -> Decision:
    # An emergency reading that raised no alert (the stages found no danger now) is a question like any other.
    intent_name = "ask_service" if name in (None, "emergency") else name
    surely_out = name == "out_of_scope" and confidence >= th.out_of_scope_over_broad
    if ev.broad_options and len(ev.broad_options) >= th.broad_min_options and not surely_out:
        return _broad(ev, name, confidence, th)
    two = _two_topics(ev, th)
    if two is not None:
        return two
    search = ev.alone
    top = search.top if search else None
    vouched = name == "out_of_scope" and _encoder_vouches(ev, th)
    if vouched:
        intent_name = "ask_service"
    if name == "out_of_scope" and not vouched and not _referral_answer(ev, th) and (
            top is None or top.score < th.out_of_scope_override):
        return Decision(Act.fallback, out_of_scope=True, intent="out_of_scope", confidence=confidence,
                        reason="out of scope")
    if search is None or top is None:
        return Decision(Act.fallback, intent=intent_name, confidence=confidence, reason="nothing found")
    if search.decision == RetrievalDecision.answer and _doubtful(ev, top.score, th):
        # 「装修公司推荐一个」 finds 社区招聘 a little: the classifier half thinks it is no service, and the entry
        # never uses 装修 or 公司. An answer needs a topic that is itself confident.
        return Decision(Act.fallback, out_of_scope=True, intent="out_of_scope", confidence=confidence,
                        reason=f"doubtful match; words the entry never uses: {'、'.join(ev.uncovered_alone)}")
    if search.decision == RetrievalDecision.answer:
        aspect = ev.aspect.name if ev.aspect.confidence >= th.aspect_new_topic else None
        if top.entry_id in ev.referrals or aspect not in ev.top_aspects:
            aspect = None  # a referral's answer is who to ask, and a first answer never says "not described"
        return Decision(Act.answer, topic_id=top.entry_id, aspect=aspect, score=top.score, intent=intent_name,
                        confidence=confidence,
                        reason="retrieval; the pretrained encoder outweighs an out-of-scope reading" if vouched
                        else "retrieval",
                        low_confidence=vouched or top.score < th.answer + th.low_confidence_margin)
    if _dominant_weak_match(ev, th):
        return Decision(Act.answer, topic_id=top.entry_id, score=top.score, intent=intent_name, confidence=confidence,
                        reason="one candidate far ahead, and surely a service question", low_confidence=True)
    if _readings_agree(ev, th):
        return Decision(Act.answer, topic_id=top.entry_id, score=top.score, intent=intent_name, confidence=confidence,
                        reason="request and whole message agree", low_confidence=True)
    if search.decision == RetrievalDecision.clarify and _doubtful(ev, top.score, th):
        # 「三月三放几天假」: weak candidates that never use its words, and the classifier doubts it is a service
        return Decision(Act.fallback, out_of_scope=True, intent="out_of_scope", confidence=confidence,
                        reason=f"doubtful candidates; words they never use: {'、'.join(ev.uncovered_alone)}")
    if search.decision == RetrievalDecision.clarify:
        clarified = _clarify(search, th, "close candidates")
        if clarified.act == Act.clarify:
            return Decision(Act.clarify, options=clarified.options, intent=intent_name, confidence=confidence,
                            reason=clarified.reason)
    return Decision(Act.fallback, intent=intent_name, confidence=confidence, reason="no answer")


def _broad(ev: Evidence, name: str | None, confidence: float, th: PolicyThresholds) -> Decision:
    intent_name = name if name in ("ask_service", None) else "ask_service"
    return Decision(Act.clarify, options=ev.broad_options[: th.broad_max_options], intent=intent_name or "ask_service",
                    confidence=confidence, reason="broad request", broad=True)


def _readings_agree(ev: Evidence, th: PolicyThresholds) -> bool:
    """A long message whose request clauses and whole text both put the same topic first (and well ahead of
    the runner-up in the whole text): the story around the request only blurred the scores."""
    if ev.alone is None or ev.whole is None or ev.alone.top is None or ev.whole.top is None:
        return False
    whole = ev.whole.candidates
    lead = whole[0].score >= th.two_topics_lead * (whole[1].score if len(whole) > 1 else 0.0)
    return ev.alone.top.entry_id == whole[0].entry_id and ev.alone.top.score >= th.agreeing_readings and lead


def _dominant_weak_match(ev: Evidence, th: PolicyThresholds) -> bool:
    """「老人上个月滑倒过，想装个扶手，政府补不补」: the story dilutes every score, but one entry stands far ahead
    of all others and the classifier is sure this is a service question. Answered, and logged for review."""
    search = ev.alone
    if search is None or search.decision != RetrievalDecision.clarify or search.top is None or ev.intent is None:
        return False
    second = search.candidates[1].score if len(search.candidates) > 1 else 0.0
    out_of_scope = next((p for name, p in ev.intent.ranking if name == "out_of_scope"), 0.0)
    return (search.top.score >= th.dominant_floor and search.top.score >= th.dominant_ratio * second
            and out_of_scope < th.surely_in_scope)


def _encoder_vouches(ev: Evidence, th: PolicyThresholds) -> bool:
    """Retrieval would answer, and the pretrained encoder finds the message clearly nearer that entry's questions
    than any out-of-scope example: the classifier's out-of-scope reading (trained on far fewer words) loses."""
    return (ev.alone is not None and ev.alone.decision == RetrievalDecision.answer and ev.in_scope_margin is not None
            and ev.in_scope_margin >= th.in_scope_margin)


def _doubtful(ev: Evidence, score: float, th: PolicyThresholds) -> bool:
    if ev.intent is None or not ev.uncovered_alone or score >= th.confident_topic:
        return False
    out_of_scope = next((p for name, p in ev.intent.ranking if name == "out_of_scope"), 0.0)
    return out_of_scope >= th.out_of_scope_doubt


def _referral_answer(ev: Evidence, th: PolicyThresholds) -> bool:
    """An out-of-scope message that a referral entry matches confidently (办护照 → 出入境) gets the referral."""
    search = ev.alone
    return (search is not None and search.top is not None and search.decision == RetrievalDecision.answer
            and search.top.entry_id in ev.referrals and search.top.score >= th.confident_topic)


def _two_topics(ev: Evidence, th: PolicyThresholds) -> Decision | None:
    if len(ev.clauses) < 2:
        return None
    tops: list[str] = []
    answered = False
    for result in ev.clauses:
        top = result.top
        if top is None or top.score < th.two_topics or top.entry_id in tops:
            continue
        runner_up = result.candidates[1].score if len(result.candidates) > 1 else 0.0
        if top.score >= th.two_topics_lead * runner_up:
            tops.append(top.entry_id)
            answered = answered or result.decision == RetrievalDecision.answer
    # Each must also be among the candidates of the message read whole: a clause read alone finds junk too.
    support = {c.entry_id for result in (ev.alone, ev.whole) if result is not None
               for c in result.candidates[: th.support_candidates]}
    tops = [t for t in tops if t in support]
    if len(tops) < 2 or not answered:
        return None
    return Decision(Act.clarify, options=tuple(tops[: th.clarify_max_options]), intent="ask_service",
                    confidence=1.0, reason="two topics")


def _clarify(search: SearchResult, th: PolicyThresholds, reason: str) -> Decision:
    """Choices from retrieval: never a single one (one good candidate is an answer or nothing)."""
    options = tuple(c.entry_id for c in search.candidates if c.score >= th.clarify)[: th.clarify_max_options]
    if len(options) < 2:
        options = tuple(c.entry_id for c in search.candidates[:2] if c.score >= th.clarify / 2)
    if len(options) < 2:
        return Decision(Act.fallback, reason=f"{reason}: a single weak candidate")
    return Decision(Act.clarify, options=options, reason=reason)


def _score_of(search: SearchResult | None, entry_id: str) -> float:
    if search is None:
        return 0.0
    return next((c.score for c in search.candidates if c.entry_id == entry_id), 0.0)
