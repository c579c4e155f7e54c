"""Engine and session factory: SQLite (WAL) by default, PostgreSQL by URL; schema by Alembic migrations."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from assistant.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x5E09_0001  # pg_advisory_xact_lock key taken while migrating (any constant of this app)
STARTUP_LOCK_KEY = 0x5E09_0002  # pg_advisory_lock key held while a process migrates and loads shipped content
STARTUP_LOCK_WAIT_SECONDS = 180  # another node's start (migrations, shipped content) may take this long
# Residents' messages and contacts live in the file: only the service's own user may read it.
PRIVATE_FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def restrict_sqlite_files(database: str | Path) -> None:
    """Creates the database file owner-only (before SQLite opens it) and narrows existing files and their
    WAL/shared-memory companions to 0600; SQLite gives new companions the database file's mode."""
    path = Path(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        os.close(fd)
    except OSError as e:
        log.warning("cannot create database file %s: %s", path.name, e.strerror)
        return
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            if companion.exists() and companion.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
                companion.chmod(PRIVATE_FILE_MODE)
        except OSError as e:  # a file owned by another user: leave it, say so
            log.warning("cannot make %s owner-only: %s", companion.name, e.strerror)


@dataclass(frozen=True)
class DbTimeouts:
    """How long the database may keep a request waiting; an outage then costs seconds, not a hung worker."""

    connect: float = 3.0  # opening a connection (a refused or silent server)
    statement: float = 10.0  # one statement (PostgreSQL statement_timeout; SQLite's wait for a lock)
    pool: float = 5.0  # waiting for a free pooled connection

    @classmethod
    def from_settings(cls, settings: Settings) -> DbTimeouts:
        return cls(settings.db_connect_timeout_seconds, settings.db_statement_timeout_seconds,
                   settings.db_pool_timeout_seconds)


def make_engine(url: str, echo: bool = False, timeouts: DbTimeouts | None = None) -> Engine:
    timeouts = timeouts or DbTimeouts()
    parsed = make_url(url)
    # hide_parameters: an error's message would otherwise carry the statement's values (residents' words,
    # phone numbers) into the log.
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
        if on_disk:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            restrict_sqlite_files(database)
        busy_ms = int(timeouts.statement * 1000)
        engine = create_engine(url, echo=echo, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": timeouts.statement})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets several workers read while one writes; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()
            if on_disk:
                restrict_sqlite_files(database)  # the -wal/-shm files WAL mode has just created

        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        # libpq takes whole seconds (minimum 2); statement_timeout is enforced by the server per statement.
        # Appended to the URL's own ``options`` (a search_path, say): connect_args would replace them.
        given = parsed.query.get("options", "")
        options = " ".join([*([given] if isinstance(given, str) else given),
                            f"-c statement_timeout={int(timeouts.statement * 1000)}"]).strip()
        connect_args = {"connect_timeout": max(2, math.ceil(timeouts.connect)), "options": options}
    return create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         pool_timeout=timeouts.pool, connect_args=connect_args)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Processes starting together on one PostgreSQL database take turns at migrating and loading the shipped
    content: two loading at once would both insert the same new entries, and the second would fail to start."""
    if engine.dialect.name != "postgresql":
        yield  # SQLite has one writer at a time anyway
        return
    with engine.connect() as connection:
        # The statement timeout meant for requests must not cut the wait for another node's start short.
        connection.execute(text(f"SET LOCAL statement_timeout = '{STARTUP_LOCK_WAIT_SECONDS}s'"))
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
        connection.commit()  # the lock is the session's: it outlives this transaction
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY})
            connection.commit()


def migrate(engine: Engine) -> None:
    """Upgrades the database in place to the newest schema (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several nodes starting at once on a new database: one migrates, the others wait for it and then
            # find nothing left to do (the lock ends with this transaction).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")  # feature branches of the schema may each add a head
