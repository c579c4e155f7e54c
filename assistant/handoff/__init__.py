"""Handoff: work orders (工单) to departments and live agents in the staff inbox.

Exceptions::

    HandoffError
    ├── IllegalTransition   a work-order action that the current status does not allow (message in Chinese)
    ├── NotAllowed          the actor's role or department may not do this
    ├── NotFound            no such work order or handoff
    ├── InvalidInput        empty, too long or malformed input from staff forms or the API (message in Chinese)
    ├── ConfigError         the orders configuration (routing, deadlines, holidays) cannot be used

Delivery errors are the one type of the outbox, shared with the channels: ``assistant.delivery.DeliveryError``
(``TransientDeliveryError`` / ``PermanentDeliveryError``), re-exported here.
"""

from __future__ import annotations

from assistant.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError

__all__ = ["ConfigError", "DeliveryError", "HandoffError", "IllegalTransition", "InvalidInput", "NotAllowed",
           "NotFound", "PermanentDeliveryError", "TransientDeliveryError"]


class HandoffError(Exception):
    """Base of every error of the handoff package; ``str(exc)`` is fit to show to staff."""


class IllegalTransition(HandoffError):
    pass


class NotAllowed(HandoffError):
    pass


class NotFound(HandoffError):
    pass


class InvalidInput(HandoffError):
    pass


class ConfigError(HandoffError):
    pass
