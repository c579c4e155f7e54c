"""The customer-service message API of both channels, the media download, and the access-token cache they need.

Official Account: ``GET /cgi-bin/token`` then ``POST /cgi-bin/message/custom/send``; WeCom:
``GET /cgi-bin/gettoken`` then ``POST /cgi-bin/message/send`` with the AgentID. A voice message's audio
(AMR, or Speex for WeCom's high-quality voice) comes from ``GET /cgi-bin/media/get?media_id=…`` on both,
read with a size cap; an error there is a JSON body instead of audio. Tokens live 7200 s and a
new one retires the old one, so one token per account is shared by every worker through the database and
refreshed ahead of its expiry. URLs carry the secret or the token: they are never logged, and errors
carry only an exception name or an errcode.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from assistant.channels import DeliveryError, MediaError, PermanentDeliveryError, TransientDeliveryError
from assistant.channels.config import AccountConfig
from assistant.channels.models import ChannelToken
from assistant.delivery import Delivery
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

TOKEN_REFRESH_MARGIN = 300.0  # seconds before expiry; a token must not run out between get and send
# access_token missing, invalid or expired: fetch a fresh one and try once more.
TOKEN_ERRCODES = frozenset({40001, 40014, 41001, 42001, 42007})
# The message can never be delivered: the 48-hour window closed, the user left or does not exist,
# the account may not use this API. Retrying only burns the rate limit.
PERMANENT_ERRCODES = frozenset({40003, 43004, 43019, 45015, 45047, 48001, 60111, 81013})
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A voice message is a minute of AMR at most (~100 KB); an error answer is a short JSON object.
MEDIA_TIMEOUT = httpx.Timeout(8.0, connect=4.0)
MAX_ERROR_BODY_BYTES = 16 * 1024
_AUDIO_TYPES = ("audio/", "video/", "application/octet-stream", "application/ogg")
_SECRET_QUERY = re.compile(r"((?:secret|corpsecret|access_token)=)[^&\s\"']+", re.IGNORECASE)


class _SecretQueryFilter(logging.Filter):
    """httpx logs every request URL at INFO; ours carry the AppSecret or the access token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_QUERY.search(message):
            record.msg = _SECRET_QUERY.sub(r"\1***", message)
            record.args = ()
        return True


def install_log_filter() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _SecretQueryFilter) for f in logger.filters):
            logger.addFilter(_SecretQueryFilter())


@dataclass
class _Cached:
    token: str
    expires_at: float
    fetched_at: float


def _fresh(cached: _Cached | None, now: float, margin: float) -> bool:
    if cached is None:
        return False
    # A short-lived token (tests, sandboxes) is refreshed at half its life rather than never being fresh.
    lead = min(margin, (cached.expires_at - cached.fetched_at) / 2)
    return now < cached.expires_at - lead


class AccessTokenCache:
    """One access token per account: memory first, then the shared row, then the API."""

    def __init__(self, account_key: str, fetch: Callable[[], tuple[str, float]], sessions: sessionmaker[Session],
                 cipher: PersonalDataCipher, clock: Callable[[], float] = time.time,
                 margin: float = TOKEN_REFRESH_MARGIN) -> None:
        self.account_key = account_key
        self._fetch = fetch
        self._sessions = sessions
        self._cipher = cipher
        self._clock = clock
        self.margin = margin
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if _fresh(self._cached, now, self.margin):
                return self._cached.token  # type: ignore[union-attr]
            stored = self._load()
            if _fresh(stored, now, self.margin):
                self._cached = stored
                return stored.token  # type: ignore[union-attr]
            token, expires_in = self._fetch()
            self.fetches += 1
            self._cached = _Cached(token, now + expires_in, now)
            self._store(self._cached)
            log.info("fetched a new access token for %s (valid %d s)", self.account_key.split(":")[0],
                     int(expires_in))
            return token

    def invalidate(self, token: str) -> None:
        """The API rejected ``token``: forget it here and in the shared row (unless another worker has
        already replaced it with a newer one)."""
        with self._lock:
            if self._cached is not None and self._cached.token == token:
                self._cached = None
            with session_scope(self._sessions) as db:
                row = db.get(ChannelToken, self.account_key)
                if row is not None and self._cipher.decrypt(row.token_encrypted) == token:
                    db.delete(row)

    def _load(self) -> _Cached | None:
        with session_scope(self._sessions) as db:
            row = db.get(ChannelToken, self.account_key)
            if row is None:
                return None
            token = self._cipher.decrypt(row.token_encrypted)
            return _Cached(token, row.expires_at, row.fetched_at) if token else None

    def _store(self, cached: _Cached) -> None:
        with session_scope(self._sessions) as db:
            row = db.get(ChannelToken, self.account_key)
            encrypted = self._cipher.encrypt(cached.token)
            if row is None:
                db.add(ChannelToken(account=self.account_key, token_encrypted=encrypted,
                                    expires_at=cached.expires_at, fetched_at=cached.fetched_at))
            else:
                row.token_encrypted, row.expires_at, row.fetched_at = encrypted, cached.expires_at, cached.fetched_at


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise TransientDeliveryError(f"http:{response.status_code}")
    try:
        data = response.json()
    except ValueError as e:
        raise TransientDeliveryError("bad_response") from e
    if not isinstance(data, dict):
        raise TransientDeliveryError("bad_response")
    return data


def _errcode(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1


class CustomerServiceSender:
    """Sends a text message to one user of one account (``send_text`` raises a ``DeliveryError``).

    Also a ``Sender`` of the one outbox (``deliver``): a late reply's row has the recipient and ``{"text": …}``.
    """

    def __init__(self, account: AccountConfig, sessions: sessionmaker[Session], cipher: PersonalDataCipher,
                 http: httpx.Client, clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self.http = http
        agent = f":{account.agent_id}" if account.kind == "wecom" else ""
        self.tokens = AccessTokenCache(f"{account.kind}:{account.app_id}{agent}", self._fetch_token, sessions,
                                       cipher, clock)
        install_log_filter()

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, f"{self.account.api_base}{path}", timeout=HTTP_TIMEOUT, **kwargs)
        except httpx.HTTPError as e:
            raise TransientDeliveryError(f"http:{type(e).__name__}") from None
        return _json(response)

    def _fetch_token(self) -> tuple[str, float]:
        if not self.account.can_send:
            raise PermanentDeliveryError("not_configured")
        secret = self.account.secret.get_secret_value()
        if self.account.kind == "wechat":
            data = self._request("GET", "/cgi-bin/token", params={"grant_type": "client_credential",
                                                                  "appid": self.account.app_id, "secret": secret})
        else:
            data = self._request("GET", "/cgi-bin/gettoken", params={"corpid": self.account.app_id,
                                                                     "corpsecret": secret})
        token, expires_in = data.get("access_token"), data.get("expires_in", 7200)
        if _errcode(data) or not isinstance(token, str) or not token:
            # A wrong secret or an IP outside the allow-list: staff can fix it, so keep retrying.
            raise TransientDeliveryError(f"token_errcode:{_errcode(data)}")
        try:
            return token, max(float(expires_in), 1.0)
        except (TypeError, ValueError):
            return token, 7200.0

    @property
    def name(self) -> str:
        return self.account.kind

    def deliver(self, delivery: Delivery) -> None:
        if not delivery.recipient:  # wiped, or the key that encrypted it is gone
            raise PermanentDeliveryError("recipient_unreadable")
        self.send_text(delivery.recipient, str(delivery.body.get("text") or ""))

    def send_text(self, user_id: str, text: str) -> None:
        if not self.account.can_send:
            raise PermanentDeliveryError("not_configured")
        if self.account.kind == "wechat":
            path = "/cgi-bin/message/custom/send"
            payload: dict[str, Any] = {"touser": user_id, "msgtype": "text", "text": {"content": text}}
        else:
            path = "/cgi-bin/message/send"
            payload = {"touser": user_id, "msgtype": "text", "agentid": self.account.agent_id,
                       "text": {"content": text}}
        # Chinese as UTF-8, not \\u escapes, which some WeChat endpoints show literally.
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        for attempt in range(2):
            token = self.tokens.get()
            data = self._request("POST", path, params={"access_token": token}, content=body,
                                 headers={"Content-Type": "application/json; charset=utf-8"})
            code = _errcode(data)
            if code == 0:
                if data.get("invaliduser"):  # WeCom answers 0 and lists the users it could not reach
                    raise PermanentDeliveryError("invalid_user")
                return
            if code in TOKEN_ERRCODES and attempt == 0:
                self.tokens.invalidate(token)
                continue
            if code in PERMANENT_ERRCODES:
                raise PermanentDeliveryError(f"errcode:{code}")
            raise TransientDeliveryError(f"errcode:{code}")
        raise TransientDeliveryError("token_rejected")

    def fetch_media(self, media_id: str, *, max_bytes: int) -> bytes:
        """The audio of a voice message (temporary media, kept by WeChat for three days).

        Raises ``MediaError`` with a short reason (no secret, an errcode, too big, network) — never the URL,
        which carries the access token."""
        if not self.account.can_send:
            raise MediaError("not_configured")
        for attempt in range(2):
            try:
                token = self.tokens.get()
            except DeliveryError as e:
                raise MediaError(f"token:{e.reason}") from None
            try:
                with self.http.stream("GET", f"{self.account.api_base}/cgi-bin/media/get", timeout=MEDIA_TIMEOUT,
                                      params={"access_token": token, "media_id": media_id}) as response:
                    if response.status_code >= 400:
                        raise MediaError(f"http:{response.status_code}")
                    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                    if content_type.startswith(_AUDIO_TYPES):
                        return _read_capped(response, max_bytes)
                    code = _errcode(_error_json(response))
            except httpx.HTTPError as e:
                raise MediaError(f"http:{type(e).__name__}") from None
            if code in TOKEN_ERRCODES and attempt == 0:
                self.tokens.invalidate(token)
                continue
            raise MediaError(f"errcode:{code}")
        raise MediaError("token_rejected")


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise MediaError("too_large")
        chunks.append(chunk)
    if not size:
        raise MediaError("empty")
    return b"".join(chunks)


def _error_json(response: httpx.Response) -> dict[str, Any]:
    """WeChat's answer when it sends no file: ``{"errcode": 40007, "errmsg": "invalid media_id"}``."""
    try:
        body = _read_capped(response, MAX_ERROR_BODY_BYTES)
        data = json.loads(body.decode("utf-8"))
    except (MediaError, ValueError):
        raise MediaError("unexpected_answer") from None
    if not isinstance(data, dict):
        raise MediaError("unexpected_answer")
    return data
