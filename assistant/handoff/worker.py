"""Background work: drain the one outbox (department webhooks and WeChat/WeCom replies), time out unclaimed
handoffs, escalate emergencies nobody acknowledged, and (issue 17) poll the CAP warning feed and expire
warnings past their time.

The server runs ``run_once`` every ``outbox_drain_interval_seconds`` in a thread (so the event loop never
waits on a department's slow webhook); ``shequ worker`` and ``shequ orders drain`` run the same in their own
process. Several workers may drain at once: rows are claimed with row locks (``SKIP LOCKED`` on PostgreSQL)
and a lease, and a webhook receiver dedupes the rare repeat by idempotency key.

Warnings must reach screens within 10 s, so the server polls the feed in a loop of its own every
``warning_feed_poll_seconds`` (``run_warnings``) rather than at the drain's pace; ``run_once`` runs the same
round too (gated by the same interval), for ``shequ worker`` and ``--once``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from assistant.bulletins.feed import WarningFeedPoller
from assistant.bulletins.warnings import expire_warnings
from assistant.context import AppContext
from assistant.delivery import Sender
from assistant.handoff import alerts
from assistant.handoff.live import HandoffService
from assistant.handoff.outbox import Backoff, DrainReport, drain
from assistant.handoff.sinks import TicketSink, create_sink
from assistant.kiosks.fleet import sweep_kiosks_in
from assistant.privacy.retention import DailyPurge
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)


class OrdersWorker:
    """The one drain of the one outbox, and the other background work (handoff timeouts, alert escalation,
    the daily retention purge). ``senders`` is the registry by row kind: ``webhook`` (the ticket sink, when one
    is configured) and ``wechat``/``wecom`` (the customer-service API of each configured channel)."""

    def __init__(self, context: AppContext, service: HandoffService, sink: TicketSink | None,
                 senders: Mapping[str, Sender] | None = None) -> None:
        self.context = context
        self.service = service
        self.sink = sink
        self.senders: dict[str, Sender] = dict(senders or {})
        if sink is not None:
            self.senders["webhook"] = sink
        settings = context.settings
        self.backoff = Backoff(settings.outbox_backoff_seconds, settings.outbox_backoff_max_seconds,
                               settings.outbox_max_attempts)
        self.retention = DailyPurge(context.sessions, settings)  # once a China day, one worker of all
        self.warning_feed = WarningFeedPoller(context)  # one poll per warning_feed_poll_seconds, one node of all

    @classmethod
    def from_context(cls, context: AppContext, service: HandoffService | None = None) -> OrdersWorker:
        service = service or HandoffService(context.settings, events=context.events)
        return cls(context, service, create_sink(context.settings, service.policy.webhooks),
                   _channel_senders(context, service))

    def run_once(self) -> DrainReport:
        with session_scope(self.context.sessions) as db:
            self.service.sweep(db)
        self.escalate_alerts()
        sweep_kiosks_in(self.context, self.service.now())  # kiosks offline or out of paper → their staff
        self.retention.maybe_run()
        self.run_warnings()
        if not self.senders:
            return DrainReport()  # orders stay in the console and no channel is on: nothing leaves
        return drain(self.context.sessions, self.senders, backoff=self.backoff, cipher=self.service.cipher)

    def run_warnings(self) -> None:
        """Warnings past their expiry marked expired; the CAP feed polled when due. A failure here (feed or
        database away) is one log line and never stops the drain."""
        try:
            with session_scope(self.context.sessions) as db:
                expire_warnings(db, self.context.events, self.service.now())
            self.warning_feed.maybe_run()
        except Exception as e:
            log.error("warnings background work failed: %s", type(e).__name__)

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
    if interval <= 0 or not context.settings.background_worker:  # false: a separate `shequ worker` drains
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

    async def warnings_loop() -> None:
        # The feed's own pace (a few seconds), not the drain's: a warning is on screens within 10 s.
        every = max(0.5, context.settings.warning_feed_poll_seconds)
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(worker.run_warnings)

    tasks = [asyncio.create_task(loop(), name="orders-outbox"),
             asyncio.create_task(warnings_loop(), name="warning-feed")]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


# Included by the app: FastAPI runs a router's lifespan inside the app's, after the context exists.
router = APIRouter(lifespan=_lifespan)


def _channel_senders(context: AppContext, service: HandoffService) -> dict[str, Sender]:
    """The configured channels' customer-service senders (none when no channel is on), for late replies."""
    from assistant.channels.config import load_accounts

    if not load_accounts(context.settings)[0]:
        return {}
    import httpx

    from assistant.channels.outbox import channel_senders  # wechatpy and friends only where a channel is on
    from assistant.channels.subscribers import warning_senders

    # One client for the process's lifetime, like the worker itself. Warning pushes (issue 17): expired ones
    # dropped, the template message as the fallback and the ``wechat_template`` kind.
    return warning_senders(dict(channel_senders(context.settings, context.sessions, service.cipher,
                                                httpx.Client())))
