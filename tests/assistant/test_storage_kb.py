"""Knowledge-base storage: migrations, idempotent loading of shipped content that keeps staff edits, and
workers picking up a newly published revision. Every test runs on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.context import create_context
from assistant.kb_runtime import (
    DIALECT_DOC,
    PROFILE_DOC,
    SYNONYMS_DOC,
    KnowledgeBaseProvider,
    load_shipped_into_db,
)
from assistant.settings import Settings
from assistant.storage import kb_repository
from assistant.storage.all_models import metadata
from assistant.storage.db import MIGRATIONS_DIR, make_engine, make_session_factory, migrate, session_scope
from assistant.storage.models import AuditLog, KbDocument, KbEntryRow, KbEntryVersion
from knowledge_base.loader import load_entries
from knowledge_base.models import EntryStatus, KbEntry
from knowledge_base.retrieval.fusion import Decision


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


HEADS = set(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.fixture
def kb_settings(db_settings: Settings) -> Settings:
    """The database under test; the char tokenizer keeps the many index builds here fast."""
    return db_settings.model_copy(update={"tokenizer": "char"})


@pytest.fixture
def engine(kb_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(kb_settings.resolved_database_url())
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def factory(engine: Engine, kb_settings: Settings) -> sessionmaker[Session]:
    migrate(engine)
    return make_session_factory(engine)


def versions_in_db(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def revision(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        return kb_repository.current_revision(session)


def row(factory: sessionmaker[Session], entry_id: str) -> KbEntryRow:
    with session_scope(factory) as session:
        found = session.get(KbEntryRow, entry_id)
        assert found is not None
        session.expunge(found)
        return found


def history(factory: sessionmaker[Session], entry_id: str) -> list[tuple[int, str, str]]:
    with session_scope(factory) as session:
        rows = session.scalars(select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id)
                               .order_by(KbEntryVersion.id))
        return [(r.version, r.created_by, r.data["answer"]) for r in rows]


def count(factory: sessionmaker[Session], model) -> int:
    with session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


def edit_shipped_answer(kb_dir: Path, entry_id: str, old: str, new: str) -> None:
    for path in (kb_dir / "entries").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if f"id: {entry_id}" in text:
            assert old in text
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            return
    raise AssertionError(entry_id)


def shipped(kb_settings: Settings, entry_id: str) -> KbEntry:
    return next(e for e in load_entries(kb_settings.kb_data_dir) if e.id == entry_id)


# ---------------------------------------------------------------- migrations

def test_create_context_migrates_an_empty_database_and_is_idempotent(kb_settings: Settings) -> None:
    first = create_context(kb_settings)
    try:
        assert versions_in_db(first.engine) == HEADS
        tables = set(inspect(first.engine).get_table_names())
        assert set(metadata.tables) <= tables
        entries = count(first.sessions, KbEntryRow)
        assert entries == len(load_entries(kb_settings.kb_data_dir))
        versions, audits, rev = count(first.sessions, KbEntryVersion), count(first.sessions, AuditLog), \
            revision(first.sessions)
    finally:
        first.close()
    second = create_context(kb_settings)  # the same database again: nothing changes
    try:
        assert versions_in_db(second.engine) == HEADS
        assert count(second.sessions, KbEntryRow) == entries
        assert count(second.sessions, KbEntryVersion) == versions
        assert count(second.sessions, AuditLog) == audits
        assert revision(second.sessions) == rev == 1
    finally:
        second.close()


def test_the_migrated_schema_matches_the_models(factory: sessionmaker[Session], engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                       metadata)
    assert differences == []


def test_upgrade_from_0001_keeps_existing_data(engine: Engine, kb_settings: Settings) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert versions_in_db(engine) == {"0001"}
    staff_entry = KbEntry(id="local-notice", category="shequ", title="社区停水通知在哪里看",
                          questions=[f"停水通知{i}" for i in range(8)], answer="停水通知贴在社区公告栏。",
                          department="社区", updated_by="staff1")
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with engine.begin() as connection:
        tables = MetaData()
        entries = Table("kb_entries", tables, autoload_with=connection)
        versions = Table("kb_entry_versions", tables, autoload_with=connection)
        documents = Table("kb_documents", tables, autoload_with=connection)
        state = Table("kb_state", tables, autoload_with=connection)
        audit = Table("audit_log", tables, autoload_with=connection)
        data = kb_repository.entry_to_row_data(staff_entry)
        connection.execute(entries.insert().values(
            id="local-notice", category="shequ", status="published", version=3, data=data,
            content_hash=staff_entry.content_hash(), shipped_hash=None, staff_modified=True, pending_shipped=None,
            updated_at=now, updated_by="staff1"))
        connection.execute(versions.insert().values(entry_id="local-notice", version=3, status="published",
                                                    data=data, created_at=now, created_by="staff1", note="v3"))
        connection.execute(documents.insert().values(name="synonyms", data={"敬老金": ["老人钱"]},
                                                     shipped_hash=None, staff_modified=True, updated_at=now,
                                                     updated_by="staff1"))
        connection.execute(state.insert().values(id=1, revision=41, updated_at=now))
        connection.execute(audit.insert().values(at=now, actor="staff1", action="kb.entry.save",
                                                 target="local-notice", detail="v3"))
    migrate(engine)
    assert versions_in_db(engine) == HEADS
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        assert [e.id for e in kb_repository.published_entries(session)] == ["local-notice"]
        assert kb_repository.published_entries(session)[0] == staff_entry.model_copy()
        assert kb_repository.current_revision(session) == 41
        assert kb_repository.get_document(session, "synonyms") == {"敬老金": ["老人钱"]}
        assert session.scalar(select(func.count()).select_from(KbEntryVersion)) == 1
        assert session.scalar(select(AuditLog.detail)) == "v3"
    # the upgraded database takes the shipped content on top, keeping the staff's work
    load_shipped_into_db(kb_settings, factory)
    with session_scope(factory) as session:
        ids = {e.id for e in kb_repository.published_entries(session)}
        assert "local-notice" in ids and len(ids) == len(load_entries(kb_settings.kb_data_dir)) + 1
        assert kb_repository.get_document(session, "synonyms") == {"敬老金": ["老人钱"]}  # staff-modified
        assert kb_repository.current_revision(session) == 42


# ---------------------------------------------------------------- syncing shipped content

def test_sync_inserts_then_is_a_no_op(factory: sessionmaker[Session], kb_settings: Settings) -> None:
    ids = sorted(e.id for e in load_entries(kb_settings.kb_data_dir))
    report = load_shipped_into_db(kb_settings, factory)
    assert sorted(report.inserted) == ids
    assert sorted(report.documents_changed) == [DIALECT_DOC, PROFILE_DOC, SYNONYMS_DOC]
    assert revision(factory) == 1
    assert all(history(factory, i) and history(factory, i)[0][:2] == (1, "shipped") for i in ids)
    with session_scope(factory) as session:
        assert kb_repository.get_document(session, SYNONYMS_DOC)["高龄津贴"][0] == "长寿金"
        assert kb_repository.get_document(session, PROFILE_DOC)["example"] is True

    again = load_shipped_into_db(kb_settings, factory)
    assert again.changed is False
    assert sorted(again.unchanged) == ids and again.inserted == again.updated == []
    assert revision(factory) == 1
    assert count(factory, KbEntryVersion) == len(ids)


def test_sync_updates_an_untouched_entry(factory: sessionmaker[Session], kb_settings: Settings) -> None:
    load_shipped_into_db(kb_settings, factory)
    edit_shipped_answer(kb_settings.kb_data_dir, "community-elderly-canteen", "部分老人有助餐补贴",
                        "80岁以上老人有助餐补贴")
    report = load_shipped_into_db(kb_settings, factory)
    assert report.updated == ["community-elderly-canteen"]
    assert report.inserted == [] and report.kept_staff_edit == []
    current = row(factory, "community-elderly-canteen")
    assert current.version == 2 and current.staff_modified is False
    assert "80岁以上老人有助餐补贴" in current.data["answer"]
    assert [(v, who) for v, who, _ in history(factory, "community-elderly-canteen")] == [(1, "shipped"),
                                                                                       (2, "shipped")]
    assert revision(factory) == 2
    assert load_shipped_into_db(kb_settings, factory).changed is False  # and now it is settled


def test_sync_keeps_a_staff_edit_and_parks_the_shipped_change(factory: sessionmaker[Session],
                                                             kb_settings: Settings) -> None:
    load_shipped_into_db(kb_settings, factory)
    entry_id = "senior-age-allowance"
    staff_answer = "年满80周岁的老人带身份证到社区服务中心二楼窗口申请高龄津贴。"
    with session_scope(factory) as session:
        saved = kb_repository.save_entry(session, shipped(kb_settings, entry_id).model_copy(
            update={"answer": staff_answer}), actor="staff1", note="窗口位置")
    assert saved.version == 2 and saved.updated_by == "staff1"
    assert revision(factory) == 2

    edit_shipped_answer(kb_settings.kb_data_dir, entry_id, "可以带身份证和户口簿", "可以带身份证、户口簿和银行卡")
    report = load_shipped_into_db(kb_settings, factory)
    assert report.kept_staff_edit == [entry_id]
    assert report.updated == [] and report.changed is False
    current = row(factory, entry_id)
    assert current.data["answer"] == staff_answer and current.updated_by == "staff1"
    assert current.version == 2 and current.staff_modified is True
    assert current.pending_shipped is not None
    assert "可以带身份证、户口簿和银行卡" in current.pending_shipped["answer"]
    assert revision(factory) == 2  # residents see nothing new
    assert [who for _, who, _ in history(factory, entry_id)] == ["shipped", "staff1"]

    again = load_shipped_into_db(kb_settings, factory)  # still parked, nothing duplicated
    assert again.kept_staff_edit == [entry_id] and again.changed is False
    assert len(history(factory, entry_id)) == 2


def test_sync_keeps_staff_edited_documents(factory: sessionmaker[Session], kb_settings: Settings) -> None:
    load_shipped_into_db(kb_settings, factory)
    with session_scope(factory) as session:
        kb_repository.save_document(session, PROFILE_DOC, {"name": "民主社区", "phone": "0771-0000000"}, "staff1")
    synonyms_path = kb_settings.kb_data_dir / "synonyms.yaml"
    synonyms_path.write_text(synonyms_path.read_text(encoding="utf-8") + "  社保: [社宝]\n", encoding="utf-8")
    profile_path = kb_settings.kb_data_dir / "community_profile.example.yaml"
    profile_path.write_text(profile_path.read_text(encoding="utf-8").replace("示例社区", "示例社区二"),
                            encoding="utf-8")
    report = load_shipped_into_db(kb_settings, factory)
    assert report.documents_changed == [SYNONYMS_DOC]
    with session_scope(factory) as session:
        assert kb_repository.get_document(session, SYNONYMS_DOC)["社保"] == ["社宝"]
        assert kb_repository.get_document(session, PROFILE_DOC)["name"] == "民主社区"
        assert session.get(KbDocument, PROFILE_DOC).staff_modified is True


def test_drafts_are_stored_but_not_published(factory: sessionmaker[Session], kb_settings: Settings) -> None:
    load_shipped_into_db(kb_settings, factory)
    draft = KbEntry(id="haircut-voucher", category="yanglao", title="老人理发券怎么领", questions=["理发券"],
                    answer="草稿，待核实。", department="社区", status=EntryStatus.draft)
    with session_scope(factory) as session:
        kb_repository.save_entry(session, draft, actor="staff1")
    assert revision(factory) == 1  # a draft changes nothing residents see
    with session_scope(factory) as session:
        assert "haircut-voucher" not in {e.id for e in kb_repository.published_entries(session)}
        assert "haircut-voucher" in {e.id for e in kb_repository.all_entries(session)}


# ---------------------------------------------------------------- workers pick up a published edit

HAIRCUT = KbEntry(
    id="haircut-voucher", category="yanglao", title="老人理发券怎么领", department="社区",
    answer="70岁以上老人带身份证到社区服务中心登记，每月可领两张免费理发券。",
    questions=["理发券在哪里领", "老人免费理发怎么登记", "社区理发券怎么用", "理发券每个月几张",
               "上门理发服务怎么约", "老人剪头发有补贴吗", "理发券过期了怎么办", "哪些老人可以领理发券"],
)


def test_provider_picks_up_a_published_staff_edit(factory: sessionmaker[Session], kb_settings: Settings) -> None:
    load_shipped_into_db(kb_settings, factory)
    worker = KnowledgeBaseProvider(kb_settings, factory, check_interval=3600)
    before = worker.current()
    assert before.revision == 1
    assert before.get("haircut-voucher") is None
    assert worker.refresh() is before  # same revision: the same knowledge base, no rebuild

    with session_scope(factory) as session:
        kb_repository.save_entry(session, HAIRCUT, actor="staff1")
    assert worker.current() is before  # within the check interval nothing is re-read

    after = worker.refresh()
    assert after.revision == 2
    result = after.search("社区理发券怎么领")
    assert result.top.entry_id == "haircut-voucher"
    assert result.decision == Decision.answer

    # a staff edit of an existing entry's answer reaches residents the same way
    with session_scope(factory) as session:
        edited = kb_repository.save_entry(session, HAIRCUT.model_copy(
            update={"answer": "70岁以上老人每月可领三张免费理发券，到社区服务中心登记。"}), actor="staff2")
    assert edited.version == 2
    latest = worker.refresh()
    assert latest.revision == 3
    assert "三张" in latest.rendered_answer("haircut-voucher")


def test_another_worker_sees_the_revision_and_reuses_the_index(
    factory: sessionmaker[Session], kb_settings: Settings
) -> None:
    load_shipped_into_db(kb_settings, factory)
    with session_scope(factory) as session:
        kb_repository.save_entry(session, HAIRCUT, actor="staff1")
    first = KnowledgeBaseProvider(kb_settings, factory, check_interval=3600).current()
    assert first.loaded_from_disk is False
    other_engine = make_engine(kb_settings.resolved_database_url())  # a second process's own connections
    try:
        second = KnowledgeBaseProvider(kb_settings, make_session_factory(other_engine), check_interval=3600)
        kb = second.current()
        assert kb.revision == first.revision == 2
        assert kb.loaded_from_disk is True  # the index the first worker saved
        assert kb.search("社区理发券怎么领").top.entry_id == "haircut-voucher"
    finally:
        other_engine.dispose()


@pytest.mark.slow  # jieba's start-up and the encoder training: a few seconds
def test_app_context_fixture_serves_the_tiny_knowledge_base(app_context) -> None:
    kb = app_context.kb.current()
    assert set(kb.entries) == {e.id for e in load_entries(app_context.settings.kb_data_dir)}
    assert kb.search("长寿金怎么领").top.entry_id == "senior-age-allowance"


def test_a_newer_revision_is_built_in_the_background_while_the_current_one_answers(
    factory: sessionmaker[Session], kb_settings: Settings
) -> None:
    load_shipped_into_db(kb_settings, factory)
    worker = KnowledgeBaseProvider(kb_settings, factory, check_interval=0.0)
    before = worker.current()
    with session_scope(factory) as session:
        kb_repository.save_entry(session, HAIRCUT, actor="staff1")
    started = time.monotonic()
    served = worker.current()
    assert served is before  # no wait for the build: the resident is answered from revision 1
    assert time.monotonic() - started < 1.0
    for _ in range(600):  # bounded: the build of the shipped KB takes a few seconds
        served = worker.current()
        if served.revision == 2:
            break
        time.sleep(0.05)
    assert served.revision == 2
    assert served.search("社区理发券怎么领").top.entry_id == "haircut-voucher"
    assert worker.current() is served  # one build per revision


def test_a_revision_that_fails_to_build_keeps_the_current_one_and_is_not_retried_at_once(
    factory: sessionmaker[Session], kb_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_shipped_into_db(kb_settings, factory)
    worker = KnowledgeBaseProvider(kb_settings, factory, check_interval=0.0)
    before = worker.current()
    attempts: list[int] = []

    def broken_build(*_args: object) -> None:
        attempts.append(1)
        raise RuntimeError("index directory not writable")

    monkeypatch.setattr("assistant.kb_runtime.build_from_db", broken_build)
    with session_scope(factory) as session:
        kb_repository.save_entry(session, HAIRCUT, actor="staff1")
    for _ in range(100):
        assert worker.current() is before
        time.sleep(0.01)
    assert len(attempts) == 1  # one try; the next in a minute, not at every check


def test_migrations_end_in_one_head() -> None:
    # Two heads would let a feature's table be skipped by a deployment that upgrades to one named head.
    assert len(HEADS) == 1, HEADS
