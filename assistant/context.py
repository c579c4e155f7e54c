"""Wiring shared by the server, the CLI and the kiosk: database, migrations, shipped content, KB."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assistant.auth.ratelimit import RateLimiter, create_rate_limiter, rate_limit_scheme
from assistant.communities.directory import CommunityDirectory, install_stamping
from assistant.events import EventBus, MemoryBus, create_bus
from assistant.kb_runtime import KnowledgeBaseProvider, load_shipped_into_db
from assistant.privacy import index as privacy_index
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.speech import SpeechInput
from assistant.storage.db import DbTimeouts, make_engine, make_session_factory, migrate, startup_lock

if TYPE_CHECKING:
    from assistant.bulletins.board import BulletinBoard

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    kb: KnowledgeBaseProvider
    # Alerts, queue changes and new messages for server push; built from Settings.events_url.
    events: EventBus = field(default_factory=MemoryBus)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        """The limits every worker shares, in the store ``Settings.rate_limit_url`` names (built on first use:
        commands that never limit anything need no secret key)."""
        from assistant.auth.secret import server_secret

        return create_rate_limiter(self.settings.rate_limit_url, self.engine, server_secret(self.settings))

    @cached_property
    def cipher(self) -> PersonalDataCipher:
        """Encryption of personal data at rest (contacts, recordings), with the one configured key."""
        return PersonalDataCipher.from_settings(self.settings.encryption_key, self.settings.var_dir)

    @cached_property
    def communities(self) -> CommunityDirectory:
        """The city's communities, as requests resolve them (codes cached briefly, re-read on a miss)."""
        return CommunityDirectory(self.sessions)

    @cached_property
    def speech(self) -> SpeechInput:
        """Speech input, one recogniser for the process (its model loads on first use)."""
        return SpeechInput.from_settings(self.settings)

    @cached_property
    def bulletins(self) -> BulletinBoard:
        """Each community's current notices and warnings, as the kiosks and the web chat read them."""
        from assistant.bulletins.board import BulletinBoard

        return BulletinBoard(self.sessions, self.settings)

    def close(self) -> None:
        self.engine.dispose()


def create_context(settings: Settings, *, load_shipped: bool = True) -> AppContext:
    """Opens the database, upgrades its schema, loads shipped KB content (keeping staff edits)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    rate_limit_scheme(settings.rate_limit_url)  # a mistyped URL stops the start, not the first sign-in
    engine = make_engine(settings.resolved_database_url(), echo=settings.db_echo,
                         timeouts=DbTimeouts.from_settings(settings))
    factory = make_session_factory(engine)
    install_stamping()  # handoffs, orders, alerts and unanswered questions take their conversation's community
    privacy_index.install(factory, settings)  # the blind index's key reaches every database session
    with startup_lock(engine):  # several nodes starting at once take turns here
        migrate(engine)
        if load_shipped:
            load_shipped_into_db(settings, factory)
    return AppContext(settings, engine, factory, KnowledgeBaseProvider(settings, factory, settings.kb_check_seconds),
                      create_bus(settings.events_url, factory))
