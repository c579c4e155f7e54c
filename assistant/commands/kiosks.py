"""``shequ kiosks register|list``: the kiosk fleet (issue 15). ``shequ kiosk`` (singular) starts a kiosk."""

from __future__ import annotations

import click

from assistant.clock import now_utc
from assistant.commands.common import UserError, app_context
from assistant.kiosks import KioskError
from assistant.kiosks.fleet import page_row
from assistant.kiosks.registry import list_kiosks, register_kiosk
from assistant.storage.db import session_scope


@click.group()
def kiosks() -> None:
    """自助机：登记、列出本市的自助机。"""


@kiosks.command("register")
@click.option("--community", "community", required=True, help="自助机所属社区的编号（shequ communities list）")
@click.option("--name", required=True, help="自助机名称，如「3号自助机」（同一社区内不能重复）")
def register(community: str, name: str) -> None:
    """Registers a kiosk and prints its device token once (put it in the kiosk's SHEQU_KIOSK_TOKEN)."""
    with app_context() as context, session_scope(context.sessions) as db:
        try:
            registration = register_kiosk(db, community, name)
        except KioskError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"已登记自助机 {registration.name}（社区 {registration.community_code}，编号 {registration.kiosk_id}）")
    click.echo("设备令牌只显示这一次，请写入这台自助机的 SHEQU_KIOSK_TOKEN：")
    click.echo(registration.token)


@kiosks.command("list")
@click.option("--community", "community", default=None, help="只列出这个社区的自助机")
def list_(community: str | None) -> None:
    """Lists the kiosks: number, name, community, state, last heartbeat (China time)."""
    with app_context() as context, session_scope(context.sessions) as db:
        now = now_utc()
        rows = [page_row(k, k.community_code, now, context.settings) for k in list_kiosks(db, community)]
    click.echo(f"共 {len(rows)} 台自助机")
    for row in rows:
        click.echo(f"{row['id']}\t{row['name']}\t{row['community']}\t{row['state']}\t打印机：{row['printer']}"
                   f"\t最后上报：{row['last_seen']}")
