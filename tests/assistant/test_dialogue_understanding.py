"""The stages before the policy, on the tiny knowledge base with fake models: what evidence they collect."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.dialogue import payloads
from assistant.dialogue.clauses import asks_two_things, is_request, request_clauses, split_clauses
from assistant.dialogue.policy import EmergencySignal, PolicyThresholds
from assistant.dialogue.state import DialogueState
from assistant.dialogue.understanding import Understanding
from intents.aspects import FakeAspectRecognizer
from intents.emergency import EmergencyExamples, FakeEmergencyDetector
from intents.fake import FakeIntentClassifier
from knowledge_base.dialect import DialectLexicon
from knowledge_base.engine import KnowledgeBase
from knowledge_base.loader import load_entries
from knowledge_base.profile import load_profile
from knowledge_base.retrieval.fusion import Decision as RetrievalDecision
from knowledge_base.retrieval.index import Candidate, RetrievalConfig, SearchResult
from knowledge_base.synonyms import load_synonyms


@pytest.fixture
def classifier() -> FakeIntentClassifier:
    return FakeIntentClassifier()


@pytest.fixture
def understanding(classifier: FakeIntentClassifier) -> Understanding:
    return Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(), PolicyThresholds())


@pytest.fixture(scope="module")
def cantonese_kb(tiny_kb):
    lexicon = DialectLexicon.from_rows([{"form": "使唔使", "mandarin": "要不要", "region": "粤语"},
                                        {"form": "攞", "mandarin": "拿", "region": "粤语"}])
    return dataclasses.replace(tiny_kb, dialect=lexicon)


def test_dialect_is_rewritten_before_any_stage_reads_the_message(understanding, classifier, cantonese_kb) -> None:
    evidence = understanding.read(cantonese_kb, DialogueState(), "使唔使带身份证去攞社保卡")
    assert evidence.normalized == "要不要带身份证去拿社保卡"
    assert classifier.calls and "使唔使" not in classifier.calls[-1]


def test_a_button_is_read_without_classifying(understanding, classifier, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="senior-age-allowance"),
                                  payloads.aspect("materials"))
    assert evidence.payload == payloads.parse("/aspect materials")
    assert evidence.topic_known and not classifier.calls


def test_the_emergency_detector_raises_an_alert_without_keywords(classifier, tiny_kb) -> None:
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector({"躺着不动": "medical"}),
                                  PolicyThresholds())
    evidence = understanding.read(tiny_kb, DialogueState(), "我爸在厕所躺着不动")
    assert evidence.emergency is not None and evidence.emergency.kind == "medical"
    assert evidence.emergency.source == "model"


def test_a_detector_reading_must_be_surer_when_the_message_asks_for_a_service(classifier, tiny_kb) -> None:
    class Reading(FakeEmergencyDetector):
        def read(self, normalized: str):  # the same moderate danger for every message
            from intents.emergency import EmergencyReading

            return EmergencyReading("fire", 0.6, 0.6)

    understanding = Understanding(classifier, FakeAspectRecognizer(), Reading({}), PolicyThresholds())
    assert understanding.read(tiny_kb, DialogueState(), "屋里冒烟了好呛").emergency is not None
    assert understanding.read(tiny_kb, DialogueState(), "冒烟的事能申请补助吗").emergency is None


def test_the_emergency_rules_stay_quiet_for_a_past_event_or_an_application(classifier, tiny_kb) -> None:
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector({}), PolicyThresholds())
    for text in ("去年家里着火了能申请救助吗", "万一老人走丢了怎么办", "怎么预防煤气中毒", "我爸前年中风了能办残疾证吗"):
        assert understanding.read(tiny_kb, DialogueState(), text).emergency is None, text
    for text in ("楼下着火了", "老伴嘴巴歪了说话不清", "我不想活了"):
        assert understanding.read(tiny_kb, DialogueState(), text).emergency is not None, text


def test_a_follow_up_is_read_with_its_aspect_and_the_topic_words(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="senior-age-allowance"), "高龄津贴要带什么材料")
    assert evidence.aspect.name == "materials"
    assert evidence.alone is not None and evidence.uncovered_current == ()  # 材料 is an aspect word, not a topic


def test_words_a_topic_never_uses_are_found(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="community-elderly-canteen"), "社保卡丢了怎么办")
    assert "社保卡" in evidence.uncovered_current
    assert evidence.alone is not None and evidence.alone.top is not None
    assert evidence.alone.top.entry_id == "social-security-card-loss"
    assert "社保卡" not in evidence.uncovered_other


def test_a_switch_target_is_searched(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="senior-age-allowance"), "那老年食堂呢")
    assert evidence.switch is not None and evidence.switch.top is not None
    assert evidence.switch.top.entry_id == "community-elderly-canteen"


def test_a_bare_broad_word_gets_options_from_its_category(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(), "社保")
    assert evidence.broad_bare
    assert set(evidence.broad_options) == {"social-security-card-apply", "social-security-card-loss",
                                           "resident-pension-claim"}
    assert not understanding.read(tiny_kb, DialogueState(), "社保卡丢了怎么补办").broad_bare


def test_a_broad_word_typed_as_a_homophone_is_still_broad(understanding, tiny_kb) -> None:
    # 设保 (pinyin input) is 社保: the same choices, not 「不会回答」. (社宝 itself is listed in the user dictionary
    # and the shipped synonyms, so it is no test of the correction by sound.)
    evidence = understanding.read(tiny_kb, DialogueState(), "设保")
    assert evidence.broad_bare
    assert set(evidence.broad_options) == {"social-security-card-apply", "social-security-card-loss",
                                           "resident-pension-claim"}


def _result(*scored: tuple[str, float], answered: bool) -> SearchResult:
    candidates = [Candidate(entry_id, entry_id, score, {}) for entry_id, score in scored]
    return SearchResult("q", "q", candidates, RetrievalDecision.answer if answered else RetrievalDecision.clarify)


def test_a_request_clause_read_alone_must_be_backed_by_the_whole_message(understanding) -> None:
    whole = _result(("disaster-warning-sources", 0.35), ("typhoon-flood-warning", 0.3), answered=False)
    # 「……有什么办法让他们能收到」 alone finds 法律援助, which the whole message never pointed at
    assert not understanding._request_reading_holds(_result(("legal-aid", 0.45), answered=True), whole)
    assert understanding._request_reading_holds(_result(("typhoon-flood-warning", 0.45), answered=True), whole)
    # sure by itself, it stands; weaker than the whole message's best, it never does
    assert understanding._request_reading_holds(_result(("legal-aid", 0.8), answered=True), whole)
    assert not understanding._request_reading_holds(_result(("typhoon-flood-warning", 0.25), answered=False), whole)
    assert understanding._request_reading_holds(_result(("typhoon-flood-warning", 0.38), answered=False), whole)


# --- long messages (pure functions) -------------------------------------------------------------------------

STORY = "我妈今年八十三了，一个人住在乡下，腿脚也不好，我在南宁打工照顾不到，想问下她能不能领高龄津贴"


def test_a_long_message_is_read_by_its_request_clauses() -> None:
    assert split_clauses(STORY)[0] == "我妈今年八十三了"
    assert request_clauses(STORY) == ["想问下她能不能领高龄津贴"]
    assert request_clauses("高龄津贴怎么领") == ["高龄津贴怎么领"]  # short: the message is its own request


def test_spaces_between_chinese_words_end_a_clause_as_punctuation_does() -> None:
    # Typed on a phone or spoken into one: no punctuation at all, only spaces.
    spaced = STORY.replace("，", " ")
    assert split_clauses(spaced) == split_clauses(STORY)
    assert request_clauses(spaced) == ["想问下她能不能领高龄津贴"]
    assert split_clauses("广西人社app 上面怎么认证") == ["广西人社app 上面怎么认证"]  # a space after a Latin word stays


def test_the_last_clause_counts_even_without_a_question_word() -> None:
    story = "我家老人八十五岁了，一个人住在乡下，身体也不太好，儿女都在外地，高龄津贴"
    assert request_clauses(story)[-1] == "高龄津贴"


def test_request_cues_and_a_second_question() -> None:
    assert is_request("社保卡去哪里补") and is_request("我想办个残疾证") and not is_request("我老伴前年走了")
    assert asks_two_things("还有她的医保卡丢了怎么补") and not asks_two_things(STORY)


LIVING_ALONE = "我跟你讲啊，我一个人住在三楼，儿子在广东打工，一年才回来一次，腿脚也不太灵便，想问下她能不能领高龄津贴"


def test_a_story_with_one_request_clause_is_read_by_that_clause(understanding, tiny_kb_dir) -> None:
    # The story dilutes the whole message; its one request clause names the topic. Without the pretrained signal
    # the fast ones leave the whole story unsure (0.11), so the clause is read.
    fast_only = KnowledgeBase.build(load_entries(tiny_kb_dir), load_synonyms(tiny_kb_dir / "synonyms.yaml"),
                                    load_profile(tiny_kb_dir / "community_profile.example.yaml"),
                                    config=RetrievalConfig(pretrained=""))
    evidence = understanding.read(fast_only, DialogueState(), LIVING_ALONE)
    assert evidence.alone is not None and evidence.alone.top is not None
    assert evidence.alone.top.entry_id == "senior-age-allowance"
    assert evidence.whole is not None  # the whole story was read first


def test_the_pretrained_signal_reads_a_whole_story(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(), LIVING_ALONE)
    assert evidence.alone is not None and evidence.alone.decision == RetrievalDecision.answer
    assert evidence.alone.top.entry_id == "senior-age-allowance"
    assert evidence.whole is None  # settled by the whole message: no clause needed


def test_words_no_entry_uses_and_topic_words_are_collected(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="senior-age-allowance"), "比特币高龄津贴")
    assert evidence.topic_words is not None and "高龄津贴" in "".join(evidence.topic_words)
    assert any("比特" in w for w in evidence.unknown_words)
    assert not any("高龄" in w for w in evidence.unknown_words)


@pytest.mark.parametrize("message", ["一个月能补几百块", "能给300元吗", "补1000块"])
def test_amounts_name_no_topic(understanding, tiny_kb, message: str) -> None:
    # 「一个月能补几百块」 asks how much of whatever is discussed: 几百块 is no topic of its own
    evidence = understanding.read(tiny_kb, DialogueState(topic_id="senior-age-allowance"), message)
    assert evidence.topic_words is not None
    assert not any(ch.isdigit() or "百" in w or "块" in w for w in evidence.topic_words for ch in w)


def _kb_with(tiny_kb_data: dict, write_kb, directory, files: dict):
    """The tiny KB with more entry files, built as the server builds it."""
    from knowledge_base.engine import KnowledgeBase
    from knowledge_base.loader import load_entries
    from knowledge_base.profile import load_profile
    from knowledge_base.synonyms import load_synonyms

    written = write_kb(directory, {**tiny_kb_data, "entries": {**tiny_kb_data["entries"], **files}})
    return KnowledgeBase.build(load_entries(written), load_synonyms(written / "synonyms.yaml"),
                               load_profile(written / "community_profile.example.yaml"))


def test_a_broad_switch_target_prefers_the_entry_that_shares_the_current_subject(classifier, tiny_kb_data,
                                                                                  write_kb, tmp_path) -> None:
    # 「那医保呢」 after 新生儿上户口: of the 医保 entries, the newborn's is meant, even if the plain one scores higher
    def entry(entry_id: str, title: str, questions: list[str]) -> dict:
        return {"id": entry_id, "title": title, "department": "医保", "status": "published", "questions": questions,
                "answer": f"{title}：到社区服务中心问。", "aspects": {"materials": "身份证。"}}

    kb = _kb_with(tiny_kb_data, write_kb, tmp_path / "kb", {"yibao.yaml": {"category": "yibao", "entries": [
        entry("resident-medical-insurance-enroll", "城乡居民医保每年什么时候缴费",
              ["医保怎么交", "医保每年交多少", "居民医保什么时候交", "医保", "交医保", "医保缴费", "医保交费时间",
               "今年医保多少钱", "医保在哪交"]),
        entry("newborn-medical-insurance", "新生儿怎么参加医保",
              [f"{who}{how}" for who in ("刚出生的孩子", "宝宝", "新生儿") for how in ("医保", "的医保", "办医保")]),
        entry("medical-assistance", "困难群众看病怎么申请医疗救助",
              [f"{who}{how}" for who in ("家里困难", "没钱", "低保户") for how in ("看病怎么办", "医疗救助", "看病能补吗")]),
    ]}, "huji.yaml": {"category": "huji", "entries": [
        entry("newborn-household-registration", "新生儿怎么上户口",
              [f"{who}{how}" for who in ("孩子出生了", "宝宝", "新生儿") for how in ("怎么上户口", "落户", "报户口")]),
    ]}})
    # a knowledge base this small scores everything but the best match near zero: no floor for the kin here
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(),
                                  PolicyThresholds(switch_kin=0.0))
    assert _top_of(kb.search("医保", k=10)) == "resident-medical-insurance-enroll"
    assert _switched_to(understanding, kb, "newborn-household-registration", "那医保呢") == "newborn-medical-insurance"
    assert _switched_to(understanding, kb, "senior-age-allowance", "那医保呢") != "newborn-medical-insurance"


def _top_of(result: SearchResult | None) -> str | None:
    return result.top.entry_id if result is not None and result.top is not None else None


def _switched_to(understanding: Understanding, kb, current: str, text: str) -> str | None:
    return _top_of(understanding.read(kb, DialogueState(topic_id=current), text).switch)


def test_a_switch_keeps_the_question_and_changes_only_the_thing(classifier, tiny_kb_data, write_kb, tmp_path) -> None:
    # 「身份证丢了」…「那社保卡呢」: 社保卡 alone is best answered by 社保卡申领, but the resident lost that card too
    kb = _kb_with(tiny_kb_data, write_kb, tmp_path / "kb", {"huji.yaml": {"category": "huji", "entries": [
        {"id": "id-card-apply-replace", "title": "身份证丢了怎么补办", "department": "公安", "status": "published",
         "answer": "带户口本到派出所补办。", "aspects": {"materials": "户口本。"},
         "questions": ["身份证丢了", "身份证不见了怎么办", "补办身份证", "身份证掉了去哪补", "身份证丢了要带什么",
                       "身份证被偷了", "身份证补办要多久", "补身份证要钱吗"]},
    ]}})
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(),
                                  PolicyThresholds(clarify=0.0))  # a KB this small scores the runner-up near zero
    assert _top_of(kb.search("社保卡", k=10)) == "social-security-card-apply"
    assert _switched_to(understanding, kb, "id-card-apply-replace", "那社保卡呢") == "social-security-card-loss"
    # with no shared subject (高龄津贴 has nothing of 丢了/补办), 社保卡 keeps its own best entry
    assert _switched_to(understanding, kb, "senior-age-allowance", "那社保卡呢") == "social-security-card-apply"


def test_asking_what_there_is_is_marked_on_the_broad_request(tiny_kb) -> None:
    # 「老人补贴有哪些」 asks what there is (options even when one entry matches); 「…怎么申请」 asks for one
    from assistant.dialogue.broad import find_broad_request

    listing = find_broad_request(tiny_kb, "老人家的补贴有哪些", {}, 6)
    assert listing is not None and listing.asks_for_list
    asking = find_broad_request(tiny_kb, "老人家的补贴怎么申请", {}, 6)
    assert asking is None or not asking.asks_for_list
    # the things to do after a life event: 「生了孩子要办哪些事」, 「生小孩之后要弄什么」
    for message in ("生了孩子要办哪些事", "生小孩之后要弄什么", "刚刚生了娃,手续有哪些"):
        event = find_broad_request(tiny_kb, message, {}, 6)
        assert event is not None and event.asks_for_list, message
    # words the segmenter glues to the generic surface (我要, 整个) are no other words: 「我要整个补贴」 names 补贴 only
    glued = find_broad_request(tiny_kb, "我要整个补贴", {}, 6)
    assert glued is not None and glued.others == ()
    # 「我能申请点什么」 names nothing at all: the services residents ask most
    anything = find_broad_request(tiny_kb, "我能申请点什么", {}, 6)
    assert anything is not None and anything.bare and len(anything.options) >= 3


def test_how_do_i_go_about_it_adds_nothing_to_a_broad_word(understanding, tiny_kb) -> None:
    assert understanding.read(tiny_kb, DialogueState(), "社保怎么弄").broad_bare
    assert understanding.read(tiny_kb, DialogueState(), "关于社保的问题").broad_bare


def test_what_can_i_apply_for_offers_services_from_several_categories(understanding, tiny_kb) -> None:
    evidence = understanding.read(tiny_kb, DialogueState(), "有什么可以申请的")
    assert evidence.broad_bare and len(evidence.broad_options) >= 3
    categories = {tiny_kb.entries[e].category for e in evidence.broad_options[:2]}
    assert len(categories) == 2  # one category after another, not all of one kind first


def test_a_broad_word_among_strong_close_candidates_leaves_the_choice_to_them(understanding, tiny_kb,
                                                                               monkeypatch) -> None:
    # 「社保几岁可以领」: 社保 is in several titles, but the message narrows it to two strong candidates (retrieval
    # only could not tell them apart): those are the choice, not every 社保 entry
    close = _result(("resident-pension-claim", 0.44), ("social-security-card-apply", 0.42), answered=False)
    monkeypatch.setattr(type(tiny_kb), "search", lambda self, text, k=10: close)
    assert understanding.read(tiny_kb, DialogueState(), "社保几岁可以领").broad_options == ()
    weak = _result(("resident-pension-claim", 0.3), ("social-security-card-apply", 0.25), answered=False)
    monkeypatch.setattr(type(tiny_kb), "search", lambda self, text, k=10: weak)
    assert understanding.read(tiny_kb, DialogueState(), "社保几岁可以领").broad_options


OUT_OF_SCOPE_EXAMPLES = ("比特币现在多少钱", "讲个笑话听听")


def test_the_encoder_is_asked_only_when_an_out_of_scope_reading_meets_an_answer(classifier, tiny_kb) -> None:
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(), PolicyThresholds(),
                                  out_of_scope_examples=OUT_OF_SCOPE_EXAMPLES)
    entry = next(iter(tiny_kb.entries.values()))
    question = entry.questions[0]
    classifier.set_response(question, ("out_of_scope", 0.6))
    evidence = understanding.read(tiny_kb, DialogueState(), question)
    assert evidence.alone is not None and evidence.alone.decision == RetrievalDecision.answer
    expected = tiny_kb.index.pretrained_margin(evidence.alone.query, evidence.alone.top.entry_id,
                                               OUT_OF_SCOPE_EXAMPLES)
    assert evidence.in_scope_margin == pytest.approx(expected) and expected > 0
    # The classifier reads a service question: nothing to outweigh, the encoder is not asked.
    classifier.set_response(question, ("ask_service", 0.9))
    assert understanding.read(tiny_kb, DialogueState(), question).in_scope_margin is None
    # Out of scope, and retrieval would not answer either.
    classifier.set_response("比特币今天涨了没有", ("out_of_scope", 0.9))
    far = understanding.read(tiny_kb, DialogueState(), "比特币今天涨了没有")
    assert far.alone is None or far.alone.decision != RetrievalDecision.answer
    assert far.in_scope_margin is None


DANGER_EXAMPLES = EmergencyExamples(
    ("medical", "fire"),
    (("我爸胸口好痛出冷汗", "老人突然倒地叫不醒"), ("厨房着火了烟好大", "楼下起火了"),
     ("今天天气怎么样", "讲个笑话听听", "比特币现在多少钱")))


def test_a_message_about_to_get_the_scope_message_is_read_for_danger_by_the_encoder(classifier, tiny_kb,
                                                                                      monkeypatch) -> None:
    # no rule and no detector cue: only the encoder can tell that a cold sweat and a pale face are a danger
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(cues={}),
                                  PolicyThresholds(), emergency_examples=DANGER_EXAMPLES)
    pain = "阿公成身出冷汗 面色好白 坐都坐唔稳"
    classifier.set_response(pain, ("out_of_scope", 0.6))
    assert understanding.read(tiny_kb, DialogueState(), pain).emergency == EmergencySignal("medical", "encoder")
    chat = "今日天气点样"
    classifier.set_response(chat, ("out_of_scope", 0.9))
    assert understanding.read(tiny_kb, DialogueState(), chat).emergency is None
    # a threshold above any lead: no alert
    strict = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(cues={}),
                           PolicyThresholds(emergency_encoder_margin=2.0), emergency_examples=DANGER_EXAMPLES)
    assert strict.read(tiny_kb, DialogueState(), pain).emergency is None
    # retrieval answers the message (「天好热阿公头晕冒汗是不是发痧了」 has its entry): the answer, not an alert
    answered = _result((next(iter(tiny_kb.entries)), 0.9), answered=True)
    with monkeypatch.context() as patch:
        patch.setattr(type(tiny_kb), "search", lambda self, text, k=10: answered)
        assert understanding.read(tiny_kb, DialogueState(), pain).emergency is None
    # asking for a service, looking back, or a few characters: the encoder is not asked at all
    asked: list[str] = []
    original = type(tiny_kb.index).pretrained_nearest
    monkeypatch.setattr(type(tiny_kb.index), "pretrained_nearest",
                        lambda self, query, groups: asked.append(query) or original(self, query, groups))
    looking_back = "去年阿公成身出冷汗 住院能报销吗"
    classifier.set_response(looking_back, ("out_of_scope", 0.6))
    assert understanding.read(tiny_kb, DialogueState(), looking_back).emergency is None
    short = "好久开门"  # a few characters are near anything
    classifier.set_response(short, ("out_of_scope", 0.6))
    assert understanding.read(tiny_kb, DialogueState(), short).emergency is None
    assert asked == []
    # without the examples (a damaged file) nothing is asked either
    bare = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(cues={}), PolicyThresholds())
    classifier.set_response(pain, ("out_of_scope", 0.6))
    assert bare.read(tiny_kb, DialogueState(), pain).emergency is None and asked == []


def test_a_service_question_that_retrieval_places_nowhere_is_read_for_danger_too(classifier, tiny_kb,
                                                                                   monkeypatch) -> None:
    understanding = Understanding(classifier, FakeAspectRecognizer(), FakeEmergencyDetector(cues={}),
                                  PolicyThresholds(), emergency_examples=DANGER_EXAMPLES)
    pain = "阿公成身出冷汗 面色好白 坐都坐唔稳"
    classifier.set_response(pain, ("ask_service", 0.8))
    nothing = SearchResult(pain, pain, [], RetrievalDecision.no_answer)
    monkeypatch.setattr(type(tiny_kb), "search", lambda self, text, k=10: nothing)
    assert understanding.read(tiny_kb, DialogueState(), pain).emergency == EmergencySignal("medical", "encoder")
    # while a topic is discussed the message is read as a follow-up on it, not asked
    topic = next(iter(tiny_kb.entries))
    assert understanding.read(tiny_kb, DialogueState(topic_id=topic), pain).emergency is None
    # retrieval offers a choice: the resident is not about to get 「不会回答」, not asked
    offered = _result((topic, 0.3), answered=False)
    monkeypatch.setattr(type(tiny_kb), "search", lambda self, text, k=10: offered)
    assert understanding.read(tiny_kb, DialogueState(), pain).emergency is None
