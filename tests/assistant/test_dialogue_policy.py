"""The dialogue policy, branch by branch, with hand-made evidence: no model, no database, no knowledge base."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.dialogue import payloads
from assistant.dialogue.policy import Act, EmergencySignal, Evidence, PolicyThresholds, decide
from assistant.dialogue.state import DialogueState
from assistant.settings import Settings
from intents.aspects import AspectPrediction
from intents.base import IntentResult
from knowledge_base.retrieval.fusion import Decision as RD
from knowledge_base.retrieval.index import Candidate, SearchResult

TH = PolicyThresholds()


def search(*scored: tuple[str, float], decision: RD | None = None) -> SearchResult:
    candidates = [Candidate(entry_id, entry_id, score, {}) for entry_id, score in scored]
    if decision is None:
        top = scored[0][1] if scored else 0.0
        decision = RD.answer if top >= TH.answer else RD.clarify if top >= TH.clarify else RD.no_answer
    return SearchResult("q", "q", candidates, decision)


def intent(name: str, confidence: float = 0.9) -> IntentResult:
    return IntentResult(name, confidence, [(name, confidence)])


def aspect(name: str | None, confidence: float = 0.9) -> AspectPrediction:
    return AspectPrediction(name, confidence, [(name or "general", confidence)])


def ev(**fields) -> Evidence:
    fields.setdefault("normalized", "一句话")
    fields.setdefault("intent", intent("ask_service"))
    return Evidence(**fields)


IN_TOPIC = DialogueState(topic_id="senior-age-allowance")


# --- precedence ------------------------------------------------------------------------------------------

def test_an_emergency_outranks_a_button_a_form_and_a_request_for_a_person() -> None:
    state = DialogueState(form={"what": "灯坏了"}, pending_choices=["a", "b"], topic_id="x")
    decision = decide(state, ev(emergency=EmergencySignal("medical", "model"), wants_human=True,
                                payload=payloads.parse("/human"), topic_known=True), TH)
    assert decision.act == Act.emergency
    assert decision.emergency_kind == "medical"
    assert decision.intent == "emergency"


def test_a_form_in_progress_takes_the_message() -> None:
    decision = decide(DialogueState(form={"what": "灯坏了"}), ev(alone=search(("x", 0.9))), TH)
    assert decision.act == Act.continue_report


def test_asking_for_a_person_hands_off() -> None:
    assert decide(DialogueState(), ev(wants_human=True), TH).act == Act.handoff
    assert decide(DialogueState(), ev(intent=intent("request_human")), TH).act == Act.handoff


def test_a_ticket_number_looks_the_ticket_up() -> None:
    decision = decide(DialogueState(), ev(ticket_number="GX20261120003"), TH)
    assert decision.act == Act.ticket_status and decision.number == "GX20261120003"


# --- buttons ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "act"), [
    ("/choose 0", Act.none_of_them), ("/choose 2", Act.pick), ("/human", Act.handoff),
    ("/repeat", Act.repeat), ("/slower", Act.repeat),
])
def test_buttons(text: str, act: Act) -> None:
    state = DialogueState(pending_choices=["a", "b", "c"])
    decision = decide(state, ev(payload=payloads.parse(text)), TH)
    assert decision.act == act
    if act == Act.pick:
        assert decision.index == 1


def test_an_aspect_button_answers_that_aspect_of_the_current_topic() -> None:
    decision = decide(IN_TOPIC, ev(payload=payloads.parse(payloads.aspect("materials")), topic_known=True), TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "senior-age-allowance", "materials")


def test_a_call_button_sent_back_as_text_says_the_number_to_dial() -> None:
    decision = decide(DialogueState(), ev(payload=payloads.parse(payloads.call("120"))), TH)
    assert (decision.act, decision.number) == (Act.call, "120")


def test_a_choice_button_without_choices_is_invalid() -> None:
    assert decide(DialogueState(), ev(payload=payloads.parse("/choose 2")), TH).act == Act.choice_invalid


# --- pending choices -------------------------------------------------------------------------------------

def test_a_spoken_choice_picks_and_a_denial_offers_a_person() -> None:
    state = DialogueState(pending_choices=["a", "b"])
    assert decide(state, ev(normalized="第二个", choice=1, intent=intent("choose_option")), TH).index == 1
    assert decide(state, ev(intent=intent("deny")), TH).act == Act.none_of_them


# --- follow-ups in the current topic ----------------------------------------------------------------------

def test_an_elliptical_aspect_question_follows_up_on_the_current_topic() -> None:
    decision = decide(IN_TOPIC, ev(aspect=aspect("materials", 0.8), alone=search(("public-rental-housing", 0.35)), topic_known=True), TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "senior-age-allowance", "materials")


def test_a_message_that_names_another_topic_strongly_is_a_new_topic_even_with_an_aspect() -> None:
    # 低保要带什么材料 while on 高龄津贴: 低保 is a word 高龄津贴 never uses.
    decision = decide(IN_TOPIC, ev(aspect=aspect("materials", 0.8), alone=search(("minimum-living-allowance", 0.9)),
                                   topic_known=True, uncovered_current=("低保",), uncovered_other=(),
                                   top_aspects=frozenset({"materials"})), TH)
    assert decision.act == Act.answer and decision.topic_id == "minimum-living-allowance"
    assert decision.aspect == "materials"  # 低保要带什么: that aspect of the new topic


def test_a_topic_the_message_alone_finds_loses_when_the_current_topic_reads_better() -> None:
    # 「发票要原件吗」 after 手工报销: alone it finds 发票, read in the topic it stays there.
    state = DialogueState(topic_id="manual-reimbursement")
    decision = decide(state, ev(aspect=aspect("materials", 0.8), alone=search(("referral-invoice", 0.84)),
                                topic_known=True), TH)
    assert (decision.topic_id, decision.aspect) == ("manual-reimbursement", "materials")


def test_a_referral_in_the_current_topic_words_never_pulls_a_follow_up_away() -> None:
    # The same with a near-certain match: a referral (who else handles 发票) is no detail of 手工报销.
    state = DialogueState(topic_id="manual-reimbursement")
    decision = decide(state, ev(aspect=aspect("materials", 0.8), alone=search(("referral-invoice", 0.99)),
                                topic_known=True, referrals=frozenset({"referral-invoice"})), TH)
    assert (decision.topic_id, decision.aspect) == ("manual-reimbursement", "materials")
    # … but a message in words the current topic never uses names the referral's matter.
    decision = decide(state, ev(aspect=aspect("materials", 0.8), alone=search(("referral-invoice", 0.99)),
                                topic_known=True, referrals=frozenset({"referral-invoice"}),
                                uncovered_current=("股票",), uncovered_other=()), TH)
    assert decision.topic_id == "referral-invoice"


def test_a_short_how_question_after_an_answer_asks_for_the_process() -> None:
    ranking = AspectPrediction(None, 0.6, [("general", 0.6), ("process", 0.3), ("time", 0.1)])
    decision = decide(IN_TOPIC, ev(normalized="点样搞", aspect=ranking, alone=search(("x", 0.1)), topic_known=True), TH)
    assert (decision.act, decision.aspect) == (Act.answer, "process")


def test_documents_asked_about_after_an_answer_are_its_materials_not_a_new_topic() -> None:
    # 「身份证同户口簿就得？」 after 高龄津贴: longer than a short follow-up, but made only of aspect words (证件
    # names), so its second reading (materials) is meant, however well 身份证办理 matches alone
    ranking = AspectPrediction(None, 0.7, [("general", 0.7), ("materials", 0.25), ("time", 0.05)])
    nameless = ev(normalized="身份证和户口本就行?", aspect=ranking, alone=search(("id-card-apply-replace", 0.86)),
                  topic_known=True, topic_words=())
    decision = decide(IN_TOPIC, nameless, TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "senior-age-allowance", "materials")
    # a message as long that names something of its own is read afresh
    named = replace(nameless, topic_words=("身份证",), uncovered_current=("身份证",))
    assert decide(IN_TOPIC, named, TH).topic_id == "id-card-apply-replace"


def test_an_aspect_asked_while_choices_are_offered_offers_them_again() -> None:
    offered = DialogueState(pending_choices=["children-in-difficulty", "referral-school-financial-aid"])
    decision = decide(offered, ev(normalized="找谁申请", aspect=aspect("contact", 1.0), topic_words=(),
                                  alone=search(("referral-individual-tax-refund", 0.6))), TH)
    assert (decision.act, decision.options, decision.aspect) == \
        (Act.clarify, ("children-in-difficulty", "referral-school-financial-aid"), "contact")
    # a message that names a topic of its own is a new question
    named = decide(offered, ev(normalized="个税怎么退", aspect=aspect("process", 0.9), topic_words=("个税",),
                               alone=search(("referral-individual-tax-refund", 0.9))), TH)
    assert named.topic_id == "referral-individual-tax-refund"


def test_an_unsure_denial_in_a_topic_loses_to_an_aspect_reading() -> None:
    # 「手机交得唔得」 reads 手机交行不行, and 不行 leans the classifier to deny
    unsure = decide(IN_TOPIC, ev(normalized="手机交行不行", intent=intent("deny", 0.48), aspect=aspect("online", 1.0),
                                 topic_known=True), TH)
    assert (unsure.act, unsure.aspect) == (Act.answer, "online")
    assert decide(IN_TOPIC, ev(normalized="不用了", intent=intent("deny", 0.95), aspect=aspect(None, 0.9),
                               topic_known=True), TH).act == Act.deny


def test_how_do_i_go_about_it_after_the_whole_answer_asks_the_steps() -> None:
    general = AspectPrediction(None, 0.99, [("general", 0.99), ("process", 0.01)])
    how = ev(normalized="怎么弄嘛", aspect=general, topic_words=(), topic_known=True,
             current_aspects=frozenset({"process", "materials"}))
    decision = decide(IN_TOPIC, how, TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "senior-age-allowance", "process")
    # after an aspect was answered, or for a topic without steps, it is the whole answer
    after_materials = DialogueState(topic_id="senior-age-allowance", aspect="materials")
    assert decide(after_materials, how, TH).aspect is None
    assert decide(IN_TOPIC, replace(how, current_aspects=frozenset({"materials"})), TH).aspect is None


def test_a_weak_repeat_reading_loses_to_an_aspect_follow_up() -> None:
    decision = decide(IN_TOPIC, ev(normalized="步骤是什么", intent=intent("repeat", 0.5),
                                   aspect=aspect("process", 0.8), alone=search(("x", 0.1)), topic_known=True), TH)
    assert decision.aspect == "process"
    assert decide(IN_TOPIC, ev(intent=intent("repeat", 0.95), aspect=aspect("process", 0.8),
                               topic_known=True), TH).act == Act.repeat


def test_a_weakly_named_topic_does_not_pull_an_aspect_follow_up_away() -> None:
    # 手机上搞得掂不: 手机 matches 电子社保卡; no word of it is foreign to the current topic, so it stays.
    decision = decide(IN_TOPIC, ev(aspect=aspect("online", 0.7), alone=search(("e-social-security-card", 0.55)), topic_known=True), TH)
    assert decision.topic_id == "senior-age-allowance" and decision.aspect == "online"


def test_a_switch_keeps_the_aspect_being_discussed() -> None:
    state = DialogueState(topic_id="senior-age-allowance", aspect="materials")
    decision = decide(state, ev(switch=search(("public-rental-housing", 0.8)), topic_known=True,
                                alone=search(("public-rental-housing", 0.8))), TH)
    assert (decision.topic_id, decision.aspect) == ("public-rental-housing", "materials")


def test_a_switch_after_a_whole_answer_answers_the_new_topic_whole() -> None:
    decision = decide(IN_TOPIC, ev(switch=search(("public-rental-housing", 0.8)), topic_known=True), TH)
    assert decision.topic_id == "public-rental-housing" and decision.aspect is None


def test_an_unclear_message_in_a_topic_offers_the_topic_aspects_instead_of_giving_up() -> None:
    decision = decide(IN_TOPIC, ev(aspect=aspect(None), alone=search(("x", 0.05)), topic_known=True, uncovered_current=("天空",)), TH)
    assert decision.act == Act.topic_menu and decision.topic_id == "senior-age-allowance"


def test_a_message_in_the_topic_own_words_is_a_follow_up() -> None:
    decision = decide(IN_TOPIC, ev(aspect=aspect(None), alone=search(("x", 0.25), ("y", 0.22)), topic_known=True), TH)
    assert decision.act == Act.answer and decision.topic_id == "senior-age-allowance"


def test_out_of_scope_in_a_topic_gets_the_scope_message_not_the_topic() -> None:
    decision = decide(IN_TOPIC, ev(intent=intent("out_of_scope"), aspect=aspect(None), alone=search(("x", 0.1)),
                                   topic_known=True), TH)
    assert decision.act == Act.fallback and decision.out_of_scope
    # 「今天股票大盘怎么走」 reads as a process question, but the topic never uses its words
    decision = decide(IN_TOPIC, ev(intent=intent("out_of_scope"), aspect=aspect("process", 0.8),
                                   alone=search(("x", 0.1)), topic_known=True, uncovered_current=("股票", "大盘")), TH)
    assert decision.act == Act.fallback and decision.out_of_scope


def test_choosing_with_nothing_offered_is_an_aspect_follow_up_however_sure_the_classifier_is() -> None:
    # 「点进去第一步选什么」 after 手机交养老保险: 选 makes it a choice to the classifier, but nothing was offered
    first_step = ev(intent=intent("choose_option", 0.95), aspect=aspect("process", 0.8), topic_known=True)
    decision = decide(IN_TOPIC, first_step, TH)
    assert (decision.act, decision.aspect) == (Act.answer, "process")
    offered = DialogueState(topic_id="senior-age-allowance", pending_choices=["a", "b"])
    assert decide(offered, first_step, TH).act != Act.answer


def test_a_money_word_alone_after_an_answer_asks_what_that_service_costs() -> None:
    # 「要给钱吗」 after an answer: 钱 is a broad word, but the message has no word but aspect words
    money = ev(normalized="要给钱吗", aspect=aspect("fees", 0.87), topic_words=(), broad_options=("a", "b", "c"),
               broad_bare=True, alone=search(("x", 0.1)), topic_known=True)
    decision = decide(IN_TOPIC, money, TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "senior-age-allowance", "fees")
    # with no topic, or with a word of its own (「补贴」), it stays a broad request
    assert decide(DialogueState(), money, TH).broad
    subsidy = ev(normalized="补贴", aspect=aspect(None), topic_words=("补贴",), broad_options=("a", "b", "c"),
                 broad_bare=True, topic_known=True)
    assert decide(IN_TOPIC, subsidy, TH).broad


def test_a_short_follow_up_surely_about_an_aspect_beats_an_unsure_out_of_scope_reading() -> None:
    # 「每户出多少钱」 after 老楼加装电梯: 每户 is no word of the topic, and the classifier leans out of scope
    unsure_out = IntentResult("out_of_scope", 0.63, [("out_of_scope", 0.63), ("ask_service", 0.36)])
    followup = ev(normalized="每户出多少钱", intent=unsure_out, aspect=aspect("fees", 0.99),
                  alone=search(("x", 0.07)), topic_known=True, topic_words=("每户",), uncovered_current=("每户",))
    decision = decide(IN_TOPIC, followup, TH)
    assert (decision.act, decision.aspect) == (Act.answer, "fees")
    # not when the recogniser is merely likely, nor when the message is long
    assert decide(IN_TOPIC, replace(followup, aspect=aspect("fees", 0.8)), TH).out_of_scope
    long = replace(followup, normalized="今天股票大盘每一股多少钱")
    assert decide(IN_TOPIC, long, TH).out_of_scope


# --- a message read afresh ---------------------------------------------------------------------------------

def test_a_broad_request_is_offered_its_options() -> None:
    options = ("a", "b", "c", "d", "e", "f", "g")
    decision = decide(DialogueState(), ev(broad_options=options, alone=search(("a", 0.9))), TH)
    assert decision.act == Act.clarify and decision.options == options[: TH.broad_max_options]


def test_a_broad_request_with_too_few_options_is_not_a_broad_clarification() -> None:
    decision = decide(DialogueState(), ev(broad_options=("a", "b"), alone=search(("a", 0.9))), TH)
    assert decision.act == Act.answer


def test_two_request_clauses_on_two_topics_offer_both() -> None:
    decision = decide(DialogueState(), ev(alone=search(("a", 0.6), ("b", 0.3)),
                                          clauses=(search(("a", 0.7)), search(("b", 0.8)))), TH)
    assert decision.act == Act.clarify and decision.options == ("a", "b")


def test_a_clause_topic_the_whole_message_does_not_support_is_not_offered() -> None:
    decision = decide(DialogueState(), ev(alone=search(("a", 0.6), ("c", 0.3)),
                                          clauses=(search(("a", 0.7)), search(("b", 0.8)))), TH)
    assert decision.act == Act.answer and decision.topic_id == "a"


def test_an_aspect_word_never_lifts_a_weak_topic_into_an_answer() -> None:
    decision = decide(DialogueState(), ev(aspect=aspect("materials", 0.99), alone=search(("a", 0.25), ("b", 0.2))), TH)
    assert decision.act != Act.answer


def test_a_clarification_never_has_a_single_option() -> None:
    unsure = IntentResult("ask_service", 0.6, [("ask_service", 0.6), ("out_of_scope", 0.3)])
    decision = decide(DialogueState(), ev(intent=unsure, alone=search(("a", 0.3), ("b", 0.01), decision=RD.clarify)),
                      TH)
    assert decision.act == Act.fallback
    decision = decide(DialogueState(), ev(alone=search(("a", 0.3), ("b", 0.25), decision=RD.clarify)), TH)
    assert decision.act == Act.clarify and len(decision.options) == 2


def test_out_of_scope_is_refused_unless_a_referral_answers_it() -> None:
    oos = intent("out_of_scope")
    assert decide(DialogueState(), ev(intent=oos, alone=search(("a", 0.6))), TH).out_of_scope
    decision = decide(DialogueState(), ev(intent=oos, alone=search(("referral-tax", 0.8)),
                                          referrals=frozenset({"referral-tax"})), TH)
    assert decision.act == Act.answer and decision.topic_id == "referral-tax"


def test_the_pretrained_encoder_can_outweigh_an_out_of_scope_reading() -> None:
    # 「新农合今年几钱一个人」: the classifier half reads chit-chat; the encoder puts it far nearer the entry's
    # questions than any out-of-scope example.
    unsure_out = IntentResult("out_of_scope", 0.66, [("out_of_scope", 0.66), ("ask_service", 0.33)])
    vouched = ev(intent=unsure_out, alone=search(("medical-insurance", 0.93)), in_scope_margin=TH.in_scope_margin)
    decision = decide(DialogueState(), vouched, TH)
    assert decision.act == Act.answer and decision.topic_id == "medical-insurance"
    assert decision.intent == "ask_service" and decision.low_confidence  # logged for review
    assert "pretrained" in decision.reason
    # Just short of the margin, not asked (None), or retrieval only offering: still refused.
    for refused in (replace(vouched, in_scope_margin=TH.in_scope_margin - 0.001),
                    replace(vouched, in_scope_margin=None),
                    replace(vouched, alone=search(("medical-insurance", 0.3)))):
        decision = decide(DialogueState(), refused, TH)
        assert decision.act == Act.fallback and decision.out_of_scope


def test_the_encoder_never_lifts_a_doubtful_match() -> None:
    # A match short of confident that leaves words of the message unexplained stays refused, as without it.
    unsure_out = IntentResult("out_of_scope", 0.55, [("out_of_scope", 0.55), ("ask_service", 0.44)])
    decision = decide(DialogueState(), ev(intent=unsure_out, alone=search(("a", 0.6)), in_scope_margin=0.2,
                                          uncovered_alone=("装修公司",)), TH)
    assert decision.act == Act.fallback and decision.out_of_scope


def test_a_confident_answer_answers_and_a_borderline_one_is_logged() -> None:
    decision = decide(DialogueState(), ev(alone=search(("a", 0.45))), TH)
    assert decision.act == Act.answer and decision.low_confidence
    assert not decide(DialogueState(), ev(alone=search(("a", 0.9))), TH).low_confidence


def test_small_talk_wins_over_a_weak_match() -> None:
    decision = decide(DialogueState(), ev(normalized="你好", intent=intent("greet", 0.6), alone=search(("a", 0.5))),
                      TH)
    assert decision.act == Act.smalltalk and decision.intent == "greet"


def test_settings_fill_the_thresholds() -> None:
    settings = Settings.model_construct(answer_threshold=0.5, clarify_threshold=0.25, policy_new_topic=0.66,
                                        **{f: v.default for f, v in Settings.model_fields.items()
                                           if f not in ("answer_threshold", "clarify_threshold", "policy_new_topic")})
    th = PolicyThresholds.from_settings(settings)
    assert (th.answer, th.clarify, th.new_topic) == (0.5, 0.25, 0.66)


def test_the_settings_defaults_are_the_policys() -> None:
    named = {name: Settings.model_fields[f"policy_{name}"].default for name in PolicyThresholds.__dataclass_fields__
             if f"policy_{name}" in Settings.model_fields}
    assert "in_scope_margin" in named
    assert named == {name: getattr(TH, name) for name in named}


def test_a_near_certain_match_switches_even_when_the_current_topic_has_the_words() -> None:
    decision = decide(IN_TOPIC, ev(aspect=aspect(None), alone=search(("public-rental-housing", 0.97)), topic_known=True), TH)
    assert decision.topic_id == "public-rental-housing"


def test_a_weak_match_on_words_the_entry_never_uses_is_not_answered_when_the_classifier_doubts() -> None:
    doubt = IntentResult("ask_service", 0.5, [("ask_service", 0.5), ("out_of_scope", 0.36)])
    decision = decide(DialogueState(), ev(intent=doubt, alone=search(("community-job-postings", 0.6)),
                                          uncovered_alone=("装修", "公司")), TH)
    assert decision.act == Act.fallback and decision.out_of_scope
    # the same match without the doubt, or without foreign words, or strong enough, is answered
    sure = IntentResult("ask_service", 0.95, [("ask_service", 0.95), ("out_of_scope", 0.02)])
    assert decide(DialogueState(), ev(intent=sure, alone=search(("a", 0.6)), uncovered_alone=("装修",)), TH).act == Act.answer
    assert decide(DialogueState(), ev(intent=doubt, alone=search(("a", 0.6))), TH).act == Act.answer
    assert decide(DialogueState(), ev(intent=doubt, alone=search(("a", 0.9)), uncovered_alone=("x",)), TH).act == Act.answer


def test_a_first_answer_gives_only_an_aspect_the_entry_describes() -> None:
    asked = ev(aspect=aspect("materials", 0.9), alone=search(("a", 0.9)), top_aspects=frozenset({"materials"}))
    assert decide(DialogueState(), asked, TH).aspect == "materials"
    lacking = ev(aspect=aspect("online", 0.9), alone=search(("a", 0.9)), top_aspects=frozenset({"materials"}))
    assert decide(DialogueState(), lacking, TH).aspect is None


def test_one_candidate_far_ahead_is_answered_when_surely_a_service_question() -> None:
    sure = IntentResult("ask_service", 0.95, [("ask_service", 0.95), ("out_of_scope", 0.01)])
    weak = search(("home-aging-renovation", 0.24), ("home-care-service", 0.05), decision=RD.clarify)
    decision = decide(DialogueState(), ev(intent=sure, alone=weak), TH)
    assert decision.act == Act.answer and decision.low_confidence
    unsure = IntentResult("ask_service", 0.6, [("ask_service", 0.6), ("out_of_scope", 0.3)])
    assert decide(DialogueState(), ev(intent=unsure, alone=weak), TH).act != Act.answer


# --- added with the second pass on issue 12 ---------------------------------------------------------------

def test_a_sure_out_of_scope_reading_is_no_broad_request() -> None:
    # 「比特币现在多少钱」: 钱 is a broad word, but the classifier is sure this is no service
    oos = intent("out_of_scope", 0.9)
    decision = decide(DialogueState(), ev(intent=oos, broad_options=("a", "b", "c"), alone=search(("a", 0.05))), TH)
    assert decision.act == Act.fallback and decision.out_of_scope
    unsure = intent("out_of_scope", TH.out_of_scope_over_broad - 0.1)
    assert decide(DialogueState(), ev(intent=unsure, broad_options=("a", "b", "c")), TH).act == Act.clarify


def test_weak_candidates_that_never_use_the_words_are_not_offered_when_the_classifier_doubts() -> None:
    doubt = IntentResult("ask_service", 0.5, [("ask_service", 0.5), ("out_of_scope", 0.3)])
    candidates = search(("a", 0.33), ("b", 0.2), decision=RD.clarify)
    decision = decide(DialogueState(), ev(intent=doubt, alone=candidates, uncovered_alone=("三月",)), TH)
    assert decision.act == Act.fallback and decision.out_of_scope
    sure = IntentResult("ask_service", 0.95, [("ask_service", 0.95), ("out_of_scope", 0.02)])
    assert decide(DialogueState(), ev(intent=sure, alone=candidates, uncovered_alone=("三月",)), TH).act == Act.clarify


def test_in_a_topic_a_message_that_finds_nothing_gets_the_topic_menu_not_i_cannot_answer() -> None:
    # 「帮老人做要怎么弄」: a weak match elsewhere, a word the topic never uses, no aspect reading
    unsure = IntentResult("ask_service", 0.78, [("ask_service", 0.78), ("out_of_scope", 0.13)])
    decision = decide(IN_TOPIC, ev(intent=unsure, aspect=aspect(None), topic_known=True, uncovered_current=("做要",),
                                   alone=search(("x", 0.25), ("y", 0.05), decision=RD.clarify)), TH)
    assert decision.act == Act.topic_menu and decision.topic_id == "senior-age-allowance"
    # …but an out-of-scope question still gets the scope message
    decision = decide(IN_TOPIC, ev(intent=intent("out_of_scope"), aspect=aspect(None), alone=search(("x", 0.05)),
                                   topic_known=True, uncovered_current=("股票",)), TH)
    assert decision.act == Act.fallback and decision.out_of_scope


def test_a_short_question_that_names_no_other_topic_better_stays_in_the_topic() -> None:
    # 「中午休息吗」 finds 社区卫生服务中心 alone; each topic lacks one of its words: no reason to switch
    decision = decide(IN_TOPIC, ev(normalized="中午休息吗", aspect=aspect(None),
                                   alone=search(("community-health-center", 0.79)), topic_known=True,
                                   uncovered_current=("休息",), uncovered_other=("中午",)), TH)
    assert decision.act == Act.topic_menu and decision.topic_id == "senior-age-allowance"
    # a long message with the same evidence is read afresh
    decision = decide(IN_TOPIC, ev(normalized="中午休息吗" * 3, aspect=aspect(None),
                                   alone=search(("community-health-center", 0.79)), topic_known=True,
                                   uncovered_current=("休息",), uncovered_other=("中午",)), TH)
    assert decision.topic_id == "community-health-center"


def test_words_no_entry_uses_do_not_make_another_topic_fit_better() -> None:
    # 「排队要排多久」: 要排 is a segmentation scrap no entry uses; it must not count against the current topic
    evidence = dict(aspect=aspect("time", 0.99), alone=search(("nursing-home-admission", 0.85)), topic_known=True,
                    uncovered_current=("要排",), uncovered_other=())
    assert decide(IN_TOPIC, ev(**evidence), TH).topic_id == "nursing-home-admission"
    decision = decide(IN_TOPIC, ev(**evidence, unknown_words=frozenset({"要排"})), TH)
    assert (decision.topic_id, decision.aspect) == ("senior-age-allowance", "time")


def test_a_follow_up_made_of_aspect_words_only_names_no_topic() -> None:
    # 「附近哪里有」 matches 便民服务 alone almost certainly, but every word of it is an aspect word
    evidence = dict(aspect=aspect("location", 0.94), alone=search(("community-merchants", 0.99)), topic_known=True)
    assert decide(IN_TOPIC, ev(**evidence), TH).topic_id == "community-merchants"
    decision = decide(IN_TOPIC, ev(**evidence, topic_words=()), TH)
    assert (decision.topic_id, decision.aspect) == ("senior-age-allowance", "location")


def test_a_switch_with_one_good_candidate_answers_it() -> None:
    # 「那两项补贴呢」: the index offers one candidate (its words are unknown as such) — 那…呢 asks for it
    state = DialogueState(topic_id="disability-certificate", aspect="fees")
    decision = decide(state, ev(switch=search(("disability-two-subsidies", 0.5), decision=RD.clarify),
                                topic_known=True), TH)
    assert (decision.act, decision.topic_id, decision.aspect) == (Act.answer, "disability-two-subsidies", "fees")
    assert decision.low_confidence


# --- a spoken question's readings (n-best) ---
def test_the_recognisers_best_reading_is_kept_when_it_was_understood() -> None:
    from assistant.dialogue.policy import Decision, choose_reading

    assert choose_reading([Decision(Act.answer), Decision(Act.emergency)]) == 0
    assert choose_reading([Decision(Act.handoff), Decision(Act.answer)]) == 0


def test_an_unsure_reading_gives_way_to_a_reading_that_was_understood() -> None:
    from assistant.dialogue.policy import Decision, choose_reading

    assert choose_reading([Decision(Act.fallback), Decision(Act.clarify), Decision(Act.answer)]) == 2
    assert choose_reading([Decision(Act.clarify), Decision(Act.answer), Decision(Act.emergency)]) == 2
    assert choose_reading([Decision(Act.topic_menu), Decision(Act.fallback)]) == 0
    assert choose_reading([]) == 0
