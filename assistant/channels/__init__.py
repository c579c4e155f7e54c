"""WeChat Official Account (公众号) and WeCom (企业微信) callback channels.

Residents message the community's Official Account, staff and grid workers its WeCom application; both post
XML to a callback URL and wait at most 5 seconds for a passive reply, retrying three times. Every message
goes through the same ``DialogueEngine`` as the web chat. Answers that are not ready in time are sent later
through the customer-service message API from the one outbox (the worker retries them).

Modules: ``config`` (per-account settings), ``protocol`` (signatures, AES, XML through wechatpy),
``formatting`` (buttons as numbered text, fixed replies), ``store`` (dedupe and button menus),
``api_client`` (access-token cache, customer-service API, voice messages' audio), ``outbox`` (late replies
into the one outbox of ``assistant.handoff.outbox``),
``replay`` (timestamp window and nonce cache against replayed callbacks), ``service`` (a callback from request
to reply; a voice message without WeChat's own recognition is fetched and heard by ``context.speech``).

Exceptions (all ``ChannelError``)::

    ChannelError
    ├── ChannelNotConfigured      the channel has no token/keys in Settings (or they are invalid)
    ├── SignatureError            signature or msg_signature does not match: nothing is processed
    │   └── ReplayError           (in ``replay``) timestamp outside the window or nonce already used
    ├── MalformedMessage          body is not a WeChat XML message (or cannot be decrypted)
    └── MediaError                a voice message's audio could not be fetched (no secret, expired, too big)

A message the customer-service API did not take raises the outbox's one delivery error,
``assistant.delivery.DeliveryError`` (``TransientDeliveryError``: try later; ``PermanentDeliveryError``: 48-hour
window closed, user left, no secret), re-exported here.
"""

from __future__ import annotations

from assistant.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError

__all__ = ["ChannelError", "ChannelNotConfigured", "DeliveryError", "MalformedMessage", "MediaError",
           "PermanentDeliveryError", "SignatureError", "TransientDeliveryError"]


class ChannelError(Exception):
    """Base of every error raised by ``assistant.channels``."""


class ChannelNotConfigured(ChannelError):
    pass


class SignatureError(ChannelError):
    pass


class MalformedMessage(ChannelError):
    pass


class MediaError(ChannelError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
