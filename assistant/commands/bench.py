"""``shequ bench``: retrieval build time, latency and memory at the shipped size and at generated sizes."""

from __future__ import annotations

import json

import click

from assistant.commands.common import UserError
from assistant.settings import get_settings


@click.command()
@click.option("--sizes", default="1000,20000", show_default=True, help="generated KB sizes, comma-separated")
@click.option("--queries", type=click.IntRange(10, 100_000), default=1000, show_default=True)
@click.option("--pretrained-generated", is_flag=True,
              help="also ask the pretrained encoder at the generated sizes (embeds every generated question: slow)")
@click.option("--json", "as_json", is_flag=True)
def bench(sizes: str, queries: int, pretrained_generated: bool, as_json: bool) -> None:
    """Print index build time, per-query latency p50/p99 and memory."""
    from assistant.kb_runtime import retrieval_config
    from knowledge_base.bench import as_dicts, run

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError as exc:
        raise UserError(f"--sizes takes whole numbers like 1000,20000 (got {sizes!r})") from exc
    if any(s < 10 or s > 100_000 for s in size_list):
        raise UserError("each size must be between 10 and 100000")
    settings = get_settings()
    results = run(settings.kb_data_dir, size_list, queries, config=retrieval_config(settings),
                  pretrained_generated=pretrained_generated)
    if as_json:
        click.echo(json.dumps(as_dicts(results), indent=1))
        return
    for result in results:
        click.echo(result.line())
