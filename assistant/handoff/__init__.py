"""Handoff: work orders (工单) to departments and live agents in the staff inbox.

Exceptions::

    HandoffError
    ├── IllegalTransition   a work-order action that the current status does not allow (message in Chinese)
    ├── NotAllowed          the actor's role or department may not do this
    ├── NotFound            no such work order or handoff
    ├── InvalidInput        empty, too long or malformed input from staff forms or the API (message in Chinese)
    ├── ConfigError         the orders configuration (routing, deadlines, holidays) cannot be used
    └── DeliveryError       a department system did not take a message (``permanent`` when retrying is useless)
"""

from __future__ import annotations


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


class DeliveryError(HandoffError):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
