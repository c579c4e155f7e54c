"""Callback protocol, reply formatting and configuration of the WeChat/WeCom channels (no server)."""

from __future__ import annotations

import base64
import time

import pytest
import xmltodict
from channel_kit import (
    OFFICIAL_ACCOUNT,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_TOKEN,
    WECOM_AES_KEY,
    WECOM_AGENT_ID,
    WECOM_CORP_ID,
    WECOM_TOKEN,
    ImageMessage,
    SubscribeEvent,
    TextMessage,
    VoiceMessage,
    WorkTextMessage,
    channel_settings,
    message_xml,
)
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner
from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

from assistant.channels import ChannelNotConfigured, MalformedMessage, SignatureError
from assistant.channels import formatting as fmt
from assistant.channels.config import load_accounts, wechat_account, wecom_account
from assistant.channels.protocol import MAX_REPLY_BYTES, open_message, render_reply, verify_url
from assistant.channels.store import session_id_for
from assistant.dialogue.schemas import Button, ChatResponse, Reply

USER = "oAbCdEfGhIjKlMnOpQrStUvWxYz1"
TS = str(int(time.time()))


@pytest.fixture
def accounts(settings):
    configured = channel_settings(settings)
    return wechat_account(configured), wecom_account(configured)


def signed(token: str = WECHAT_TOKEN, nonce: str = "n0nce", **extra: str) -> dict[str, str]:
    signer = WeChatSigner()
    signer.add_data(token, TS, nonce)
    return {"signature": signer.signature, "timestamp": TS, "nonce": nonce, **extra}


def text_xml(content: str = "高龄津贴怎么申请", msg_id: int = 1234567890123456) -> str:
    return message_xml(TextMessage, target=OFFICIAL_ACCOUNT, source=USER, time=int(TS), content=content, id=msg_id)


def encrypt(xml: str, *, token: str = WECHAT_TOKEN, key: str = WECHAT_AES_KEY, app_id: str = WECHAT_APP_ID,
            nonce: str = "n0nce") -> tuple[bytes, str]:
    envelope = xmltodict.parse(WeChatCrypto(token, key, app_id).encrypt_message(xml, nonce, TS))["xml"]
    body = f"<xml><ToUserName>{OFFICIAL_ACCOUNT}</ToUserName><Encrypt>{envelope['Encrypt']}</Encrypt></xml>"
    return body.encode(), envelope["MsgSignature"]


# --- URL verification ---
def test_official_account_url_check_echoes_echostr_only_with_the_right_signature(accounts):
    wechat, _ = accounts
    assert verify_url(wechat, signed(echostr="8754651235")) == "8754651235"
    with pytest.raises(SignatureError):
        verify_url(wechat, signed(token="not-the-token", echostr="8754651235"))
    with pytest.raises(SignatureError):
        verify_url(wechat, {"timestamp": TS, "nonce": "x", "echostr": "1"})


def test_wecom_url_check_decrypts_echostr(accounts):
    _, wecom = accounts
    envelope = xmltodict.parse(WorkCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
                               .encrypt_message("echo-4513", "vn", TS))["xml"]
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": TS, "nonce": "vn", "echostr": envelope["Encrypt"]}
    assert verify_url(wecom, query) == "echo-4513"
    with pytest.raises(SignatureError):
        verify_url(wecom, {**query, "msg_signature": "0" * 40})
    # Encrypted for another corporation: the signature matches but the receive id does not.
    other = xmltodict.parse(WorkCrypto(WECOM_TOKEN, WECOM_AES_KEY, "ww-someone-else")
                            .encrypt_message("echo", "vn", TS))["xml"]
    with pytest.raises(SignatureError):
        verify_url(wecom, {"msg_signature": other["MsgSignature"], "timestamp": TS, "nonce": "vn",
                           "echostr": other["Encrypt"]})


# --- messages ---
def test_plaintext_text_message_is_parsed(accounts):
    wechat, _ = accounts
    inbound, context = open_message(wechat, signed(), text_xml().encode())
    assert (inbound.kind, inbound.text, inbound.sender) == ("text", "高龄津贴怎么申请", USER)
    assert not context.encrypted
    # The dedupe key hides the sender and is the same for a retry of the same MsgId.
    again, _ = open_message(wechat, signed(nonce="other"), text_xml().encode())
    assert again.dedupe_key == inbound.dedupe_key and USER not in inbound.dedupe_key
    different, _ = open_message(wechat, signed(), text_xml(msg_id=99).encode())
    assert different.dedupe_key != inbound.dedupe_key


def test_safe_mode_message_is_decrypted_and_the_reply_encrypted(accounts):
    wechat, _ = accounts
    body, msg_signature = encrypt(text_xml("社保卡丢了怎么办"))
    inbound, context = open_message(wechat, signed(encrypt_type="aes", msg_signature=msg_signature), body)
    assert inbound.text == "社保卡丢了怎么办" and context.encrypted
    reply = render_reply(wechat, inbound, "先挂失]]>再补办", context)
    envelope = xmltodict.parse(reply)["xml"]
    plain = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID).decrypt_message(
        reply, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    parsed = xmltodict.parse(plain)["xml"]
    # "]]>" would have closed the CDATA early and broken the XML.
    assert parsed["ToUserName"] == USER and parsed["FromUserName"] == OFFICIAL_ACCOUNT
    assert parsed["Content"].startswith("先挂失") and parsed["Content"].endswith("再补办")


def test_safe_mode_rejects_wrong_msg_signature_and_foreign_app_id(accounts):
    wechat, _ = accounts
    body, msg_signature = encrypt(text_xml())
    with pytest.raises(SignatureError):
        open_message(wechat, signed(encrypt_type="aes", msg_signature="f" * 40), body)
    with pytest.raises(SignatureError):  # the plain signature is checked too
        open_message(wechat, signed(token="nope", encrypt_type="aes", msg_signature=msg_signature), body)
    foreign, foreign_signature = encrypt(text_xml(), app_id="wx-another-account")
    with pytest.raises(SignatureError):
        open_message(wechat, signed(encrypt_type="aes", msg_signature=foreign_signature), foreign)


def test_wecom_message_carries_the_agent_id(accounts):
    _, wecom = accounts
    xml = message_xml(WorkTextMessage, target=WECOM_CORP_ID, source="lisi", time=int(TS), content="你好", id=1,
                      agent=WECOM_AGENT_ID)
    envelope = xmltodict.parse(WorkCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).encrypt_message(xml, "n", TS))
    body = f"<xml><Encrypt>{envelope['xml']['Encrypt']}</Encrypt></xml>".encode()
    inbound, context = open_message(wecom, {"msg_signature": envelope["xml"]["MsgSignature"], "timestamp": TS,
                                            "nonce": "n"}, body)
    assert (inbound.text, inbound.agent_id, inbound.sender, context.encrypted) == ("你好", WECOM_AGENT_ID, "lisi", True)
    with pytest.raises(SignatureError):  # WeCom is never plaintext
        open_message(wecom, signed(token=WECOM_TOKEN), xml.encode())


@pytest.mark.parametrize("body", [
    b"", b"   ", b"not xml at all", b"<xml><MsgType>text</MsgType>", b"<xml>just text</xml>",
    b"<xml><MsgType>text</MsgType><Content>hi</Content></xml>",  # no FromUserName
    b"<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><MsgId>abc</MsgId><CreateTime>1</CreateTime>"
    b"<Content>hi</Content></xml>",  # MsgId not a number
    b"<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><Content>hi</Content></xml>",  # no CreateTime
    b"<xml><FromUserName>u</FromUserName><MsgType>event</MsgType></xml>",  # event without Event
    "<xml><Content>你好</Content></xml>".encode("gb18030"),
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><Content>&lol2;</Content></xml>",
    b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
])
def test_malformed_bodies_are_refused(accounts, body):
    wechat, _ = accounts
    with pytest.raises(MalformedMessage):
        open_message(wechat, signed(), body)


def test_malformed_encrypted_payloads_are_refused(accounts):
    wechat, _ = accounts
    for encrypt_value in ["%%%not-base64%%%", base64.b64encode(b"short").decode(), "QUJD" * 3]:
        signer = WeChatSigner()
        signer.add_data(WECHAT_TOKEN, TS, "n0nce", encrypt_value)
        body = f"<xml><Encrypt>{encrypt_value}</Encrypt></xml>".encode()
        with pytest.raises(MalformedMessage):
            open_message(wechat, signed(encrypt_type="aes", msg_signature=signer.signature), body)
    with pytest.raises(MalformedMessage):  # an envelope without Encrypt
        open_message(wechat, signed(encrypt_type="aes", msg_signature="x" * 40), b"<xml><A>1</A></xml>")


def test_voice_subscribe_and_other_types_are_classified(accounts):
    wechat, _ = accounts
    voice = message_xml(VoiceMessage, source=USER, target=OFFICIAL_ACCOUNT, time=int(TS), id=7, media_id="m",
                        format="amr", recognition="社保卡怎么办理")
    assert open_message(wechat, signed(), voice.encode())[0].text == "社保卡怎么办理"
    silent_voice = message_xml(VoiceMessage, source=USER, target=OFFICIAL_ACCOUNT, time=int(TS), id=8,
                               media_id="m", format="amr")
    assert open_message(wechat, signed(), silent_voice.encode())[0].text is None
    subscribe = message_xml(SubscribeEvent, source=USER, target=OFFICIAL_ACCOUNT, time=int(TS))
    event, _ = open_message(wechat, signed(), subscribe.encode())
    assert (event.kind, event.event) == ("event", "subscribe")
    image = message_xml(ImageMessage, source=USER, target=OFFICIAL_ACCOUNT, time=int(TS), id=9, image="http://x")
    assert open_message(wechat, signed(), image.encode())[0].kind == "other"


def test_long_replies_fit_a_wechat_text_message(accounts):
    wechat, _ = accounts
    inbound, context = open_message(wechat, signed(), text_xml().encode())
    reply = xmltodict.parse(render_reply(wechat, inbound, "很长的回答。" * 400, context))["xml"]
    assert len(reply["Content"].encode("utf-8")) <= MAX_REPLY_BYTES and reply["Content"].endswith("……")


# --- formatting ---
def _response(text: str, buttons: list[tuple[str, str]]) -> ChatResponse:
    return ChatResponse(session_id="s", action="clarify",
                        reply=Reply(text=text, speech=text, buttons=[Button(title=t, payload=p) for t, p in buttons]))


def test_buttons_become_numbered_text():
    text, payloads = fmt.format_reply(_response("您想问哪一个？", [("1. 高龄津贴怎么申请", "/choose 1"),
                                                               ("2. 老年食堂", "/choose 2"), ("都不是", "/choose 0")]))
    assert text.splitlines() == ["您想问哪一个？", "", "回复 1：高龄津贴怎么申请", "回复 2：老年食堂", "回复 3：都不是"]
    assert payloads == ["/choose 1", "/choose 2", "/choose 0"]
    assert fmt.format_reply(_response("好的", [])) == ("好的", [])


def test_call_buttons_are_numbers_to_dial_not_numbered_picks():
    text, payloads = fmt.format_reply(_response("急救打120。", [("拨打120", "tel:120"), ("拨打110", "tel:110"),
                                                              ("呼叫工作人员", "/human")]))
    assert text.splitlines() == ["急救打120。", "请直接拨打：120、110", "", "回复 1：呼叫工作人员"]
    assert payloads == ["/human"]


@pytest.mark.parametrize(("text", "expected"), [
    ("1", "/choose 1"), ("１", "/choose 1"), ("回复2", "/choose 2"), ("回复 3", "/choose 0"), ("2。", "/choose 2"),
    ("第二个", "/choose 2"), ("最后一个", "/choose 0"), ("4", None), ("0", None), ("80岁老人有补贴吗", None),
    ("高龄津贴怎么申请", None),
])
def test_a_number_picks_the_button_payload(text, expected):
    assert fmt.pick_payload(text, ["/choose 1", "/choose 2", "/choose 0"]) == expected


def test_a_number_without_a_menu_is_just_text():
    assert fmt.pick_payload("1", []) is None


# --- configuration ---
def test_accounts_come_from_settings_and_bad_keys_switch_a_channel_off(settings):
    accounts, disabled = load_accounts(settings)
    assert accounts == {} and set(disabled) == {"wechat", "wecom"}
    for bad in ("short", "!" * 43):
        with pytest.raises(ChannelNotConfigured):
            wechat_account(channel_settings(settings, wechat_aes_key=bad))
    with pytest.raises(ChannelNotConfigured):
        wecom_account(channel_settings(settings, wecom_agent_id="10000x2"))
    plain_only = channel_settings(settings, wechat_aes_key="", wechat_app_secret="")
    account = wechat_account(plain_only)
    assert not account.has_aes and not account.can_send
    # Secrets are not part of the repr.
    assert WECHAT_TOKEN not in repr(account) and WECHAT_AES_KEY not in repr(account)
    assert WECHAT_TOKEN not in repr(channel_settings(settings))


def test_session_ids_hide_the_user_and_are_stable(accounts):
    wechat, wecom = accounts
    first = session_id_for(wechat, USER)
    assert first == session_id_for(wechat, USER) and first.startswith("wx-") and len(first) <= 64
    assert USER not in first and first != session_id_for(wechat, USER + "x")
    assert session_id_for(wecom, "zhangsan").startswith("wc-")
