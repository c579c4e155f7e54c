"""A database that refuses, stays silent or fails: 503 with Retry-After (never a 500 or a hang); text that
cannot be stored (NUL, lone surrogates): 4xx, never a 500.

The app starts on its SQLite file, then the session factory and the engine are pointed at the broken
database — what a running server sees when PostgreSQL goes away under it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from assistant.context import AppContext
from assistant.storage.db import DbTimeouts, make_engine
from tests.assistant.console_testkit import console_client, csrf_from, signed_in

pytestmark = pytest.mark.timeout(120)

REFUSED_URL = "postgresql+psycopg://shequ:secret@127.0.0.1:1/shequ"  # port 1: nothing listens, refused at once
FAST = DbTimeouts(connect=2.0, statement=2.0, pool=2.0)  # libpq's smallest connect timeout is 2 s
READY_BUDGET = 2.0  # /readyz must answer within this, whatever the database does
CHAT = {"session_id": None, "text": "社保卡怎么办理", "channel": "web"}
OUTAGE_LOGGER = "assistant.api.database"


@contextmanager
def silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never says a word (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        server.close()


def break_database(context: AppContext, engine: Engine) -> None:
    # One sessionmaker is shared by the dialogue engine, the KB provider, the event bus and staff sign-in.
    context.sessions.configure(bind=engine)
    context.engine = engine


def assert_outage(response, started: float, budget: float) -> None:
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text[:300]
    assert elapsed < budget, f"took {elapsed:.1f} s"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()["error"]
    assert body["code"] == "database_unavailable"
    assert "稍后再试" in body["message_zh"] and body["message_en"]


@pytest.fixture()
def app(settings) -> Iterator[tuple[TestClient, AppContext]]:
    with console_client(settings) as (client, context):
        yield client, context


@pytest.fixture()
def db_app(db_settings) -> Iterator[tuple[TestClient, AppContext]]:
    """The app on SQLite and, when SHEQU_TEST_DATABASE_URL is set, on PostgreSQL (which refuses NUL in text)."""
    with console_client(db_settings) as (client, context):
        yield client, context


def test_engine_timeouts_and_hidden_parameters() -> None:
    sqlite = make_engine("sqlite://", timeouts=DbTimeouts(statement=4))
    with sqlite.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4000
    assert sqlite.hide_parameters  # SQL values (residents' words) never reach an error message or the log
    sqlite.dispose()

    engine = make_engine(REFUSED_URL, timeouts=DbTimeouts(connect=3, statement=10, pool=5))
    seen: dict[str, object] = {}

    def capture(*_args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise OSError("not connecting in this test")

    engine.dialect.connect = capture  # type: ignore[method-assign]  # what the pool hands the driver
    with pytest.raises(OSError):
        engine.connect()
    engine.dispose()
    assert engine.hide_parameters
    assert engine.pool.timeout() == 5
    assert seen["connect_timeout"] == 3
    assert "statement_timeout=10000" in str(seen["options"])

    # A URL's own options (the test suite's per-test search_path) are kept, not replaced.
    scoped = make_engine(REFUSED_URL + "?options=-csearch_path%3Dt1")
    scoped.dialect.connect = capture  # type: ignore[method-assign]
    with pytest.raises(OSError):
        scoped.connect()
    scoped.dispose()
    assert "search_path=t1" in str(seen["options"]) and "statement_timeout=" in str(seen["options"])


def test_refused_postgres_gives_503_quickly(app, caplog) -> None:
    client, context = app
    signed_in(client, "staff")
    assert client.get("/staff/").status_code == 200
    break_database(context, make_engine(REFUSED_URL, timeouts=FAST))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        started = time.monotonic()
        response = client.post("/api/v1/chat", json=CHAT)
    assert_outage(response, started, budget=5.0)
    outage_lines = [r for r in caplog.records if r.name == OUTAGE_LOGGER]
    assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
    assert "/api/v1/chat" in outage_lines[0].getMessage() and "OperationalError" in outage_lines[0].getMessage()
    assert not any(r.exc_info for r in caplog.records), "a traceback went to the log"
    assert "社保卡" not in caplog.text and "Traceback" not in caplog.text and "secret" not in caplog.text

    started = time.monotonic()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and time.monotonic() - started < READY_BUDGET
    assert ready.json()["checks"]["database"].startswith("error")
    assert client.get("/healthz").status_code == 200  # liveness: the process itself is fine

    # A staff page: a Chinese page, not JSON, and not a 500.
    page = client.get("/staff/", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    assert "系统暂时忙不过来" in page.text and page.headers["retry-after"]
    # The staff event stream cannot start: an EventSource (which gives up on any status but 200) is told to
    # come back after Retry-After; other clients get the 503.
    stream = client.get("/staff/api/events", headers={"Accept": "text/event-stream"})
    assert stream.status_code == 200 and stream.text == f"retry: {int(stream.headers['retry-after']) * 1000}\n\n"
    assert client.get("/staff/api/events").status_code == 503
    # The Rasa channel and a session's history go the same way.
    assert client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "你好"}).status_code == 503


def test_silent_database_bounded(app) -> None:
    client, context = app
    with silent_server() as port:
        break_database(context, make_engine(f"postgresql+psycopg://shequ:secret@127.0.0.1:{port}/shequ",
                                            timeouts=FAST))
        started = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert time.monotonic() - started < READY_BUDGET
        started = time.monotonic()
        response = client.post("/api/v1/chat", json=CHAT)
        # The connect timeout (2 s) bounds the wait; a little slack for a busy machine.
        assert_outage(response, started, budget=FAST.connect + 3.0)
        started = time.monotonic()
        assert client.get("/readyz").status_code == 503  # stuck checks do not make later probes slower
        assert time.monotonic() - started < READY_BUDGET


def test_sqlite_failure_gives_503(app, tmp_path) -> None:
    client, context = app
    # A real SQLite error: the database file cannot be opened (its directory does not exist).
    missing = tmp_path / "gone" / "shequ.db"
    break_database(context, create_engine(f"sqlite:///{missing}"))
    started = time.monotonic()
    assert_outage(client.post("/api/v1/chat", json=CHAT), started, budget=5.0)
    assert client.get("/readyz").status_code == 503


def test_injected_operational_error_gives_503(app, monkeypatch) -> None:
    client, context = app

    def fail(*_a, **_kw):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(context.sessions, "__call__", fail)
    monkeypatch.setattr(type(context.sessions), "__call__", lambda self, **kw: fail())
    started = time.monotonic()
    assert_outage(client.post("/api/v1/chat", json=CHAT), started, budget=5.0)


def test_stream_that_fails_midway_ends_quietly(app, monkeypatch, caplog) -> None:
    client, context = app
    signed_in(client, "staff")
    bus = context.events
    calls = {"n": 0}
    real_latest = bus.latest

    def latest_then_fail() -> int:
        calls["n"] += 1
        if calls["n"] > 1:  # the route's start_id succeeds; the stream's own read then fails
            raise OperationalError("SELECT max(id)", {}, Exception("server closed the connection unexpectedly"))
        return real_latest()

    monkeypatch.setattr(bus, "latest", latest_then_fail)
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.INFO), client.stream("GET", "/staff/api/events") as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert time.monotonic() - started < 10  # ended, not held open for the stream's full minute
    assert body.startswith("retry:")
    lines = [r.getMessage() for r in caplog.records if r.name == OUTAGE_LOGGER]
    assert len(lines) == 1 and "stream ended" in lines[0]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("raw", ['"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"社保\\udfff卡"'])
def test_unstorable_characters_in_chat_are_refused(db_app, raw) -> None:
    client, _context = db_app
    headers = {"Content-Type": "application/json"}
    for body in (f'{{"text": {raw}, "channel": "web"}}', f'{{"text": "你好", "session_id": {raw}}}'):
        response = client.post("/api/v1/chat", content=body.encode(), headers=headers)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_characters" and "无法识别的字符" in error["message_zh"]
    message = client.post("/webhooks/rest/webhook", content=f'{{"sender": "u1", "message": {raw}}}'.encode(),
                          headers=headers)
    assert message.status_code == 422 and message.json()["error"]["code"] == "bad_characters", message.text
    # The sender is only hashed, never stored: refused or answered, but never a server error.
    sender = client.post("/webhooks/rest/webhook", content=f'{{"sender": {raw}, "message": "你好"}}'.encode(),
                         headers=headers)
    assert sender.status_code < 500, sender.text


def test_nul_in_paths_and_queries_never_500(db_app) -> None:
    client, _context = db_app
    for url in ("/api/v1/sessions/a%00b/messages", "/t/GX%00", "/api/v1/sessions/%ED%A0%80/messages"):
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code, response.text[:200])


def test_nul_in_staff_form_is_refused_and_nothing_saved(db_app) -> None:
    client, _context = db_app
    signed_in(client, "staff")
    page = client.get("/staff/synonyms")
    assert page.status_code == 200
    token = csrf_from(page.text)
    response = client.post("/staff/synonyms", data={"csrf_token": token, "synonyms": "退休金 = 养老金\x00\n"})
    assert response.status_code == 422, response.text[:300]
    assert "无法识别的字符" in response.json()["error"]["message_zh"]
    assert "退休金 = 养老金\x00" not in client.get("/staff/synonyms").text
