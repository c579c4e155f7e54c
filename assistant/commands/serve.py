"""``shequ serve``: the API, the web chat and the staff console."""

from __future__ import annotations

import click

from assistant.auth.ratelimit import parse_trusted_proxies
from assistant.commands.common import UserError, app_context
from assistant.settings import get_settings
from knowledge_base.retrieval.pretrained import share_cores_between_workers


@click.command()
@click.option("--host", default=None, help="default 127.0.0.1 (SHEQU_HOST)")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="default 8000 (SHEQU_PORT)")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="worker processes (default 1)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the server on http://HOST:PORT."""
    import uvicorn

    settings = get_settings()
    # Migrate and load shipped content once here, so workers start on an up-to-date database.
    with app_context() as context:
        knowledge = context.kb.current()
        click.echo(f"knowledge base: {len(knowledge.entries)} entries (revision {knowledge.revision})")
    host = host or settings.host
    port = port or settings.port
    share_cores_between_workers(workers or settings.workers)
    click.echo(f"社区小助手 on http://{host}:{port}/  (API docs: /docs)")
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default (so anyone on the machine could pick their
    # address); here only the configured reverse proxies are believed, the same list client_address() uses.
    trusted = [str(network) for network in parse_trusted_proxies(settings.trusted_proxies)]
    try:
        uvicorn.run("assistant.api.main:app_factory", factory=True, host=host, port=port,
                    workers=workers or settings.workers, log_level=settings.log_level.lower(),
                    access_log=False, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or "")
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
