"""``shequ warnings import FILE | poll | list``: disaster warnings (issue 17) from the command line.

``import`` ingests one CAP file as if it had been pushed; ``poll`` runs one poll of the configured feed
(``SHEQU_WARNING_FEED_URL``) now; ``list`` shows the warnings on screens (``--all``: past ones too). Output in
Chinese; a bad file, a refused document or a missing feed is one line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from assistant.auth.deps import StaffUser
from assistant.bulletins import CapError
from assistant.bulletins.cap import MAX_CAP_BYTES, parse_cap
from assistant.commands.common import UserError, app_context
from assistant.storage.db import session_scope

ACTION_LABELS = {"new": "新预警，已发布", "updated": "预警已更新", "cancelled": "预警已解除", "duplicate": "已收到过，未重复发布",
                 "ignored": "未发布"}
REASON_LABELS = {"not_actual": "不是正式预警（演练、测试或草稿）", "expired": "已经过期", "no_area": "不涉及本市的社区",
                 "unknown_reference": "找不到要解除的预警", "too_long": "编号太长", "race": "同时收到了两次"}
CLI_USER = StaffUser("shequ-cli", "admin")  # the command line sees every community


def _describe(result: object) -> str:
    action = getattr(result, "action", "")
    text = ACTION_LABELS.get(action, action)
    reason = getattr(result, "reason", "")
    if reason:
        text += f"（{REASON_LABELS.get(reason, reason)}）"
    warning_id = getattr(result, "warning_id", None)
    if warning_id is not None:
        text += f"，编号 {warning_id}"
    communities = getattr(result, "communities", ())
    if communities:
        text += f"，涉及社区：{'、'.join(communities)}"
    return text


@click.group()
def warnings() -> None:
    """预警：导入 CAP 文件、拉取预警源、列出预警。"""


@warnings.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_(path: Path) -> None:
    """Ingests one CAP 1.2 file (as a push would) and says what became of it."""
    from assistant.bulletins import warnings as ingest_side

    try:
        if path.stat().st_size > MAX_CAP_BYTES:
            raise UserError(f"文件太大（超过 {MAX_CAP_BYTES // 1024} KB），不是一条预警")
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"读不了文件 {path.name}：{exc.strerror or type(exc).__name__}") from exc
    try:
        alert = parse_cap(data)
    except CapError as exc:
        raise UserError(f"{path.name} 不是有效的 CAP 1.2 预警：{exc}") from exc
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        result = ingest_side.ingest(db, context.events, alert, source="cap", settings=context.settings)
    click.echo(f"{alert.headline or alert.event}：{_describe(result)}")


@warnings.command("poll")
def poll() -> None:
    """Polls the configured feed once and ingests what is new."""
    from assistant.bulletins.feed import WarningFeedPoller

    with app_context(load_shipped=False) as context:
        if not context.settings.warning_feed_url:
            raise UserError("没有配置预警源（SHEQU_WARNING_FEED_URL）")
        poller = WarningFeedPoller(context)
        try:
            results = poller.run_once()
        finally:
            poller.close()
    state = poller.state
    if state.last_error:
        raise UserError(f"预警源没有读成：{state.last_error}")
    fresh = [r for r in results if r.action != "duplicate"]
    click.echo(f"拉取完成：{len(results)} 条预警，新的或有变化的 {len(fresh)} 条，拒收的文件 {state.refused} 个")
    for result in fresh:
        click.echo(f"  {_describe(result)}")


@warnings.command("list")
@click.option("--all", "include_past", is_flag=True, help="也列出已解除、已过期的预警")
def list_(include_past: bool) -> None:
    """Lists the warnings (China time), most recent first."""
    from assistant.bulletins import warnings as ingest_side

    with app_context(load_shipped=False) as context, session_scope(context.sessions) as db:
        rows = ingest_side.list_warnings(db, CLI_USER, include_past=include_past)
    click.echo(f"共 {len(rows)} 条预警")
    for row in rows:
        click.echo(f"{row['id']}\t{row['title']}\t{row['status_label']}\t{row['area']}\t至 {row['expires_text']}"
                   f"\t社区：{'、'.join(row['communities']) or '无'}")
