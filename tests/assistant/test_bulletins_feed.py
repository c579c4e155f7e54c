"""The CAP feed: Atom/RSS of CAP links or CAP itself, conditional GET, byte caps, hostile documents, and the
poller that ingests what is new (against a loopback server)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cap_testkit import GOOD, HOSTILE, CapServer, atom_feed, cap, huge_document, rss_feed, shifted
from community_testkit import A, B, add_communities
from sqlalchemy import func, select

from assistant.bulletins import feed as feed_module
from assistant.bulletins.feed import MAX_ENTRIES_PER_POLL, FeedState, WarningFeedPoller, poll_feed
from assistant.bulletins.models import EarlyWarning, WarningCommunity
from assistant.handoff.models import OutboxMessage
from assistant.storage.db import session_scope
from assistant.storage.models import Alert

FEED_LOGGER = "assistant.bulletins.feed"


@pytest.fixture
def server() -> Iterator[CapServer]:
    with CapServer().running() as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def serve_good(server: CapServer, now: dt.datetime | None = None) -> list[str]:
    links = []
    for name in GOOD:
        server.routes[f"/cap/{name}.xml"] = shifted(cap(name), now) if now else cap(name)
        links.append(server.url(f"/cap/{name}.xml"))
    return links


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == FEED_LOGGER and "refused" in r.getMessage()]


def test_an_atom_feed_of_cap_links_is_read_oldest_first(server: CapServer, client: httpx.Client) -> None:
    links = serve_good(server)
    server.routes["/feed"] = atom_feed(list(reversed(links)))  # feeds list the newest first
    alerts = poll_feed(server.url("/feed"), client, FeedState())
    assert [a.sent for a in alerts] == sorted(a.sent for a in alerts)
    assert [a.event for a in alerts][:2] == ["台风", "台风"] and alerts[-1].msg_type == "Cancel"
    assert len(alerts) == len(GOOD)


def test_an_unchanged_feed_costs_one_conditional_request(server: CapServer, client: httpx.Client) -> None:
    server.routes["/feed"] = atom_feed(serve_good(server))
    state = FeedState()
    assert len(poll_feed(server.url("/feed"), client, state)) == len(GOOD)
    before = len(server.requests)
    assert poll_feed(server.url("/feed"), client, state) == []
    assert len(server.requests) == before + 1  # the feed only, answered 304
    path, headers = server.requests[-1]
    assert path == "/feed" and headers.get("if-none-match") == state.etag and state.etag


def test_a_changed_feed_fetches_only_new_entries(server: CapServer, client: httpx.Client) -> None:
    links = serve_good(server)
    server.routes["/feed"] = atom_feed(links[:2])
    state = FeedState()
    assert len(poll_feed(server.url("/feed"), client, state)) == 2
    server.routes["/feed"] = atom_feed(links[:3])
    server.requests.clear()
    alerts = poll_feed(server.url("/feed"), client, state)
    assert [a.identifier for a in alerts] == ["45010041600000_20261204160000"]  # typhoon_yellow
    assert [p for p, _ in server.requests] == ["/feed", "/cap/typhoon_yellow.xml"]


def test_a_cap_document_as_the_feed_and_an_rss_feed(server: CapServer, client: httpx.Client) -> None:
    server.routes["/direct"] = cap("landslide_red")
    assert [a.event for a in poll_feed(server.url("/direct"), client, FeedState())] == ["地质灾害"]
    server.routes["/rss"] = rss_feed(serve_good(server)[:2])
    assert [a.event for a in poll_feed(server.url("/rss"), client, FeedState())] == ["台风", "暴雨"]


def test_relative_links_resolve_against_the_feed(server: CapServer, client: httpx.Client) -> None:
    serve_good(server)
    server.routes["/feed"] = atom_feed(["cap/typhoon_blue.xml"])
    assert [a.event for a in poll_feed(server.url("/feed"), client, FeedState())] == ["台风"]


def test_redirects_are_followed_to_http_only(server: CapServer, client: httpx.Client) -> None:
    serve_good(server)
    server.routes["/old-feed"] = (301, {"Location": "/feed"}, b"")
    server.routes["/feed"] = atom_feed(["/moved.xml", "/to-file.xml"])
    server.routes["/moved.xml"] = (302, {"Location": "/cap/typhoon_blue.xml"}, b"")
    server.routes["/to-file.xml"] = (302, {"Location": "file:///etc/passwd"}, b"")
    state = FeedState()
    assert [a.event for a in poll_feed(server.url("/old-feed"), client, state)] == ["台风"]
    assert state.refused == 1


def test_hostile_entries_are_refused_one_line_each_and_the_rest_goes_on(
        server: CapServer, client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    good = serve_good(server)[:2]
    hostile = []
    for name in HOSTILE:
        server.routes[f"/bad/{name}.xml"] = cap(name)
        hostile.append(server.url(f"/bad/{name}.xml"))
    server.routes["/bad/huge.xml"] = huge_document()
    server.routes["/bad/huge-unannounced.xml"] = (200, {"_no_length": True}, huge_document())
    server.routes["/bad/gone.xml"] = (500, {}, b"oops")
    hostile += [server.url("/bad/huge.xml"), server.url("/bad/huge-unannounced.xml"), server.url("/bad/gone.xml"),
                "file:///etc/passwd", "ftp://127.0.0.1/alert.xml"]
    server.routes["/feed"] = atom_feed([good[0], *hostile, good[1]])
    caplog.set_level(logging.INFO, logger=FEED_LOGGER)
    state = FeedState()
    alerts = poll_feed(server.url("/feed"), client, state)
    assert sorted(a.event for a in alerts) == ["台风", "暴雨"]
    lines = refusals(caplog)
    assert len(lines) == len(hostile) == state.refused
    joined = "\n".join(lines)
    for reason in ("DTD not allowed", "wrong namespace", "not XML", "too large", "http 500", "not http(s)"):
        assert reason in joined
    assert "127.0.0.1" in joined
    assert "lol" not in joined and "passwd" not in joined and "/bad/" not in joined  # host only, no content


def test_an_entry_that_failed_on_the_server_is_tried_again(server: CapServer, client: httpx.Client) -> None:
    links = serve_good(server)[:2]
    server.routes["/cap/typhoon_blue.xml"] = (503, {}, b"busy")
    server.routes["/cap/missing.xml"] = (404, {}, b"gone")
    server.routes["/feed"] = atom_feed([*links, server.url("/cap/missing.xml")])
    state = FeedState()
    assert [a.event for a in poll_feed(server.url("/feed"), client, state)] == ["暴雨"]
    server.routes["/cap/typhoon_blue.xml"] = cap("typhoon_blue")
    server.requests.clear()
    assert [a.event for a in poll_feed(server.url("/feed"), client, state)] == ["台风"]
    assert [p for p, _ in server.requests] == ["/feed", "/cap/typhoon_blue.xml"]  # not the 404 again
    assert poll_feed(server.url("/feed"), client, state) == []


def test_a_hostile_feed_is_one_line_and_nothing(server: CapServer, client: httpx.Client,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=FEED_LOGGER)
    for name in (*HOSTILE, "huge"):
        caplog.clear()
        server.routes["/feed"] = huge_document() if name == "huge" else cap(name)
        state = FeedState()
        assert poll_feed(server.url("/feed"), client, state) == []
        assert len(refusals(caplog)) == 1 and state.last_error
        if name == "wrong_namespace":
            assert state.last_error == "wrong namespace"
        assert state.etag == ""  # refused: fetched whole next time


def test_at_most_n_entries_per_poll_and_the_rest_next_time(server: CapServer, client: httpx.Client) -> None:
    links = []
    for i in range(MAX_ENTRIES_PER_POLL + 5):
        body = cap("typhoon_blue").replace(b"45010041600000_20261204100000", f"id-{i}".encode())
        server.routes[f"/cap/{i}.xml"] = body
        links.append(server.url(f"/cap/{i}.xml"))
    server.routes["/feed"] = atom_feed(links)
    state = FeedState()
    assert len(poll_feed(server.url("/feed"), client, state)) == MAX_ENTRIES_PER_POLL
    assert len(poll_feed(server.url("/feed"), client, state)) == 5  # not a 304: the rest were still to come
    assert poll_feed(server.url("/feed"), client, state) == []


def test_a_slow_server_times_out(server: CapServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch,
                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(feed_module, "FEED_TIMEOUT", httpx.Timeout(0.3))
    server.routes["/feed"] = cap("typhoon_blue")
    server.delay = 1.0
    state = FeedState()
    assert poll_feed(server.url("/feed"), client, state) == []
    assert "Timeout" in state.last_error


def test_a_feed_url_that_is_not_http_is_refused(client: httpx.Client) -> None:
    state = FeedState()
    assert poll_feed("file:///etc/passwd", client, state) == [] and "http" in state.last_error


# ---------------------------------------------------------------- the poller: ingest, and nothing from junk

def _poller(app_context: Any, url: str, client: httpx.Client) -> WarningFeedPoller:
    settings = app_context.settings.model_copy(update={"warning_feed_url": url, "warning_feed_poll_seconds": 5.0})
    context = SimpleNamespace(settings=settings, engine=app_context.engine, sessions=app_context.sessions,
                              events=app_context.events)
    return WarningFeedPoller(context, client)


def _counts(app_context: Any) -> tuple[int, int, int, int]:
    with session_scope(app_context.sessions) as db:
        return (db.scalar(select(func.count()).select_from(EarlyWarning)) or 0,
                db.scalar(select(func.count()).select_from(WarningCommunity)) or 0,
                db.scalar(select(func.count()).select_from(Alert)) or 0,
                db.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_the_poller_ingests_the_sequence_and_a_second_poll_changes_nothing(
        app_context: Any, server: CapServer, client: httpx.Client) -> None:
    add_communities(app_context)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    server.routes["/feed"] = atom_feed(serve_good(server, now))
    poller = _poller(app_context, server.url("/feed"), client)
    results = poller.run_once()
    assert [r.action for r in results] == ["new", "updated", "new", "new", "updated", "cancelled"]
    by_event = {}
    with session_scope(app_context.sessions) as db:
        for row in db.scalars(select(EarlyWarning).order_by(EarlyWarning.id)):
            by_event.setdefault(row.event, []).append((row.level, row.status))
    assert by_event["台风"] == [("blue", "superseded"), ("yellow", "active")]
    assert by_event["地质灾害"] == [("red", "active")]
    assert by_event["暴雨"][:2] == [("orange", "superseded"), ("red", "cancelled")]
    landslide = next(r for r in results if r.action == "new" and B in r.communities and A not in r.communities)
    assert landslide.communities == (B,)
    counts = _counts(app_context)
    server.requests.clear()
    assert poller.run_once() == []  # 304
    poller.state.reset()  # even fetched again, everything is a duplicate
    assert {r.action for r in poller.run_once()} == {"duplicate"}
    assert _counts(app_context) == counts


@pytest.mark.parametrize("name", [*HOSTILE, "huge"])
def test_a_hostile_feed_changes_no_rows(app_context: Any, server: CapServer, client: httpx.Client, name: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    add_communities(app_context)
    caplog.set_level(logging.INFO)
    document = huge_document() if name == "huge" else cap(name)
    server.routes["/feed"] = document
    server.routes["/atom"] = atom_feed([server.url("/feed")])
    before = _counts(app_context)
    for path in ("/feed", "/atom"):
        caplog.clear()
        assert _poller(app_context, server.url(path), client).run_once() == []
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    assert _counts(app_context) == before


def test_maybe_run_keeps_to_the_interval(app_context: Any, server: CapServer, client: httpx.Client) -> None:
    server.routes["/feed"] = atom_feed([])
    clock = [100.0]
    poller = _poller(app_context, server.url("/feed"), client)
    poller.clock = lambda: clock[0]
    assert poller.maybe_run() == []
    assert poller.maybe_run() is None
    clock[0] += 5.1
    assert poller.maybe_run() == []
    assert len(server.requests) == 2


def test_one_poller_of_the_installation_at_a_time(db_settings: Any, server: CapServer, client: httpx.Client) -> None:
    if not db_settings.resolved_database_url().startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite is one machine (and ingest dedupes anyway)")
    from assistant.context import create_context

    context = create_context(db_settings)
    try:
        add_communities(context)
        server.routes["/feed"] = shifted(cap("typhoon_blue"), dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        other = _poller(context, server.url("/feed"), client)
        with feed_module._one_poller(context.engine) as mine:  # another node is polling right now
            assert mine
            assert other.run_once() == [] and server.requests == []
        assert [r.action for r in other.run_once()] == ["new"]
    finally:
        context.close()


def test_shequ_warnings_poll(settings: Any, server: CapServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from console_testkit import users_command

    from assistant.commands.warnings import warnings
    from assistant.context import create_context

    context = create_context(settings)
    try:
        add_communities(context)
    finally:
        context.close()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    server.routes["/feed"] = atom_feed([*serve_good(server, now)[:1], server.url("/bomb.xml")])
    server.routes["/bomb.xml"] = cap("billion_laughs")
    with users_command(settings, monkeypatch) as runner:
        monkeypatch.setenv("SHEQU_WARNING_FEED_URL", server.url("/feed"))
        done = runner.invoke(warnings, ["poll"])
        assert done.exit_code == 0, done.output
        assert "新的或有变化的 1 条" in done.output and "拒收的文件 1 个" in done.output
        monkeypatch.setenv("SHEQU_WARNING_FEED_URL", server.url("/nothing-here"))
        from assistant.settings import get_settings

        get_settings.cache_clear()
        failed = runner.invoke(warnings, ["poll"])
        assert failed.exit_code != 0 and "预警源没有读成" in failed.output and "Traceback" not in failed.output
