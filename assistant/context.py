"""Wiring shared by the server, the CLI and the kiosk: database, migrations, shipped content, KB."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assistant.events import EventBus, MemoryBus, create_bus
from assistant.kb_runtime import KnowledgeBaseProvider, load_shipped_into_db
from assistant.settings import Settings
from assistant.storage.db import DbTimeouts, make_engine, make_session_factory, migrate

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    kb: KnowledgeBaseProvider
    # Alerts, queue changes and new messages for server push; built from Settings.events_url.
    events: EventBus = field(default_factory=MemoryBus)

    def close(self) -> None:
        self.engine.dispose()


def create_context(settings: Settings, *, load_shipped: bool = True) -> AppContext:
    """Opens the database, upgrades its schema, loads shipped KB content (keeping staff edits)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url(), echo=settings.db_echo,
                         timeouts=DbTimeouts.from_settings(settings))
    migrate(engine)
    factory = make_session_factory(engine)
    if load_shipped:
        load_shipped_into_db(settings, factory)
    return AppContext(settings, engine, factory, KnowledgeBaseProvider(settings, factory),
                      create_bus(settings.events_url, factory))
