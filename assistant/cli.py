"""The ``shequ`` command. Subcommands of other packages are attached here, lazily where they are heavy.

User errors end in one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import sys

import click

from assistant.logging_setup import configure_logging
from assistant.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR")
def cli(log_level: str | None) -> None:
    """社区小助手 (shequ): community public-service assistant."""
    configure_logging(log_level or get_settings().log_level)


def _attach_subcommands() -> None:
    # Each package owns its command group; the kiosk one imports Kivy only when run.
    from assistant.cli_commands import register

    register(cli)


def main() -> None:
    _attach_subcommands()
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("已中断 / interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
