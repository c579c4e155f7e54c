"""``shequ kb validate|import|export|reindex|search``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.commands.common import UserError, app_context, problems_text
from assistant.settings import get_settings
from assistant.storage import kb_repository
from assistant.storage.db import session_scope
from knowledge_base.errors import KnowledgeBaseError, ValidationFailed
from knowledge_base.loader import check_catalog, collect_entries

DEFAULT_CATALOG = Path("../shared/catalog/services.yaml")


@click.group()
def kb() -> None:
    """Knowledge base: validate, import, export, reindex, search."""


@kb.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="default: the shipped data")
@click.option("--catalog", type=click.Path(path_type=Path), default=None,
              help="services.yaml to check coverage against (default ../shared/catalog/services.yaml if present)")
def validate(data_dir: Path | None, catalog: Path | None) -> None:
    """Check the YAML content; prints file:line for every problem."""
    settings = get_settings()
    directory = data_dir or settings.kb_data_dir
    entries, problems = collect_entries(directory)
    synonyms_path = directory / "synonyms.yaml"
    if synonyms_path.exists():
        from knowledge_base.synonyms import load_synonyms

        try:
            load_synonyms(synonyms_path)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    catalog = catalog or (DEFAULT_CATALOG if DEFAULT_CATALOG.exists() else None)
    if catalog is not None:
        try:
            problems.extend(check_catalog(entries, catalog))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise UserError(f"{len(problems)} problem(s) in {directory}")
    click.echo(f"ok: {len(entries)} entries, {sum(len(e.questions) for e in entries)} similar questions")


@kb.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--actor", default="import", help="recorded as the editor in the history")
def import_command(path: Path, actor: str) -> None:
    """Import a whole KB from .xlsx or .csv (all rows valid, or nothing is imported)."""
    from knowledge_base.spreadsheet import import_spreadsheet

    if not path.exists():
        raise UserError(f"no such file: {path}")
    try:
        entries = import_spreadsheet(path)
    except ValidationFailed as exc:
        click.echo(problems_text(exc), err=True)
        raise UserError(f"{len(exc.problems)} problem(s); nothing was imported") from exc
    except KnowledgeBaseError as exc:
        raise UserError(str(exc)) from exc
    with app_context() as context, session_scope(context.sessions) as session:
        current = {e.id: e for e in kb_repository.all_entries(session)}
        changed = 0
        for entry in entries:
            old = current.get(entry.id)
            if old is None or old.content_hash() != entry.content_hash() or old.status != entry.status:
                kb_repository.save_entry(session, entry, actor, note=f"import {path.name}")
                changed += 1
    click.echo(f"imported {len(entries)} entries ({changed} new or changed)")


@kb.command()
@click.argument("path", type=click.Path(path_type=Path))
def export(path: Path) -> None:
    """Export every entry to .xlsx or .csv."""
    from knowledge_base.spreadsheet import export_csv, export_xlsx

    suffix = path.suffix.lower()
    if suffix not in {".xlsx", ".csv"}:
        raise UserError("export to a .xlsx or .csv file")
    with app_context() as context, session_scope(context.sessions) as session:
        entries = kb_repository.all_entries(session)
    (export_xlsx if suffix == ".xlsx" else export_csv)(entries, path)
    click.echo(f"exported {len(entries)} entries to {path}")


@kb.command()
@click.option("--calibrate", is_flag=True, help="also refit the score calibration (writes calibration.json)")
def reindex(calibrate: bool) -> None:
    """Rebuild the retrieval index (and optionally the calibration) from the database."""
    import shutil

    from assistant.kb_runtime import DIALECT_DOC, build_from_db, retrieval_config
    from knowledge_base.dialect import DialectLexicon
    from knowledge_base.engine import CALIBRATION_FILE, make_analyzer
    from knowledge_base.loader import parse_yaml_file
    from knowledge_base.retrieval.calibrate import fit_calibration, negative_questions

    with app_context() as context:
        if calibrate:
            with session_scope(context.sessions) as session:
                entries = kb_repository.published_entries(session)
                from knowledge_base.synonyms import SynonymDictionary

                synonyms = SynonymDictionary.from_groups(kb_repository.get_document(session, "synonyms") or {})
                dialect = DialectLexicon.from_rows(kb_repository.get_document(session, DIALECT_DOC) or [])
            negatives, _ = parse_yaml_file(context.settings.kb_data_dir / "calibration_negatives.yaml")
            analyzer = make_analyzer(synonyms, dialect=dialect, titles=[e.title for e in entries])
            calibration, stats = fit_calibration(entries, analyzer, negative_questions(negatives),
                                                 config=retrieval_config(context.settings))
            calibration.save(CALIBRATION_FILE)
            click.echo(f"calibration: weights {[round(w, 3) for w in calibration.weights]} "
                       f"bias {calibration.bias:.3f} ({stats})")
        shutil.rmtree(context.settings.resolved_index_dir(), ignore_errors=True)
        knowledge = build_from_db(context.settings, context.sessions)
    click.echo(f"indexed {len(knowledge.entries)} published entries in {knowledge.build_seconds:.2f}s "
               f"(revision {knowledge.revision})")


@kb.command()
@click.argument("query")
@click.option("-k", "--top", default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def search(query: str, top: int, as_json: bool) -> None:
    """Show the top candidates for a question with each signal's score."""
    if not query.strip():
        raise UserError("empty question / 问题为空")
    with app_context() as context:
        result = context.kb.current().search(query, k=top)
    if as_json:
        click.echo(json.dumps({"query": query, "canonical": result.canonical, "decision": str(result.decision),
                               "candidates": [c.__dict__ for c in result.candidates]}, ensure_ascii=False, indent=1))
        return
    click.echo(f"query: {query}\ncanonical: {result.canonical}\ndecision: {result.decision}")
    click.echo(f"{'score':>6} {'word':>5} {'char':>5} {'pinyin':>6} {'dense':>5} {'bag':>5} {'pretr':>5} {'centr':>5}  entry")
    for c in result.candidates:
        s = c.signals
        # asked only when unsure
        pretrained = " ".join(f"{s[n]:5.2f}" if n in s else f"{'-':>5}" for n in ("pretrained", "centroid"))
        click.echo(f"{c.score:6.3f} {s['word']:5.2f} {s['char']:5.2f} {s['pinyin']:6.2f} {s['dense']:5.2f} "
                   f"{s['bag']:5.2f} {pretrained}  {c.entry_id}  {c.title}")


@kb.command()
@click.option("--within-days", type=click.IntRange(0, 3650), default=None,
              help="also list entries due within this many days (default 30)")
def stale(within_days: int | None) -> None:
    """List published entries whose review date (review_by) has passed or is near."""
    from assistant.clock import today_china
    from knowledge_base.content_checks import DUE_SOON_DAYS, due_for_review

    days = DUE_SOON_DAYS if within_days is None else within_days
    today = today_china()
    with app_context() as context, session_scope(context.sessions) as session:
        due = due_for_review(kb_repository.published_entries(session), today, days)
    click.echo(f"今天（北京时间）{today.isoformat()}；复核日期已过或在 {days} 天内的条目：{len(due)} 条")
    for item in due:
        when = f"已过期 {-item.days_left} 天" if item.overdue else ("今天到期" if item.days_left == 0
                                                                  else f"还有 {item.days_left} 天")
        click.echo(f"{item.review_by.isoformat()}  {when:<10}  {item.id}  {item.title}")


# --- community overlays (issue 15) -------------------------------------------------------------------------

@kb.group()
def overlay() -> None:
    """社区补充：某个社区改写全市条目的回答、办事要点，或加本社区自己的条目。"""


@overlay.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--community", "code", required=True, help="社区编号（先用 shequ communities import 导入社区）")
@click.option("--actor", default="import", help="记入修改历史的修改人")
def overlay_import(path: Path, code: str, actor: str) -> None:
    """导入社区补充文件（YAML：overrides 改全市条目，entries 加本社区条目）；有一处不对就全部不导入。"""
    from assistant.communities import UnknownCommunity
    from knowledge_base.overlays import parse_overlay_file

    if not path.exists():
        raise UserError(f"找不到文件 {path}")
    if not code.strip():
        raise UserError("请用 --community 写明社区编号")
    with app_context() as context:
        try:
            code = context.communities.resolve(code.strip())
        except UnknownCommunity as exc:
            raise UserError(str(exc)) from exc
        with session_scope(context.sessions) as session:
            city = {e.id: e for e in kb_repository.published_entries(session)}
            try:
                parsed = parse_overlay_file(path, code, city)
            except ValidationFailed as exc:
                click.echo(problems_text(exc), err=True)
                raise UserError(f"{len(exc.problems)} 处问题，什么也没有导入") from exc
            saved = kb_repository.save_overlay(session, parsed, actor, note=f"社区补充 {path.name}")
    click.echo(f"社区 {code}：改写全市条目 {len(parsed.overrides)} 条，本社区条目 {len(parsed.entries)} 条"
               f"（新增或有改动 {len(saved)} 条）")


@overlay.command("list")
@click.option("--community", "code", required=True, help="社区编号")
def overlay_list(code: str) -> None:
    """列出一个社区改写的全市条目和它自己的条目。"""
    from knowledge_base.models import ASPECTS

    with app_context() as context, session_scope(context.sessions) as session:
        rows = kb_repository.overlay_rows(session, code.strip())
        lines = []
        for row in rows:
            entry = kb_repository.row_to_entry(row)
            if row.overrides:
                city = session.get(type(row), row.overrides)
                same_answer = city is not None and city.data.get("answer") == entry.answer
                changed = "、".join([*([] if same_answer else ["回答"]), *(ASPECTS[a] for a in entry.aspects.present())])
                lines.append(f"改写  {row.overrides}  {entry.title}（{changed}）  {row.status} 第{row.version}版")
            else:
                lines.append(f"本社区  {row.id}  {entry.title}  {row.status} 第{row.version}版")
    if not rows:
        click.echo(f"社区 {code} 没有补充内容")
        return
    click.echo("\n".join(lines))
