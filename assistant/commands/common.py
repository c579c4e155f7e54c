"""Helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from assistant.context import AppContext, create_context
from assistant.settings import get_settings
from knowledge_base.errors import KnowledgeBaseError, ValidationFailed


class UserError(click.ClickException):
    """A problem the user can fix, printed as one line without a traceback."""

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"错误 / error: {self.format_message()}", err=True)


def problems_text(exc: ValidationFailed) -> str:
    return "\n".join(str(p) for p in exc.problems)


@contextmanager
def app_context(load_shipped: bool = True) -> Iterator[AppContext]:
    try:
        context = create_context(get_settings(), load_shipped=load_shipped)
    except ValidationFailed as exc:
        click.echo(problems_text(exc), err=True)
        raise UserError(f"the shipped knowledge base has {len(exc.problems)} problem(s); see above") from exc
    except KnowledgeBaseError as exc:
        raise UserError(str(exc)) from exc
    try:
        yield context
    finally:
        context.close()
