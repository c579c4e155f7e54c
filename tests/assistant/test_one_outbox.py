"""The one outbox (issue 15): department webhooks and WeChat/WeCom replies in one table, one drain, one backoff,
one delivery error; safe with several drainers (row locks, ``SKIP LOCKED`` on PostgreSQL); the migration that
moved the channel outbox in."""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time

import pytest
from alembic import command
from alembic.config import Config
from handoff_testkit import CIPHER, TUESDAY, migrated
from sqlalchemy import inspect, select, text

from assistant.channels.outbox import enqueue_reply
from assistant.delivery import Delivery, PermanentDeliveryError, TransientDeliveryError
from assistant.handoff.lifecycle import Actor, transition
from assistant.handoff.live import HandoffService
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import Backoff, drain
from assistant.handoff.policy import load_policy
from assistant.handoff.sinks import MemorySink
from assistant.handoff.tickets import create_work_order
from assistant.handoff.worker import OrdersWorker
from assistant.privacy import retention
from assistant.storage.db import MIGRATIONS_DIR, make_engine, session_scope

T0 = TUESDAY.astimezone(dt.UTC) + dt.timedelta(hours=1)
OPENID = "oOneOutboxUser-000000000001"
DRAIN_DEADLINE_SECONDS = 30.0  # the concurrent drain below takes well under a second


class Recorder:
    """A fake sender for any kind: keeps what it was given, thread-safe, a little slow so drainers overlap."""

    def __init__(self, name: str, delay: float = 0.0, fail_with: Exception | None = None) -> None:
        self.name = name
        self.delay = delay
        self.fail_with = fail_with
        self.deliveries: list[tuple[str, Delivery]] = []
        self._lock = threading.Lock()

    def deliver(self, delivery: Delivery) -> None:
        time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.deliveries.append((threading.current_thread().name, delivery))


@pytest.fixture
def factory(db_url):
    with migrated(db_url) as sessions:
        yield sessions


def make_order(factory, description: str = "楼道灯坏了") -> str:
    """An order for 人社 (delivered by webhook): two outbox rows, created then dispatched."""
    policy = load_policy(deliver=True)
    with session_scope(factory) as db:
        order = create_work_order(db, CIPHER, source="report_issue", description=description,
                                  contact="13912345678", department="人社", policy=policy, now=TUESDAY)
        transition(db, order, "派单", Actor("sam", "staff"), policy, now=TUESDAY)
        return order.number


def add_reply(factory, text: str = "高龄津贴要带身份证。", inbound_id: int | None = None,
              channel: str = "wechat") -> int:
    with session_scope(factory) as db:
        row = enqueue_reply(db, CIPHER, channel, OPENID, "wx-one-outbox", text, inbound_id, now=T0)
        db.flush()
        return row.id


def rows(factory) -> list[OutboxMessage]:
    with session_scope(factory) as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())


# ---------------------------------------------------------------- one drain, every kind

def test_a_wechat_reply_and_a_webhook_event_go_out_in_the_same_drain(factory):
    number = make_order(factory)
    reply = add_reply(factory, inbound_id=7)
    webhook, wechat = Recorder("webhook"), Recorder("wechat")
    report = drain(factory, {"webhook": webhook, "wechat": wechat}, cipher=CIPHER, now=T0)
    assert (report.delivered, report.retried, report.failed) == (3, 0, 0)
    assert [d.event for _, d in webhook.deliveries] == ["created", "dispatched"]
    assert webhook.deliveries[0][1].body["order"]["number"] == number
    assert webhook.deliveries[0][1].body["contact"] == "13912345678"  # decrypted at send time only
    [(_, sent)] = wechat.deliveries
    assert (sent.kind, sent.recipient, sent.body, sent.idempotency_key) == \
        ("wechat", OPENID, {"text": "高龄津贴要带身份证。"}, "wechat:reply:7")
    stored = {r.id: r for r in rows(factory)}
    assert all(r.status == "delivered" for r in stored.values())
    assert stored[reply].recipient_encrypted is None  # forgotten once sent
    assert OPENID not in str(stored[reply].payload)


def test_a_kind_without_a_sender_waits_for_a_drainer_that_has_one(factory):
    make_order(factory)
    reply = add_reply(factory)
    assert drain(factory, {"wechat": Recorder("wechat")}, cipher=CIPHER, now=T0).delivered == 1
    assert [(r.kind, r.status) for r in rows(factory)] == \
        [("webhook", "pending"), ("webhook", "pending"), ("wechat", "delivered")]
    assert drain(factory, Recorder("webhook"), cipher=CIPHER, now=T0).delivered == 2  # a lone sink is "webhook"
    assert next(r for r in rows(factory) if r.id == reply).attempts == 1


def test_a_permanent_error_parks_the_row_and_holds_nothing_back(factory):
    make_order(factory)
    add_reply(factory)
    refusing = Recorder("webhook", fail_with=PermanentDeliveryError("the 人社 webhook answered HTTP 410"))
    closed = Recorder("wechat", fail_with=PermanentDeliveryError("errcode:45015"))
    report = drain(factory, {"webhook": refusing, "wechat": closed}, cipher=CIPHER, now=T0)
    # Parked at the first attempt; the order's second event is tried (a parked row does not block the order).
    assert (report.delivered, report.retried, report.failed) == (0, 0, 3)
    stored = rows(factory)
    assert [(r.status, r.attempts) for r in stored] == [("failed", 1)] * 3
    assert stored[2].last_error == "errcode:45015" and stored[2].recipient_encrypted is None
    assert drain(factory, {"webhook": Recorder("webhook"), "wechat": Recorder("wechat")}, cipher=CIPHER,
                 now=T0 + dt.timedelta(days=1)).handled == 0  # parked rows wait for staff, not for time


def test_a_transient_error_retries_with_the_one_backoff_and_the_order_waits(factory):
    make_order(factory)
    add_reply(factory)
    busy = Recorder("webhook", fail_with=TransientDeliveryError("HTTP 503"))
    crashing = Recorder("wechat", fail_with=RuntimeError("a bug in a sender"))
    backoff = Backoff(base_seconds=30, max_seconds=60, max_attempts=5)
    report = drain(factory, {"webhook": busy, "wechat": crashing}, backoff=backoff, cipher=CIPHER, now=T0)
    assert (report.delivered, report.retried, report.failed) == (0, 2, 0)  # the second event waits behind the first
    first, second, reply = rows(factory)
    assert (first.attempts, second.attempts, reply.attempts) == (1, 0, 1)
    assert reply.last_error == "error:RuntimeError" and reply.recipient_encrypted is not None  # kept to retry
    assert first.next_attempt_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(seconds=30)
    webhook, wechat = Recorder("webhook"), Recorder("wechat")
    later = drain(factory, {"webhook": webhook, "wechat": wechat}, backoff=backoff, cipher=CIPHER,
                  now=T0 + dt.timedelta(seconds=30))
    assert later.delivered == 3 and [d.event for _, d in webhook.deliveries] == ["created", "dispatched"]


def test_the_worker_run_once_delivers_both_kinds(app_context):
    service = HandoffService(app_context.settings, events=app_context.events)
    webhook, wechat = MemorySink(), Recorder("wechat")
    worker = OrdersWorker(app_context, service, webhook, {"wechat": wechat})
    with session_scope(app_context.sessions) as db:
        db.add(OutboxMessage(kind="webhook", order_id=None, order_number="ALERT1", event="alert_escalated",
                             idempotency_key="alert:1:escalated", department="民政", payload={"alert": {"id": 1}},
                             status="pending", attempts=0, last_error="", created_at=T0, next_attempt_at=T0))
        enqueue_reply(db, service.cipher, "wechat", OPENID, "wx-worker", "您好", 11, now=T0)
    report = worker.run_once()
    assert report.delivered == 2
    assert [d.idempotency_key for d in webhook.deliveries] == ["alert:1:escalated"]
    assert [(d.recipient, d.body["text"]) for _, d in wechat.deliveries] == [(OPENID, "您好")]


# ---------------------------------------------------------------- several drainers

def test_two_concurrent_drainers_never_deliver_a_row_twice(factory, db_url):
    orders = [make_order(factory, f"第{i}号楼道灯坏了") for i in range(5)]  # 10 rows, two per order, in order
    for i in range(20):
        add_reply(factory, f"回复{i}", inbound_id=i)
    total = len(rows(factory))
    webhook, wechat = Recorder("webhook", delay=0.005), Recorder("wechat", delay=0.005)
    senders = {"webhook": webhook, "wechat": wechat}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drainer() -> None:
        try:
            start.wait(5)
            deadline = time.monotonic() + DRAIN_DEADLINE_SECONDS
            while time.monotonic() < deadline and len(webhook.deliveries) + len(wechat.deliveries) < total:
                drain(factory, senders, cipher=CIPHER, now=T0, limit=10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=drainer, name=f"drainer-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DRAIN_DEADLINE_SECONDS + 10)
    assert not errors
    keys = collections.Counter(d.idempotency_key for _, d in webhook.deliveries + wechat.deliveries)
    assert len(keys) == total and set(keys.values()) == {1}  # every row once, none twice
    assert all(r.status == "delivered" and r.attempts == 1 for r in rows(factory))
    for number in orders:  # an order's events went out in order, whichever drainer sent them
        assert [d.event for _, d in webhook.deliveries if d.body["order"]["number"] == number] == \
            ["created", "dispatched"]
    if db_url.startswith("postgresql"):  # both took rows at once (on SQLite writers queue, so it is not sure)
        assert {name for name, _ in webhook.deliveries + wechat.deliveries} == {"drainer-0", "drainer-1"}


def test_postgres_skips_a_row_another_drainer_has_locked(factory, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers and claims with a conditional UPDATE")
    held_id = add_reply(factory, "被锁住的", inbound_id=1)
    add_reply(factory, "没锁住的", inbound_id=2)
    wechat = Recorder("wechat")
    with factory() as other:  # another drainer, between its SELECT … FOR UPDATE and its commit
        other.execute(select(OutboxMessage.id).where(OutboxMessage.id == held_id).with_for_update())
        started = time.monotonic()
        report = drain(factory, {"wechat": wechat}, cipher=CIPHER, now=T0)
        waited = time.monotonic() - started
        other.rollback()
    assert waited < 3.0  # skipped, not waited for (a plain FOR UPDATE would block until the statement timeout)
    assert report.delivered == 1 and [d.body["text"] for _, d in wechat.deliveries] == ["没锁住的"]
    assert drain(factory, {"wechat": wechat}, cipher=CIPHER, now=T0).delivered == 1  # free again: sent now
    assert [d.body["text"] for _, d in wechat.deliveries] == ["没锁住的", "被锁住的"]


# ---------------------------------------------------------------- retention and the migration

def test_retention_purges_finished_replies_after_a_week_and_keeps_pending_ones(app_context):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    with session_scope(app_context.sessions) as db:
        done = enqueue_reply(db, CIPHER, "wechat", OPENID, "wx-r", "已送达", 1, now=old)
        done.status, done.delivered_at, done.recipient_encrypted = "delivered", old, None
        waiting = enqueue_reply(db, CIPHER, "wecom", "zhangsan", "wc-r", "还在排队", 2, now=old)
        webhook = OutboxMessage(kind="webhook", order_id=None, order_number="ALERT9", event="alert_escalated",
                                idempotency_key="alert:9:escalated", department="民政", payload={}, status="delivered",
                                attempts=1, last_error="", created_at=old, next_attempt_at=old, delivered_at=old)
        db.add(webhook)
        db.flush()
        kept = {waiting.id, webhook.id}  # a delivered webhook row stays 30 days
    retention.purge(app_context.sessions, app_context.settings)
    assert {r.id for r in rows(app_context.sessions)} == kept


def test_erasing_a_conversation_deletes_its_queued_replies(factory):
    from assistant.privacy.requests import delete_sessions

    mine, other = add_reply(factory, "给要删除的人", inbound_id=1), add_reply(factory, "给别人", inbound_id=2)
    with session_scope(factory) as db:
        db.get(OutboxMessage, other).session_id = "wx-someone-else"
    with session_scope(factory) as db:
        delete_sessions(db, ["wx-one-outbox"])
    assert [r.id for r in rows(factory)] == [other] and mine != other


def _alembic(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _json(value) -> dict:
    return value if isinstance(value, dict) else json.loads(value)  # PostgreSQL's driver decodes JSON itself


def _when(value) -> dt.datetime:
    value = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def test_the_migration_moves_pending_channel_rows_into_the_one_outbox_and_back(db_url):
    engine = make_engine(db_url)
    recipient = CIPHER.encrypt(OPENID)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic(connection), "0014_communities")
            for status, text_ in (("pending", "排队的回答"), ("sending", "发送中断的回答"), ("sent", "已发的回答")):
                connection.execute(text(
                    "INSERT INTO channel_outbox (channel, session_id, recipient_encrypted, text, status, attempts,"
                    " next_attempt_at, locked_until, last_error, inbound_id, created_at)"
                    " VALUES ('wechat', 'wx-old', :r, :t, :s, 2, 1800000000.0, 0.0, 'errcode:-1', 5,"
                    " '2027-01-15 02:00:00.000000')"), {"r": recipient, "t": text_, "s": status})
        with engine.begin() as connection:
            command.upgrade(_alembic(connection), "0015_one_outbox")
        assert "channel_outbox" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            moved = connection.execute(text(
                "SELECT kind, status, attempts, payload, recipient_encrypted, session_id, inbound_id,"
                " next_attempt_at, last_error FROM outbox ORDER BY id")).all()
        assert [(r.kind, r.status, r.attempts, r.session_id, r.inbound_id, r.last_error) for r in moved] == \
            [("wechat", "pending", 2, "wx-old", 5, "errcode:-1")] * 2
        assert [_json(r.payload) for r in moved] == [{"text": "排队的回答"}, {"text": "发送中断的回答"}]
        assert CIPHER.decrypt(moved[0].recipient_encrypted) == OPENID  # still encrypted, same key
        assert _when(moved[0].next_attempt_at) == dt.datetime.fromtimestamp(1_800_000_000, dt.UTC)

        with engine.begin() as connection:
            command.downgrade(_alembic(connection), "0014_communities")
        tables = inspect(engine).get_table_names()
        assert "outbox" not in tables and "order_outbox" in tables
        with engine.connect() as connection:
            back = connection.execute(text("SELECT text, status, next_attempt_at FROM channel_outbox")).all()
        assert sorted(back) == [("发送中断的回答", "pending", 1_800_000_000.0), ("排队的回答", "pending", 1_800_000_000.0)]
    finally:
        engine.dispose()
