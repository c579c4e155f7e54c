"""Several nodes starting at once on a new PostgreSQL database: one migrates, the others wait, none fails."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, inspect, text

from assistant.storage.db import migrate


@pytest.mark.postgres
def test_nodes_migrating_at_once_all_start(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the lock is PostgreSQL's; SQLite has one writer anyway")
    engines = [create_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def node(engine: object) -> None:
        try:
            start.wait()
            migrate(engine)  # type: ignore[arg-type]
        except BaseException as exc:  # a duplicate CREATE TABLE would land here
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        with engines[0].connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert "communities" in inspect(engines[0]).get_table_names()
    finally:
        for engine in engines:
            engine.dispose()
