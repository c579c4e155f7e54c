"""Events go out after the commit that made the change, once per key, and never for a rolled-back change."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.events import MemoryBus
from assistant.events.after_commit import publish_after_commit
from assistant.storage.models import AuditLog, Base


@pytest.fixture
def sessions() -> sessionmaker[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[AuditLog.__table__])
    return sessionmaker(engine)


def kinds(bus: MemoryBus) -> list[str]:
    return [event.kind for event in bus.since(0)]


def test_nothing_is_published_before_the_commit_and_everything_after(sessions) -> None:
    bus = MemoryBus()
    with sessions() as db:
        db.add(AuditLog(actor="a", action="x"))
        publish_after_commit(db, bus, "one", {"n": 1})
        publish_after_commit(db, bus, "two", {"n": 2})
        db.flush()
        assert kinds(bus) == []
        db.commit()
    assert kinds(bus) == ["one", "two"]


def test_a_rolled_back_change_publishes_nothing_and_the_next_commit_starts_clean(sessions) -> None:
    bus = MemoryBus()
    with sessions() as db:
        publish_after_commit(db, bus, "lost", {})
        db.rollback()
        publish_after_commit(db, bus, "kept", {})
        db.commit()
    assert kinds(bus) == ["kept"]


def test_data_read_at_commit_sees_the_whole_transaction_and_a_key_sends_once(sessions) -> None:
    bus = MemoryBus()

    def count(db: Session) -> dict[str, int]:
        return {"rows": len(list(db.scalars(select(AuditLog))))}

    with sessions() as db:
        publish_after_commit(db, bus, "count", count, key="count")
        db.add(AuditLog(actor="a", action="x"))
        publish_after_commit(db, bus, "count", count, key="count")
        db.add(AuditLog(actor="b", action="y"))  # added after both calls: the count is read at the commit
        db.commit()
    assert [(e.kind, e.data) for e in bus.since(0)] == [("count", {"rows": 2})]


def test_a_savepoint_release_is_not_the_commit(sessions) -> None:
    bus = MemoryBus()
    with sessions() as db:
        publish_after_commit(db, bus, "late", {})
        with db.begin_nested():
            db.add(AuditLog(actor="a", action="x"))
        assert kinds(bus) == []
        db.commit()
    assert kinds(bus) == ["late"]


def test_a_failing_bus_never_breaks_the_commit(sessions) -> None:
    class Broken(MemoryBus):
        def publish(self, kind, data) -> None:
            raise ConnectionError("redis is away")

    with sessions() as db:
        db.add(AuditLog(actor="a", action="x"))
        publish_after_commit(db, Broken(), "lost", {})
        db.commit()
    with sessions() as db:
        assert len(list(db.scalars(select(AuditLog)))) == 1
