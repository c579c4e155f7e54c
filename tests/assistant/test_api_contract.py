"""The chat API contract of DESIGN.md, end to end through FastAPI on a real database and the shipped KB.

One application per database backend is shared by the module (building the shipped knowledge base takes
a while); every test opens its own conversations, so tests do not depend on each other.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from accessibility.themes import check_web_palette, web_palette
from assistant.api.main import create_app
from assistant.context import AppContext, create_context
from assistant.dialogue import payloads as vocabulary
from assistant.settings import PROJECT_ROOT, Settings
from assistant.storage.models import (
    Alert,
    Base,
    ChatSession,
    HandoffRequest,
    Turn,
    UnansweredQuery,
    WorkOrder,
)
from knowledge_base.models import ASPECTS

ACTIONS = {"answer", "clarify", "fallback", "handoff", "emergency", "ticket", "smalltalk"}
STATIC_DIR = PROJECT_ROOT / "assistant" / "web" / "static"
TEMPLATE = PROJECT_ROOT / "assistant" / "web" / "templates" / "chat.html"
TEST_DATABASE_ENV = "SHEQU_TEST_DATABASE_URL"
# A Wednesday that is no Chinese public holiday, mid-morning: inside "00:00-24:00", outside "00:00-00:00".
WORKDAY_MORNING = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
# Made-up personal numbers: a well-formed 18-digit ID number and a mainland mobile number.
ID_NUMBER = "450102199003071234"
PHONE = "13912345678"
CJK = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------- the application under test

@dataclass
class Api:
    client: TestClient
    context: AppContext

    def chat(self, text: str, session_id: str | None = None, channel: str = "web") -> dict[str, Any]:
        response = self.client.post("/api/v1/chat", json={"session_id": session_id, "text": text,
                                                          "channel": channel})
        assert response.status_code == 200, response.text
        body = response.json()
        assert_contract(body, self.context)
        return body

    def conversation(self, *texts: str) -> list[dict[str, Any]]:
        replies, session_id = [], None
        for message in texts:
            replies.append(self.chat(message, session_id))
            session_id = replies[-1]["session_id"]
            assert replies[-1]["session_id"] == (replies[0]["session_id"])
        return replies

    def rows(self, model: type[Base], *where: Any) -> list[Any]:
        with self.context.sessions() as db:
            return list(db.scalars(select(model).where(*where)))

    def count(self, model: type[Base]) -> int:
        with self.context.sessions() as db:
            return int(db.scalar(select(func.count()).select_from(model)) or 0)


def _settings(tmp: Path, index_dir: Path, database_url: str) -> Settings:
    # The developer's SHEQU_* variables must not change what the contract tests see.
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != TEST_DATABASE_ENV:
                patch.delenv(name)
        return Settings(_env_file=None, var_dir=tmp, database_url=database_url, index_dir=index_dir,
                        office_hours="00:00-24:00", office_weekends=True)


# Tests that use the app are slow (the shipped KB is built once per database); the static page checks are not.
@pytest.fixture(scope="module", params=[pytest.param("sqlite", marks=pytest.mark.slow),
                                        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path_factory.mktemp('contract-db') / 'shequ.db').as_posix()}"
        return
    base_url = os.environ.get(TEST_DATABASE_ENV, "")
    if not base_url:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any driver or network failure: the server is not there
        admin.dispose()
        pytest.skip(f"PostgreSQL at {TEST_DATABASE_ENV} is not reachable: {type(exc).__name__}")
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # The index of the shipped KB is keyed by content: one build serves every module of the session.
    index_dir = tmp_path_factory.getbasetemp() / "shipped-kb-index"
    settings = _settings(tmp_path_factory.mktemp("contract-var"), index_dir, database_url)
    context = create_context(settings)
    try:
        with TestClient(create_app(context=context)) as client:
            yield Api(client, context)
    finally:
        context.close()


@pytest.fixture
def fixed_office(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Office hours that do not depend on today's date (weekends, public holidays)."""
    monkeypatch.setattr(api.client.app.state.engine.handoff, "clock", lambda: WORKDAY_MORNING)


def assert_contract(body: dict[str, Any], context: AppContext) -> None:
    assert set(body) == {"session_id", "action", "reply", "intent", "topic", "aspect", "ticket"}, body
    assert isinstance(body["session_id"], str) and 0 < len(body["session_id"]) <= 64
    assert body["action"] in ACTIONS
    reply = body["reply"]
    assert {"text", "speech", "buttons"} <= set(reply) <= {"text", "speech", "buttons", "speech_rate"}
    assert isinstance(reply["text"], str) and reply["text"].strip()
    assert isinstance(reply["speech"], str) and reply["speech"].strip()
    assert isinstance(reply["buttons"], list)
    for button in reply["buttons"]:
        assert set(button) == {"title", "payload"}
        assert isinstance(button["title"], str) and button["title"]
        assert isinstance(button["payload"], str) and button["payload"]
    if body["intent"] is not None:
        assert set(body["intent"]) == {"name", "confidence"}
        assert isinstance(body["intent"]["name"], str) and body["intent"]["name"]
        assert 0.0 <= body["intent"]["confidence"] <= 1.0
    if body["topic"] is not None:
        assert set(body["topic"]) == {"id", "title", "score"}
        entry = context.kb.current().entries[body["topic"]["id"]]
        assert body["topic"]["title"] == entry.title
        assert 0.0 <= body["topic"]["score"] <= 1.0
    assert body["aspect"] is None or body["aspect"] in ASPECTS
    if body["ticket"] is not None:
        assert set(body["ticket"]) == {"number", "status", "department"}
        assert all(isinstance(v, str) and v for v in body["ticket"].values())


def payloads(body: dict[str, Any]) -> list[str]:
    return [b["payload"] for b in body["reply"]["buttons"]]


def assert_bilingual_error(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error = response.json()["error"]
    assert CJK.search(error["message_zh"]), error
    assert error["message_en"] and not CJK.search(error["message_en"]), error
    assert isinstance(error["code"], str) and error["code"]
    return error


# ---------------------------------------------------------------- answers and follow-ups

def test_answer_has_the_contract_shape(api: Api) -> None:
    body = api.chat("高龄津贴怎么申请")
    assert body["action"] == "answer"
    assert body["topic"]["id"] == "senior-age-allowance"
    assert body["topic"]["score"] >= api.context.settings.answer_threshold
    assert body["intent"]["name"] == "ask_service"
    assert body["aspect"] is None and body["ticket"] is None
    assert body["reply"]["text"] == api.context.kb.current().rendered_answer("senior-age-allowance")
    assert "/aspect materials" in payloads(body) and "/human" in payloads(body)


def test_a_spoken_question_is_read_by_the_recognisers_reading_that_was_understood(api: Api) -> None:
    # The first reading is noise that finds nothing (a mishearing such as 搞灵津贴怎么伸请 is now corrected by sound
    # and understood itself); the second reading of the n-best list is the question.
    response = api.client.post("/api/v1/chat", json={
        "text": "嗯那个那个啊", "channel": "web", "alternatives": ["高龄津贴怎么申请", "高龄金贴怎么申请"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "answer" and "高龄" in body["topic"]["title"]
    with api.context.sessions() as db:
        stored = db.scalars(select(Turn).where(Turn.session_id == body["session_id"])).one()
    assert "高龄津贴" in stored.user_text


def test_a_spoken_question_understood_as_heard_keeps_its_first_reading(api: Api) -> None:
    response = api.client.post("/api/v1/chat", json={
        "text": "高龄津贴怎么申请", "channel": "web", "alternatives": ["我家着火了"]})
    assert response.json()["action"] == "answer"


@pytest.mark.parametrize("alternatives", [["好"] * 4, ["好" * 501], [1], "高龄津贴"])
def test_bad_alternatives_get_a_4xx(api: Api, alternatives: Any) -> None:
    response = api.client.post("/api/v1/chat", json={"text": "你好", "alternatives": alternatives})
    assert 400 <= response.status_code < 500


def test_follow_up_aspect_stays_in_the_session(api: Api) -> None:
    first, follow_up = api.conversation("高龄津贴怎么申请", "要带什么材料")
    assert follow_up["action"] == "answer"
    assert follow_up["aspect"] == "materials"
    assert follow_up["topic"]["id"] == first["topic"]["id"]
    materials = api.context.kb.current().rendered_aspect("senior-age-allowance", "materials")
    assert materials and materials in follow_up["reply"]["text"]
    # The button of an answer asks for the same aspect as the words do.
    by_button = api.chat("/aspect materials", first["session_id"])
    assert by_button["aspect"] == "materials" and by_button["reply"]["text"] == follow_up["reply"]["text"]


def test_na_ne_switches_topic_and_keeps_the_question(api: Api) -> None:
    first, switched = api.conversation("高龄津贴怎么申请", "那低保呢")
    fresh = api.chat("低保")
    assert switched["action"] == "answer"
    assert switched["topic"]["id"] != first["topic"]["id"]
    assert switched["topic"]["id"] == fresh["topic"]["id"] == "minimum-living-allowance"


def test_new_session_ids_are_issued_and_bad_ones_replaced(api: Api) -> None:
    one, two = api.chat("你好"), api.chat("你好")
    assert one["session_id"] != two["session_id"]
    # A client-made id is never adopted (it could be someone else's): a new server id instead.
    made_up = api.chat("你好", "kiosk-terminal-7")["session_id"]
    assert made_up != "kiosk-terminal-7" and len(made_up) >= 22
    assert api.chat("你好", "has a space")["session_id"] != "has a space"
    assert api.chat("你好", one["session_id"])["session_id"] == one["session_id"]  # an issued id continues


# ---------------------------------------------------------------- clarification

CLARIFY_CANDIDATES = ("办证", "怎么申请", "钱", "证件", "办卡", "申请补助", "怎么办理", "补贴怎么领", "登记",
                      "老人证", "优待证", "证明", "补助", "卡")


@pytest.fixture(scope="module")
def clarifying_query(api: Api) -> str:
    """A question the shipped KB answers with a choice between at least two topics."""
    for query in CLARIFY_CANDIDATES:
        body = api.chat(query)
        if body["action"] == "clarify" and sum(p.startswith("/choose ") and p != "/choose 0"
                                               for p in payloads(body)) >= 2:
            return query
    pytest.fail(f"none of {CLARIFY_CANDIDATES} makes the engine clarify: add a borderline query")


def _options(api: Api, body: dict[str, Any]) -> list[str]:
    """Entry ids offered by a clarification, in button order ("1. 标题" → the entry with that title)."""
    by_title = {entry.title: entry.id for entry in api.context.kb.current().entries.values()}
    return [by_title[b["title"].split(". ", 1)[1]] for b in body["reply"]["buttons"]
            if b["payload"].startswith("/choose ") and b["payload"] != "/choose 0"]


def test_clarification_then_choose_by_button(api: Api, clarifying_query: str) -> None:
    question = api.chat(clarifying_query)
    assert question["action"] == "clarify" and question["topic"] is None
    assert "/choose 0" in payloads(question)  # 都不是
    options = _options(api, question)
    assert 2 <= len(options) <= 6  # a broad request offers up to six
    for number, line in enumerate(question["reply"]["text"].splitlines()[1:], start=1):
        assert line.startswith(f"{number}. ")
    chosen = api.chat("/choose 1", question["session_id"])
    assert chosen["action"] == "answer"
    assert chosen["topic"]["id"] == options[0]
    assert chosen["reply"]["text"] == api.context.kb.current().rendered_answer(options[0])


def test_clarification_then_choose_by_words(api: Api, clarifying_query: str) -> None:
    question = api.chat(clarifying_query)
    options = _options(api, question)
    chosen = api.chat("第二个", question["session_id"])
    assert chosen["action"] == "answer" and chosen["topic"]["id"] == options[1]


def test_clarification_none_of_them(api: Api, clarifying_query: str) -> None:
    question = api.chat(clarifying_query)
    none = api.chat("/choose 0", question["session_id"])
    assert none["action"] != "answer" and none["topic"] is None
    assert "/human" in payloads(none)


# ---------------------------------------------------------------- emergency, people, tickets

def test_emergency_gives_the_numbers_and_raises_an_alert(api: Api) -> None:
    body = api.chat("我家老人摔倒了起不来")
    assert body["action"] == "emergency"
    for number in ("120", "110", "119"):
        assert number in body["reply"]["text"]
    alerts = api.rows(Alert, Alert.session_id == body["session_id"])
    # The alert's kind is the danger read in the message (a fall: medical), for the staff banner.
    assert len(alerts) == 1 and alerts[0].kind in {"medical", "emergency"}


def test_request_human_in_office_hours_queues(api: Api, fixed_office: None) -> None:
    body = api.chat("我要找工作人员")
    assert body["action"] == "handoff"
    assert body["intent"]["name"] == "request_human"
    assert body["ticket"]["status"] == "排队中"
    assert re.fullmatch(r"A\d{3,}", body["ticket"]["number"])
    assert body["ticket"]["number"] in body["reply"]["text"]
    queued = api.rows(HandoffRequest, HandoffRequest.session_id == body["session_id"])
    assert [q.queue_number for q in queued] == [body["ticket"]["number"]]


def test_request_human_out_of_hours_offers_a_callback(api: Api, fixed_office: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    handoff = api.client.app.state.engine.handoff
    monkeypatch.setattr(handoff, "settings", handoff.settings.model_copy(update={"office_hours": "00:00-00:00"}))
    body = api.chat("转人工")
    assert body["action"] == "handoff"
    assert body["ticket"] is None or body["ticket"]["status"] != "排队中"
    assert "电话" in body["reply"]["text"]
    assert all(q.status != "排队中" for q in api.rows(HandoffRequest, HandoffRequest.session_id == body["session_id"]))


def test_every_turn_is_stored_in_order_and_counted_on_its_session(api: Api) -> None:
    turns = api.conversation("高龄津贴怎么申请", "要带什么材料", "今天股票大盘怎么走")
    session_id = turns[0]["session_id"]
    with api.context.sessions() as db:
        stored = list(db.scalars(select(Turn).where(Turn.session_id == session_id).order_by(Turn.id)))
        chat = db.get(ChatSession, session_id)
        assert chat is not None and chat.turn_count == 3
        assert chat.state["topic_id"] == "senior-age-allowance"
    assert [t.action for t in stored] == [t["action"] for t in turns] == ["answer", "answer", "fallback"]
    assert stored[1].aspect == "materials" and stored[1].topic_id == "senior-age-allowance"
    assert all(t.latency_ms > 0 and t.sender == "bot" for t in stored)
    review = api.rows(UnansweredQuery, UnansweredQuery.session_id == session_id)
    assert [(r.turn_id, r.reason) for r in review] == [(stored[2].id, "fallback")]


def test_a_conversation_that_starts_with_a_handoff_keeps_its_session(api: Api, fixed_office: None) -> None:
    first, second = api.conversation("转人工", "我想问社保卡补办")
    assert first["action"] == second["action"] == "handoff"
    assert second["ticket"]["number"] == first["ticket"]["number"]
    with api.context.sessions() as db:
        chat = db.get(ChatSession, first["session_id"])
        assert chat is not None and chat.turn_count == 2 and chat.handoff_status == "排队中"
    assert len(api.rows(Turn, Turn.session_id == first["session_id"])) == 2


def test_report_issue_files_a_work_order_within_three_turns(api: Api) -> None:
    turns = api.conversation("我要反映问题", "幸福小区3栋楼道的灯坏了", PHONE)
    assert [t["action"] for t in turns] == ["ticket"] * 3
    assert turns[0]["ticket"] is None and "什么问题" in turns[0]["reply"]["text"]
    assert turns[1]["ticket"] is None and "号码" in turns[1]["reply"]["text"]
    ticket = turns[2]["ticket"]
    assert re.fullmatch(r"GX\d{8}\d{3,}", ticket["number"]) and ticket["status"] == "受理"
    assert ticket["number"] in turns[2]["reply"]["text"]
    [order] = api.rows(WorkOrder, WorkOrder.number == ticket["number"])
    assert "灯" in order.description and "幸福小区" in order.location
    assert order.contact_masked == "139****5678" and PHONE not in (order.contact_encrypted or "")

    looked_up = api.chat(f"查工单{ticket['number']}")  # from another conversation: the number is enough
    assert looked_up["action"] == "ticket"
    assert looked_up["ticket"] == ticket
    assert ticket["number"] in looked_up["reply"]["text"] and "受理" in looked_up["reply"]["text"]


def test_unknown_ticket_number_is_not_found(api: Api) -> None:
    body = api.chat("查工单GX20000101999")
    assert body["action"] == "ticket" and body["ticket"] is None
    assert "没有查到" in body["reply"]["text"]


# ---------------------------------------------------------------- repeat, slower, fallbacks

def test_repeat_and_slower_replay_the_last_answer(api: Api) -> None:
    answer, again, slower = api.conversation("高龄津贴怎么申请", "再说一遍", "说慢一点")
    for replay in (again, slower):
        assert replay["action"] == "answer"
        assert replay["reply"]["text"] == answer["reply"]["text"]
        assert replay["topic"]["id"] == answer["topic"]["id"]
    assert again["reply"].get("speech_rate", "normal") == "normal"
    assert slower["reply"]["speech_rate"] == "slow"
    assert slower["intent"]["name"] == "slower"


def test_two_fallbacks_in_a_row_offer_a_person(api: Api) -> None:
    first, second = api.conversation("asdfghjkl", "股票明天涨不涨")
    assert first["action"] == second["action"] == "fallback"
    assert first["topic"] is None and second["topic"] is None
    assert "/human" in payloads(first) and "/human" in payloads(second)
    assert second["reply"]["text"] != first["reply"]["text"]
    assert "转给" in second["reply"]["text"] or "工作人员" in second["reply"]["text"]
    logged = api.rows(UnansweredQuery, UnansweredQuery.session_id == first["session_id"])
    assert [(q.query, q.reason) for q in logged] == [("asdfghjkl", "fallback"), ("股票明天涨不涨", "fallback")]
    for query in logged:
        assert query.candidates, "a fallback keeps the retrieval candidates for the review list"
        assert {"id", "score"} <= set(query.candidates[0])


# ---------------------------------------------------------------- feedback and the Rasa channel

def test_feedback_rates_the_last_answer(api: Api) -> None:
    answer = api.chat("高龄津贴怎么申请")
    response = api.client.post("/api/v1/feedback", json={"session_id": answer["session_id"], "rating": -1})
    assert response.status_code == 204
    [turn] = api.rows(Turn, Turn.session_id == answer["session_id"])
    assert turn.feedback == -1
    review = api.rows(UnansweredQuery, UnansweredQuery.session_id == answer["session_id"])
    assert [q.reason for q in review] == ["thumbs_down"]
    assert_bilingual_error(api.client.post("/api/v1/feedback", json={"session_id": answer["session_id"],
                                                                     "rating": 5}))
    assert_bilingual_error(api.client.post("/api/v1/feedback", json={"session_id": answer["session_id"],
                                                                     "rating": "1"}))
    missing = api.client.post("/api/v1/feedback", json={"session_id": "no-such-session", "rating": 1})
    assert missing.status_code == 404 and assert_bilingual_error(missing)


def test_rasa_rest_webhook_shape_and_session(api: Api) -> None:
    sender = f"rasa-user-{uuid.uuid4().hex[:8]}"
    first = api.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "高龄津贴怎么申请"})
    assert first.status_code == 200
    [message] = first.json()
    assert set(message) <= {"recipient_id", "text", "buttons"}
    assert message["recipient_id"] == sender and message["text"]
    assert all(set(b) == {"title", "payload"} for b in message["buttons"])
    follow_up = api.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "要带什么材料"})
    assert "需要准备" in follow_up.json()[0]["text"]  # the same sender continues the same conversation
    assert_bilingual_error(api.client.post("/webhooks/rest/webhook", json={"sender": 7, "message": "你好"}))
    assert_bilingual_error(api.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": " "}))


# ---------------------------------------------------------------- bad input: 4xx, bilingual, nothing stored

LONG = "社" * 501
BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("malformed json", {"content": b'{"text": "hi"', "headers": {"Content-Type": "application/json"}}),
    ("invalid utf-8", {"content": b'{"text": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}}),
    ("text is a number", {"json": {"text": 123}}),
    ("text is a list", {"json": {"text": ["高龄津贴"]}}),
    ("session_id is a number", {"json": {"text": "你好", "session_id": 5}}),
    ("session_id too long", {"json": {"text": "你好", "session_id": "s" * 65}}),
    ("text missing", {"json": {"channel": "web"}}),
    ("text empty", {"json": {"text": ""}}),
    ("text blank", {"json": {"text": " \n\t "}}),
    ("text 501 characters", {"json": {"text": LONG}}),
    ("unknown channel", {"json": {"text": "你好", "channel": "fax"}}),
    ("channel wrong type", {"json": {"text": "你好", "channel": 1}}),
    ("json array", {"json": ["你好"]}),
    ("json string", {"json": "你好"}),
    ("json number", {"json": 42}),
    ("json null", {"content": b"null", "headers": {"Content-Type": "application/json"}}),
    ("not json content type", {"content": "text=你好".encode(), "headers": {"Content-Type": "text/plain"}}),
    ("1 MB body", {"content": json.dumps({"text": "字" * 350_000}).encode(),
                   "headers": {"Content-Type": "application/json"}}),
]


@pytest.mark.parametrize(("case", "request_kwargs"), BAD_REQUESTS, ids=[c for c, _ in BAD_REQUESTS])
def test_bad_input_gets_a_bilingual_4xx_and_stores_nothing(api: Api, case: str,
                                                          request_kwargs: dict[str, Any]) -> None:
    before = api.count(Turn)
    response = api.client.post("/api/v1/chat", **request_kwargs)
    error = assert_bilingual_error(response)
    assert api.count(Turn) == before, f"{case}: a rejected request stored a turn"
    if case == "text empty" or case == "text blank":
        assert error["message_zh"] == "请输入您要问的内容"
    if case == "text 501 characters":
        assert "500" in error["message_zh"]
    if case == "1 MB body":
        assert response.status_code == 413


def test_a_one_megabyte_chunked_body_is_refused(api: Api) -> None:
    body = json.dumps({"text": "字" * 350_000}).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is only known by reading
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    response = api.client.post("/api/v1/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert_bilingual_error(response)


def test_exactly_500_characters_is_accepted(api: Api) -> None:
    assert api.chat("高龄津贴怎么申请" + "啊" * 492)["action"] in ACTIONS


def test_unknown_path_and_wrong_method_are_bilingual(api: Api) -> None:
    assert api.client.get("/api/v1/nothing-here").status_code == 404
    assert_bilingual_error(api.client.get("/api/v1/nothing-here"))
    wrong = api.client.get("/api/v1/chat")
    assert wrong.status_code == 405 and assert_bilingual_error(wrong)


# ---------------------------------------------------------------- personal data

def _all_stored_text(api: Api) -> str:
    """Every column of every row of every table, as text (ciphertext included: it must not hold plain digits)."""
    parts = []
    with api.context.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            try:
                rows = connection.execute(table.select()).fetchall()
            except Exception:  # a feature table whose migration this database has not got
                connection.rollback()
                continue
            parts.extend(str(tuple(row)) for row in rows)
    return "\n".join(parts)


def test_id_and_phone_numbers_are_never_stored_or_logged_in_clear(api: Api, caplog: pytest.LogCaptureFixture,
                                                                 fixed_office: None) -> None:
    caplog.set_level(logging.DEBUG)
    messages = [
        f"我的身份证号是{ID_NUMBER}，高龄津贴怎么申请",  # an answer
        f"{ID_NUMBER} {PHONE} qwertyuiop",  # a fallback: logged for review
        f"救命，我家老人晕倒了，我电话{PHONE}",  # an emergency: an alert
    ]
    for message in messages:
        api.chat(message)
    api.conversation("我要反映问题", f"幸福小区5栋电梯坏了，身份证{ID_NUMBER}", f"电话{PHONE}")
    api.conversation(f"转人工，我的电话是{PHONE}")
    api.chat(f"路灯坏了，我电话{PHONE}")  # a report still open: its state is stored between turns
    api.client.post("/webhooks/rest/webhook", json={"sender": PHONE, "message": f"身份证{ID_NUMBER}丢了怎么办"})

    stored = _all_stored_text(api)
    assert "4501**********1234" in stored  # the masked form is what was kept
    assert ID_NUMBER not in stored and PHONE not in stored
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert ID_NUMBER not in logged and PHONE not in logged


# ---------------------------------------------------------------- probes, schema, the page

def test_health_readiness_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert all(value.startswith("ok") for value in ready.json()["checks"].values())
    schema = api.client.get("/openapi.json").json()
    for path in ("/api/v1/chat", "/api/v1/feedback", "/webhooks/rest/webhook"):
        assert "post" in schema["paths"][path]
    response = schema["components"]["schemas"]["ChatResponse"]
    assert set(response["properties"]) == {"session_id", "action", "reply", "intent", "topic", "aspect", "ticket"}
    assert set(schema["components"]["schemas"]["ChatRequest"]["properties"]) >= {"session_id", "text", "channel"}


def test_chat_page_and_its_files_are_served_locally(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'lang="zh-CN"' in page.text
    for asset, kind in (("/static/chat.js", "javascript"), ("/static/chat.css", "text/css")):
        assert asset in page.text
        served = api.client.get(asset)
        assert served.status_code == 200 and kind in served.headers["content-type"]
    for source in (page.text, (STATIC_DIR / "chat.js").read_text("utf-8"), (STATIC_DIR / "chat.css").read_text("utf-8")):
        # No CDN, no web font, no analytics: the page must work on a LAN without internet.
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", source))
        assert urls <= {"http://www.w3.org/2000/svg"}, urls


def test_chat_script_never_parses_text_as_html() -> None:
    script = (STATIC_DIR / "chat.js").read_text("utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script


def _css_block(css: str, selector_pattern: str) -> dict[str, str]:
    block = re.search(selector_pattern + r"\s*\{(.*?)\}", css, re.S)
    assert block, selector_pattern
    return dict(re.findall(r"(--shequ-[\w-]+):\s*([^;]+);", block.group(1)))


def test_page_palette_is_the_accessibility_palette_and_passes() -> None:
    css = (STATIC_DIR / "chat.css").read_text("utf-8")
    normal = _css_block(css, r"(?m)^:root")
    high = _css_block(css, r"@media \(prefers-contrast: more\)\s*\{\s*:root")
    assert normal == web_palette()
    assert high == {k: v for k, v in web_palette(high_contrast=True).items() if k in high}
    assert len(high) >= 15
    assert check_web_palette(normal) == []
    assert check_web_palette({**web_palette(high_contrast=True), **high}) == []


# ---------------------------------------------------------------- understanding residents (issue: conversation)

def test_elliptical_follow_ups_stay_in_the_topic_and_a_switch_keeps_the_aspect(api: Api) -> None:
    first, materials, when, switched = api.conversation("高龄津贴怎么申请", "那要准备点啥", "大概多久有结果",
                                                        "那低保呢")
    assert first["topic"]["id"] == "senior-age-allowance" and first["aspect"] is None
    assert (materials["topic"]["id"], materials["aspect"]) == ("senior-age-allowance", "materials")
    assert (when["topic"]["id"], when["aspect"]) == ("senior-age-allowance", "time")
    assert (switched["topic"]["id"], switched["aspect"]) == ("minimum-living-allowance", "time")


def test_an_aspect_the_topic_lacks_is_said_so_with_whom_to_ask(api: Api) -> None:
    entries = api.context.kb.current().entries
    entry_id, missing = next((e.id, name) for e in entries.values() if not e.is_referral
                             for name in ("online", "time", "fees") if not getattr(e.aspects, name))
    first = api.chat(entries[entry_id].title)
    followed = api.chat(vocabulary.aspect(missing), first["session_id"])  # the kiosk's and chat's aspect button
    assert (followed["action"], followed["topic"]["id"], followed["aspect"]) == ("answer", entry_id, missing)
    assert "没有写明" in followed["reply"]["text"] and entries[entry_id].department in followed["reply"]["text"]
    assert "不会回答" not in followed["reply"]["text"]


def test_the_session_is_shared_across_channels(api: Api) -> None:
    first = api.chat("残疾证怎么办", channel="wechat")
    followed = api.chat("去边度办", first["session_id"], channel="kiosk")
    assert (followed["topic"]["id"], followed["aspect"]) == ("disability-certificate", "location")


@pytest.mark.parametrize(("story", "number"), [
    ("我妈在厕所倒了叫她半天都不应", "120"), ("楼下那户窗口一直往外冒黑烟", "119"),
    ("我真的活不下去了，不想再拖累家里人", "12356"),
])
def test_an_emergency_told_as_a_story_gets_the_number_to_call(api: Api, story: str, number: str) -> None:
    body = api.chat(story)
    assert body["action"] == "emergency" and number in body["reply"]["text"]
    assert any(b["payload"] == vocabulary.HUMAN for b in body["reply"]["buttons"])


def test_a_safety_question_is_no_emergency(api: Api) -> None:
    for question in ("冬天在屋里烧炭怎么防中毒", "去年摔过一跤现在能申请什么"):
        assert api.chat(question)["action"] != "emergency", question


def test_a_matter_of_another_department_gets_a_referral(api: Api) -> None:
    body = api.chat("老板拖了我三个月工资不给")
    entries = api.context.kb.current().entries
    assert body["action"] == "answer" and entries[body["topic"]["id"]].is_referral
    assert "12333" in body["reply"]["text"] or "劳动" in body["reply"]["text"]


def test_a_broad_word_offers_three_to_six_choices_and_none_of_them_offers_a_person(api: Api) -> None:
    body = api.chat("补贴")
    choices = [p for p in payloads(body) if p.startswith("/choose ") and p != "/choose 0"]
    assert body["action"] == "clarify" and 3 <= len(choices) <= 6
    none = api.chat(vocabulary.NONE_OF_THEM, body["session_id"])
    assert vocabulary.HUMAN in payloads(none)


def test_an_aspect_asked_instead_of_a_choice_is_answered_for_the_one_then_picked(api: Api) -> None:
    # 「要带什么」 while choices are offered: about one of them, not whatever the words alone match
    offered = api.chat("补贴")
    again = api.chat("要带什么", offered["session_id"])
    assert again["action"] == "clarify"
    assert [p for p in payloads(again) if p.startswith("/choose ")] == \
        [p for p in payloads(offered) if p.startswith("/choose ")]
    picked = api.chat("/choose 1", offered["session_id"])
    assert picked["action"] == "answer" and picked["aspect"] == "materials"
    # … and the next choice, with no aspect asked, gets the whole answer again
    api.chat("补贴", offered["session_id"])
    assert api.chat("/choose 1", offered["session_id"])["aspect"] is None


def test_cantonese_phrasing_finds_the_topic(api: Api) -> None:
    assert api.chat("我阿妈八十几岁，有冇高龄补贴攞")["topic"]["id"] == "senior-age-allowance"

