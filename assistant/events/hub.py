"""One reader of the event bus per worker: every open stream of the worker waits on it instead of polling.

Without it, each open page (staff pages, residents waiting for a person) would query the bus every
``poll`` seconds: hundreds of queries a second on the database of a city-wide deployment. With it, a worker
asks once per ``poll`` while anyone listens, keeps the newest events in memory and wakes the streams.

A stream that resumes from further back than the hub remembers (a reconnect after a long sleep, or a start
before the hub's first read) reads the bus itself until it has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from assistant.events.bus import Event, EventBus

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # how often a worker asks the bus while anyone listens (the push latency's main part)
BATCH = 100  # events read per query
KEEP = 2000  # events a worker remembers for streams that are a little behind


class Hub:
    def __init__(self, bus: EventBus, *, poll: float = POLL_SECONDS, keep: int = KEEP) -> None:
        self.bus = bus
        self.poll = poll
        self._events: deque[Event] = deque(maxlen=keep)
        self._floor: int | None = None  # streams resuming at or after this id can be served from memory
        self._failing = False  # the bus could not be read on the last poll (logged once per outage)
        self._last = 0  # the newest id read from the bus
        self._changed = asyncio.Event()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[Hub]:
        """While inside, the hub keeps reading the bus (it stops when the last stream ends)."""
        self._listeners += 1
        if self._task is None or self._task.done():
            # Nobody listened for a while: start from now (a stream resuming from earlier reads the bus itself).
            self._floor = self._last = await asyncio.to_thread(self.bus.latest)
            self._events.clear()
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name="event-hub")
        try:
            yield self
        finally:
            self._listeners -= 1

    async def after(self, last_id: int, wait: float) -> list[Event]:
        """Events after ``last_id``, waiting up to ``wait`` seconds for one; [] when none came."""
        if self._floor is None or last_id < self._floor:
            caught = await asyncio.to_thread(self.bus.since, last_id, BATCH)  # catching up from the bus itself
            if caught or self._floor is None:
                return caught
            last_id = self._floor  # the bus keeps nothing older: go on from what the hub has
        found = [e for e in self._events if e.id > last_id]
        if found or wait <= 0:
            return found
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), wait)
        return [e for e in self._events if e.id > last_id]

    async def _run(self) -> None:
        while self._listeners > 0:
            try:
                events = await asyncio.to_thread(self.bus.since, self._last, BATCH)
            except Exception as exc:  # the database or Redis is away for a moment; the streams stay open
                # One line when the outage starts, none per poll (four a second) while it lasts.
                if not self._failing:
                    log.warning("reading the event bus failed (%s); retrying quietly", type(exc).__name__)
                self._failing = True
                events = []
            else:
                if self._failing:
                    log.info("reading the event bus works again")
                self._failing = False
            if events:
                if len(self._events) + len(events) > (self._events.maxlen or 0):
                    dropped = len(self._events) + len(events) - (self._events.maxlen or 0)
                    gone = list(self._events)[:dropped]
                    if gone:
                        self._floor = gone[-1].id  # a stream this far behind reads the bus itself
                self._events.extend(events)
                self._last = events[-1].id
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            if len(events) < BATCH:
                await asyncio.sleep(self.poll)


def hub_for(state: object, bus: EventBus) -> Hub:
    """The hub of this worker's event loop for ``bus`` (kept on ``state``, e.g. ``app.state``)."""
    hubs: dict[tuple[int, int], Hub] | None = getattr(state, "event_hubs", None)
    if hubs is None:
        hubs = {}
        setattr(state, "event_hubs", hubs)  # noqa: B010  # Starlette's State keeps attributes in its own dict
    key = (id(asyncio.get_running_loop()), id(bus))
    hub = hubs.get(key)
    if hub is None:
        hub = hubs[key] = Hub(bus)
    return hub
