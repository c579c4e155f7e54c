"""``shequ communities import|list``: the city's communities (issue 15)."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.commands.common import UserError, app_context
from assistant.communities import CommunityError
from assistant.communities.directory import import_community, list_communities
from assistant.storage.db import session_scope
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.loader import parse_yaml_file


@click.group()
def communities() -> None:
    """社区：导入、列出本市的社区。"""


@communities.command("import")
@click.argument("profile", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--code", required=True, help="社区编号（字母、数字、- 和 _），居民网址里用 /?c=编号")
@click.option("--street", default="", help="所属街道 / 乡镇")
@click.option("--district", default="", help="所属城区 / 县")
@click.option("--default", "make_default", is_flag=True, help="设为默认社区（没有说明社区的请求归它）")
def import_(profile: Path, code: str, street: str, district: str, make_default: bool) -> None:
    """Adds or updates a community from a profile file (the format of community_profile.example.yaml)."""
    if not profile.exists():
        raise UserError(f"找不到文件 {profile}")
    try:
        data, _ = parse_yaml_file(profile)
    except (KnowledgeBaseError, OSError, UnicodeDecodeError) as exc:
        raise UserError(f"读不了 {profile.name}：{exc}") from exc
    with app_context() as context, session_scope(context.sessions) as db:
        try:
            row, created = import_community(db, code.strip(), data or {}, street=street, district=district,
                                            make_default=make_default)
        except CommunityError as exc:
            raise UserError(str(exc)) from exc
        click.echo(f"{'新增' if created else '更新'}社区 {row.code}：{row.name or '（未填名称）'}"
                   + ("（默认社区）" if row.is_default else ""))


@communities.command("list")
def list_() -> None:
    """Lists the communities: code, name, street, district."""
    with app_context() as context, session_scope(context.sessions) as db:
        rows = list_communities(db)
    click.echo(f"共 {len(rows)} 个社区")
    for row in rows:
        marks = [m for m, on in (("默认", row.is_default), ("已停用", not row.active)) if on]
        click.echo(f"{row.code}\t{row.label}" + (f"\t（{'，'.join(marks)}）" if marks else ""))
