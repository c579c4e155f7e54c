"""Alembic environment: runs on the connection handed over by ``assistant.storage.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from assistant.storage.all_models import metadata

target_metadata = metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # `alembic` on the command line: the URL comes from -x url=… or alembic.ini.
        url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
        engine = create_engine(url)
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
