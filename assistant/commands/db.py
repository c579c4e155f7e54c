"""``shequ db migrate-from-sqlite``: moves an embedded SQLite installation into PostgreSQL.

The work is in ``assistant.storage.transfer``; this module only parses options and prints the Chinese report.
Only table names and counts are printed, never row contents.
"""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from assistant.commands.common import UserError
from assistant.storage.transfer import TransferError, TransferReport, migrate_from_sqlite

REFUSED_EXIT_CODE = 2  # refused before copying (a check failed); 1 is a copy that does not verify
NAME_WIDTH = 28
COUNT_WIDTH = 10


class Refused(UserError):
    exit_code = REFUSED_EXIT_CODE


@click.group()
def db() -> None:
    """数据库维护：从 SQLite 迁到 PostgreSQL。"""


def _safe_target(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by the transfer itself
        return "（无法识别的地址）"


def _print_report(report: TransferReport) -> None:
    # A Chinese character takes two columns in a terminal: pad by display width, not by characters.
    click.echo("表" + " " * (NAME_WIDTH - 2) + " " * (COUNT_WIDTH - 4) + "行数  结果")
    for table in report.tables:
        click.echo(f"{table.name:<{NAME_WIDTH}}{table.source_rows:>{COUNT_WIDTH}}  {table.verdict}")
    if report.missing_tables:
        click.echo(f"源库中没有这些表（视为 0 行）：{'、'.join(report.missing_tables)}")
    if report.unknown_tables:
        click.echo(f"源库中有程序不认识的表，未复制：{'、'.join(report.unknown_tables)}")


@db.command("migrate-from-sqlite")
@click.option("--from", "source", required=True, metavar="SQLITE",
              help="旧安装的 SQLite 文件路径或 sqlite:/// 地址（默认位置 var/shequ.db）")
@click.option("--to", "target", required=True, metavar="POSTGRES_URL",
              help="新建的空 PostgreSQL 库，如 postgresql+psycopg://shequ@127.0.0.1:5432/shequ")
@click.option("--dry-run", is_flag=True, help="只检查并清点行数，不写入目标库")
def migrate_from_sqlite_command(source: str, target: str, dry_run: bool) -> None:
    """把 SQLite 里的全部数据复制到 PostgreSQL，并逐表核对行数和主键。"""
    click.echo(f"目标库：{_safe_target(target)}")
    try:
        report = migrate_from_sqlite(source, target, dry_run=dry_run, progress=click.echo)
    except TransferError as exc:
        raise Refused(str(exc)) from exc
    _print_report(report)
    if dry_run:
        click.echo(f"检查通过：共 {len(report.tables)} 张表、{report.total_rows} 行待复制。未写入目标库。")
        return
    if not report.ok:
        bad = [t.name for t in report.tables if not t.ok]
        raise UserError(f"核对不一致：{'、'.join(bad)}。请不要启用新库，保留旧安装，联系技术支持")
    click.echo(f"迁移完成：{len(report.tables)} 张表、{report.total_rows} 行，全部核对一致。")
    click.echo("加密的联系方式等字段按原样复制：新服务器必须使用与旧安装相同的加密密钥"
               "（SHEQU_ENCRYPTION_KEY，或旧 var 目录里的 encryption.key）和服务器密钥"
               "（SHEQU_SECRET_KEY，或 secret.key），否则无法解密。")
