"""What every sender of the one outbox shares: the message handed over, the sender seam, the delivery errors.

The outbox (``assistant.handoff.outbox``) owns retries, backoff and row locks; a sender only sends one
``Delivery`` and either returns (the receiver has it) or raises a ``DeliveryError``. Senders are chosen by the
row's ``kind`` from a registry (``{"webhook": WebhookSink, "wechat": CustomerServiceSender, ...}``), as
printers are chosen by URI.

Exceptions::

    DeliveryError                 the receiver did not take the message (``reason`` is short, no personal data)
    ├── TransientDeliveryError    try again later (network, HTTP 5xx/429, rate limit, system busy)
    └── PermanentDeliveryError    retrying cannot help (HTTP 4xx, 48-hour window closed, no URL or secret)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class DeliveryError(Exception):
    """Base of both delivery errors; ``permanent`` says whether the outbox should stop retrying."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    permanent = False


class PermanentDeliveryError(DeliveryError):
    permanent = True


@dataclass(frozen=True)
class Delivery:
    """One outbox row as a sender sees it. ``recipient`` (an OpenID/UserID) is decrypted only for the send."""

    idempotency_key: str
    event: str
    department: str
    body: dict[str, Any]
    kind: str = "webhook"
    recipient: str | None = None


class Sender(Protocol):
    name: str

    def deliver(self, delivery: Delivery) -> None:
        """Returns when the receiver has the message; raises ``DeliveryError`` otherwise."""
