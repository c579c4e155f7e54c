"""The callback protocol of both channels, on wechatpy: signatures, AES payloads, message XML, replies.

Official Account: the URL check and plaintext messages are signed with SHA-1 over the sorted token,
timestamp and nonce (``signature``); safe mode (``encrypt_type=aes``) adds ``msg_signature`` over the
encrypted payload, which is AES-256-CBC with the EncodingAESKey and the AppID as receive id. WeCom is
always in safe mode (``msg_signature`` only, CorpID as receive id), including the URL check, whose
``echostr`` is encrypted.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import xmltodict
from wechatpy import create_reply as wechat_create_reply
from wechatpy import parse_message as wechat_parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import check_signature
from wechatpy.work import create_reply as work_create_reply
from wechatpy.work import parse_message as work_parse_message
from wechatpy.work.crypto import WeChatCrypto as WorkCrypto
from wechatpy.work.exceptions import InvalidCorpIdException

from assistant.channels import MalformedMessage, SignatureError
from assistant.channels.config import AccountConfig

log = logging.getLogger(__name__)

# Passive text replies and customer-service texts are limited to 2048 bytes of UTF-8.
MAX_REPLY_BYTES = 2000
# No DTD in a WeChat message: refusing them up front rules out entity expansion and external entities.
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# Errors the parsers and the AES payload decoder raise on bytes that are not what they claim to be.
_DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, binascii.Error, struct.error,
                  UnicodeError, xmltodict.expat.ExpatError)

Kind = Literal["text", "voice", "event", "other"]
_MEDIA_ID = re.compile(r"[A-Za-z0-9_\-@.=+/]{1,256}")


@dataclass(frozen=True)
class Inbound:
    """One message or event, as far as the dialogue cares. ``sender`` is the raw OpenID/UserID: it stays
    in memory for this request (and encrypted in the outbox), never in a log or a plain column."""

    kind: Kind
    msg_type: str
    sender: str
    text: str | None
    event: str | None
    agent_id: int | None
    dedupe_key: str
    message: BaseMessage
    media_id: str | None = None  # a voice message's audio, fetched by MediaId when WeChat gave no Recognition


@dataclass(frozen=True)
class ReplyContext:
    encrypted: bool
    nonce: str
    timestamp: str


def _param(query: Mapping[str, str], name: str) -> str:
    return (query.get(name) or "").strip()


def _signed_params(query: Mapping[str, str], name: str) -> tuple[str, str, str]:
    signature, timestamp, nonce = _param(query, name), _param(query, "timestamp"), _param(query, "nonce")
    if not (signature and timestamp and nonce):
        raise SignatureError(f"missing {name}, timestamp or nonce")
    return signature, timestamp, nonce


def _check_plain_signature(account: AccountConfig, query: Mapping[str, str]) -> None:
    signature, timestamp, nonce = _signed_params(query, "signature")
    try:
        check_signature(account.token.get_secret_value(), signature, timestamp, nonce)
    except InvalidSignatureException as e:
        raise SignatureError("signature does not match") from e


def check_without_body(account: AccountConfig, query: Mapping[str, str]) -> tuple[str, str]:
    """What can be checked before the body is read: the Official Account's ``signature`` covers only token,
    timestamp and nonce; WeCom's ``msg_signature`` covers the payload, so here only its presence. Returns
    the callback's timestamp and nonce for the replay checks."""
    if account.kind == "wechat":
        _check_plain_signature(account, query)
    else:
        _signed_params(query, "msg_signature")
    return _param(query, "timestamp"), _param(query, "nonce")


def _wechat_crypto(account: AccountConfig) -> WeChatCrypto:
    return WeChatCrypto(account.token.get_secret_value(), account.aes_key.get_secret_value(), account.app_id)


def _work_crypto(account: AccountConfig) -> WorkCrypto:
    return WorkCrypto(account.token.get_secret_value(), account.aes_key.get_secret_value(), account.app_id)


def verify_url(account: AccountConfig, query: Mapping[str, str]) -> str:
    """The GET check WeChat makes when the callback URL is saved; returns what to echo."""
    echostr = _param(query, "echostr")
    if not echostr:
        raise MalformedMessage("missing echostr")
    if account.kind == "wechat":
        _check_plain_signature(account, query)
        return echostr
    signature, timestamp, nonce = _signed_params(query, "msg_signature")
    try:
        return _work_crypto(account).check_signature(signature, timestamp, nonce, echostr)
    except (InvalidSignatureException, InvalidCorpIdException) as e:
        raise SignatureError("msg_signature does not match") from e
    except _DECODE_ERRORS as e:
        raise MalformedMessage("echostr cannot be decrypted") from e


def _xml_text(body: bytes) -> str:
    if not body.strip():
        raise MalformedMessage("empty body")
    if _DTD.search(body):
        raise MalformedMessage("a DTD is not allowed")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedMessage("body is not UTF-8") from e


def open_message(account: AccountConfig, query: Mapping[str, str], body: bytes) -> tuple[Inbound, ReplyContext]:
    """Checks the signature(s), decrypts when needed and parses. Raises before anything is processed."""
    if account.kind == "wechat":
        _check_plain_signature(account, query)
        timestamp, nonce = _param(query, "timestamp"), _param(query, "nonce")
        encrypted = _param(query, "encrypt_type").lower() == "aes"
        xml = _xml_text(body)
        if encrypted:
            if not account.has_aes:
                raise MalformedMessage("safe-mode message but no EncodingAESKey is configured")
            xml = _decrypt(_wechat_crypto(account), xml, _param(query, "msg_signature"), timestamp, nonce)
        return _parse(account, xml, wechat_parse_message), ReplyContext(encrypted, nonce, timestamp)
    signature, timestamp, nonce = _signed_params(query, "msg_signature")
    xml = _decrypt(_work_crypto(account), _xml_text(body), signature, timestamp, nonce)
    return _parse(account, xml, work_parse_message), ReplyContext(True, nonce, timestamp)


def _decrypt(crypto: WeChatCrypto | WorkCrypto, xml: str, signature: str, timestamp: str, nonce: str) -> str:
    if not signature:
        raise SignatureError("missing msg_signature")
    try:
        envelope = xmltodict.parse(xml)
    except _DECODE_ERRORS as e:
        raise MalformedMessage("the envelope is not XML") from e
    inner = envelope.get("xml") if isinstance(envelope, dict) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("Encrypt"), str):
        raise MalformedMessage("the envelope has no Encrypt element")
    try:
        plain = crypto.decrypt_message(inner, signature, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException, InvalidCorpIdException) as e:
        raise SignatureError("msg_signature or receive id does not match") from e
    except _DECODE_ERRORS as e:
        raise MalformedMessage("the payload cannot be decrypted") from e
    return _xml_text(plain.encode("utf-8"))


def _parse(account: AccountConfig, xml: str, parser: Any) -> Inbound:
    try:
        message = parser(xml)
        if message is None:
            raise MalformedMessage("empty message")
        msg_type = str(message._data.get("MsgType") or "").lower()
        sender = message.source
        if not msg_type or not isinstance(sender, str) or not sender:
            raise MalformedMessage("MsgType or FromUserName is missing")
        msg_id = message._data.get("MsgId")
        create_time = message._data.get("CreateTime")
        if not _is_number(create_time) or (msg_id is not None and not _is_number(msg_id)):
            raise MalformedMessage("CreateTime or MsgId is not a number")
        agent_id = int(message._data["AgentID"]) if message._data.get("AgentID") else None
        kind, text, event = _classify(message, msg_type)
        media_id = _media_id(message._data.get("MediaId")) if kind == "voice" else None
    except MalformedMessage:
        raise
    except _DECODE_ERRORS as e:
        raise MalformedMessage("not a WeChat message") from e
    # MsgId identifies a message (the sender is added for safety); events have none, so FromUserName +
    # CreateTime (+ the event) does.
    identity = f"msg:{sender}:{msg_id}" if msg_id else f"event:{sender}:{create_time}:{event or msg_type}"
    dedupe_key = hashlib.sha256(f"{account.kind}:{account.app_id}:{identity}".encode()).hexdigest()
    return Inbound(kind, msg_type, sender, text, event, agent_id, dedupe_key, message, media_id)


def _media_id(value: object) -> str | None:
    """A MediaId fit to put in a URL's query: printable ASCII without spaces, of a sane length."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _MEDIA_ID.fullmatch(value) else None


def _is_number(value: object) -> bool:
    return isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 20


def _classify(message: BaseMessage, msg_type: str) -> tuple[Kind, str | None, str | None]:
    data = message._data
    if msg_type == "text":
        content = data.get("Content")
        return "text", content if isinstance(content, str) else "", None
    if msg_type == "voice":
        recognition = data.get("Recognition")
        return "voice", recognition.strip() if isinstance(recognition, str) else None, None
    if msg_type == "event":
        event = data.get("Event")
        if not isinstance(event, str) or not event:
            raise MalformedMessage("event without Event")
        return "event", None, event.lower()
    return "other", None, None


def _safe_text(text: str) -> str:
    # wechatpy writes text into CDATA; a "]]>" inside would end it early.
    text = text.replace("]]>", "]] >")
    data = text.encode("utf-8")
    if len(data) <= MAX_REPLY_BYTES:
        return text
    return data[: MAX_REPLY_BYTES - 6].decode("utf-8", errors="ignore") + "……"


def limit_text(text: str) -> str:
    """Text cut to what a WeChat text message may carry."""
    return _safe_text(text)


def render_reply(account: AccountConfig, inbound: Inbound, text: str, context: ReplyContext) -> str:
    """The passive reply body: a text message, encrypted when the request was."""
    if account.kind == "wechat":
        xml = wechat_create_reply(_safe_text(text), inbound.message, render=True)
        if context.encrypted:
            return _wechat_crypto(account).encrypt_message(xml, context.nonce, context.timestamp)
        return xml
    xml = work_create_reply(_safe_text(text), inbound.message, render=True)
    return _work_crypto(account).encrypt_message(xml, context.nonce, context.timestamp)


def empty_reply(account: AccountConfig) -> str:
    """"Received, nothing to say now": WeChat then waits for a customer-service message, if any."""
    return "success" if account.kind == "wechat" else ""
