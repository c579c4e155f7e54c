"""Events that must reach people now (alerts, queue changes, new messages), across workers and nodes.

``EventBus.publish(kind, data)`` is the one way to announce one; pages receive them by server push (SSE).
Backends are chosen by URI (``SHEQU_EVENTS_URL``): ``memory:``, ``db:`` (default), ``redis://…``.
"""

from assistant.events.bus import Event, EventBus, MemoryBus
from assistant.events.factory import EventBusConfigError, create_bus

__all__ = ["Event", "EventBus", "EventBusConfigError", "MemoryBus", "create_bus"]
