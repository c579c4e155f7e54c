"""The live knowledge base of a worker process, kept in step with the database.

Each worker holds one ``KnowledgeBase``. ``current()`` checks the database's KB revision at most every
``check_interval`` seconds; when staff publish a change (any worker, any machine), the revision moves and
this worker rebuilds — or loads the index another worker already built — without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assistant.settings import Settings
from assistant.storage import kb_repository
from assistant.storage.db import session_scope
from knowledge_base.dialect import DialectLexicon, load_dialect
from knowledge_base.engine import KnowledgeBase
from knowledge_base.loader import load_entries, parse_yaml_file
from knowledge_base.profile import CommunityProfile
from knowledge_base.retrieval.fusion import Thresholds
from knowledge_base.retrieval.index import RetrievalConfig
from knowledge_base.synonyms import SynonymDictionary, load_synonyms

log = logging.getLogger(__name__)

SYNONYMS_DOC = "synonyms"
PROFILE_DOC = "profile"
DIALECT_DOC = "dialect"
EXAMPLE_PROFILE_FILE = "community_profile.example.yaml"
DEMO_PROFILE_FILE = "community_profile.demo.yaml"


def shipped_documents(settings: Settings) -> dict[str, Any]:
    synonyms_path = settings.kb_data_dir / "synonyms.yaml"
    groups = load_synonyms(synonyms_path).groups() if synonyms_path.exists() else {}
    profile_path = settings.community_profile or default_profile_path(settings)
    profile_data, _ = parse_yaml_file(Path(profile_path)) if Path(profile_path).exists() else ({}, None)
    dialect_path = settings.kb_data_dir / "dialect.yaml"
    dialect_rows = load_dialect(dialect_path).rows() if dialect_path.exists() else []
    return {SYNONYMS_DOC: groups, PROFILE_DOC: profile_data or {}, DIALECT_DOC: dialect_rows}


def default_profile_path(settings: Settings) -> Path:
    """The profile when none is configured: the demonstration one for `make run` (it says it is an
    example), otherwise the blank example, whose unknown details degrade in answers."""
    demo = settings.kb_data_dir / DEMO_PROFILE_FILE
    if settings.demo_profile and demo.exists():
        return demo
    return settings.kb_data_dir / EXAMPLE_PROFILE_FILE


def load_shipped_into_db(settings: Settings, factory: sessionmaker[Session]) -> kb_repository.SyncReport:
    entries = load_entries(settings.kb_data_dir)  # raises ValidationFailed: nothing half-loaded
    documents = shipped_documents(settings)
    with session_scope(factory) as session:
        report = kb_repository.sync_shipped(session, entries, documents)
        # The installation's own community follows the profile file (issue 15: today's profile is one row).
        from assistant.communities.directory import ensure_default

        ensure_default(session, documents[PROFILE_DOC])
    log.info("knowledge base sync: %s", report.summary())
    return report


def retrieval_config(settings: Settings) -> RetrievalConfig:
    return RetrievalConfig(
        encoder=settings.encoder,
        encoder_model_path=settings.encoder_model_path,
        thresholds=Thresholds(settings.answer_threshold, settings.clarify_threshold, settings.clarify_margin,
                              pretrained_below=settings.pretrained_below),
        pretrained=settings.pretrained_encoder,
        pretrained_cache=str(settings.pretrained_cache_file()),
    )


def community_profiles(session: Session, city_profile: CommunityProfile) -> tuple[dict[str, CommunityProfile],
                                                                                 str | None]:
    """Every active community's profile by code, and the default community's code. A community that follows
    the profile file answers with the KB's profile document (which staff may have edited in the console)."""
    from assistant.communities.directory import parse_profile
    from assistant.communities.models import Community

    profiles: dict[str, CommunityProfile] = {}
    default: str | None = None
    for row in session.scalars(select(Community).where(Community.active.is_(True))):
        try:
            profiles[row.code] = city_profile if row.follows_profile_file else parse_profile(row.profile)
        except ValueError:  # CommunityError: import checks profiles, so only a hand-edited row gets here
            log.warning("community %s has an unreadable profile; its residents get the city's", row.code)
            profiles[row.code] = city_profile
        default = row.code if row.is_default else default
    return profiles, default


def build_from_db(settings: Settings, factory: sessionmaker[Session]) -> KnowledgeBase:
    with session_scope(factory) as session:
        revision = kb_repository.current_revision(session)
        entries = kb_repository.published_entries(session)
        overlays = kb_repository.published_overlays(session)
        groups = kb_repository.get_document(session, SYNONYMS_DOC) or {}
        profile = CommunityProfile.model_validate(kb_repository.get_document(session, PROFILE_DOC) or {})
        dialect_rows = kb_repository.get_document(session, DIALECT_DOC) or []
        profiles, default_community = community_profiles(session, profile)
    return KnowledgeBase.build(
        entries,
        SynonymDictionary.from_groups(groups),
        profile,
        index_root=settings.resolved_index_dir(),
        config=retrieval_config(settings),
        tokenizer=settings.tokenizer,
        revision=revision,
        dialect=DialectLexicon.from_rows(dialect_rows, DIALECT_DOC),
        overlays=overlays,
        profiles=profiles,
        default_community=default_community,
    )


class KnowledgeBaseProvider:
    """The worker's knowledge base. A newer revision is built in a background thread while residents keep
    being answered from the current one: chat turns run on the server's event loop, which a build of several
    seconds must not stop. Only the first load, and ``refresh`` (the console, after staff publish), wait."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], check_interval: float = 2.0) -> None:
        self.settings = settings
        self.factory = factory
        self.check_interval = check_interval
        self._kb: KnowledgeBase | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._building: int | None = None  # the revision a background thread is building
        self._failed: tuple[int, float] | None = None  # a revision whose build failed, and when

    def current(self) -> KnowledgeBase:
        knowledge = self._kb
        if knowledge is not None and time.monotonic() - self._checked_at < self.check_interval:
            return knowledge
        if knowledge is None:
            return self.refresh()
        self._checked_at = time.monotonic()
        revision = self._stored_revision()
        if revision == knowledge.revision or not self._lock.acquire(blocking=False):
            return knowledge  # up to date, or a refresh is building right now: answer from what we have
        try:
            if self._building is None and not self._recently_failed(revision):
                self._building = revision
                threading.Thread(target=self._build_in_background, name="kb-rebuild", daemon=True).start()
        finally:
            self._lock.release()
        return knowledge

    def refresh(self) -> KnowledgeBase:
        """The knowledge base of the newest revision, built now if needed."""
        with self._lock:
            revision = self._stored_revision()
            if self._kb is None or revision != self._kb.revision:
                log.info("loading knowledge base revision %d", revision)
                self._kb = build_from_db(self.settings, self.factory)
            self._checked_at = time.monotonic()
            return self._kb

    def _recently_failed(self, revision: int) -> bool:
        # A revision that cannot be built (a broken entry) is retried once a minute, not at every check.
        return self._failed is not None and self._failed[0] == revision and time.monotonic() - self._failed[1] < 60

    def _stored_revision(self) -> int:
        with session_scope(self.factory) as session:
            return kb_repository.current_revision(session)

    async def watch(self) -> None:
        """Checks for a newer revision every ``check_interval`` seconds until cancelled, so a publish on
        another node is picked up (and built) while nobody asks anything here, not at the next question."""
        while True:
            await asyncio.sleep(self.check_interval)
            try:
                await asyncio.to_thread(self.current)
            except Exception as exc:  # database away: the next check tries again; residents get the current KB
                log.warning("checking the knowledge-base revision failed: %s", type(exc).__name__)

    def _build_in_background(self) -> None:
        revision = self._building
        try:
            knowledge = build_from_db(self.settings, self.factory)
        except Exception:
            log.exception("rebuilding the knowledge base failed; still serving revision %d",
                          self._kb.revision if self._kb else -1)
            knowledge = None
        with self._lock:
            if knowledge is None and revision is not None:
                self._failed = (revision, time.monotonic())
            if knowledge is not None and (self._kb is None or knowledge.revision > self._kb.revision):
                self._kb = knowledge
                log.info("serving knowledge base revision %d", knowledge.revision)
            self._building = None
