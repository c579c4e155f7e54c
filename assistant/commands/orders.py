"""``shequ orders drain|outbox|requeue|due|sweep``: delivering work orders and watching their deadlines."""

from __future__ import annotations

import datetime as dt
import time

import click
from sqlalchemy import select

from assistant.clock import china_time
from assistant.commands.common import UserError, app_context
from assistant.handoff import HandoffError
from assistant.handoff.live import HandoffService
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import counts, requeue
from assistant.handoff.queries import list_orders
from assistant.handoff.worker import OrdersWorker
from assistant.storage.db import session_scope


@click.group()
def orders() -> None:
    """Work orders: deliver the outbox to department systems, list near-due and overdue orders."""


def _worker(context) -> OrdersWorker:
    try:
        return OrdersWorker.from_context(context)
    except HandoffError as exc:
        raise UserError(str(exc)) from exc


@orders.command()
@click.option("--loop", "loop_seconds", type=click.FloatRange(min=1), default=None,
              help="keep draining every N seconds until interrupted (for a service); default: once")
def drain(loop_seconds: float | None) -> None:
    """Send due outbox messages to the configured ticket sink (and time out unclaimed handoffs)."""
    with app_context(load_shipped=False) as context:
        worker = _worker(context)
        if worker.sink is None:
            click.echo("ticket_sink is 'none': orders stay in the console; nothing to deliver.", err=True)
        while True:
            report = worker.run_once()
            click.echo(f"delivered {report.delivered}, retry later {report.retried}, failed {report.failed}")
            if loop_seconds is None:
                return
            time.sleep(loop_seconds)


@orders.command()
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
def outbox(status: str | None, limit: int) -> None:
    """Show outbox messages (counts, then the latest rows)."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        tally = counts(db)
        click.echo(" ".join(f"{name}={tally.get(name, 0)}" for name in ("pending", "delivered", "failed")))
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        for row in db.scalars(query):
            click.echo(f"{row.id}\t{row.order_number}\t{row.event}\t{row.department}\t{row.status}\t"
                       f"attempts={row.attempts}\t{row.last_error[:80]}")


@orders.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="requeue every failed message")
def requeue_command(ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed outbox messages back in the queue (after the receiver was fixed)."""
    if not ids and not all_failed:
        raise UserError("give outbox ids or --all-failed")
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        count = requeue(db, None if all_failed else list(ids))
    click.echo(f"requeued {count}")


@orders.command()
@click.option("--view", type=click.Choice(["near_due", "overdue", "open"]), default="overdue")
@click.option("--department", default=None, help="only this department's orders")
def due(view: str, department: str | None) -> None:
    """List overdue (default), near-due or open work orders by deadline."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        rows = list_orders(db, view, now=dt.datetime.now(dt.UTC),
                           near_hours=context.settings.orders_near_due_hours, department=department)
        for order in rows:
            click.echo(f"{order.number}\t{order.status}\t{order.department}\t{order.category}\t"
                       f"due {china_time(order.due_at)}")
        click.echo(f"{len(rows)} order(s)", err=True)


@orders.command()
def sweep() -> None:
    """Offer a callback message to residents whose handoff nobody claimed in time."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        count = HandoffService(context.settings, events=context.events).sweep(db)
    click.echo(f"timed out {count}")
