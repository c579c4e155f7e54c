"""``shequ privacy purge|find|erase``: the retention purge and residents' data requests from the command line.

``purge --dry-run`` prints what would be deleted and kept; ``purge`` deletes it (audited as ``privacy.purge``).
``find``/``erase`` answer a resident's request by phone or ID number, audited like the console page.
"""

from __future__ import annotations

import json

import click

from assistant.commands.common import UserError, app_context
from assistant.privacy import PrivacyError, index, requests, retention
from assistant.settings import Settings
from assistant.storage.db import session_scope

CLI_ACTOR = "cli"


@click.group()
def privacy() -> None:
    """Personal data: retention purge, residents' requests to see or erase their data."""


@privacy.command()
@click.option("--dry-run", is_flag=True, help="only report what would be deleted and kept")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def purge(dry_run: bool, as_json: bool) -> None:
    """Delete conversations and closed work orders older than the retention settings (batched)."""
    with app_context(load_shipped=False) as context:
        if dry_run:
            report = retention.dry_run(context.sessions, context.settings)
        else:
            report = retention.purge(context.sessions, context.settings, actor=CLI_ACTOR)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(("试运行，没有删除任何数据。" if dry_run else "清理完成。") + f"（{report.now}，中国时间）")
    click.echo(f"会话：最后活动早于 {report.conversations_before}；工单：办结后未变动早于 {report.tickets_before}")
    for kind in report.removed:
        oldest = f"，最早 {kind.oldest}" if kind.oldest else ""
        click.echo(f"  {kind.label}：{kind.count}{oldest}")
    for kept in report.kept:
        if kept.count:
            click.echo(f"  保留（{kept.reason}）：{kept.count}")
    if report.pending_erasures:
        click.echo(f"  完成居民的待删除申请：{report.pending_erasures}")


def _target(value: str, settings: Settings) -> index.Target:
    try:
        return index.parse_identifier(value).target(index.key_for_settings(settings))
    except PrivacyError as exc:
        raise UserError(str(exc)) from exc


def _reason(reason: str) -> str:
    try:
        return requests.checked_reason(reason)
    except PrivacyError as exc:
        raise UserError(str(exc)) from exc


@privacy.command()
@click.argument("number")
@click.option("--reason", required=True, help="why (居民申请查阅 …); written to the audit log")
def find(number: str, reason: str) -> None:
    """List what is held about a phone or ID number (masked)."""
    reason = _reason(reason)
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        target = _target(number, context.settings)
        held = requests.look_up(db, target, CLI_ACTOR, reason)
        click.echo(f"{target.describe()}：{held.counts()}")
        for chat in held.sessions:
            click.echo(f"  会话 {chat.started:%Y-%m-%d} 对话 {chat.turns} 条 {chat.kept_reason}")
        for order in held.orders:
            click.echo(f"  工单 {order.number} {order.status} {order.department}")
        for request in held.handoffs:
            click.echo(f"  人工接待 {request.queue_number} {request.status}")


@privacy.command()
@click.argument("number")
@click.option("--reason", required=True, help="why (居民申请删除 …); written to the audit log")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def erase(number: str, reason: str, yes: bool) -> None:
    """Delete a resident's conversations and anonymise their closed work orders."""
    reason = _reason(reason)
    with app_context(load_shipped=False) as context:
        target = _target(number, context.settings)
        if not yes:
            click.confirm(f"删除 {target.describe()} 的会话并匿名化已办结的工单？", abort=True)
        with session_scope(context.sessions) as db:
            result = requests.erase(db, target, CLI_ACTOR, reason)
    click.echo(result.summary())


@privacy.command()
def backfill() -> None:
    """Index the contacts of work orders and handoffs stored before the index existed (safe to run again)."""
    with app_context(load_shipped=False) as context:
        report = index.backfill_contacts(context.sessions, context.cipher)
    click.echo(f"读了工单 {report['work_orders']} 张、人工接待 {report['handoff_requests']} 次，"
               f"新建索引 {report['keys_added']} 条。之前存下的对话已脱敏，无法补建索引。")
