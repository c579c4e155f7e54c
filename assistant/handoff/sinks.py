"""The ``TicketSink`` seam: how a work-order event reaches a department's system.

- ``webhook``: an HTTP POST of JSON, signed with HMAC-SHA256 (``X-Shequ-Signature: t=<unix>,v1=<hex>`` over
  ``"<t>." + body``), with the outbox row's ``Idempotency-Key`` so that the receiver can drop repeats.
- ``memory``: keeps deliveries in a list (tests, demos); ``fail_times`` makes it refuse the first attempts.

The outbox calls ``deliver`` and owns retries and backoff; a sink only reports success or a ``DeliveryError``
(``assistant.delivery``: the one error type of every sender). A sink is the outbox's ``webhook`` sender.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from assistant.delivery import Delivery, PermanentDeliveryError, TransientDeliveryError
from assistant.handoff import ConfigError
from assistant.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Shequ-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Shequ-Event"
# 409: the receiver already has this key. 408/425/429: come back later.
_ALREADY_RECEIVED = {409}
_RETRYABLE_4XX = {408, 425, 429}


class TicketSink(Protocol):
    name: str

    def deliver(self, delivery: Delivery) -> None:
        """Returns when the receiver has the event; raises ``DeliveryError`` otherwise."""


def canonical_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, raw: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, raw: bytes, *, tolerance_seconds: int = 300,
                     now: float | None = None) -> bool:
    """For receivers (and tests): checks the signature and that it is recent (against replays)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        expected = sign(secret, timestamp, raw).split("v1=", 1)[1]
    except (ValueError, KeyError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSink:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, urls: dict[str, str] | None = None,
                 client: httpx.Client | None = None) -> None:
        if not url and not urls:
            raise ConfigError("the webhook ticket sink needs SHEQU_TICKET_WEBHOOK_URL (or per-department webhooks)")
        if not secret:
            raise ConfigError("the webhook ticket sink needs SHEQU_TICKET_WEBHOOK_SECRET to sign its requests")
        self.url = url
        self.urls = urls or {}
        self.secret = secret
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def deliver(self, delivery: Delivery) -> None:
        url = self.urls.get(delivery.department) or self.url
        if not url:
            raise PermanentDeliveryError(f"no webhook URL for department {delivery.department}")
        raw = canonical_body(delivery.body)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   SIGNATURE_HEADER: sign(self.secret, int(time.time()), raw),
                   IDEMPOTENCY_HEADER: delivery.idempotency_key, EVENT_HEADER: delivery.event}
        try:
            response = self.client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"{type(exc).__name__} posting to the {delivery.department} webhook") from exc
        status = response.status_code
        if 200 <= status < 300 or status in _ALREADY_RECEIVED:
            return
        permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
        error = PermanentDeliveryError if permanent else TransientDeliveryError
        raise error(f"the {delivery.department} webhook answered HTTP {status}")


@dataclass
class MemorySink:
    """The fake sender of the one outbox: registered under any kind (``webhook``, ``wechat``…) in tests."""

    name: str = "memory"
    fail_times: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: int = 0

    def deliver(self, delivery: Delivery) -> None:
        self.attempts += 1
        if self.attempts <= self.fail_times:
            raise TransientDeliveryError("memory sink refusing (simulated outage)")
        self.deliveries.append(delivery)


def create_sink(settings: Settings, webhooks: dict[str, str] | None = None) -> TicketSink | None:
    """The configured sink, or None when orders stay in the console (``ticket_sink = none``)."""
    name = (settings.ticket_sink or "none").strip().lower()
    if name == "none":
        return None
    if name == "webhook":
        return WebhookSink(settings.ticket_webhook_url, settings.ticket_webhook_secret,
                           timeout=settings.ticket_webhook_timeout_seconds, urls=webhooks)
    if name == "memory":
        return MemorySink()
    raise ConfigError(f"unknown ticket sink {settings.ticket_sink!r}; one of none, webhook, memory")
