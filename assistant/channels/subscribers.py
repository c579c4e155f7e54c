"""Residents who follow a community's WeChat account (or use its WeCom application), and the warnings pushed
to them through the one outbox.

Who: a ``wechat_subscribers`` row per (channel, user) of the account (migration ``0019_wechat_subscribers``),
with the OpenID/UserID Fernet-encrypted (``AppContext.cipher``) and found by a blind index (a keyed HMAC from
``assistant.privacy.index``, never the id itself). The callback (``service.ChannelService.handle``) records a
subscribe (subscribed, ``subscribed_at``), an unsubscribe (not subscribed, the id wiped) and every message
(``last_interaction_at``). The row takes the account's community (``wechat_community`` / ``wecom_community``).

How, per WeChat's rules (2023-06 on): a message from the user opens a 48-hour window with 5 customer-service
messages; a subscribe, menu click or scan gives only 3 messages within 1 minute, so only messages count as the
user's last interaction here. Inside the window (``CS_WINDOW``) a warning is a customer-service text (outbox
``kind`` = the channel); outside it, a template message when ``Settings.wechat_warning_template_id`` is set
(``kind = "wechat_template"``, ``POST /cgi-bin/message/template/send``; a certified service account, 100 000 a
day by default); otherwise it is not sent (a count in the log, no ids). A WeCom application has no window.
A customer-service text the API refuses for the window or its quota (45015, 45047) falls back to the
template within the same row. Errors: 43004 (unsubscribed), 45015, 45047, 40037 (bad template) are permanent;
45009 (the API's daily limit) is transient, and a warning already expired when its turn comes is dropped.
Each (warning, subscriber) has one idempotency key, so a repeated announce or a retry never sends twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.clock import as_utc, now_utc
from assistant.delivery import Delivery, PermanentDeliveryError, TransientDeliveryError
from assistant.storage.models import Base, utcnow

log = logging.getLogger(__name__)

CS_WINDOW = dt.timedelta(hours=48)  # customer-service messages after the user's last message
WARNING_EVENT = "warning"
TEMPLATE_KIND = "wechat_template"
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan"})
UNSUBSCRIBE_EVENTS = frozenset({"unsubscribe"})
INDEX_KIND = "wechat_openid"  # the blind index's kind for these ids (not a phone or ID number)
# The template's fields: a template from the 公共服务/预警 library with these keys is expected. WeChat shows a
# keyword value of at most 20 characters; longer text is cut.
TEMPLATE_FIELDS = ("keyword1", "keyword2", "keyword3", "keyword4")
TEMPLATE_VALUE_CHARS = 20
# The window or quota closed: the same row tries the template message instead.
FALLBACK_ERRCODES = frozenset({"errcode:45015", "errcode:45047"})
TEMPLATE_PERMANENT = frozenset({40003, 40037, 43004, 43101, 47003})


class WechatSubscriber(Base):
    """A follower of a community's account (``channel`` wechat) or a user of its WeCom application."""

    __tablename__ = "wechat_subscribers"
    __table_args__ = (UniqueConstraint("channel", "openid_key", name="uq_wechat_subscribers_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))  # wechat | wecom
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    openid_key: Mapped[str] = mapped_column(String(64))  # blind index: HMAC of channel, account and id
    openid_encrypted: Mapped[str] = mapped_column(Text, default="")  # "" once unsubscribed
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    subscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_interaction_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


def openid_key(db: Session, settings: Any, channel: str, account_id: str, user_id: str) -> str:
    from assistant.privacy import index

    index_key = db.info.get(index.INFO_KEY) or index.key_for_settings(settings)
    return index.blind_key(index_key, INDEX_KIND, f"{channel}:{account_id}:{user_id}")


def record_interaction(db: Session, settings: Any, cipher: Any, channel: str, account_id: str, user_id: str,
                       community: str, event: str | None, now: dt.datetime | None = None) -> str:
    """Notes a callback of ``user_id``: ``event`` None is a message (the 48-hour window opens), ``subscribe`` /
    ``unsubscribe`` change the subscription, other events change nothing. Returns what was done."""
    now = as_utc(now) or now_utc()
    if event is not None and event not in SUBSCRIBE_EVENTS | UNSUBSCRIBE_EVENTS:
        return "ignored"
    key = openid_key(db, settings, channel, account_id, user_id)
    for _attempt in range(2):
        row = db.scalar(select(WechatSubscriber).where(WechatSubscriber.channel == channel,
                                                       WechatSubscriber.openid_key == key))
        if row is None and event in UNSUBSCRIBE_EVENTS:
            return "ignored"  # never known here: nothing to forget
        if row is None:
            row = WechatSubscriber(channel=channel, community_code=community, openid_key=key, subscribed=True,
                                   subscribed_at=now, created_at=now, openid_encrypted=cipher.encrypt(user_id))
            try:
                with db.begin_nested():
                    db.add(row)
                    db.flush()
            except IntegrityError:
                continue  # the same user's two callbacks at once: the other one created it, update it
        if event in UNSUBSCRIBE_EVENTS:
            row.subscribed, row.unsubscribed_at, row.openid_encrypted = False, now, ""
            return "unsubscribed"
        row.community_code = community
        if not row.subscribed or not row.openid_encrypted:
            row.subscribed, row.subscribed_at, row.openid_encrypted = True, now, cipher.encrypt(user_id)
        if event is None:
            row.last_interaction_at = now
            return "message"
        if event in SUBSCRIBE_EVENTS:
            row.subscribed_at = now
        return "subscribed"
    return "ignored"


def warning_text(warning: dict[str, Any]) -> str:
    """The pushed text, from the board's warning JSON: title, what to do, the place, until when."""
    lines = [f"【{warning.get('title') or warning.get('event') or '预警'}】"]
    headline = str(warning.get("headline") or "")
    if headline:
        lines.append(headline)
    if warning.get("instruction"):
        lines.append(f"请您：{warning['instruction']}")
    if warning.get("assembly_point"):
        lines.append(f"集合地点：{warning['assembly_point']}")
    if warning.get("area"):
        lines.append(f"范围：{warning['area']}")
    if warning.get("expires_text"):
        lines.append(f"有效至：{warning['expires_text']}")
    if warning.get("sender_name"):
        lines.append(f"（{warning['sender_name']}）")
    return "\n".join(lines)


def template_data(warning: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The template's fields: event and level, area, until when, what to do (each cut to what WeChat shows)."""
    values = (str(warning.get("title") or warning.get("event") or "预警"), str(warning.get("area") or ""),
              str(warning.get("expires_text") or ""),
              str(warning.get("instruction") or warning.get("headline") or ""))
    return {name: {"value": value[:TEMPLATE_VALUE_CHARS]} for name, value in zip(TEMPLATE_FIELDS, values,
                                                                                 strict=True)}


def enqueue_warning_pushes(db: Session, settings: Any, cipher: Any, warning: dict[str, Any],
                           communities: Iterable[str], now: dt.datetime | None = None) -> int:
    """Outbox rows for the subscribers of ``communities`` (see the module docstring); returns how many.
    ``cipher`` may be None: a row takes the subscriber's stored ciphertext as it is (same key), so nobody's id
    is decrypted to queue a push."""
    from assistant.channels.config import load_accounts
    from assistant.channels.protocol import limit_text
    from assistant.handoff.models import OutboxMessage

    now = as_utc(now) or now_utc()
    codes = sorted(set(communities))
    warning_id = warning.get("id")
    if not codes or warning_id is None:
        return 0
    accounts = {kind: account for kind, account in load_accounts(settings)[0].items() if account.can_send}
    if not accounts:
        return 0
    template_id = settings.wechat_warning_template_id.strip()
    text = limit_text(warning_text(warning))
    expires = warning.get("expires")
    keys_taken = set(db.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.like(f"warning:{warning_id}:%"))))
    queued = not_sent = 0
    subscribers = db.scalars(select(WechatSubscriber).where(
        WechatSubscriber.subscribed.is_(True), WechatSubscriber.community_code.in_(codes),
        WechatSubscriber.channel.in_(sorted(accounts)), WechatSubscriber.openid_encrypted != ""))
    for subscriber in subscribers:
        key = f"warning:{warning_id}:{subscriber.id}"
        if key in keys_taken:
            continue
        recent = as_utc(subscriber.last_interaction_at)
        in_window = subscriber.channel == "wecom" or (recent is not None and now - recent < CS_WINDOW)
        payload: dict[str, Any] = {"text": text, "warning_id": warning_id, "expires": expires}
        if template_id and subscriber.channel == "wechat":
            payload["template"] = {"template_id": template_id, "data": template_data(warning)}
        if in_window:
            kind = subscriber.channel
        elif "template" in payload:
            kind = TEMPLATE_KIND
        else:
            not_sent += 1
            continue
        db.add(OutboxMessage(kind=kind, order_id=None, order_number="", event=WARNING_EVENT, idempotency_key=key,
                             department="", payload=payload, status="pending", attempts=0, last_error="",
                             created_at=now, next_attempt_at=now, recipient_encrypted=subscriber.openid_encrypted))
        queued += 1
    if queued or not_sent:
        log.info("warning %s: %d WeChat pushes queued, %d subscribers outside the 48-hour window not sent",
                 warning_id, queued, not_sent)
    return queued


class TemplateMessageSender:
    """``wechat_template`` rows: ``POST /cgi-bin/message/template/send`` with the account's shared token
    (the customer-service sender's ``AccessTokenCache``)."""

    name = TEMPLATE_KIND

    def __init__(self, service_sender: Any) -> None:
        self.cs = service_sender

    def deliver(self, delivery: Delivery) -> None:
        if not delivery.recipient:
            raise PermanentDeliveryError("recipient_unreadable")
        template = delivery.body.get("template")
        if not isinstance(template, dict) or not template.get("template_id"):
            raise PermanentDeliveryError("no_template")
        self.send(delivery.recipient, template)

    def send(self, user_id: str, template: dict[str, Any]) -> None:
        from assistant.channels.api_client import TOKEN_ERRCODES, _errcode

        if not self.cs.account.can_send or self.cs.account.kind != "wechat":
            raise PermanentDeliveryError("not_configured")
        body = json.dumps({"touser": user_id, "template_id": template["template_id"],
                           "data": template.get("data") or {}}, ensure_ascii=False).encode("utf-8")
        for attempt in range(2):
            token = self.cs.tokens.get()
            data = self.cs._request("POST", "/cgi-bin/message/template/send", params={"access_token": token},
                                    content=body, headers={"Content-Type": "application/json; charset=utf-8"})
            code = _errcode(data)
            if code == 0:
                return
            if code in TOKEN_ERRCODES and attempt == 0:
                self.cs.tokens.invalidate(token)
                continue
            if code in TEMPLATE_PERMANENT:
                raise PermanentDeliveryError(f"errcode:{code}")
            raise TransientDeliveryError(f"errcode:{code}")  # 45009: the daily limit, try again later
        raise TransientDeliveryError("token_rejected")


class WarningAwareSender:
    """Wraps a channel's customer-service sender in the outbox registry: a warning row past its expiry is
    dropped, and one refused for the 48-hour window or its quota goes as a template message when it has one.
    Every other row (late replies) goes straight through."""

    def __init__(self, inner: Any, template: TemplateMessageSender | None = None) -> None:
        self.inner = inner
        self.template = template
        self.name = getattr(inner, "name", "wechat")

    def deliver(self, delivery: Delivery) -> None:
        if delivery.event != WARNING_EVENT:
            self.inner.deliver(delivery)
            return
        _check_expiry(delivery)
        try:
            self.inner.deliver(delivery)
        except PermanentDeliveryError as e:
            if self.template is None or e.reason not in FALLBACK_ERRCODES or "template" not in delivery.body:
                raise
            self.template.deliver(delivery)


class ExpiringTemplateSender(TemplateMessageSender):
    def deliver(self, delivery: Delivery) -> None:
        _check_expiry(delivery)
        super().deliver(delivery)


def _check_expiry(delivery: Delivery) -> None:
    expires = delivery.body.get("expires")
    if not expires:
        return
    try:
        until = dt.datetime.fromisoformat(str(expires))
    except ValueError:
        return
    if as_utc(until) is not None and as_utc(until) <= now_utc():  # type: ignore[operator]
        raise PermanentDeliveryError("warning_expired")


def warning_senders(senders: dict[str, Any]) -> dict[str, Any]:
    """The outbox registry with the channels' senders made warning-aware and the template sender added."""
    registry = dict(senders)
    wechat = registry.get("wechat")
    template = ExpiringTemplateSender(wechat) if wechat is not None and hasattr(wechat, "tokens") else None
    for kind in ("wechat", "wecom"):
        if kind in registry:
            registry[kind] = WarningAwareSender(registry[kind], template if kind == "wechat" else None)
    if template is not None:
        registry[TEMPLATE_KIND] = template
    return registry
