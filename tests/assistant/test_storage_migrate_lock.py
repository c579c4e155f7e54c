"""Several nodes starting at once on a new PostgreSQL database: one migrates and loads the shipped content,
the others wait their turn, none fails."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from assistant.kb_runtime import load_shipped_into_db
from assistant.settings import Settings
from assistant.storage.db import make_session_factory, migrate, startup_lock
from assistant.storage.models import KbEntryRow


@pytest.mark.postgres
def test_nodes_starting_at_once_all_start(db_url: str, settings: Settings) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the lock is PostgreSQL's; SQLite has one writer anyway")
    engines = [create_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def node(engine: object) -> None:  # what create_context does at start
        try:
            start.wait()
            with startup_lock(engine):  # type: ignore[arg-type]
                migrate(engine)  # type: ignore[arg-type]
                load_shipped_into_db(settings, make_session_factory(engine))  # type: ignore[arg-type]
        except BaseException as exc:  # a duplicate CREATE TABLE or a duplicate entry would land here
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        assert "communities" in inspect(engines[0]).get_table_names()
        with engines[0].connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert connection.execute(select(func.count()).select_from(KbEntryRow)).scalar() > 0
    finally:
        for engine in engines:
            engine.dispose()
