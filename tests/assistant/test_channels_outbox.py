"""Late answers: replies through the one outbox, retries and the access-token cache, against a local fake API."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from channel_kit import (
    WECHAT_SECRET,
    WECOM_AGENT_ID,
    WECOM_SECRET,
    FakeApi,
    WeChatServer,
    WeComServer,
    channel_settings,
    module_settings,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.channels.api_client import CustomerServiceSender
from assistant.channels.config import wechat_account, wecom_account
from assistant.channels.models import ChannelInbound, ChannelToken
from assistant.channels.outbox import ChannelReplies
from assistant.handoff.models import CHANNEL_KINDS, OutboxMessage
from assistant.handoff.outbox import Backoff, DrainReport, deliver_now, drain
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import make_engine, make_session_factory, migrate, session_scope

OPENID = "oLateAnswerUser-0000000001"
BACKOFF = Backoff(base_seconds=5, max_seconds=900, max_attempts=4)


class Clock:
    """Epoch seconds for the token cache, the same instant as UTC for the outbox."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, dt.UTC)


class Outbox:
    """The channels' replies and the one drain over the same senders, as the server and ``shequ worker`` use them."""

    def __init__(self, sessions, cipher, senders, clock: Clock, backoff: Backoff = BACKOFF) -> None:
        self.replies = ChannelReplies(sessions, cipher, senders, backoff, clock.utc)
        self.sessions, self.cipher, self.senders, self.clock, self.backoff = sessions, cipher, senders, clock, backoff
        self.max_attempts = backoff.max_attempts

    def enqueue(self, *args, **kwargs) -> int:
        return self.replies.enqueue(*args, **kwargs)

    def drain(self) -> DrainReport:
        return drain(self.sessions, self.senders, backoff=self.backoff, cipher=self.cipher, now=self.clock.utc())

    def deliver(self, row_id: int) -> str | None:
        return deliver_now(self.sessions, row_id, self.senders, backoff=self.backoff, cipher=self.cipher,
                           now=self.clock.utc())


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    with FakeApi().running() as fake:
        yield fake


@pytest.fixture
def parts(db_settings, fake_api):
    """Database (SQLite, and PostgreSQL when available), cipher, clock, HTTP client and senders."""
    settings = channel_settings(db_settings, wechat_api_base=fake_api.base_url, wecom_api_base=fake_api.base_url)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    cipher = PersonalDataCipher.from_settings("", settings.var_dir)
    clock = Clock()
    http = httpx.Client()
    senders = {"wechat": CustomerServiceSender(wechat_account(settings), sessions, cipher, http, clock),
               "wecom": CustomerServiceSender(wecom_account(settings), sessions, cipher, http, clock)}
    outbox = Outbox(sessions, cipher, senders, clock)
    try:
        yield settings, sessions, cipher, clock, senders, outbox
    finally:
        http.close()
        engine.dispose()


def _row(sessions, row_id: int) -> OutboxMessage:
    with session_scope(sessions) as db:
        row = db.get(OutboxMessage, row_id)
        assert row is not None
        db.expunge(row)
        return row


# --- the outbox ---
def test_a_queued_message_is_sent_once_and_the_recipient_forgotten(parts, fake_api):
    _, sessions, _, _, _, outbox = parts
    row_id = outbox.enqueue("wechat", OPENID, "wx-session", "高龄津贴要带身份证和户口簿。")
    assert OPENID not in (_row(sessions, row_id).recipient_encrypted or "")  # encrypted at rest
    assert outbox.drain().delivered == 1
    assert fake_api.sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": "高龄津贴要带身份证和户口簿。"},
                              "_path": "/cgi-bin/message/custom/send"}]
    row = _row(sessions, row_id)
    assert (row.status, row.attempts, row.recipient_encrypted) == ("delivered", 1, None)
    assert (row.kind, row.payload, row.order_id) == ("wechat", {"text": "高龄津贴要带身份证和户口簿。"}, None)
    # Nothing is due any more; another worker's claim of the same row gets nothing.
    assert outbox.drain().delivered == 0 and outbox.deliver(row_id) is None
    assert len(fake_api.sent) == 1


def test_wecom_messages_name_the_agent(parts, fake_api):
    _, _, _, _, _, outbox = parts
    outbox.enqueue("wecom", "zhangsan", "wc-session", "您好")
    assert outbox.drain().delivered == 1
    assert fake_api.sent[0]["agentid"] == WECOM_AGENT_ID and fake_api.sent[0]["_path"] == "/cgi-bin/message/send"
    assert any(line.startswith("GET /cgi-bin/gettoken") for line in fake_api.requests)


def test_transient_failures_are_retried_with_backoff(parts, fake_api):
    _, sessions, _, clock, _, outbox = parts
    fake_api.fail_sends = [-1, 45009]  # system busy, then rate limited
    row_id = outbox.enqueue("wechat", OPENID, "wx-session", "稍后送达的回答")
    assert outbox.drain().retried == 1
    row = _row(sessions, row_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "errcode:-1")
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == clock.utc() + BACKOFF.delay(1)  # the one backoff
    assert outbox.drain().handled == 0  # not due yet
    clock.now += BACKOFF.delay(1).total_seconds()
    assert outbox.drain().retried == 1
    clock.now += BACKOFF.delay(2).total_seconds()
    assert outbox.drain().delivered == 1
    assert _row(sessions, row_id).attempts == 3 and fake_api.sent[0]["text"]["content"] == "稍后送达的回答"


def test_permanent_failures_and_exhausted_retries_give_up(parts, fake_api):
    _, sessions, _, clock, _, outbox = parts
    fake_api.fail_sends = [45015]  # the 48-hour window has closed: retrying cannot help
    closed = outbox.enqueue("wechat", OPENID, "wx-session", "太晚了")
    assert outbox.drain().failed == 1
    row = _row(sessions, closed)
    assert (row.status, row.attempts, row.recipient_encrypted, row.last_error) == ("failed", 1, None, "errcode:45015")

    fake_api.fail_sends = [-1] * 10
    busy = outbox.enqueue("wechat", OPENID, "wx-session", "一直失败")
    for _ in range(outbox.max_attempts):
        outbox.drain()
        clock.now += BACKOFF.max_seconds
    row = _row(sessions, busy)
    assert (row.status, row.attempts, row.recipient_encrypted) == ("failed", outbox.max_attempts, None)
    assert fake_api.sent == []


def test_an_unreachable_api_is_a_retry_not_a_crash(parts):
    settings, sessions, cipher, clock, _, _ = parts
    with httpx.Client() as http:
        # A port nothing listens on (the fake server's is closed once its context ends).
        with FakeApi().running() as gone:
            dead_base = gone.base_url
        sender = CustomerServiceSender(wechat_account(channel_settings(settings, wechat_api_base=dead_base)),
                                       sessions, cipher, http, clock)
        outbox = Outbox(sessions, cipher, {"wechat": sender}, clock)
        row_id = outbox.enqueue("wechat", OPENID, "wx-session", "网络不通")
        assert outbox.drain().retried == 1
    assert _row(sessions, row_id).last_error == "http:ConnectError"


# --- the access token ---
def test_the_token_is_cached_shared_and_refreshed_before_it_expires(parts, fake_api):
    settings, sessions, cipher, clock, senders, _ = parts
    sender = senders["wechat"]
    sender.send_text(OPENID, "一")
    sender.send_text(OPENID, "二")
    assert sender.tokens.fetches == 1 and fake_api.tokens_issued == ["ACCESS_TOKEN_1"]
    with session_scope(sessions) as db:  # stored for the other workers, encrypted
        stored = db.get(ChannelToken, f"wechat:{sender.account.app_id}")
        assert stored is not None and "ACCESS_TOKEN_1" not in stored.token_encrypted

    # Another worker (its own cache, same database) uses the stored token instead of fetching a new one,
    # which would retire the first worker's token.
    with httpx.Client() as http:
        other = CustomerServiceSender(wechat_account(settings), sessions, cipher, http, clock)
        other.send_text(OPENID, "三")
        assert other.tokens.fetches == 0 and len(fake_api.tokens_issued) == 1

    # Inside the refresh margin but before expiry, the next send fetches a fresh token first.
    clock.now += fake_api.expires_in - sender.tokens.margin + 1
    sender.send_text(OPENID, "四")
    assert fake_api.tokens_issued == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert fake_api.requests[-1].split("access_token=")[1] == "ACCESS_TOKEN_2"
    assert [m["text"]["content"] for m in fake_api.sent] == ["一", "二", "三", "四"]


def test_a_rejected_token_is_replaced_and_the_send_retried(parts, fake_api):
    _, _, _, _, senders, _ = parts
    sender = senders["wecom"]
    sender.send_text("zhangsan", "第一条")
    fake_api.revoked.add("ACCESS_TOKEN_1")  # e.g. the secret was reset in the WeCom admin console
    sender.send_text("zhangsan", "第二条")
    assert fake_api.tokens_issued == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert [m["text"]["content"] for m in fake_api.sent] == ["第一条", "第二条"]


def test_secrets_and_tokens_are_never_logged(parts, fake_api, caplog):
    settings, sessions, cipher, clock, _, outbox = parts
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    outbox.enqueue("wechat", OPENID, "wx-session", "你好")
    outbox.enqueue("wecom", "zhangsan", "wc-session", "你好")
    assert outbox.drain().delivered == 2
    with httpx.Client() as http:  # a wrong secret: the API's error, not the secret, is what is recorded
        wrong = channel_settings(settings, wechat_app_id="wx0ther", wechat_app_secret="wrong-secret-value")
        sender = CustomerServiceSender(wechat_account(wrong), sessions, cipher, http, clock)
        row_id = Outbox(sessions, cipher, {"wechat": sender}, clock).enqueue("wechat", OPENID, "s", "x")
        Outbox(sessions, cipher, {"wechat": sender}, clock).drain()
    assert _row(sessions, row_id).last_error == "token_errcode:40125"
    assert "HTTP Request" in caplog.text  # httpx did log its requests …
    for secret in (WECHAT_SECRET, WECOM_SECRET, "wrong-secret-value", "ACCESS_TOKEN_", OPENID, "zhangsan"):
        assert secret not in caplog.text  # … without the secrets, tokens or recipients


# --- the 5-second rule, end to end ---
class SlowEngine:
    """The real engine behind a gate: the answer is held until the test opens it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.calls = 0

    def handle(self, request):
        self.calls += 1
        assert self.gate.wait(60), "the test never released the answer"
        return self.inner.handle(request)


@pytest.fixture(scope="module")
def late_app(tmp_path_factory: pytest.TempPathFactory, tiny_kb_data) -> Iterator[tuple[TestClient, FakeApi]]:
    with FakeApi().running() as fake, \
            module_settings(tmp_path_factory.mktemp("channels-late"), tiny_kb_data, wechat_api_base=fake.base_url,
                            wecom_api_base=fake.base_url, channel_reply_budget_seconds=0.05) as settings, \
            TestClient(create_app(settings)) as client:
        yield client, fake


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("channel", ["wechat", "wecom"])
def test_a_slow_answer_goes_through_the_customer_service_api(late_app, channel):
    client, fake = late_app
    real_engine = client.app.state.engine
    # Not monkeypatch: its undo deletes attributes of starlette's State instead of restoring them.
    client.app.state.engine = slow = SlowEngine(real_engine)
    try:
        _slow_answer(client, fake, slow, channel)
    finally:
        slow.gate.set()
        client.app.state.engine = real_engine


def _slow_answer(client: TestClient, fake: FakeApi, slow: SlowEngine, channel: str) -> None:
    if channel == "wechat":
        server = WeChatServer(client, user="oSlowUser-0000000000000009")
    else:
        server = WeComServer(client, user="slow-grid-worker")
    xml = server.text_xml("高龄津贴怎么申请")
    sent_before = len(fake.sent)

    response = server.post_xml(xml)
    # Not ready within the budget: WeChat gets the empty acknowledgement at once …
    assert response.status_code == 200 and response.text == ("success" if channel == "wechat" else "")
    # … and its retry meanwhile does not start a second answer.
    assert server.post_xml(xml, nonce="retry").text == response.text
    slow.gate.set()
    assert _wait_for(lambda: len(fake.sent) > sent_before), "the late answer was never sent"
    message = fake.sent[sent_before]
    assert message["touser"] == server.user and "80周岁" in message["text"]["content"]
    assert slow.calls == 1

    def sent_row() -> OutboxMessage | None:
        with session_scope(client.app.state.context.sessions) as db:
            row = db.scalars(select(OutboxMessage).where(OutboxMessage.kind.in_(CHANNEL_KINDS))
                             .order_by(OutboxMessage.id.desc())).first()
            return row if row is not None and row.status == "delivered" else None

    assert _wait_for(lambda: sent_row() is not None)
    row = sent_row()
    assert row is not None and row.recipient_encrypted is None and row.kind == channel
    with session_scope(client.app.state.context.sessions) as db:
        assert db.get(ChannelInbound, row.inbound_id).status == "queued"
    # A retry after the answer went out still gets only the acknowledgement: one answer per message.
    assert server.post_xml(xml, nonce="late-retry").text == response.text
    assert len(fake.sent) == sent_before + 1
