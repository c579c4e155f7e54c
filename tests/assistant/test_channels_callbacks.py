"""The callback endpoints end to end: WeChat's side is played with wechatpy's own messages and crypto."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import xmltodict
from channel_kit import (
    OFFICIAL_ACCOUNT,
    WECHAT_AES_KEY,
    WECHAT_SECRET,
    WECHAT_TOKEN,
    WECOM_AES_KEY,
    WECOM_SECRET,
    WECOM_TOKEN,
    ImageMessage,
    SubscribeEvent,
    UnsubscribeEvent,
    VoiceMessage,
    WeChatServer,
    WeComServer,
    WorkSubscribeEvent,
    message_xml,
    module_settings,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text

from assistant.api.main import create_app
from assistant.channels import formatting as fmt
from assistant.channels.models import ChannelInbound
from assistant.handoff.models import OutboxMessage
from assistant.storage.db import session_scope
from assistant.storage.models import Turn


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, tiny_kb_data) -> Iterator[TestClient]:
    # One app for the module: building the index and the intent model takes a while.
    # Speech input off: a voice message without Recognition is answered at once (test_channels_voice.py hears them).
    with module_settings(tmp_path_factory.mktemp("channels-app"), tiny_kb_data, asr_engine="off") as settings, \
            TestClient(create_app(settings)) as test_client:
        yield test_client


def _count(client: TestClient, model) -> int:
    with session_scope(client.app.state.context.sessions) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


# --- URL verification ---
def test_url_verification_of_both_channels(client):
    wechat = WeChatServer(client)
    query = {**wechat.query("vnonce"), "echostr": "1472583690"}
    response = client.get("/channels/wechat", params=query)
    assert response.status_code == 200 and response.text == "1472583690"
    bad = client.get("/channels/wechat", params={**query, "signature": "0" * 40})
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "bad_signature"

    wecom = WeComServer(client)
    response = client.get("/channels/wecom", params=wecom.verify_query("plain-echo-42"))
    assert response.status_code == 200 and response.text == "plain-echo-42"
    assert client.get("/channels/wecom", params={**wecom.verify_query("x"), "msg_signature": "1" * 40}).status_code == 403


# --- conversations ---
def test_plaintext_conversation_with_numbered_buttons(client):
    wechat = WeChatServer(client, user="oPlainUser-000000000000001")
    _, first = wechat.say("高龄津贴怎么申请")
    assert "80周岁" in first and "回复 1：" in first
    menu = {line.split("：", 1)[1]: line.split("：", 1)[0].split()[1] for line in first.splitlines()
            if line.startswith("回复 ")}
    assert "要带什么" in menu
    # Replying with the number of "要带什么" is the same as pressing the button.
    _, materials = wechat.say(menu["要带什么"])
    assert "老人身份证、户口簿和银行卡" in materials
    _, third = wechat.say("谢谢")
    assert third and "80周岁" not in third
    # The three turns are one session in the dialogue, keyed without the OpenID.
    with session_scope(client.app.state.context.sessions) as db:
        sessions = {row.session_id for row in db.scalars(select(Turn).where(Turn.channel == "wechat"))}
    assert len(sessions) >= 1 and all(s.startswith("wx-") and wechat.user not in s for s in sessions)


def test_encrypted_conversation(client):
    wechat = WeChatServer(client, user="oSafeModeUser-0000000000002", encrypted=True)
    response, answer = wechat.say("社保卡丢了怎么办")
    assert "<Encrypt>" in response.text and "挂失" not in response.text  # only ciphertext on the wire
    assert "挂失" in answer
    _, follow_up = wechat.say("要去哪里补办")
    assert "银行" in follow_up or "办理地点" in follow_up or "补办" in follow_up


def test_wecom_conversation_and_welcome(client):
    wecom = WeComServer(client, user="grid-worker-liu")
    _, answer = wecom.say("老年食堂怎么吃饭")
    assert "老年食堂" in answer or "用餐" in answer
    xml = message_xml(WorkSubscribeEvent, source=wecom.user, target="ww", time=int(wecom.timestamp),
                      agent=wecom.agent_id)
    assert wecom.reply_text(wecom.post_xml(xml)) == fmt.WELCOME
    # A message for another application of the corporation is not ours to answer.
    other = WeComServer(client, user="grid-worker-liu", agent_id=999)
    assert other.say("你好")[1] == ""


def test_events_voice_and_other_message_types(client):
    wechat = WeChatServer(client, user="oEventsUser-00000000000003")
    ts = int(wechat.timestamp)
    welcome = wechat.post_xml(message_xml(SubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts))
    assert wechat.reply_text(welcome) == fmt.WELCOME
    voice = message_xml(VoiceMessage, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts, id=wechat.next_id(),
                        media_id="media", format="amr", recognition="高龄津贴怎么申请")
    assert "80周岁" in wechat.reply_text(wechat.post_xml(voice))
    unheard = message_xml(VoiceMessage, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts, id=wechat.next_id(),
                          media_id="media", format="amr")
    assert wechat.reply_text(wechat.post_xml(unheard)) == fmt.VOICE_UNAVAILABLE
    image = message_xml(ImageMessage, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts, id=wechat.next_id(),
                        image="http://example.invalid/a.jpg")
    assert wechat.reply_text(wechat.post_xml(image)) == fmt.UNSUPPORTED
    left = wechat.post_xml(message_xml(UnsubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts + 1))
    assert left.text == "success"
    assert wechat.say("   ")[1] == fmt.EMPTY_TEXT
    assert wechat.say("问" * 501)[1] == fmt.TOO_LONG


# --- retries ---
def test_a_retried_message_is_answered_once(client):
    wechat = WeChatServer(client, user="oRetryUser-000000000000004")
    turns_before = _count(client, Turn)
    msg_id = wechat.next_id()
    first = wechat.say("社保卡怎么办理", msg_id=msg_id)[1]
    # WeChat's retries: same MsgId, new nonce; the same answer comes back, the dialogue ran once.
    for nonce in ("retry1", "retry2", "retry3"):
        response = wechat.post_xml(wechat.text_xml("社保卡怎么办理", msg_id=msg_id), nonce=nonce)
        assert wechat.reply_text(response) == first
    assert _count(client, Turn) == turns_before + 1  # one row per turn
    with session_scope(client.app.state.context.sessions) as db:
        assert db.scalar(select(func.count()).select_from(ChannelInbound)
                         .where(ChannelInbound.status == "replied", ChannelInbound.reply_text == first)) == 1
    # Events have no MsgId: the sender and CreateTime identify them.
    ts = int(wechat.timestamp) + 7
    event = message_xml(SubscribeEvent, source=wechat.user, target=OFFICIAL_ACCOUNT, time=ts)
    inbound_before = _count(client, ChannelInbound)
    assert wechat.reply_text(wechat.post_xml(event)) == fmt.WELCOME
    assert wechat.reply_text(wechat.post_xml(event, nonce="again")) == fmt.WELCOME
    assert _count(client, ChannelInbound) == inbound_before + 1


# --- refusals ---
def test_bad_signatures_are_refused_with_nothing_processed(client):
    turns, inbound = _count(client, Turn), _count(client, ChannelInbound)
    wechat = WeChatServer(client, user="oForger-000000000000000005")
    response = wechat.post_xml(wechat.text_xml("高龄津贴怎么申请"), token="guessed-token")
    assert response.status_code == 403 and response.json()["error"]["code"] == "bad_signature"
    wechat.encrypted = True
    good = wechat.query("n")
    response = client.post("/channels/wechat", params={**good, "msg_signature": "a" * 40},
                           content=b"<xml><Encrypt>QUJDRA==</Encrypt></xml>")
    assert response.status_code == 403
    wecom = WeComServer(client)
    response = client.post("/channels/wecom", params={"msg_signature": "b" * 40, "timestamp": "1", "nonce": "n"},
                           content=b"<xml><Encrypt>QUJDRA==</Encrypt></xml>")
    assert response.status_code == 403
    response = client.post("/channels/wecom", params={"timestamp": "1", "nonce": "n"},
                           content=wecom.crypto.encrypt_message("<xml/>", "n", "1").encode())
    assert response.status_code == 403
    assert (_count(client, Turn), _count(client, ChannelInbound)) == (turns, inbound)


@pytest.mark.parametrize("body", [b"", b"<xml><Content>unclosed", b"\xff\xfe\x00garbage", b"[1, 2, 3]",
                                  b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>'])
def test_malformed_xml_is_a_400(client, body):
    wechat = WeChatServer(client)
    response = client.post("/channels/wechat", params=wechat.query("n"), content=body)
    assert response.status_code == 400
    assert response.json()["error"]["message_zh"] == "消息格式不正确"


def test_oversized_bodies_are_refused(client):
    wechat = WeChatServer(client)
    huge = wechat.text_xml("问" * 20000).encode()
    assert len(huge) > 40 * 1024
    assert client.post("/channels/wechat", params=wechat.query("n"), content=huge).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the route counts the bytes itself
        for _ in range(64):
            yield b"<xml>" + b"x" * 1024

    assert client.post("/channels/wechat", params=wechat.query("n"), content=chunks()).status_code == 413


def test_a_channel_without_configuration_is_a_404(client, monkeypatch):
    service = client.app.state.channels
    monkeypatch.setattr(service, "accounts", {k: v for k, v in service.accounts.items() if k != "wecom"})
    response = client.get("/channels/wecom", params={"echostr": "1"})
    assert response.status_code == 404 and "没有开通" in response.json()["error"]["message_zh"]


# --- personal data and secrets ---
def test_no_secret_or_openid_in_logs_or_plain_columns(client, caplog):
    caplog.set_level(logging.DEBUG)
    wechat = WeChatServer(client, user="oPrivacyUser-00000000000006", encrypted=True)
    wechat.say("社保卡怎么办理")
    client.get("/channels/wechat", params={**wechat.query("x"), "signature": "0" * 40, "echostr": "e"})
    for secret in (WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_SECRET, WECOM_TOKEN, WECOM_AES_KEY, WECOM_SECRET,
                   wechat.user):
        assert secret not in caplog.text
    engine = client.app.state.context.engine
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            if table == "alembic_version":
                continue
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                assert wechat.user not in " ".join(str(value) for value in row), table
    assert _count(client, OutboxMessage) == 0  # everything above was answered in time (nothing in the outbox)


def test_the_reply_is_addressed_back_to_the_sender(client):
    wechat = WeChatServer(client, user="oAddressUser-0000000000007")
    response = wechat.post_xml(wechat.text_xml("你好"))
    reply = xmltodict.parse(response.text)["xml"]
    assert (reply["ToUserName"], reply["FromUserName"]) == (wechat.user, OFFICIAL_ACCOUNT)
