"""Background work of the handoff feature: drain the outbox, time out unclaimed handoffs, escalate emergencies
nobody acknowledged.

The server runs ``run_once`` every ``outbox_drain_interval_seconds`` in a thread (so the event loop never
waits on a department's slow webhook); ``shequ orders drain`` runs the same from cron or a systemd timer.
Several workers may drain at once: outbox rows are leased one by one, and the receiver dedupes the rare repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from assistant.context import AppContext
from assistant.handoff import alerts
from assistant.handoff.live import HandoffService
from assistant.handoff.outbox import Backoff, DrainReport, drain
from assistant.handoff.sinks import TicketSink, create_sink
from assistant.privacy.retention import DailyPurge
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)


class OrdersWorker:
    def __init__(self, context: AppContext, service: HandoffService, sink: TicketSink | None) -> None:
        self.context = context
        self.service = service
        self.sink = sink
        settings = context.settings
        self.backoff = Backoff(settings.outbox_backoff_seconds, settings.outbox_backoff_max_seconds,
                               settings.outbox_max_attempts)
        self.retention = DailyPurge(context.sessions, settings)  # once a China day, one worker of all

    @classmethod
    def from_context(cls, context: AppContext, service: HandoffService | None = None) -> OrdersWorker:
        service = service or HandoffService(context.settings, events=context.events)
        return cls(context, service, create_sink(context.settings, service.policy.webhooks))

    def run_once(self) -> DrainReport:
        with session_scope(self.context.sessions) as db:
            self.service.sweep(db)
        self.escalate_alerts()
        self.retention.maybe_run()
        if self.sink is None:
            return DrainReport()
        return drain(self.context.sessions, self.sink, backoff=self.backoff, cipher=self.service.cipher)

    def escalate_alerts(self) -> list[int]:
        """Emergencies nobody acknowledged in time: told to administrators (pages) and the department (outbox)."""
        with session_scope(self.context.sessions) as db:
            return alerts.escalate_overdue(db, self.context.events, self.service.now(),
                                           self.context.settings.alert_escalation_seconds,
                                           self.service.policy.default_department)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: AppContext = app.state.context
    interval = context.settings.outbox_drain_interval_seconds
    if interval <= 0:
        yield
        return
    worker = OrdersWorker.from_context(context, app.state.engine.handoff)

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(worker.run_once)
            except Exception:  # keep draining next time; the rows are still in the outbox
                log.exception("orders background work failed")

    task = asyncio.create_task(loop(), name="orders-outbox")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Included by the app: FastAPI runs a router's lifespan inside the app's, after the context exists.
router = APIRouter(lifespan=_lifespan)
