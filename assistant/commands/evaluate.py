"""``shequ eval FILE|FOLDER [--json]``: accuracy figures on a query file, or per phenomenon on a folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.commands.common import UserError, app_context
from assistant.evaluation import EvalReport, Prediction, case_files, engine_responder, evaluate, load_cases
from knowledge_base.errors import ValidationFailed
from knowledge_base.retrieval.fusion import Decision


@click.command("eval")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--mode", type=click.Choice(["dialogue", "retrieval"]), default="dialogue", show_default=True,
              help="the whole chat pipeline, or the knowledge-base retrieval alone")
@click.option("--no-misses", is_flag=True, help="print the figures only, not every miss")
@click.option("--ablation", is_flag=True, help="also print the retrieval ablation table (slow: refits each row)")
def eval_command(path: Path, as_json: bool, mode: str, no_misses: bool, ablation: bool) -> None:
    """Top-1 topic accuracy, out-of-scope rejection, intents, follow-ups; per phenomenon for a folder."""
    if not path.exists():
        raise UserError(f"no such file or folder: {path}")
    files = case_files(path)
    if not files:
        raise UserError(f"{path}: no .yaml files")
    datasets = []
    for file in files:
        try:
            datasets.append((file, load_cases(file)))
        except ValidationFailed as exc:
            raise UserError(f"{file}: not an evaluation file ({exc})") from exc
    with app_context() as context:
        knowledge = context.kb.current()
        category_of = {entry_id: entry.category for entry_id, entry in knowledge.entries.items()}
        if mode == "retrieval":
            def respond(session_id: str | None, text: str) -> Prediction:
                result = knowledge.search(text)
                top = result.top
                answered = result.decision == Decision.answer and top is not None
                referral = bool(answered and top and knowledge.entries[top.entry_id].is_referral)
                return Prediction(None, top.entry_id if answered and top else None,
                                  None if answered else "out_of_scope", score=top.score if top else None,
                                  action="answer" if answered else "fallback", referral=referral)
        else:
            from assistant.dialogue.factory import build_engine

            respond = engine_responder(build_engine(context))
        reports = [(file, data, evaluate(data, respond, category_of)) for file, data in datasets]
    total = EvalReport()
    for _, _, report in reports:
        total.add(report)
    if as_json:
        output = {"total": total.as_dict(),
                  "phenomena": {str(data.get("phenomenon") or file.stem): report.as_dict()
                                for file, data, report in reports}}
        click.echo(json.dumps(output if len(reports) > 1 else total.as_dict(), ensure_ascii=False, indent=1))
    elif len(reports) == 1:
        click.echo(total.format_text(misses=not no_misses))
    else:
        for file, data, report in reports:
            name = data.get("phenomenon") or file.stem
            click.echo(f"== {name} ({file.name}): {report.correct}/{report.total} = "
                       f"{report.correct / max(report.total, 1):.1%}")
            for line in report.summary_lines():
                click.echo(f"   {line}")
            if not no_misses:
                for miss in report.misses:
                    click.echo(f"   miss: {miss.query}  expected {miss.expected}  got {miss.got}")
        click.echo(f"== total: {total.correct}/{total.total} = {total.correct / max(total.total, 1):.1%}")
        for line in total.summary_lines():
            click.echo(f"   {line}")
    if ablation:
        from assistant.kb_runtime import retrieval_config
        from knowledge_base.ablation import format_rows, run_ablation

        summary = total.as_dict()
        rows = run_ablation(context.settings.kb_data_dir, files[0], retrieval_config(context.settings).thresholds)
        click.echo(format_rows(rows, (summary["topic_accuracy"], summary["out_of_scope_rejection"])))
