"""``shequ eval FILE [--json]``: accuracy figures on a query file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.commands.common import UserError, app_context
from assistant.evaluation import Prediction, evaluate, load_cases
from knowledge_base.errors import ValidationFailed
from knowledge_base.retrieval.fusion import Decision


@click.command("eval")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--mode", type=click.Choice(["dialogue", "retrieval"]), default="dialogue", show_default=True,
              help="the whole chat pipeline, or the knowledge-base retrieval alone")
@click.option("--ablation", is_flag=True, help="also print the retrieval ablation table (slow: refits each row)")
def eval_command(path: Path, as_json: bool, mode: str, ablation: bool) -> None:
    """Top-1 topic accuracy, out-of-scope rejection, intents, per category, misses."""
    if not path.exists():
        raise UserError(f"no such file: {path}")
    try:
        data = load_cases(path)
    except ValidationFailed as exc:
        raise UserError(f"{path}: not an evaluation file ({exc})") from exc
    with app_context() as context:
        knowledge = context.kb.current()
        category_of = {entry_id: entry.category for entry_id, entry in knowledge.entries.items()}
        if mode == "retrieval":
            def respond(session_id: str | None, text: str) -> Prediction:
                result = knowledge.search(text)
                top = result.top
                answered = result.decision == Decision.answer and top is not None
                return Prediction(None, top.entry_id if answered else None, None if answered else "out_of_scope",
                                  score=top.score if top else None)
        else:
            from assistant.dialogue.factory import build_engine

            engine = build_engine(context)

            def respond(session_id: str | None, text: str) -> Prediction:
                return engine.predict(session_id, text)

        report = evaluate(data, respond, category_of)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(report.format_text())
    if ablation:
        from assistant.kb_runtime import retrieval_config
        from knowledge_base.ablation import format_rows, run_ablation

        summary = report.as_dict()
        rows = run_ablation(context.settings.kb_data_dir, path, retrieval_config(context.settings).thresholds)
        click.echo(format_rows(rows, (summary["topic_accuracy"], summary["out_of_scope_rejection"])))
