"""Retention: the dry run reports what the purge then deletes, nothing that must stay goes (open orders, active
handoffs, unacknowledged alerts and their conversations), batches cover large tables, and the daily run happens
once a day however many workers call it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from handoff_testkit import migrated
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.auth.models import SignInLimit
from assistant.channels.models import ChannelMenu, ChannelNonce
from assistant.clock import CHINA
from assistant.events.models import EventRow
from assistant.handoff.models import OutboxMessage
from assistant.privacy import retention
from assistant.privacy.models import PersonalDataKey, RetentionRun
from assistant.privacy.retention import DailyPurge, dry_run, purge
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import (
    Alert,
    AuditLog,
    ChatSession,
    HandoffRequest,
    Turn,
    UnansweredQuery,
    WorkOrder,
    WorkOrderEvent,
)

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in China
OLD = NOW - dt.timedelta(days=200)  # past the 180-day conversation retention
RECENT = NOW - dt.timedelta(days=10)
ANCIENT = NOW - dt.timedelta(days=800)  # past the 730-day ticket retention


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    with migrated(db_url) as factory:
        yield factory


@pytest.fixture
def retention_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retention_days_conversations": 180, "retention_days_tickets": 730})


def add_chat(db: Session, sid: str, at: dt.datetime, *, turns: int = 2) -> None:
    db.add(ChatSession(id=sid, channel="web", created_at=at, updated_at=at, state={}, turn_count=turns))
    db.flush()
    for i in range(turns):
        db.add(Turn(session_id=sid, created_at=at, channel="web", user_text=f"问题{i}", action="answer",
                    reply_text="回答"))


def add_order(db: Session, number: str, status: str, at: dt.datetime, session_id: str | None = None) -> WorkOrder:
    order = WorkOrder(number=number, created_at=at, updated_at=at, source="report_issue", session_id=session_id,
                      status=status, description="路灯坏了", contact_masked="138****5678")
    db.add(order)
    db.flush()
    db.add(WorkOrderEvent(order_id=order.id, at=at, actor="assistant", to_status="受理", note="created"))
    return order


def count(factory: sessionmaker[Session], model) -> int:
    with session_scope(factory) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def ids(factory: sessionmaker[Session], column) -> set:
    with session_scope(factory) as db:
        return set(db.scalars(select(column)))


def seed(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as db:
        add_chat(db, "old-done", OLD, turns=3)  # due, with everything that goes with it
        db.add(UnansweredQuery(session_id="old-done", created_at=OLD, channel="web", query="问题", reason="fallback"))
        db.add(HandoffRequest(session_id="old-done", created_at=OLD, channel="web", queue_number="A001",
                              status="已结束"))
        db.add(Alert(session_id="old-done", created_at=OLD, channel="web", kind="fire", text="冒烟",
                     acknowledged_by="sam", acknowledged_at=OLD))
        db.add(ChannelMenu(session_id="old-done", channel="wechat", payloads=[], updated_at=OLD))
        db.add(PersonalDataKey(key="k-old", session_id="old-done", created_at=OLD))
        add_chat(db, "old-open-order", OLD)  # kept: an open order points to it
        add_order(db, "GX2025120100001", "办理中", OLD, session_id="old-open-order")
        db.add(PersonalDataKey(key="k-kept", session_id="old-open-order", created_at=OLD))
        add_chat(db, "old-queued", OLD)  # kept: still queued for an agent
        db.add(HandoffRequest(session_id="old-queued", created_at=OLD, channel="web", queue_number="A002",
                              status="排队中"))
        add_chat(db, "old-alert", OLD)  # kept: nobody acknowledged its alert
        db.add(Alert(session_id="old-alert", created_at=OLD, channel="web", kind="medical", text="晕倒"))
        add_chat(db, "recent", RECENT)
        add_chat(db, "old-row-new-turn", OLD)  # an agent's message yesterday: still active
        db.add(Turn(session_id="old-row-new-turn", created_at=RECENT, channel="web", user_text="", action="agent",
                    reply_text="您好", sender="agent"))
        # orphan rows of a session already gone
        db.add(UnansweredQuery(session_id="gone", created_at=OLD, channel="web", query="旧问题", reason="fallback"))
        ended = add_order(db, "GX2024030100001", "已评价", ANCIENT)  # due with its events and outbox rows
        db.add(OutboxMessage(order_id=ended.id, order_number=ended.number, event="created", idempotency_key="o1",
                             department="社区", payload={}, status="failed", created_at=ANCIENT))
        db.add(PersonalDataKey(key="k-order", work_order_id=ended.id, created_at=ANCIENT))
        add_order(db, "GX2024030100002", "办理中", ANCIENT)  # open: never deleted
        recent_end = add_order(db, "GX2026010100001", "办结", OLD)  # ended, but within ticket retention
        db.add(OutboxMessage(order_id=recent_end.id, order_number=recent_end.number, event="created",
                             idempotency_key="o2", department="社区", payload={}, status="delivered",
                             created_at=OLD, delivered_at=OLD))  # delivered long ago: goes
        db.add(OutboxMessage(order_id=recent_end.id, order_number=recent_end.number, event="resolved",
                             idempotency_key="o3", department="社区", payload={}, status="failed",
                             created_at=OLD))  # failed, kept to be requeued
        touched = add_order(db, "GX2024030100003", "办结", ANCIENT)
        db.add(WorkOrderEvent(order_id=touched.id, at=RECENT, actor="sam", to_status="办结", note="补充说明"))
        # housekeeping rows
        db.add(ChannelNonce(channel="wechat", nonce="n-old", seen_at=NOW.timestamp() - 3600))
        db.add(ChannelNonce(channel="wechat", nonce="n-new", seen_at=NOW.timestamp() - 10))
        db.add(SignInLimit(bucket="b-empty", free_at=NOW.timestamp() - 1))
        db.add(SignInLimit(bucket="b-full", free_at=NOW.timestamp() + 60))
        db.add(EventRow(kind="alert.raised", data={}, created_at=OLD))
        db.add(EventRow(kind="alert.raised", data={}, created_at=OLD))  # the newest row stays: ids keep growing


def snapshot(factory: sessionmaker[Session]) -> dict[str, int]:
    models = (ChatSession, Turn, UnansweredQuery, HandoffRequest, Alert, WorkOrder, WorkOrderEvent, OutboxMessage,
              PersonalDataKey, ChannelMenu, ChannelNonce, SignInLimit, EventRow, AuditLog)
    return {m.__tablename__: count(factory, m) for m in models}


def test_dry_run_changes_nothing_and_the_purge_deletes_what_it_reported(sessions, retention_settings):
    seed(sessions)
    before = snapshot(sessions)
    report = dry_run(sessions, retention_settings, now=NOW)
    assert snapshot(sessions) == before  # nothing changed, not even an audit row
    assert report.dry_run and report.now == "2026-06-01 10:00"
    assert report.conversations_before == "2025-12-03 10:00" and report.tickets_before == "2024-06-01 10:00"
    expected = {"sessions": 1, "turns": 3, "unanswered": 2, "handoffs": 1, "alerts": 1, "channel_menus": 1,
                "keys": 2, "orders": 1, "order_events": 1, "order_outbox": 2, "nonces": 1, "sign_in_limits": 1,
                "events": 1}
    assert {k: report.count(k) for k in expected} == expected
    oldest = {k.kind: k.oldest for k in report.removed}
    assert oldest["sessions"] == "2025-11-13 10:00"  # China time of OLD
    assert oldest["orders"] == "2024-03-23 10:00"
    kept = {k.reason: k.count for k in report.kept}
    assert kept["会话：仍有未办结的工单"] == 1 and kept["会话：人工接待还没结束"] == 1
    assert kept["会话：紧急求助还没人确认"] == 1 and kept["工单：还没办结"] == 1
    assert kept["紧急求助：还没人确认"] == 1 and kept["工单推送：发送失败，等待重发"] == 1
    assert "将清理" in report.summary()

    done = purge(sessions, retention_settings, actor="cli", now=NOW)
    assert {k: done.count(k) for k in expected} == expected  # exactly what the dry run said
    assert ids(sessions, ChatSession.id) == {"old-open-order", "old-queued", "old-alert", "recent",
                                             "old-row-new-turn"}
    assert ids(sessions, WorkOrder.number) == {"GX2025120100001", "GX2024030100002", "GX2026010100001",
                                               "GX2024030100003"}
    assert ids(sessions, OutboxMessage.idempotency_key) == {"o3"}
    assert ids(sessions, PersonalDataKey.key) == {"k-kept"}
    assert ids(sessions, UnansweredQuery.session_id) == set()
    assert ids(sessions, Alert.session_id) == {"old-alert"}
    assert ids(sessions, HandoffRequest.session_id) == {"old-queued"}
    assert ids(sessions, ChannelNonce.nonce) == {"n-new"} and ids(sessions, SignInLimit.bucket) == {"b-full"}
    assert count(sessions, EventRow) == 1
    with session_scope(sessions) as db:
        audits = list(db.scalars(select(AuditLog).where(AuditLog.action == "privacy.purge")))
    assert len(audits) == 1 and audits[0].actor == "cli" and "已清理" in audits[0].detail
    assert "会话 1" in audits[0].detail

    again = dry_run(sessions, retention_settings, now=NOW)
    assert again.total == 0 and "没有到期的数据" in again.summary()


def test_large_tables_are_deleted_in_batches(sessions, retention_settings, monkeypatch):
    from sqlalchemy import event

    monkeypatch.setattr(retention, "BATCH_ROWS", 7)
    deletes: list[str] = []
    engine = sessions.kw["bind"]

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM CHAT_SESSIONS"):
            deletes.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    with session_scope(sessions) as db:
        for i in range(30):
            add_chat(db, f"s{i:02d}", OLD, turns=3)
        add_chat(db, "keep", RECENT, turns=3)
    report = purge(sessions, retention_settings, now=NOW)
    event.remove(engine, "before_cursor_execute", seen)
    assert report.count("sessions") == 30 and report.count("turns") == 90
    assert len(deletes) == 5  # 30 rows in batches of 7: five short transactions, not one long lock
    assert ids(sessions, ChatSession.id) == {"keep"} and count(sessions, Turn) == 3


def test_the_daily_purge_runs_once_a_china_day_across_workers(sessions, retention_settings):
    with session_scope(sessions) as db:
        add_chat(db, "old", OLD)
    early = dt.datetime(2026, 6, 1, 2, 59, tzinfo=CHINA)
    clock = {"now": early}
    workers = [DailyPurge(sessions, retention_settings.model_copy(update={"retention_purge_hour": 3}),
                          clock=lambda: clock["now"]) for _ in range(4)]
    assert [w.maybe_run() for w in workers] == [None] * 4  # before the hour
    assert ids(sessions, ChatSession.id) == {"old"}

    clock["now"] = dt.datetime(2026, 6, 1, 3, 0, tzinfo=CHINA)
    results: list[object] = []
    barrier = threading.Barrier(len(workers))

    def run(worker: DailyPurge) -> None:
        barrier.wait()
        results.append(worker.maybe_run())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reports = [r for r in results if r is not None]
    assert len(reports) == 1 and reports[0].count("sessions") == 1
    assert [w.maybe_run() for w in workers] == [None] * 4  # the same day again: nothing
    with session_scope(sessions) as db:
        run_row = db.get(RetentionRun, "2026-06-01")
        assert run_row is not None and run_row.finished_at is not None and "会话 1" in run_row.summary

    clock["now"] = dt.datetime(2026, 6, 2, 3, 30, tzinfo=CHINA)  # the next China day
    assert sum(w.maybe_run() is not None for w in workers) == 1
    with session_scope(sessions) as db:
        assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "privacy.purge")) == 2


def test_the_day_is_a_china_day_and_the_setting_turns_it_off(sessions, retention_settings):
    # 20:00 UTC on 31 May is 04:00 on 1 June in China: past the hour, on the China date.
    utc_evening = dt.datetime(2026, 5, 31, 20, 0, tzinfo=dt.UTC)
    worker = DailyPurge(sessions, retention_settings, clock=lambda: utc_evening)
    assert worker.maybe_run() is not None
    assert ids(sessions, RetentionRun.day) == {"2026-06-01"}
    off = DailyPurge(sessions, retention_settings.model_copy(update={"retention_purge_enabled": False}),
                     clock=lambda: utc_evening + dt.timedelta(days=1))
    assert off.maybe_run() is None and ids(sessions, RetentionRun.day) == {"2026-06-01"}


def test_a_failed_purge_gives_the_day_back(sessions, retention_settings, monkeypatch):
    with session_scope(sessions) as db:
        add_chat(db, "old", OLD)
    worker = DailyPurge(sessions, retention_settings, clock=lambda: NOW)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(retention, "purge", broken)
    assert worker.maybe_run() is None  # logged, the background loop goes on
    assert ids(sessions, RetentionRun.day) == set()
    monkeypatch.undo()
    assert worker.maybe_run() is not None and ids(sessions, ChatSession.id) == set()


def test_the_server_worker_runs_the_daily_purge(app_context):
    from assistant.handoff.worker import OrdersWorker

    with session_scope(app_context.sessions) as db:
        add_chat(db, "ancient", dt.datetime.now(dt.UTC) - dt.timedelta(days=400))
    worker = OrdersWorker.from_context(app_context)
    worker.retention.clock = lambda: dt.datetime.now(CHINA).replace(hour=23)
    worker.run_once()
    assert ids(app_context.sessions, ChatSession.id) == set()


def test_the_purge_command(settings, monkeypatch):
    from assistant.commands.privacy import privacy
    from assistant.context import create_context
    from assistant.settings import get_settings

    context = create_context(settings, load_shipped=False)
    try:
        with session_scope(context.sessions) as db:
            add_chat(db, "ancient", dt.datetime.now(dt.UTC) - dt.timedelta(days=400))
    finally:
        context.close()
    for name, value in {"SHEQU_VAR_DIR": str(settings.var_dir), "SHEQU_DATABASE_URL": settings.database_url,
                        "SHEQU_KB_DATA_DIR": str(settings.kb_data_dir)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        dry = runner.invoke(privacy, ["purge", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "试运行" in dry.output and "会话：1" in dry.output
        real = runner.invoke(privacy, ["purge", "--json"])
        assert real.exit_code == 0, real.output
        assert '"dry_run": false' in real.output
        again = runner.invoke(privacy, ["purge", "--dry-run"])
        assert "会话：0" in again.output
    finally:
        get_settings.cache_clear()


def test_kept_recordings_are_encrypted_and_go_with_their_conversation(sessions, retention_settings):
    from assistant.privacy.requests import delete_sessions
    from assistant.security.crypto import PersonalDataCipher
    from assistant.speech import keep_recording
    from assistant.storage.models import VoiceClip

    cipher = PersonalDataCipher.from_settings("", retention_settings.var_dir)
    audio = b"RIFF" + "我的身份证号450102199003071234".encode() * 20
    with session_scope(sessions) as db:
        add_chat(db, "old-voice", OLD)
        add_chat(db, "new-voice", RECENT)
        add_chat(db, "erased-voice", RECENT)
    for sid in ("old-voice", "new-voice", "erased-voice", "never-a-session"):
        keep_recording(sessions, cipher, sid, audio, 3.2)
    with session_scope(sessions) as db:
        for clip in db.scalars(select(VoiceClip)):
            assert audio not in clip.audio_encrypted and b"450102" not in clip.audio_encrypted
            assert cipher.decrypt_bytes(clip.audio_encrypted) == audio
        db.execute(VoiceClip.__table__.update().where(VoiceClip.session_id == "never-a-session")
                   .values(created_at=OLD))
        db.execute(VoiceClip.__table__.update().where(VoiceClip.session_id == "old-voice").values(created_at=OLD))
        delete_sessions(db, ["erased-voice"])
    report = purge(sessions, retention_settings, now=NOW)
    assert report.count("voice_clips") == 2  # the old conversation's, and one whose session never existed
    assert ids(sessions, VoiceClip.session_id) == {"new-voice"}
