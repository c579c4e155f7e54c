"""Test kit for the WeChat/WeCom channels: a WeChat-server stand-in built on wechatpy's own message
fields and crypto, and a local fake of the customer-service API (token + send endpoints).

Imported by ``test_channels_*.py`` (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import xmltodict
import yaml
from pydantic import SecretStr
from wechatpy import events, messages
from wechatpy.crypto import WeChatCrypto
from wechatpy.fields import StringField
from wechatpy.utils import WeChatSigner
from wechatpy.work import events as work_events
from wechatpy.work import messages as work_messages
from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

from assistant.settings import Settings

WECHAT_TOKEN = "shequ-test-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APP_ID = "wx5823bf96d3bd56c7"
WECHAT_SECRET = "wechat-app-secret-DO-NOT-LOG"
WECOM_TOKEN = "wecom-test-token"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP_ID = "wwcorp0123456789"
WECOM_AGENT_ID = 1000002
WECOM_SECRET = "wecom-corp-secret-DO-NOT-LOG"
OFFICIAL_ACCOUNT = "gh_shequ"

TextMessage, VoiceMessage, ImageMessage = messages.TextMessage, messages.VoiceMessage, messages.ImageMessage
SubscribeEvent = events.SubscribeEvent
UnsubscribeEvent = events.UnsubscribeEvent
WorkTextMessage = work_messages.TextMessage
WorkSubscribeEvent = work_events.SubscribeEvent


def write_tiny_kb(directory: Path, data: dict[str, Any]) -> Path:
    """The shared ``tiny_kb_data`` as files (what the ``write_kb`` fixture does, usable at module scope)."""
    def dump(content: Any, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")

    for name, content in data["entries"].items():
        dump(content, directory / "entries" / name)
    dump({"synonyms": data["synonyms"]}, directory / "synonyms.yaml")
    dump(data["profile"], directory / "community_profile.example.yaml")
    return directory


@contextmanager
def module_settings(base: Path, kb_data: dict[str, Any], **update: Any) -> Iterator[Settings]:
    """Settings like the ``settings`` fixture (no SHEQU_* from the environment), for module-scoped apps."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        settings = Settings(_env_file=None, var_dir=base, database_url=f"sqlite:///{(base / 'shequ.db').as_posix()}",
                            kb_data_dir=write_tiny_kb(base / "kb", kb_data), index_dir=base / "index")
        yield channel_settings(settings, **update)


def channel_settings(settings: Any, **update: Any) -> Any:
    values: dict[str, Any] = {
        "wechat_token": WECHAT_TOKEN, "wechat_aes_key": WECHAT_AES_KEY, "wechat_app_id": WECHAT_APP_ID,
        "wechat_app_secret": WECHAT_SECRET, "wecom_token": WECOM_TOKEN, "wecom_aes_key": WECOM_AES_KEY,
        "wecom_corp_id": WECOM_CORP_ID, "wecom_agent_id": str(WECOM_AGENT_ID), "wecom_secret": WECOM_SECRET,
        # Passive answers in tests must not depend on the machine's speed: the async path has its own tests.
        "channel_reply_budget_seconds": 120.0,
    }
    values.update(update)
    secret_fields = {"wechat_token", "wechat_aes_key", "wechat_app_secret", "wecom_token", "wecom_aes_key",
                     "wecom_secret"}
    values = {k: SecretStr(v) if k in secret_fields and isinstance(v, str) else v for k, v in values.items()}
    return settings.model_copy(update=values)


def message_xml(cls: type, **values: Any) -> str:
    """An inbound message rendered by the message class's own wechatpy fields (``to_xml``)."""
    nodes = [f"<MsgType><![CDATA[{cls.type}]]></MsgType>"]
    if getattr(cls, "event", ""):
        nodes.append(StringField("Event").to_xml(cls.event))
    for name, value in values.items():
        nodes.append(cls._fields[name].to_xml(value))
    return "<xml>" + "".join(nodes) + "</xml>"


_MSG_IDS = itertools.count(6_000_000_000_000_000_001)


def fresh_nonce() -> str:
    """A new nonce, as WeChat sends with every callback (the server refuses one it has seen)."""
    return uuid.uuid4().hex[:16]


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@dataclass
class WeChatServer:
    """Plays the WeChat server: signs, encrypts and posts callbacks, and reads replies back."""

    client: Any
    user: str = "oUser-resident-0001"
    encrypted: bool = False
    path: str = "/channels/wechat"
    timestamp: str = field(default_factory=lambda: str(int(time.time())))

    @property
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID)

    def next_id(self) -> int:
        return next(_MSG_IDS)

    def text_xml(self, content: str, msg_id: int | None = None) -> str:
        return message_xml(TextMessage, target=OFFICIAL_ACCOUNT, source=self.user, time=int(self.timestamp),
                           content=content, id=msg_id or self.next_id())

    def query(self, nonce: str, token: str = WECHAT_TOKEN) -> dict[str, str]:
        query = {"signature": _signature(token, self.timestamp, nonce), "timestamp": self.timestamp,
                 "nonce": nonce, "openid": self.user}
        if self.encrypted:
            query["encrypt_type"] = "aes"
        return query

    def post_xml(self, xml: str, nonce: str | None = None, token: str = WECHAT_TOKEN) -> Any:
        nonce = nonce or fresh_nonce()
        query = self.query(nonce, token)
        body = xml
        if self.encrypted:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, self.timestamp))["xml"]
            query["msg_signature"] = envelope["MsgSignature"]
            body = f"<xml><ToUserName><![CDATA[{OFFICIAL_ACCOUNT}]]></ToUserName>" \
                   f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        return self.client.post(self.path, params=query, content=body.encode("utf-8"))

    def say(self, content: str, msg_id: int | None = None) -> tuple[Any, str]:
        response = self.post_xml(self.text_xml(content, msg_id))
        return response, self.reply_text(response)

    def reply_text(self, response: Any) -> str:
        """The text of a passive reply ("" for success/empty), decrypted and signature-checked."""
        assert response.status_code == 200, response.text
        body = response.text
        if body in ("", "success"):
            return ""
        if self.encrypted:
            envelope = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(body, envelope["MsgSignature"], envelope["TimeStamp"],
                                               envelope["Nonce"])
        reply = xmltodict.parse(body)["xml"]
        assert reply["ToUserName"] == self.user and reply["MsgType"] == "text"
        return reply["Content"]


@dataclass
class WeComServer:
    client: Any
    user: str = "zhangsan"
    path: str = "/channels/wecom"
    agent_id: int = WECOM_AGENT_ID
    timestamp: str = field(default_factory=lambda: str(int(time.time())))

    @property
    def crypto(self) -> WorkCrypto:
        return WorkCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)

    def verify_query(self, echo: str, nonce: str | None = None) -> dict[str, str]:
        nonce = nonce or fresh_nonce()
        envelope = xmltodict.parse(self.crypto.encrypt_message(echo, nonce, self.timestamp))["xml"]
        return {"msg_signature": envelope["MsgSignature"], "timestamp": self.timestamp, "nonce": nonce,
                "echostr": envelope["Encrypt"]}

    def post_xml(self, xml: str, nonce: str | None = None) -> Any:
        nonce = nonce or fresh_nonce()
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, self.timestamp))["xml"]
        body = f"<xml><ToUserName><![CDATA[{WECOM_CORP_ID}]]></ToUserName><AgentID>{self.agent_id}</AgentID>" \
               f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        query = {"msg_signature": envelope["MsgSignature"], "timestamp": self.timestamp, "nonce": nonce}
        return self.client.post(self.path, params=query, content=body.encode("utf-8"))

    def text_xml(self, content: str, msg_id: int | None = None) -> str:
        return message_xml(WorkTextMessage, target=WECOM_CORP_ID, source=self.user, time=int(self.timestamp),
                           content=content, id=msg_id or next(_MSG_IDS), agent=self.agent_id)

    def say(self, content: str) -> tuple[Any, str]:
        response = self.post_xml(self.text_xml(content))
        return response, self.reply_text(response)

    def reply_text(self, response: Any) -> str:
        assert response.status_code == 200, response.text
        if not response.text:
            return ""
        envelope = xmltodict.parse(response.text)["xml"]
        plain = self.crypto.decrypt_message(response.text, envelope["MsgSignature"], envelope["TimeStamp"],
                                            envelope["Nonce"])
        reply = xmltodict.parse(plain)["xml"]
        assert reply["ToUserName"] == self.user and reply["MsgType"] == "text"
        return reply["Content"]


class FakeApi:
    """A local stand-in for api.weixin.qq.com / qyapi.weixin.qq.com (token, message and media endpoints).

    ``fail_sends`` is a list of errcodes the next sends answer with (then 0); ``expires_in`` is what
    token requests return. Every accepted message lands in ``sent`` and sets ``delivered``. ``media`` maps a
    MediaId to ``(content_type, bytes)`` for ``GET /cgi-bin/media/get`` (unknown ids: errcode 40007)."""

    def __init__(self) -> None:
        self.tokens_issued: list[str] = []
        self.revoked: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.requests: list[str] = []  # raw request lines, to check what went over the wire
        self.fail_sends: list[int] = []
        self.expires_in = 7200
        self.media: dict[str, tuple[str, bytes]] = {}
        self.delivered = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _issue(self, ok: bool) -> dict[str, Any]:
        if not ok:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = f"ACCESS_TOKEN_{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return {"access_token": token, "expires_in": self.expires_in}

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes
               ) -> dict[str, Any] | tuple[str, bytes]:
        with self._lock:
            if method == "GET" and path == "/cgi-bin/token":
                return self._issue(query.get("appid") == WECHAT_APP_ID and query.get("secret") == WECHAT_SECRET)
            if method == "GET" and path == "/cgi-bin/gettoken":
                return self._issue(query.get("corpid") == WECOM_CORP_ID and query.get("corpsecret") == WECOM_SECRET)
            if method == "POST" and path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/send"):
                token = query.get("access_token", "")
                if token not in self.tokens_issued or token in self.revoked:
                    return {"errcode": 42001, "errmsg": "access_token expired"}
                if self.fail_sends:
                    code = self.fail_sends.pop(0)
                    return {"errcode": code, "errmsg": "scripted failure"}
                message = json.loads(body.decode("utf-8"))
                message["_path"] = path
                self.sent.append(message)
                self.delivered.set()
                return {"errcode": 0, "errmsg": "ok"}
            if method == "GET" and path == "/cgi-bin/media/get":
                token = query.get("access_token", "")
                if token not in self.tokens_issued or token in self.revoked:
                    return {"errcode": 42001, "errmsg": "access_token expired"}
                return self.media.get(query.get("media_id", ""), {"errcode": 40007, "errmsg": "invalid media_id"})
        return {"errcode": 404, "errmsg": "no such api"}

    @contextmanager
    def running(self) -> Iterator[FakeApi]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(f"{method} {self.path}")
                answer = fake.handle(method, url.path, query, body)
                content_type, data = answer if isinstance(answer, tuple) else \
                    ("application/json", json.dumps(answer).encode())
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
