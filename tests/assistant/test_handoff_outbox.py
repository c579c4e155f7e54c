"""Delivery to department systems: the outbox keeps retrying while the receiver is down, delivers once it is up,
signs every request, and the receiver can drop repeats by idempotency key."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from handoff_testkit import CIPHER, TUESDAY, migrated
from sqlalchemy import select

from assistant.handoff import ConfigError
from assistant.handoff.lifecycle import Actor, transition
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import Backoff, drain, requeue
from assistant.handoff.policy import load_policy
from assistant.handoff.sinks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookSink,
    create_sink,
    verify_signature,
)
from assistant.handoff.tickets import create_work_order
from assistant.storage.db import session_scope

SECRET = "webhook-test-secret"
T0 = TUESDAY.astimezone(dt.UTC) + dt.timedelta(hours=1)


class Receiver:
    """A department system on 127.0.0.1: verifies signatures, dedupes by Idempotency-Key."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.requests: list[dict] = []
        self.processed: dict[str, dict] = {}
        self.answers: list[int] = []  # status codes to answer next (then 200)
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers[IDEMPOTENCY_HEADER]
                valid = verify_signature(SECRET, self.headers[SIGNATURE_HEADER], raw)
                receiver.requests.append({"key": key, "valid": valid, "body": json.loads(raw)})
                status = receiver.answers.pop(0) if receiver.answers else (200 if valid else 401)
                if status == 200:
                    receiver.processed.setdefault(key, json.loads(raw))  # a repeat changes nothing
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def factory(db_url):
    with migrated(db_url) as sessions:
        yield sessions


@pytest.fixture
def receiver():
    receiver = Receiver(free_port())
    yield receiver
    receiver.stop()


def make_order(factory, description="社保卡丢了想补办", department="人社"):
    policy = load_policy(deliver=True)
    with session_scope(factory) as db:
        order = create_work_order(db, CIPHER, source="report_issue", description=description,
                                  contact="13912345678", department=department, policy=policy, now=TUESDAY)
        transition(db, order, "派单", Actor("sam", "staff"), policy, now=TUESDAY)
        return order.number


def rows(factory):
    with session_scope(factory) as db:
        return db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_outbox_retries_while_the_receiver_is_down_and_delivers_once_it_is_up(factory, receiver):
    number = make_order(factory)
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/orders", SECRET, timeout=2)

    down = drain(factory, sink, cipher=CIPHER, now=T0)  # nobody listens on the port yet
    assert (down.delivered, down.retried, down.failed) == (0, 1, 0)  # the second event waits behind the first
    first, second = rows(factory)
    assert first.status == "pending" and first.attempts == 1 and "ConnectError" in first.last_error
    assert first.next_attempt_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(seconds=30)
    assert second.attempts == 0

    assert drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(seconds=10)).retried == 0  # not due yet
    again = drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(seconds=31))
    assert (again.retried, rows(factory)[0].attempts) == (1, 2)
    assert rows(factory)[0].next_attempt_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(seconds=31 + 60)

    receiver.start()
    up = drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(seconds=100))
    assert (up.delivered, up.retried, up.failed) == (2, 0, 0)
    assert [r["body"]["event"] for r in receiver.requests] == ["created", "dispatched"]  # in order
    assert all(r["valid"] for r in receiver.requests)
    body = receiver.requests[0]["body"]
    assert body["order"]["number"] == number and body["order"]["department"] == "人社"
    assert body["contact"] == "13912345678"  # decrypted for the department at send time only
    assert all(r.status == "delivered" for r in rows(factory))

    assert drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(hours=1)).delivered == 0
    assert len(receiver.requests) == 2


def test_a_lost_acknowledgement_sends_again_and_the_receiver_dedupes(factory, receiver):
    receiver.start()
    receiver.answers = [503]  # the receiver stored nothing and failed; then the retry succeeds
    make_order(factory)
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/orders", SECRET, timeout=2)
    drain(factory, sink, cipher=CIPHER, now=T0)
    drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(minutes=5))
    # Simulate a crash after sending but before recording success: the row goes out again, same key.
    with session_scope(factory) as db:
        row = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        row.status, row.next_attempt_at = "pending", T0
    drain(factory, sink, cipher=CIPHER, now=T0 + dt.timedelta(minutes=10))
    keys = [r["key"] for r in receiver.requests]
    assert len(keys) == 4 and keys[0] == keys[1] == keys[3]  # at least once …
    assert len(receiver.processed) == 2  # … and exactly once at the receiver
    assert all(r.status == "delivered" for r in rows(factory))


def test_bad_signature_or_rejection_parks_the_message_and_requeue_brings_it_back(factory, receiver):
    receiver.start()
    make_order(factory)
    wrong = WebhookSink(f"http://127.0.0.1:{receiver.port}/orders", "not-the-secret", timeout=2)
    report = drain(factory, wrong, cipher=CIPHER, now=T0)
    # A 4xx is not retried (it would fail again) but parked; the next event of the order still goes out.
    assert (report.failed, report.retried) == (2, 0) and not receiver.requests[0]["valid"]
    assert [(r.status, "401" in r.last_error) for r in rows(factory)] == [("failed", True), ("failed", True)]
    with session_scope(factory) as db:
        assert requeue(db, now=T0) == 2
    right = WebhookSink(f"http://127.0.0.1:{receiver.port}/orders", SECRET, timeout=2)
    drain(factory, right, cipher=CIPHER, now=T0 + dt.timedelta(minutes=1))
    assert [r.status for r in rows(factory)] == ["delivered", "delivered"]


def test_after_the_last_attempt_the_message_is_kept_as_failed(factory):
    make_order(factory)
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/orders", SECRET, timeout=1)
    backoff = Backoff(base_seconds=10, max_seconds=15, max_attempts=3)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 9)] == [10, 15, 15, 15]
    now = T0
    for _ in range(3):
        drain(factory, sink, backoff=backoff, cipher=CIPHER, now=now)
        now += dt.timedelta(minutes=1)
    first = rows(factory)[0]
    assert (first.status, first.attempts) == ("failed", 3)  # kept, not deleted: staff can requeue it


def test_local_orders_and_the_none_sink_queue_nothing(factory, settings):
    make_order(factory, department="社区")
    assert [r.event for r in rows(factory)] == []
    assert create_sink(settings) is None
    with pytest.raises(ConfigError, match="SECRET"):
        create_sink(settings.model_copy(update={"ticket_sink": "webhook", "ticket_webhook_url": "http://x/"}))
    with pytest.raises(ConfigError, match="unknown ticket sink"):
        create_sink(settings.model_copy(update={"ticket_sink": "fax"}))


def test_signature_verification_rejects_tampering_and_old_timestamps():
    from assistant.handoff.sinks import canonical_body, sign

    raw = canonical_body({"order": {"number": "GX20260310001"}})
    header = sign(SECRET, 1_700_000_000, raw)
    assert verify_signature(SECRET, header, raw, now=1_700_000_010)
    assert not verify_signature(SECRET, header, raw + b" ", now=1_700_000_010)
    assert not verify_signature(SECRET, header, raw, now=1_700_000_000 + 3600)
    assert not verify_signature(SECRET, "garbage", raw)
