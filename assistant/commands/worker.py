"""``shequ worker [--once] [--interval S]``: the background work of an installation, in its own process.

With several web nodes (``SHEQU_BACKGROUND_WORKER=false`` on each) one ``shequ worker`` does what the server
otherwise does in a thread: ``OrdersWorker.run_once`` — drain the one outbox (department webhooks and the
WeChat/WeCom late replies alike: the server has no channel thread of its own), time out unclaimed handoffs,
escalate unacknowledged emergencies, the daily retention purge. Warnings (issue 17) have a thread of their own:
the CAP feed is polled and expired warnings closed every ``SHEQU_WARNING_FEED_POLL_SECONDS`` (a few seconds),
not at the drain's pace, so that a warning is on every screen within 10 s. It stops between rounds on SIGTERM (systemd,
docker) or SIGINT; ``--once`` runs one round and exits, for cron. Two workers at once are safe (rows are leased), only wasteful.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import click

from assistant.commands.common import UserError, app_context
from assistant.handoff import HandoffError
from assistant.handoff.worker import OrdersWorker

log = logging.getLogger(__name__)

# A round that fails (database away) is retried after this long, not at once: a tight error loop fills logs.
ERROR_PAUSE_SECONDS = 5.0
MIN_WARNING_POLL_SECONDS = 0.5  # the same floor as the server's own warnings loop


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop sleeps on it so a stop does not wait out the interval."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        log.info("worker: signal %d, stopping after this round", signum)
        self.event.set()


def run_loop(orders: OrdersWorker, interval: float, stop: threading.Event, rounds: int | None = None) -> int:
    """Rounds every ``interval`` seconds until ``stop`` is set (or ``rounds`` are done); returns rounds run."""
    done = 0
    while not stop.is_set() and (rounds is None or done < rounds):
        started = time.monotonic()
        pause = interval
        try:
            report = orders.run_once()
            if report.delivered or report.retried or report.failed:
                log.info("worker: delivered %d, retry later %d, failed %d",
                         report.delivered, report.retried, report.failed)
        except Exception as exc:  # the rows stay in the outbox; next round tries again
            log.error("worker round failed: %s", type(exc).__name__)
            pause = max(interval, ERROR_PAUSE_SECONDS)
        done += 1
        stop.wait(max(0.0, pause - (time.monotonic() - started)))
    return done


def run_warnings_loop(orders: OrdersWorker, interval: float, stop: threading.Event) -> None:
    """The feed's own pace: ``OrdersWorker.run_warnings`` (which logs its own failures) until ``stop``."""
    every = max(MIN_WARNING_POLL_SECONDS, interval)
    while not stop.is_set():
        orders.run_warnings()
        stop.wait(every)


@click.command()
@click.option("--once", is_flag=True, help="run one round and exit (cron)")
@click.option("--interval", type=click.FloatRange(min=0.2), default=None,
              help="seconds between rounds; default SHEQU_OUTBOX_DRAIN_INTERVAL_SECONDS")
def worker(once: bool, interval: float | None) -> None:
    """Background work for several web nodes: outbox, handoff timeouts, alert escalation, retention purge."""
    with app_context(load_shipped=False) as context:
        try:
            orders = OrdersWorker.from_context(context)
        except HandoffError as exc:
            raise UserError(str(exc)) from exc
        if once:
            report = orders.run_once()
            click.echo(f"已送达 {report.delivered}，稍后重试 {report.retried}，失败 {report.failed}")
            return
        every = interval or context.settings.outbox_drain_interval_seconds
        if every <= 0:
            raise UserError("间隔必须大于 0（--interval 或 SHEQU_OUTBOX_DRAIN_INTERVAL_SECONDS）")
        stop = StopFlag()
        stop.install()
        log.info("worker: started, a round every %.1f s", every)
        warnings_thread = threading.Thread(
            target=run_warnings_loop, args=(orders, context.settings.warning_feed_poll_seconds, stop.event),
            name="warning-feed", daemon=True)
        warnings_thread.start()
        run_loop(orders, every, stop.event)
        warnings_thread.join(timeout=30)
        log.info("worker: stopped")
