"""WeChat/WeCom subscribers: recorded from callbacks (encrypted, blind-indexed), warnings pushed through the one
outbox inside the 48-hour window or as a template message, idempotent, and WeChat's limits respected."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cap_testkit import cap, shifted, signature
from channel_kit import (
    OFFICIAL_ACCOUNT,
    FakeApi,
    SubscribeEvent,
    UnsubscribeEvent,
    WeChatServer,
    WeComServer,
    channel_settings,
    message_xml,
)
from community_testkit import A, B, add_communities
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.channels.api_client import CustomerServiceSender
from assistant.channels.config import wechat_account, wecom_account
from assistant.channels.subscribers import (
    TEMPLATE_KIND,
    WechatSubscriber,
    enqueue_warning_pushes,
    record_interaction,
    warning_senders,
    warning_text,
)
from assistant.context import create_context
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import Backoff, drain
from assistant.storage.db import session_scope

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
TEMPLATE_ID = "tmpl-warning-0001"
WARNING = {"id": 7, "title": "暴雨橙色预警", "headline": "南宁市气象台发布暴雨橙色预警信号",
           "instruction": "不要在低洼处停留；没有必要不要外出。", "area": "南宁市青秀区", "assembly_point": "",
           "expires": "2026-12-05T08:00:00+08:00", "expires_text": "12月5日 08:00", "sender_name": "南宁市气象台"}


class TemplateApi(FakeApi):
    """The fake WeChat API with the template message endpoint too."""

    def __init__(self) -> None:
        super().__init__()
        self.templates: list[dict[str, Any]] = []
        self.fail_templates: list[int] = []

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        if method == "POST" and path == "/cgi-bin/message/template/send":
            if query.get("access_token", "") not in self.tokens_issued:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if self.fail_templates:
                return {"errcode": self.fail_templates.pop(0), "errmsg": "scripted failure"}
            self.templates.append(json.loads(body.decode("utf-8")))
            return {"errcode": 0, "errmsg": "ok", "msgid": len(self.templates)}
        return super().handle(method, path, query, body)


@pytest.fixture
def fake_api() -> Iterator[TemplateApi]:
    with TemplateApi().running() as fake:
        yield fake


@pytest.fixture
def ctx(db_settings: Any, fake_api: TemplateApi) -> Iterator[Any]:
    settings = channel_settings(db_settings, wechat_api_base=fake_api.base_url, wecom_api_base=fake_api.base_url,
                                wechat_community=A, wecom_community=A, asr_engine="off",
                                warning_push_secret=SecretStr("s3cret"))
    context = create_context(settings)
    add_communities(context)
    try:
        yield context
    finally:
        context.close()


def subscriber(ctx: Any, user: str, *, channel: str = "wechat", community: str = A, event: str | None = None,
               at: dt.datetime = NOW) -> None:
    with session_scope(ctx.sessions) as db:
        record_interaction(db, ctx.settings, ctx.cipher, channel, "app", user, community, event, at)


def rows(ctx: Any) -> list[OutboxMessage]:
    with session_scope(ctx.sessions) as db:
        found = list(db.scalars(select(OutboxMessage).where(OutboxMessage.event == "warning")
                                .order_by(OutboxMessage.id)))
        for row in found:
            db.expunge(row)
        return found


def enqueue(ctx: Any, settings: Any = None, communities: tuple[str, ...] = (A,), now: dt.datetime = NOW,
            warning: dict[str, Any] = WARNING) -> int:
    with session_scope(ctx.sessions) as db:
        return enqueue_warning_pushes(db, settings or ctx.settings, None, warning, communities, now)


def with_template(ctx: Any) -> Any:
    return ctx.settings.model_copy(update={"wechat_warning_template_id": TEMPLATE_ID})


# ---------------------------------------------------------------- recorded from callbacks

def test_callbacks_record_subscribe_messages_and_unsubscribe(ctx: Any) -> None:
    with TestClient(create_app(context=ctx)) as client:
        wechat = WeChatServer(client, user="oSubscriberUser-0000000001")
        ts = int(wechat.timestamp)
        wechat.post_xml(message_xml(SubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts))
        with session_scope(ctx.sessions) as db:
            row = db.scalar(select(WechatSubscriber))
            assert (row.channel, row.community_code, row.subscribed) == ("wechat", A, True)
            assert row.subscribed_at is not None
            assert row.last_interaction_at is None  # a subscribe gives 3 messages for a minute, not 48 hours
            assert wechat.user not in row.openid_encrypted and wechat.user not in row.openid_key
            assert ctx.cipher.decrypt(row.openid_encrypted) == wechat.user
        wechat.say("高龄津贴怎么申请")
        with session_scope(ctx.sessions) as db:
            assert db.scalar(select(WechatSubscriber.last_interaction_at)) is not None
        wechat.post_xml(message_xml(UnsubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts + 1))
        with session_scope(ctx.sessions) as db:
            row = db.scalar(select(WechatSubscriber))
            assert (row.subscribed, row.openid_encrypted) == (False, "")  # the id is not kept
            assert row.unsubscribed_at is not None
        WeComServer(client, user="grid-worker-wang").say("你好")
        with session_scope(ctx.sessions) as db:
            channels = sorted(db.scalars(select(WechatSubscriber.channel)))
        assert channels == ["wechat", "wecom"]


def test_a_pushed_warning_queues_pushes_for_the_subscribers(ctx: Any) -> None:
    with TestClient(create_app(context=ctx)) as client:
        wechat = WeChatServer(client, user="oSubscriberUser-0000000002")
        wechat.say("你好")
        body = shifted(cap("rainstorm_orange"), dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        stamp = str(int(dt.datetime.now(dt.UTC).timestamp()))
        answer = client.post("/api/v1/warnings/cap", content=body,
                             headers={"Content-Type": "application/cap+xml", "X-Shequ-Timestamp": stamp,
                                      "X-Shequ-Signature": signature("s3cret", stamp, body)})
        assert answer.status_code == 200 and answer.json()["action"] == "new", answer.text
    queued = rows(ctx)
    assert len(queued) == 1
    assert queued[0].kind == "wechat" and queued[0].idempotency_key == f"warning:{answer.json()['warning_id']}:1"
    assert "暴雨橙色预警" in queued[0].payload["text"] and "低洼处" in queued[0].payload["text"]
    assert "oSubscriberUser" not in json.dumps(queued[0].payload)


# ---------------------------------------------------------------- who gets what

def test_window_template_and_not_sent(ctx: Any, caplog: pytest.LogCaptureFixture) -> None:
    subscriber(ctx, "in-window", at=NOW - dt.timedelta(hours=47))
    subscriber(ctx, "out-of-window", at=NOW - dt.timedelta(hours=49))
    subscriber(ctx, "only-subscribed", event="subscribe", at=NOW - dt.timedelta(hours=1))
    subscriber(ctx, "other-community", community=B)
    subscriber(ctx, "left")
    subscriber(ctx, "left", event="unsubscribe")
    subscriber(ctx, "grid-worker", channel="wecom", at=NOW - dt.timedelta(days=30))
    caplog.set_level(logging.INFO, logger="assistant.channels.subscribers")
    assert enqueue(ctx) == 2  # the window and WeCom; two outside the window and no template: not sent
    assert sorted(r.kind for r in rows(ctx)) == ["wechat", "wecom"]
    line = next(r.getMessage() for r in caplog.records if "not sent" in r.getMessage())
    assert "2 subscribers outside" in line and "out-of-window" not in line
    assert enqueue(ctx, with_template(ctx)) == 2  # the same warning again: only the two not queued before
    kinds = sorted(r.kind for r in rows(ctx))
    assert kinds == sorted([TEMPLATE_KIND, TEMPLATE_KIND, "wechat", "wecom"])
    assert enqueue(ctx, with_template(ctx)) == 0  # once per (warning, subscriber), whatever happens


def test_pushes_only_where_a_channel_can_send(ctx: Any) -> None:
    subscriber(ctx, "in-window")
    silent = ctx.settings.model_copy(update={"wechat_app_secret": SecretStr(""), "wecom_secret": SecretStr("")})
    assert enqueue(ctx, silent) == 0


def test_the_text_says_what_where_until_when() -> None:
    text = warning_text({**WARNING, "assembly_point": "青秀区第一小学操场"})
    assert text.startswith("【暴雨橙色预警】")
    for part in ("请您：不要在低洼处停留", "集合地点：青秀区第一小学操场", "范围：南宁市青秀区", "有效至：12月5日 08:00"):
        assert part in text


# ---------------------------------------------------------------- delivery and WeChat's limits

def _senders(ctx: Any) -> dict[str, Any]:
    http = httpx.Client()
    return warning_senders({
        "wechat": CustomerServiceSender(wechat_account(ctx.settings), ctx.sessions, ctx.cipher, http),
        "wecom": CustomerServiceSender(wecom_account(ctx.settings), ctx.sessions, ctx.cipher, http)})


def _drain(ctx: Any, now: dt.datetime | None = None) -> Any:
    return drain(ctx.sessions, _senders(ctx), backoff=Backoff(5, 60, 3), cipher=ctx.cipher,
                 now=now or dt.datetime.now(dt.UTC))


def _current() -> dict[str, Any]:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).isoformat()
    return {**WARNING, "expires": later}


def test_customer_service_template_and_wecom_are_sent(ctx: Any, fake_api: TemplateApi) -> None:
    now = dt.datetime.now(dt.UTC)
    subscriber(ctx, "in-window", at=now - dt.timedelta(hours=1))
    subscriber(ctx, "out-of-window", at=now - dt.timedelta(days=3))
    subscriber(ctx, "grid-worker", channel="wecom", at=now - dt.timedelta(days=3))
    assert enqueue(ctx, with_template(ctx), now=now, warning=_current()) == 3
    assert _drain(ctx).delivered == 3
    paths = sorted(m["_path"] for m in fake_api.sent)
    assert paths == ["/cgi-bin/message/custom/send", "/cgi-bin/message/send"]
    assert fake_api.templates[0]["touser"] == "out-of-window" and fake_api.templates[0]["template_id"] == TEMPLATE_ID
    assert fake_api.templates[0]["data"]["keyword1"]["value"] == "暴雨橙色预警"
    assert all(len(v["value"]) <= 20 for v in fake_api.templates[0]["data"].values())
    assert all(r.status == "delivered" and r.recipient_encrypted is None for r in rows(ctx))
    assert _drain(ctx).handled == 0  # never twice


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_window_closed_or_quota_used_falls_back_to_the_template(ctx: Any, fake_api: TemplateApi,
                                                                errcode: int) -> None:
    subscriber(ctx, "in-window", at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert enqueue(ctx, with_template(ctx), now=dt.datetime.now(dt.UTC), warning=_current()) == 1
    fake_api.fail_sends = [errcode]
    assert _drain(ctx).delivered == 1
    assert fake_api.sent == [] and len(fake_api.templates) == 1


def test_window_closed_without_a_template_is_parked(ctx: Any, fake_api: TemplateApi) -> None:
    subscriber(ctx, "in-window", at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    enqueue(ctx, now=dt.datetime.now(dt.UTC), warning=_current())
    fake_api.fail_sends = [45047]
    assert _drain(ctx).failed == 1
    assert rows(ctx)[0].last_error == "errcode:45047" and rows(ctx)[0].recipient_encrypted is None


def test_daily_limit_is_retried_and_unsubscribed_is_permanent(ctx: Any, fake_api: TemplateApi) -> None:
    now = dt.datetime.now(dt.UTC)
    subscriber(ctx, "out-of-window", at=now - dt.timedelta(days=3))
    enqueue(ctx, with_template(ctx), now=now, warning=_current())
    fake_api.fail_templates = [45009]
    assert _drain(ctx).retried == 1
    assert (rows(ctx)[0].status, rows(ctx)[0].last_error) == ("pending", "errcode:45009")
    fake_api.fail_templates = [43004]
    assert _drain(ctx, now + dt.timedelta(seconds=10)).failed == 1
    assert fake_api.templates == []


def test_an_expired_warning_is_not_sent_late(ctx: Any, fake_api: TemplateApi) -> None:
    now = dt.datetime.now(dt.UTC)
    subscriber(ctx, "in-window", at=now - dt.timedelta(hours=1))
    past = {**WARNING, "expires": (now - dt.timedelta(minutes=1)).isoformat()}
    enqueue(ctx, now=now, warning=past)
    assert _drain(ctx).failed == 1
    assert rows(ctx)[0].last_error == "warning_expired" and fake_api.sent == []


def test_late_replies_still_go_straight_through(ctx: Any, fake_api: TemplateApi) -> None:
    from assistant.channels.outbox import enqueue_reply

    with session_scope(ctx.sessions) as db:
        enqueue_reply(db, ctx.cipher, "wechat", "oReplyUser", "wx-s", "您好", None, dt.datetime.now(dt.UTC))
    assert _drain(ctx).delivered == 1 and fake_api.sent[0]["text"]["content"] == "您好"
