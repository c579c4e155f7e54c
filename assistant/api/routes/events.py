"""``GET /staff/api/events``: server push (SSE) of the event bus to staff pages.

Each event goes out as ``id: <n>`` / ``event: <kind>`` / ``data: <json>``; a reconnecting browser sends
``Last-Event-ID`` (or a page passes ``?after=<n>``) and gets what it missed, as long as the bus still keeps it.
A fresh stream starts at the newest event, so nothing old is replayed. Streams wait on the worker's one reader
of the bus (``assistant.events.hub``) instead of each querying it; a comment line every ``HEARTBEAT_SECONDS``
keeps proxies from closing an idle stream, and after ``STREAM_SECONDS`` the server ends the stream and the
browser reconnects at once (``retry:``) from where it was. That short life is deliberate: a graceful shutdown
waits for open responses, so it waits at most this long; and a signed-out or disabled account's stream ends
within it too (the reconnect is refused).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from assistant.auth.deps import StaffUser, require_roles
from assistant.communities.scope import event_for
from assistant.events.bus import Event, EventBus
from assistant.events.hub import Hub, hub_for

log = logging.getLogger(__name__)

WAKE_SECONDS = 1.0  # a waiting stream checks at least this often whether its page has gone
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 60.0
RETRY_MS = 1000
# Alerts are for the people who answer them; a department account gets queue and order events only.
ALERT_ROLES = ("staff", "approver")

router = APIRouter(include_in_schema=False)


def format_event(event: Event) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def start_id(request: Request, bus: EventBus) -> int:
    """Where to resume: Last-Event-ID, else ``?after=``, else the newest event (nothing old is replayed)."""
    for value in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if value is not None and value.strip().isdigit():
            return int(value.strip())
    return bus.latest()


async def event_stream(hub: Hub, after: int, disconnected: Callable[[], Awaitable[bool]], *,
                       show: Callable[[Event], bool] = lambda _e: True, heartbeat: float = HEARTBEAT_SECONDS,
                       lifetime: float = STREAM_SECONDS,
                       present: Callable[[Event], Event] = lambda e: e) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    last = after
    started = last_sent = time.monotonic()
    async with hub.listening():
        while time.monotonic() - started < lifetime:
            if await disconnected():
                return
            events = await hub.after(last, wait=min(WAKE_SECONDS, heartbeat))
            for event in events:
                last = event.id
                if show(event):
                    yield format_event(present(event))
                    last_sent = time.monotonic()
            if time.monotonic() - last_sent >= heartbeat:
                yield ": ping\n\n"
                last_sent = time.monotonic()
    # Tell the browser where we got to even if nothing it may see was sent, then let it reconnect.
    yield f"id: {last}\n\n"


@router.get("/staff/api/events")
async def events(request: Request, user: Annotated[StaffUser, Depends(require_roles())]) -> StreamingResponse:
    bus: EventBus = request.app.state.context.events
    after = await asyncio.to_thread(start_id, request, bus)
    sees_alerts = user.has_role(*ALERT_ROLES)

    def show(event: Event) -> bool:
        # Community staff get their community's events only (city staff and departments: every community's).
        return (sees_alerts or not event.kind.startswith("alert.")) and event_for(event.data, user) is not None

    def present(event: Event) -> Event:
        return replace(event, data=event_for(event.data, user) or {})

    stream = event_stream(hub_for(request.app.state, bus), after, request.is_disconnected, show=show,
                          heartbeat=HEARTBEAT_SECONDS, lifetime=STREAM_SECONDS, present=present)
    return StreamingResponse(stream,
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
