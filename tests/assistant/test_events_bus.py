"""The event bus backends (memory, db on SQLite/PostgreSQL, Redis) and the SSE stream built on them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import uuid

import pytest
from handoff_testkit import migrated

from assistant.api.routes.events import event_stream, format_event
from assistant.events import EventBusConfigError, MemoryBus, create_bus
from assistant.events.bus import Event
from assistant.events.db_bus import DbBus
from assistant.events.hub import Hub
from assistant.events.models import EventRow
from assistant.storage.db import make_engine, make_session_factory, session_scope

REDIS_ENV = "SHEQU_TEST_REDIS_URL"


def _check_order_and_resume(bus) -> None:
    start = bus.latest()
    for n in range(5):
        bus.publish("queue.changed", {"n": n, "text": "排队"})
    events = bus.since(start)
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.kind for e in events] == ["queue.changed"] * 5
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert bus.latest() == ids[-1]
    # Resuming from any id gives exactly what came after it (SSE Last-Event-ID).
    assert [e.data["n"] for e in bus.since(ids[1])] == [2, 3, 4]
    assert [e.data["n"] for e in bus.since(ids[1], limit=2)] == [2, 3]
    assert bus.since(ids[-1]) == []
    assert events[0].data["text"] == "排队"  # Chinese survives the round trip


def test_memory_bus_orders_and_resumes():
    _check_order_and_resume(MemoryBus())


def test_db_bus_orders_and_resumes(db_url):
    with migrated(db_url) as sessions:
        _check_order_and_resume(DbBus(sessions))


def test_db_bus_is_shared_by_workers_with_their_own_engines(db_url):
    """Two workers (two engines, two buses) on one database see each other's events."""
    with migrated(db_url) as first:
        engine = make_engine(db_url)
        try:
            worker_a, worker_b = DbBus(first), DbBus(make_session_factory(engine))
            start = worker_b.latest()
            worker_a.publish("alert.raised", {"id": 7})
            got = worker_b.since(start)
            assert [(e.kind, e.data) for e in got] == [("alert.raised", {"id": 7})]
        finally:
            engine.dispose()


def test_db_bus_concurrent_publishers_lose_nothing(db_url):
    with migrated(db_url) as sessions:
        bus = DbBus(sessions)
        start = bus.latest()

        def publish(worker: int) -> None:
            for n in range(10):
                bus.publish("message", {"worker": worker, "n": n})

        threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = bus.since(start, limit=1000)
        assert sorted((e.data["worker"], e.data["n"]) for e in got) == [(w, n) for w in range(4) for n in range(10)]
        assert [e.id for e in got] == sorted(e.id for e in got)


def test_db_bus_prunes_old_rows_but_ids_keep_growing(tmp_path):
    with migrated(f"sqlite:///{tmp_path / 'bus.db'}") as sessions:
        bus = DbBus(sessions)
        for n in range(3):
            bus.publish("message", {"n": n})
        newest = bus.latest()
        old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        with session_scope(sessions) as db:
            for row in db.query(EventRow):
                row.created_at = old
        assert bus.prune() == 2  # the newest row stays, so SQLite cannot hand out its id again
        bus.publish("message", {"n": 3})
        assert bus.latest() > newest
        assert [e.data["n"] for e in bus.since(0)] == [2, 3]


def test_a_failing_publish_is_logged_not_raised(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no migrations: no events table
    try:
        DbBus(make_session_factory(engine)).publish("alert.raised", {"id": 1})
    finally:
        engine.dispose()
    assert "could not publish event alert.raised" in caplog.text


def test_create_bus_by_uri(tmp_path):
    with migrated(f"sqlite:///{tmp_path / 'bus.db'}") as sessions:
        assert isinstance(create_bus("db:", sessions), DbBus)
        assert isinstance(create_bus("memory:"), MemoryBus)
        with pytest.raises(EventBusConfigError, match="不认识"):
            create_bus("kafka://x", sessions)
        with pytest.raises(EventBusConfigError, match="不对"):
            create_bus("nonsense", sessions)


# ---------------------------------------------------------------- Redis

@pytest.fixture
def redis_bus():
    url = os.environ.get(REDIS_ENV, "")
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_ENV} does not answer: {exc}")
    from assistant.events.redis_bus import RedisBus

    stream = f"shequ:test:{uuid.uuid4().hex}"
    bus = RedisBus(url, stream=stream, maxlen=50)
    try:
        yield bus
    finally:
        client.delete(stream)
        client.close()


def test_redis_bus_orders_and_resumes(redis_bus):
    _check_order_and_resume(redis_bus)


def test_redis_bus_is_capped_and_shared(redis_bus):
    from assistant.events.redis_bus import RedisBus

    other = RedisBus("", stream=redis_bus.stream, client=redis_bus.client)
    for n in range(400):
        redis_bus.publish("message", {"n": n})
    kept = other.since(0, limit=1000)
    assert 50 <= len(kept) < 400  # MAXLEN ~ 50: trimmed, approximately
    assert kept[-1].data["n"] == 399


def test_redis_ids_map_to_growing_integers():
    from assistant.events.redis_bus import next_stream_id, to_int

    assert to_int("1700000000000-0") < to_int("1700000000000-1") < to_int(b"1700000000001-0")
    assert next_stream_id(to_int("1700000000000-5")) == "1700000000000-6"
    assert next_stream_id(0) == "-"


def test_redis_publish_failure_is_logged(caplog):
    from assistant.events.redis_bus import RedisBus

    bus = RedisBus("redis://127.0.0.1:1/0")  # nothing listens on port 1
    bus.publish("alert.raised", {"id": 1})
    assert "could not publish event alert.raised" in caplog.text


# ---------------------------------------------------------------- the SSE stream

def _collect(bus, after, *, heartbeat=60.0, lifetime=0.6, show=lambda _e: True, disconnect_after=None):
    calls = {"n": 0}

    async def disconnected() -> bool:
        calls["n"] += 1
        return disconnect_after is not None and calls["n"] > disconnect_after

    async def run() -> list[str]:
        hub = Hub(bus, poll=0.02)
        return [chunk async for chunk in event_stream(hub, after, disconnected, show=show, heartbeat=heartbeat,
                                                      lifetime=lifetime)]

    return asyncio.run(run())


def test_stream_sends_events_after_the_resume_point_in_sse_format():
    bus = MemoryBus()
    for n in range(3):
        bus.publish("alert.raised", {"id": n, "text": "张*"})
    chunks = _collect(bus, after=1)
    assert chunks[0].startswith("retry: ")
    assert chunks[1:3] == [format_event(e) for e in bus.since(1)]
    assert chunks[1] == 'id: 2\nevent: alert.raised\ndata: {"id":1,"text":"张*"}\n\n'
    assert chunks[-1] == "id: 3\n\n"  # the browser's Last-Event-ID when the server ends the stream


def test_stream_sends_heartbeats_filters_and_stops_on_disconnect():
    bus = MemoryBus()
    bus.publish("alert.raised", {"id": 1})
    bus.publish("queue.changed", {"waiting": 2})
    chunks = _collect(bus, after=0, heartbeat=0.05, lifetime=0.5, show=lambda e: not e.kind.startswith("alert."))
    assert not any("alert.raised" in c for c in chunks)
    assert any("queue.changed" in c for c in chunks)
    assert ": ping\n\n" in chunks
    quick = _collect(bus, after=0, lifetime=30.0, disconnect_after=1)  # would run 30 s without the disconnect
    assert len(quick) <= 4


def test_event_dataclass_ids_are_what_sse_resumes_from():
    event = Event(41, "message", {"a": 1})
    assert format_event(event).startswith("id: 41\nevent: message\n")
