"""Replayed and stale WeChat/WeCom callbacks are refused like forgeries, before the body is read (issue 18)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from channel_kit import (
    OFFICIAL_ACCOUNT,
    SubscribeEvent,
    WeChatServer,
    WeComServer,
    WorkSubscribeEvent,
    fresh_nonce,
    message_xml,
    module_settings,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assistant.api.main import create_app
from assistant.channels import formatting as fmt
from assistant.channels.models import ChannelInbound, ChannelNonce
from assistant.channels.replay import ReplayError, ReplayGuard
from assistant.storage.db import make_engine, make_session_factory, migrate, session_scope

WINDOW = 300


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, tiny_kb_data) -> Iterator[TestClient]:
    with module_settings(tmp_path_factory.mktemp("replay-app"), tiny_kb_data,
                         channel_callback_window_seconds=WINDOW) as settings, \
            TestClient(create_app(settings)) as test_client:
        yield test_client


def _count(client: TestClient, model: Any) -> int:
    with session_scope(client.app.state.context.sessions) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def _forged(client: TestClient) -> dict[str, Any]:
    """What a bad signature gets: every replay refusal must look exactly like it."""
    wechat = WeChatServer(client, user="oForger-replay-00000000001")
    response = wechat.post_xml(wechat.text_xml("你好"), token="guessed-token")
    assert response.status_code == 403
    return response.json()


def _subscribe(wechat: WeChatServer, offset: int = 0) -> str:
    return message_xml(SubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=int(wechat.timestamp) + offset)


def _replay(client: TestClient, first: Any) -> Any:
    """The very same request again: same query string (signature, timestamp, nonce), same body."""
    request = first.request
    return client.request(request.method, str(request.url), content=request.content)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "safe-mode"])
def test_a_replayed_wechat_callback_is_refused_and_not_processed(client, encrypted):
    wechat = WeChatServer(client, user=f"oReplay-{int(encrypted)}-0000000000000", encrypted=encrypted)
    first = wechat.post_xml(_subscribe(wechat))
    assert wechat.reply_text(first) == fmt.WELCOME
    inbound = _count(client, ChannelInbound)
    for _ in range(3):
        again = _replay(client, first)
        assert again.status_code == 403 and again.json() == _forged(client)
    # The same nonce with another body (plaintext signatures do not cover the body) is no better.
    other = client.post("/channels/wechat", params=dict(first.request.url.params),
                        content=wechat.text_xml("高龄津贴怎么申请").encode())
    assert other.status_code == 403
    assert _count(client, ChannelInbound) == inbound


def test_a_replayed_wecom_callback_and_url_checks_are_refused(client):
    wecom = WeComServer(client, user="replay-lisi")
    xml = message_xml(WorkSubscribeEvent, source=wecom.user, target="wwcorp0123456789",
                      time=int(wecom.timestamp), agent=wecom.agent_id)
    first = wecom.post_xml(xml)
    assert wecom.reply_text(first) == fmt.WELCOME
    assert _replay(client, first).status_code == 403

    query = wecom.verify_query("echo-1")
    assert client.get("/channels/wecom", params=query).text == "echo-1"
    assert client.get("/channels/wecom", params=query).status_code == 403
    wechat = WeChatServer(client)
    plain = {**wechat.query(fresh_nonce()), "echostr": "12345"}
    assert client.get("/channels/wechat", params=plain).text == "12345"
    again = client.get("/channels/wechat", params=plain)
    assert again.status_code == 403 and again.json() == _forged(client)


@pytest.mark.parametrize("skew", [-600, 600, -(WINDOW + 5)], ids=["10-min-old", "10-min-ahead", "just-outside"])
def test_a_callback_outside_the_timestamp_window_is_refused(client, skew):
    inbound = _count(client, ChannelInbound)
    wechat = WeChatServer(client, user="oStale-000000000000000001", timestamp=str(int(time.time()) + skew))
    response = wechat.post_xml(_subscribe(wechat))  # validly signed, never seen before: only the time is wrong
    assert response.status_code == 403 and response.json() == _forged(client)
    wecom = WeComServer(client, timestamp=str(int(time.time()) + skew))
    assert client.get("/channels/wecom", params=wecom.verify_query("x")).status_code == 403
    assert _count(client, ChannelInbound) == inbound


def test_new_nonces_inside_the_window_are_accepted(client):
    # Four minutes old is inside the ±5 minutes; each callback has its own nonce, as WeChat sends them.
    wechat = WeChatServer(client, user="oFresh-000000000000000001", timestamp=str(int(time.time()) - 240))
    for offset in range(3):
        response = wechat.post_xml(_subscribe(wechat, offset), nonce=fresh_nonce())
        assert wechat.reply_text(response) == fmt.WELCOME
    # WeChat's own retry of a message has a new nonce: answered again from the dedupe, processed once.
    inbound = _count(client, ChannelInbound)
    xml = _subscribe(wechat, 10)
    assert wechat.reply_text(wechat.post_xml(xml)) == fmt.WELCOME
    assert wechat.reply_text(wechat.post_xml(xml)) == fmt.WELCOME
    assert _count(client, ChannelInbound) == inbound + 1


def test_parallel_replays_get_through_once(client):
    wechat = WeChatServer(client, user="oRace-0000000000000000001")
    nonce = fresh_nonce()
    xml = _subscribe(wechat)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait(timeout=10)
        statuses.append(wechat.post_xml(xml, nonce=nonce).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] + [403] * 7


def test_the_body_is_not_read_for_a_replay_and_a_disconnect_is_one_line(client, caplog):
    wechat = WeChatServer(client, user="oAsgi-00000000000000000001")
    nonce = fresh_nonce()
    query = urlencode(wechat.query(nonce)).encode()
    assert wechat.reply_text(wechat.post_xml(_subscribe(wechat), nonce=nonce)) == fmt.WELCOME

    def call(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        reads = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal reads
            reads += 1
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/channels/wechat", "raw_path": b"/channels/wechat", "query_string": query,
                 "headers": [(b"host", b"testserver"), (b"content-type", b"text/xml")], "client": ("127.0.0.1", 1),
                 "server": ("testserver", 80), "root_path": "", "app": client.app}
        client.portal.call(client.app, scope, receive, send)
        return sent, reads

    # A replay is refused on the query string alone: the body is never read.
    sent, reads = call([{"type": "http.request", "body": _subscribe(wechat).encode(), "more_body": False}])
    assert sent[0]["status"] == 403 and reads == 0

    # A new nonce, and the client goes away halfway through the body: one line, no traceback, nothing claimed.
    nonce = fresh_nonce()
    query = urlencode(wechat.query(nonce)).encode()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        call([{"type": "http.request", "body": b"<xml><ToUserName>", "more_body": True}])
    lines = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(lines) == 1
    assert not any(r.exc_info for r in caplog.records)
    # WeChat's retry of that request (same nonce, whole body) is still answered.
    assert wechat.reply_text(wechat.post_xml(_subscribe(wechat, 20), nonce=nonce)) == fmt.WELCOME


def test_nonces_are_pruned_only_when_no_replay_could_pass(client):
    now = [1_800_000_000.0]
    guard = ReplayGuard(client.app.state.context.sessions, WINDOW, clock=lambda: now[0])
    guard.claim("wechat", "prune-me")
    with pytest.raises(ReplayError):
        guard.claim("wechat", "prune-me")
    # A timestamp one window ahead of the first sighting still passes the window check one window later.
    now[0] += 2 * WINDOW - 1
    guard.prune()
    with pytest.raises(ReplayError):
        guard.claim("wechat", "prune-me")
    now[0] += 2
    guard.prune()
    with session_scope(client.app.state.context.sessions) as db:
        assert db.get(ChannelNonce, ("wechat", "prune-me")) is None
    for bad in ("", "x" * 65):
        with pytest.raises(ReplayError):
            guard.check_fresh(str(int(now[0])), bad)
    for stamp in ("abc", "-1", "9" * 13, str(int(now[0]) - WINDOW - 1)):
        with pytest.raises(ReplayError):
            guard.check_fresh(stamp, "n")
    guard.check_fresh(str(int(now[0]) - WINDOW), "n")


def test_workers_racing_on_one_nonce_let_exactly_one_through(db_settings):
    """Two workers are two engines on one database (SQLite and PostgreSQL): the primary key decides."""
    engines = [make_engine(db_settings.resolved_database_url()) for _ in range(2)]
    try:
        migrate(engines[0])
        guards = [ReplayGuard(make_session_factory(engine), WINDOW) for engine in engines]
        outcomes: list[str] = []
        barrier = threading.Barrier(10)

        def claim(guard: ReplayGuard) -> None:
            barrier.wait(timeout=10)
            try:
                guard.claim("wecom", "one-nonce")
                outcomes.append("accepted")
            except ReplayError:
                outcomes.append("refused")

        threads = [threading.Thread(target=claim, args=(guards[i % 2],)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["accepted"] + ["refused"] * 9
        assert guards[1].seen("wecom", "one-nonce") and not guards[0].seen("wechat", "one-nonce")
    finally:
        for engine in engines:
            engine.dispose()
