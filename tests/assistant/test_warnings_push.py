"""``POST /api/v1/warnings/cap``: signed pushes, each refusal with its status, hostile documents rejected with
one log line and no row changed, a repeated push a duplicate; and ``shequ warnings``."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cap_testkit import HOSTILE, cap, huge_document, shifted, signature
from community_testkit import A, add_communities
from console_testkit import users_command
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from assistant.api.main import create_app
from assistant.bulletins.models import EarlyWarning, WarningCommunity
from assistant.context import create_context
from assistant.handoff.models import OutboxMessage
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import Alert

SECRET = "push-secret-for-tests-only"
URL = "/api/v1/warnings/cap"


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, Any]]:
    settings = settings.model_copy(update={"warning_push_secret": SecretStr(SECRET)})
    context = create_context(settings)
    add_communities(context)
    try:
        with TestClient(create_app(context=context)) as client:
            yield client, context
    finally:
        context.close()


def push(client: TestClient, body: bytes, *, secret: str = SECRET, timestamp: int | None = None,
         content_type: str = "application/cap+xml", sig: str | None = None, **kwargs: Any) -> Any:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": content_type, "X-Shequ-Timestamp": stamp,
               "X-Shequ-Signature": sig if sig is not None else signature(secret, stamp, body)}
    return client.post(URL, content=kwargs.pop("content", body), headers=headers, **kwargs)


def current(name: str) -> bytes:
    return shifted(cap(name), dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))


def counts(context: Any) -> tuple[int, ...]:
    with session_scope(context.sessions) as db:
        return tuple(db.scalar(select(func.count()).select_from(model)) or 0
                     for model in (EarlyWarning, WarningCommunity, Alert, OutboxMessage))


def test_alert_update_cancel_and_a_repeated_push(api: tuple[TestClient, Any]) -> None:
    client, context = api
    first = push(client, current("rainstorm_orange"))
    assert first.status_code == 200, first.text
    assert first.json()["action"] == "new" and first.json()["communities"] == [A]
    again = push(client, current("rainstorm_orange"))
    assert again.status_code == 200
    assert again.json() == {"action": "duplicate", "warning_id": first.json()["warning_id"], "communities": [A]}
    red = push(client, current("rainstorm_red_update")).json()
    assert red["action"] == "updated" and red["communities"] == [A]
    cancel = push(client, current("rainstorm_cancel")).json()
    assert cancel["action"] == "cancelled"
    with session_scope(context.sessions) as db:
        states = {row.identifier: (row.level, row.status) for row in db.scalars(select(EarlyWarning))}
    assert states["45010041600000_20261204200000"] == ("orange", "superseded")
    assert states["45010041600000_20261204220000"] == ("red", "cancelled")


def test_no_secret_configured_is_503(api: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client, context = api
    monkeypatch.setattr(context, "settings", context.settings.model_copy(
        update={"warning_push_secret": SecretStr("")}))
    answer = push(client, current("typhoon_blue"))
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "push_off" and error["message_zh"] and error["message_en"]
    # Without the signature headers it is a 401 either way (nothing to say about the configuration).
    bare = client.post(URL, content=b"", headers={"Content-Type": "application/cap+xml"})
    assert bare.status_code == 401


@pytest.mark.parametrize("case", ["missing", "malformed", "wrong_secret", "old", "future", "tampered"])
def test_bad_signatures_are_401(api: tuple[TestClient, Any], case: str, caplog: pytest.LogCaptureFixture) -> None:
    client, context = api
    body = current("typhoon_blue")
    before = counts(context)
    caplog.set_level(logging.INFO)
    now = int(time.time())
    if case == "missing":
        answer = client.post(URL, content=body, headers={"Content-Type": "application/cap+xml"})
    elif case == "malformed":
        answer = push(client, body, sig="md5=abc")
    elif case == "wrong_secret":
        answer = push(client, body, secret="not-the-secret")
    elif case == "old":
        answer = push(client, body, timestamp=now - 301)
    elif case == "future":
        answer = push(client, body, timestamp=now + 301)
    else:  # signed for one body, sent with another
        answer = push(client, body, sig=signature(SECRET, str(now), current("landslide_red")))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "bad_signature"
    assert counts(context) == before
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_a_timestamp_inside_the_window_is_taken(api: tuple[TestClient, Any]) -> None:
    client, _ = api
    assert push(client, current("typhoon_blue"), timestamp=int(time.time()) - 290).status_code == 200


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_documents_are_422_one_line_and_no_rows(api: tuple[TestClient, Any], name: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    client, context = api
    before = counts(context)
    caplog.set_level(logging.INFO)
    answer = push(client, cap(name))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "bad_cap"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "refused" in lines[0]
    assert "lol" not in lines[0] and "passwd" not in lines[0] and "gateway" not in lines[0]
    assert counts(context) == before


def test_a_20_mb_document_is_413_with_or_without_a_length(api: tuple[TestClient, Any]) -> None:
    client, context = api
    before = counts(context)
    body = huge_document()
    assert push(client, body).status_code == 413  # declared length: refused before reading

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)]

    chunked = push(client, body, content=chunks())
    assert chunked.status_code == 413
    assert counts(context) == before


def test_not_xml_by_content_type_is_415(api: tuple[TestClient, Any]) -> None:
    client, _ = api
    assert push(client, current("typhoon_blue"), content_type="application/json").status_code == 415
    assert push(client, current("typhoon_blue"), content_type="application/xml; charset=utf-8").status_code == 200


def test_an_exercise_is_ignored_and_shown_nowhere(api: tuple[TestClient, Any]) -> None:
    client, _ = api
    body = current("landslide_red").replace(b"<status>Actual</status>", b"<status>Exercise</status>")
    answer = push(client, body)
    assert answer.status_code == 200 and answer.json()["action"] == "ignored"


# ---------------------------------------------------------------- shequ warnings

def test_the_cli_imports_lists_and_refuses_in_chinese(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Any) -> None:
    from assistant.commands.warnings import warnings

    context = create_context(settings)
    try:
        add_communities(context)
    finally:
        context.close()
    good = tmp_path / "rain.xml"
    good.write_bytes(current("rainstorm_orange"))
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(cap("billion_laughs"))
    with users_command(settings, monkeypatch) as runner:
        done = runner.invoke(warnings, ["import", str(good)])
        assert done.exit_code == 0, done.output
        assert "新预警" in done.output and A in done.output
        again = runner.invoke(warnings, ["import", str(good)])
        assert again.exit_code == 0 and "已收到过" in again.output
        refused = runner.invoke(warnings, ["import", str(bomb)])
        assert refused.exit_code != 0 and "不是有效的 CAP" in refused.output and "Traceback" not in refused.output
        missing = runner.invoke(warnings, ["import", str(tmp_path / "nothing.xml")])
        assert missing.exit_code != 0 and "读不了文件" in missing.output
        listed = runner.invoke(warnings, ["list"])
        assert listed.exit_code == 0 and "暴雨橙色预警" in listed.output and "共 1 条" in listed.output
        no_feed = runner.invoke(warnings, ["poll"])
        assert no_feed.exit_code != 0 and "没有配置预警源" in no_feed.output
