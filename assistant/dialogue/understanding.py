"""The stages before the policy: rules, intents, aspects and retrieval, read from one message.

``Understanding.read`` normalises the message (NFKC, 繁→简, numerals) and rewrites dialect forms to
Mandarin with the knowledge base's lexicon, then collects the ``Evidence`` the policy decides on: rule hits
(emergency, a button payload, a request for a person, a report opener), the emergency detector's reading,
the intent ranking and entities, the aspect prediction, and retrieval — of the message alone (its request
clauses when it is long), of a 那…呢 target, of each request clause, and the options of a broad request —
and which words of the message the current topic and the best match never use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from assistant.dialogue import payloads
from assistant.dialogue.broad import RELEVANCE_CANDIDATES, find_broad_request
from assistant.dialogue.clauses import asks_two_things, request_clauses, split_clauses
from assistant.dialogue.policy import EmergencySignal, Evidence, PolicyThresholds
from assistant.dialogue.rules import (
    asks_for_service,
    asks_whom,
    is_cancel,
    is_emergency,
    is_report_opener,
    switch_topic,
    wants_human,
)
from assistant.dialogue.state import DialogueState
from intents.aspects import AspectRecognizer
from intents.base import IntentClassifier, IntentResult
from intents.choices import extract_choice
from intents.emergency import EmergencyDetector, EmergencyExamples, EmergencyReading
from knowledge_base.engine import KnowledgeBase
from knowledge_base.normalize import normalize
from knowledge_base.retrieval.fusion import Decision as RetrievalDecision
from knowledge_base.retrieval.index import SearchResult

ASPECT_STRETCH_CHARS = 4  # longest stretch of an aspect phrasing that counts as an aspect word
# Amounts and numbers (几百块, 300元, 60) name no topic.
_AMOUNT = re.compile(r"[0-9零一二三四五六七八九十百千万几两多]+(?:块钱|块|元|蚊|毛|角|分钱)?")
# Intents whose messages need no retrieval at all.
_NO_RETRIEVAL_INTENTS = frozenset({"check_ticket_status", "repeat", "slower", "choose_option", "deny"})
# Readings that end in the scope message or 「不会回答」: before a resident in danger gets one, the pretrained encoder
# is asked (an emergency reading too weak to raise the alert ends there as well).
_SCOPE_MESSAGE_INTENTS = frozenset({"out_of_scope", "nlu_fallback", "emergency"})


class Understanding:
    def __init__(self, classifier: IntentClassifier, aspects: AspectRecognizer, emergencies: EmergencyDetector,
                 thresholds: PolicyThresholds, popularity: Callable[[], Mapping[str, int]] = dict,
                 aspect_phrasings: Sequence[Sequence[str]] = (), out_of_scope_examples: Sequence[str] = (),
                 emergency_examples: EmergencyExamples | None = None) -> None:
        self.classifier = classifier
        self.out_of_scope_examples = tuple(out_of_scope_examples)  # for Evidence.in_scope_margin
        self.emergency_examples = emergency_examples  # for the encoder's reading of danger (_encoder_danger)
        self.aspect_phrasings = aspect_phrasings
        self.aspects = aspects
        self.emergencies = emergencies
        self.thresholds = thresholds
        self.popularity = popularity

    def prepare(self, knowledge: KnowledgeBase) -> None:
        """Embed the example sets the pretrained encoder compares messages with, so that the first resident whose
        message needs them does not wait: about 17 s for the 1,900 examples at a machine's first start, a read from
        the vector cache after that."""
        if self.out_of_scope_examples:
            knowledge.index.prepare_groups((self.out_of_scope_examples,))
        if self.emergency_examples is not None:
            knowledge.index.prepare_groups(self.emergency_examples.groups)

    def read(self, knowledge: KnowledgeBase, state: DialogueState, text: str) -> Evidence:
        normalized = knowledge.to_mandarin(normalize(text))
        if not normalized:
            return Evidence(normalized="")
        payload = payloads.parse(text)
        topic_known = bool(state.topic_id) and state.topic_id in knowledge.entries
        referrals = knowledge.referral_ids
        reading = self.emergencies.read(normalized)
        emergency = self._emergency(normalized, reading)
        if payload is not None or emergency is not None:
            return Evidence(normalized, payload=payload, emergency=emergency, topic_known=topic_known,
                            referrals=referrals)
        result = self.classifier.classify(normalized)
        # The classifier's emergency intent counts only for a message that asks for no service: its training
        # examples are short calls for help, and 「去年着火了能申请救助吗」 shares their words.
        if result.name == "emergency" and not asks_for_service(normalized) \
                and result.confidence >= self.thresholds.emergency_intent:
            emergency = EmergencySignal(reading.kind, "intent")
        elif self._models_agree(normalized, reading, result):
            emergency = EmergencySignal(reading.kind, "model")
        ticket = result.first("ticket_number")
        choice = result.first("choice") or extract_choice(normalized)
        evidence = Evidence(
            normalized, emergency=emergency, wants_human=wants_human(normalized),
            report_opener=is_report_opener(normalized), cancel=is_cancel(normalized), intent=result,
            asks_whom=asks_whom(normalized),
            ticket_number=str(ticket.value) if ticket is not None else None,
            choice=int(choice.value) if choice is not None else None, topic_known=topic_known, referrals=referrals)
        if emergency is not None:
            return evidence
        if not self._needs_retrieval(state, evidence, result):
            broad = find_broad_request(knowledge, normalized, self.popularity(), self.thresholds.broad_max_options)
            if topic_known:  # 「步骤是什么」 may read as "repeat" to the classifier: the policy weighs the aspect
                evidence = replace(evidence, aspect=self.aspects.predict(normalized))
            if broad is not None and broad.bare:  # 「社保那块的问题」 reads as a ticket question to the classifier
                return replace(evidence, broad_options=broad.options, broad_bare=True)
            return evidence
        evidence = self._with_retrieval(knowledge, state, evidence, normalized, topic_known)
        danger = self._encoder_danger(knowledge, evidence, result)
        return evidence if danger is None else replace(evidence, emergency=danger)

    def _switch_target(self, knowledge: KnowledgeBase, current: str, target: str) -> SearchResult:
        """那X呢: retrieval of X. A broad X is read with the current topic: 「那医保呢」 after 新生儿上户口 asks
        for the newborn's 医保, so of X's entries the one whose title shares the current topic's subject wins."""
        switch = knowledge.search(target, k=RELEVANCE_CANDIDATES)
        target_broad = find_broad_request(knowledge, target, {}, self.thresholds.broad_max_options)
        subject = self._title_words(knowledge, current)
        if switch.decision == RetrievalDecision.answer and (target_broad is None or not target_broad.bare):
            # 「身份证丢了」…「那社保卡呢」: the same question about X, so of X's good candidates the one that shares
            # the current topic's subject beyond X itself (丢了, 补办) is meant — 社保卡挂失补办, not 社保卡申领.
            kin = self._kin(knowledge, switch, current, subject - self._stretches(knowledge, target),
                            self.thresholds.clarify)
            return switch if kin is None else kin
        kin = self._kin(knowledge, switch, current, subject, self.thresholds.switch_kin)
        if kin is not None:
            return kin
        title = knowledge.entries[current].title.split("（")[0]
        together = knowledge.search(f"{title}{target}", k=6)
        others = [c for c in together.candidates if c.entry_id != current]
        if others and others[0].score >= self.thresholds.answer:
            return SearchResult(target, together.canonical, others, RetrievalDecision.answer)
        return switch

    def _kin(self, knowledge: KnowledgeBase, switch: SearchResult, current: str, subject: frozenset[str],
             floor: float) -> SearchResult | None:
        """``switch`` led by its first candidate from ``floor`` whose title shares ``subject``; None when there is
        none, or when that is its top already."""
        kin = next((c for c in switch.candidates if c.entry_id != current and c.score >= floor
                    and subject & self._title_words(knowledge, c.entry_id)), None)
        if kin is None or kin is switch.top:
            return None
        rest = [c for c in switch.candidates if c is not kin and c.entry_id != current]
        return SearchResult(switch.query, switch.canonical, [kin, *rest], RetrievalDecision.answer)

    def _title_words(self, knowledge: KnowledgeBase, entry_id: str) -> frozenset[str]:
        """What an entry's title is about (新生儿, 医保; not 怎么, 办理), as two-character stretches of its
        words, so that 残疾证 and 残疾人 share 残疾."""
        return self._stretches(knowledge, knowledge.entries[entry_id].title)

    def _stretches(self, knowledge: KnowledgeBase, text: str) -> frozenset[str]:
        neutral = self._aspect_words(knowledge)
        words = [w for w in knowledge.index.analyzer.analyze_query(text).words if len(w) >= 2 and w not in neutral]
        return frozenset(w[i:i + 2] for w in words for i in range(len(w) - 1)) - neutral

    def _request_reading_holds(self, request: SearchResult, whole: SearchResult) -> bool:
        """Whether the request clauses read alone replace the whole message's reading. A request clause alone finds
        junk too (「……台风暴雨预警他们都不知道 有什么办法让他们能收到」: the request alone finds 法律援助): its topic
        must also be among the whole message's candidates, unless it is confident by itself."""
        top = request.top
        if top is None:
            return False
        th = self.thresholds
        supported = any(c.entry_id == top.entry_id for c in whole.candidates[: th.support_candidates])
        if request.decision == RetrievalDecision.answer:
            return supported or top.score >= th.confident_topic
        return supported and (whole.top is None or top.score > whole.top.score)

    def _topic_clause(self, knowledge: KnowledgeBase, normalized: str,
                      requests: Sequence[str]) -> SearchResult | None:
        story = [c for c in split_clauses(normalized) if c not in requests]
        best: tuple[float, str] | None = None
        for clause in story:
            top = knowledge.search(clause).top
            if top is not None and top.score >= self.thresholds.clarify and (best is None or top.score > best[0]):
                best = (top.score, clause)
        if best is None:
            return None
        combined = knowledge.search("，".join([best[1], *requests]))
        return combined if combined.decision == RetrievalDecision.answer else None

    def _aspect_words(self, knowledge: KnowledgeBase) -> frozenset[str]:
        """Words of the aspect table's phrasings (材料, 多久, 电话 …): they say nothing about which topic."""
        analyzer = knowledge.index.analyzer

        def words() -> frozenset[str]:
            # The segmenter cuts a phrase differently in different sentences (最多能领多少 → 最多/能领/多少, but
            # 最多能给多少 → 最多能/…): every stretch of two to four characters of a phrasing counts as well.
            texts = [analyzer.canonical(p) for phrasings in self.aspect_phrasings for p in phrasings]
            stretches = {t[i:i + n] for t in texts for n in range(2, ASPECT_STRETCH_CHARS + 1)
                         for i in range(len(t) - n + 1)}
            return frozenset(stretches | {w for t in texts for w in analyzer.analyze_query(t).words})

        return knowledge.derived("aspect-words", words)

    def _emergency(self, normalized: str, reading: EmergencyReading) -> EmergencySignal | None:
        if is_emergency(normalized):
            # The rules say there is a danger; the model names its kind when it sees some danger too.
            kind = reading.kind if reading.danger >= self.thresholds.emergency_kind else None
            return EmergencySignal(kind, "rule")
        th = self.thresholds
        needed = th.emergency_model_suicide if reading.kind == "suicide" else th.emergency_model
        if asks_for_service(normalized):  # 山坡裂缝了要报告给谁: a report or an application, not a call for help
            needed = max(needed, th.emergency_model_asking)
        if reading.kind is not None and reading.danger >= needed:
            return EmergencySignal(reading.kind, "model")
        return None

    def _models_agree(self, normalized: str, reading: EmergencyReading, result: IntentResult) -> bool:
        """「蛇咬了我老公的脚，已经肿得好大」: neither the detector nor the classifier is sure alone, but two models
        trained on different data both see some danger — that is an alert, unless the message asks for a service."""
        th = self.thresholds
        classifier_danger = next((p for name, p in result.ranking if name == "emergency"), 0.0)
        return (reading.kind is not None and reading.danger >= th.emergency_agreeing
                and classifier_danger >= th.emergency_agreeing and not asks_for_service(normalized))

    def _encoder_danger(self, knowledge: KnowledgeBase, ev: Evidence, result: IntentResult) -> EmergencySignal | None:
        """A message about to get the scope message or 「不会回答」, outside a conversation's topic: read as out of
        scope or not understood, and retrieval does not answer it; or read as a service question that retrieval
        placed nowhere. Is it nearer, for the pretrained encoder, to an emergency example than to any calm one
        (「阿公成身出冷汗 面色好白」 has none of the trained models' words)? Asked only there (an embedding, about 7 ms,
        on a few turns in a hundred), and not for a message that asks for a service, reports or looks back, nor for
        a short one."""
        examples, normalized, th = self.emergency_examples, ev.normalized, self.thresholds
        if examples is None or ev.topic_known or ev.broad_options or asks_for_service(normalized):
            return None
        if result.name in _SCOPE_MESSAGE_INTENTS and not _answers(ev):
            needed = th.emergency_encoder_margin
        elif result.name == "ask_service" and _places_nothing(ev):
            needed = th.emergency_encoder_margin_unplaced
        else:
            return None
        if len(normalized) < th.short_followup_chars:
            # A few characters are near anything (「好久开门」 after the health centre's answer came out closer to a
            # gas leak than to any calm example); short calls for help are the rules' and the trained models' task.
            return None
        similarities = knowledge.index.pretrained_nearest(normalized, examples.groups)
        if similarities is None:
            return None
        kind, lead = examples.nearest_kind(similarities)
        return EmergencySignal(kind, "encoder") if lead >= needed else None

    @staticmethod
    def _needs_retrieval(state: DialogueState, ev: Evidence, result: IntentResult) -> bool:
        if state.form is not None or ev.wants_human or ev.ticket_number is not None:
            return False
        return result.name not in _NO_RETRIEVAL_INTENTS or bool(state.pending_choices)

    def _with_retrieval(self, knowledge: KnowledgeBase, state: DialogueState, ev: Evidence, normalized: str,
                        topic_known: bool) -> Evidence:
        aspect = self.aspects.predict(normalized)
        clauses = request_clauses(normalized)
        alone = knowledge.search(normalized, k=RELEVANCE_CANDIDATES)  # also orders a broad request's options
        broad = find_broad_request(knowledge, normalized, self.popularity(), self.thresholds.broad_max_options,
                                   alone)
        whole = None
        request_text = "，".join(clauses)
        if request_text != normalized and alone.decision != RetrievalDecision.answer:
            # The whole story did not settle it: read the request clauses alone (「……想问下高龄津贴怎么领」),
            # even when there is only one (「……我们这种情况可以申请低保吗」).
            request = knowledge.search(request_text)
            if self._request_reading_holds(request, alone):
                alone, whole = request, alone
            if alone.decision != RetrievalDecision.answer:
                # 「……听楼下阿婆说八十岁以上的老人每个月有点钱领……我这个要去哪里办啊」: the request names no topic;
                # the story clause that names one most clearly, read with the request, may.
                named = self._topic_clause(knowledge, normalized, clauses)
                if named is not None:
                    alone, whole = named, whole or alone
        per_clause: tuple[SearchResult, ...] = ()
        if len(clauses) > 1 and asks_two_things(normalized):
            per_clause = tuple(knowledge.search(c) for c in clauses)
        switch = None
        target = switch_topic(normalized)
        if target is not None and topic_known and state.topic_id is not None:
            switch = self._switch_target(knowledge, state.topic_id, target)
        # Which topic's own words the message uses: 「发票要原件吗」 is in 手工报销's words, 「社保卡丢了」 is not
        # in 辅助器具's. Words of the aspect table (材料, 多久 …) say nothing about the topic and are left out.
        # Nor do amounts and numbers (几百块, 300元, 60): 「一个月能补几百块」 asks how much, of whatever is discussed.
        neutral = self._aspect_words(knowledge)
        words = [w for w in knowledge.index.analyzer.analyze_query(normalized).words
                 if w not in neutral and not knowledge.is_scrap(w, neutral) and not _AMOUNT.fullmatch(w)]

        def uncovered(entry_id: str | None) -> tuple[str, ...]:
            return tuple(knowledge.uncovered(words, entry_id)) if entry_id is not None else ()

        alone_id = alone.top.entry_id if alone.top is not None else None
        uncovered_current = uncovered(state.topic_id) if topic_known else ()
        uncovered_other = uncovered(alone_id) if topic_known and alone_id != state.topic_id else ()
        uncovered_alone = uncovered(alone_id)
        if broad is not None and not broad.bare and not broad.asks_for_list and (
                alone.decision == RetrievalDecision.answer
                or (alone.top is not None and alone.top.score >= self.thresholds.answer)):
            # 「社保卡丢了」: a word of several titles, but the message says which — or narrows it to a few
            # strong candidates (「农村养老保险几多岁先可以攞」: 领取 and 参保 both fit): those are the choice
            broad = None
        return replace(ev, aspect=aspect, alone=alone, whole=whole, switch=switch,
                       clauses=per_clause, uncovered_current=uncovered_current, uncovered_other=uncovered_other,
                       uncovered_alone=uncovered_alone, topic_words=tuple(words),
                       unknown_words=frozenset(words) - knowledge.known_words(),
                       top_aspects=frozenset(knowledge.entries[alone_id].aspects.present()) if alone_id else frozenset(),
                       current_aspects=frozenset(knowledge.entries[state.topic_id].aspects.present()) if topic_known
                       and state.topic_id else frozenset(),
                       broad_options=broad.options if broad is not None else (),
                       broad_bare=broad is not None and broad.bare,
                       in_scope_margin=self._in_scope_margin(knowledge, ev, alone))

    def _in_scope_margin(self, knowledge: KnowledgeBase, ev: Evidence, alone: SearchResult) -> float | None:
        """Asked only where it can change the answer: the classifier reads out of scope, retrieval would answer
        (an embedding, about 7 ms, on a few turns in a hundred)."""
        if ev.intent is None or ev.intent.name != "out_of_scope" or alone.decision != RetrievalDecision.answer \
                or alone.top is None or not self.out_of_scope_examples:
            return None
        return knowledge.index.pretrained_margin(alone.query, alone.top.entry_id, self.out_of_scope_examples)


def _searches(ev: Evidence) -> list[SearchResult]:
    return [r for r in (ev.alone, ev.whole, ev.switch, *ev.clauses) if r is not None]


def _answers(ev: Evidence) -> bool:
    """Some reading of the message is answered by retrieval."""
    return any(r.decision == RetrievalDecision.answer for r in _searches(ev))


def _places_nothing(ev: Evidence) -> bool:
    """Retrieval has not even a choice to offer for any reading of the message."""
    return all(r.decision == RetrievalDecision.no_answer for r in _searches(ev))
