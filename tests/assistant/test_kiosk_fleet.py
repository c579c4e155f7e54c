"""The kiosk fleet: registering, heartbeats and configuration, the token deciding the community of a kiosk's
turns, alerts raised once per problem and closed on recovery, the 自助机 page scoped by community, the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import pytest
from console_testkit import PASSWORD, console_client, form_post, login, signed_in, users_command
from sqlalchemy import select

from assistant.auth.models import StaffAccount
from assistant.auth.service import create_account
from assistant.clock import now_utc
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.events.bus import ALERT_ACKNOWLEDGED, ALERT_RAISED
from assistant.kiosks import KIOSK_ALERT_KIND, KioskError
from assistant.kiosks.fleet import kiosks_online, online_source, sweep_kiosks, sweep_kiosks_in
from assistant.kiosks.models import Kiosk
from assistant.kiosks.registry import Registration, record_heartbeat, register_kiosk
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, ChatSession

HEALTHY = {"printer": "ok", "reader": "ok", "microphone": "ok"}


def _communities(context: AppContext) -> None:
    with session_scope(context.sessions) as db:
        import_community(db, "qingxiu", {"name": "青秀社区"}, district="青秀区")
        import_community(db, "xixiang", {"name": "西乡社区"}, district="江南区")
    context.communities.invalidate()


def _register(context: AppContext, community: str, name: str) -> Registration:
    with session_scope(context.sessions) as db:
        return register_kiosk(db, community, name)


def _beat(context: AppContext, kiosk_id: int, at: dt.datetime, **health: str) -> None:
    with session_scope(context.sessions) as db:
        record_heartbeat(db, db.get(Kiosk, kiosk_id), "0.1.0", {**HEALTHY, **health}, 60.0, at)


def _sweep(context: AppContext, now: dt.datetime) -> list:
    with session_scope(context.sessions) as db:
        return sweep_kiosks(db, context.events, now, context.settings)


def _kiosk_alerts(context: AppContext) -> list[Alert]:
    with session_scope(context.sessions) as db:
        rows = list(db.scalars(select(Alert).where(Alert.kind == KIOSK_ALERT_KIND).order_by(Alert.id)))
        db.expunge_all()
        return rows


def _events(context: AppContext, kind: str) -> list[dict]:
    return [e.data for e in context.events.since(0, limit=1000) if e.kind == kind]


@pytest.fixture
def fleet(db_settings: Settings) -> Iterator[AppContext]:
    context = create_context(db_settings.model_copy(update={"kiosk_offline_minutes": 5.0}))
    try:
        _communities(context)
        yield context
    finally:
        context.close()


# ---------------------------------------------------------------- registry and sweep (SQLite and PostgreSQL)

def test_the_token_is_shown_once_and_only_its_hash_is_kept(fleet: AppContext) -> None:
    registration = _register(fleet, "qingxiu", "3号自助机")
    assert registration.token.startswith("kq_") and len(registration.token) > 40
    with session_scope(fleet.sessions) as db:
        kiosk = db.get(Kiosk, registration.kiosk_id)
        assert kiosk.token_hash == hashlib.sha256(registration.token.encode()).hexdigest()
        assert registration.token not in str(kiosk.__dict__)
    with pytest.raises(KioskError, match="已有名为"):
        _register(fleet, "qingxiu", "3号自助机")
    with pytest.raises(KioskError, match="没有编号为 nowhere 的社区"):
        _register(fleet, "nowhere", "1号自助机")


def test_a_silent_kiosk_raises_one_alert_for_its_community_and_recovery_closes_it(fleet: AppContext) -> None:
    kiosk = _register(fleet, "qingxiu", "3号自助机")
    other = _register(fleet, "xixiang", "1号自助机")
    start = now_utc()
    _beat(fleet, kiosk.kiosk_id, start)
    _beat(fleet, other.kiosk_id, start)
    assert _sweep(fleet, start + dt.timedelta(minutes=4)) == []  # within kiosk_offline_minutes
    with session_scope(fleet.sessions) as db:
        assert kiosks_online(db, start + dt.timedelta(minutes=4), fleet.settings) == 2
        assert online_source(fleet.settings)(db) == 2  # the gauge's hook, at the time of the scrape

    _beat(fleet, other.kiosk_id, start + dt.timedelta(minutes=10))  # the other one keeps reporting
    changes = _sweep(fleet, start + dt.timedelta(minutes=12))
    assert [(c.kiosk_id, c.problem, c.raised) for c in changes] == [(kiosk.kiosk_id, "offline", True)]
    [alert] = _kiosk_alerts(fleet)
    assert alert.text == "3号自助机离线 12 分钟" and alert.community_code == "qingxiu"
    assert alert.channel == "kiosk" and alert.acknowledged_by is None
    with session_scope(fleet.sessions) as db:
        assert kiosks_online(db, start + dt.timedelta(minutes=12), fleet.settings) == 1

    # Still silent: no second alert, however many sweeps.
    assert _sweep(fleet, start + dt.timedelta(minutes=13)) == []
    _beat(fleet, other.kiosk_id, start + dt.timedelta(minutes=29))
    assert _sweep(fleet, start + dt.timedelta(minutes=30)) == []
    assert len(_kiosk_alerts(fleet)) == 1

    _beat(fleet, kiosk.kiosk_id, start + dt.timedelta(minutes=31))
    changes = _sweep(fleet, start + dt.timedelta(minutes=31))
    assert [(c.problem, c.raised, c.alert_id) for c in changes] == [("offline", False, alert.id)]
    [closed] = _kiosk_alerts(fleet)
    assert closed.acknowledged_by == "系统" and closed.acknowledged_at is not None
    raised = _events(fleet, ALERT_RAISED)
    assert [e["id"] for e in raised] == [alert.id] and raised[0]["text"] == "3号自助机离线 12 分钟"
    assert [e["id"] for e in _events(fleet, ALERT_ACKNOWLEDGED)] == [alert.id]

    # Offline again later: a new alert (the old problem was over).
    _sweep(fleet, start + dt.timedelta(minutes=50))
    mine = [a for a in _kiosk_alerts(fleet) if a.text.startswith("3号自助机")]
    assert [a.acknowledged_by for a in mine] == ["系统", None] and mine[1].text == "3号自助机离线 19 分钟"


def test_out_of_paper_raises_an_alert_and_new_paper_closes_it(fleet: AppContext) -> None:
    kiosk = _register(fleet, "xixiang", "2号自助机")
    start = now_utc()
    _beat(fleet, kiosk.kiosk_id, start, printer="no_paper")
    changes = _sweep(fleet, start + dt.timedelta(seconds=30))
    assert [(c.problem, c.raised) for c in changes] == [("no_paper", True)]
    [alert] = _kiosk_alerts(fleet)
    assert alert.text.startswith("2号自助机缺纸") and alert.community_code == "xixiang"
    _beat(fleet, kiosk.kiosk_id, start + dt.timedelta(minutes=1), printer="no_paper")
    assert _sweep(fleet, start + dt.timedelta(minutes=1)) == []  # once per problem
    _beat(fleet, kiosk.kiosk_id, start + dt.timedelta(minutes=2), printer="low_paper")
    assert [(c.problem, c.raised) for c in _sweep(fleet, start + dt.timedelta(minutes=2))] == [("no_paper", False)]
    assert [a.acknowledged_by for a in _kiosk_alerts(fleet)] == ["系统"]


def test_a_kiosk_never_heard_from_raises_nothing(fleet: AppContext) -> None:
    _register(fleet, "qingxiu", "新装自助机")
    assert sweep_kiosks_in(fleet, now_utc() + dt.timedelta(days=2)) == []  # the worker's call


def test_a_device_alert_is_not_escalated_to_departments(fleet: AppContext) -> None:
    from assistant.handoff import alerts

    kiosk = _register(fleet, "qingxiu", "3号自助机")
    start = now_utc()
    _beat(fleet, kiosk.kiosk_id, start, printer="no_paper")
    _sweep(fleet, start)
    with session_scope(fleet.sessions) as db:
        escalated = alerts.escalate_overdue(db, fleet.events, start + dt.timedelta(hours=1), 120)
    assert escalated == []


# ---------------------------------------------------------------- the API and the page

@pytest.fixture
def app(settings: Settings) -> Iterator[tuple]:
    with console_client(settings, kiosk_api_rate_per_minute=5) as (client, context):
        _communities(context)
        yield client, context


def test_register_heartbeat_config_and_the_token_decides_the_community(app: tuple) -> None:
    client, context = app
    kiosk = _register(context, "qingxiu", "3号自助机")
    auth = {"Authorization": f"Bearer {kiosk.token}"}
    beat = client.post("/api/v1/kiosk/heartbeat", headers=auth,
                       json={"version": "0.1.0", "uptime": 12.5,
                             "health": {"printer": "no_paper", "reader": "none", "microphone": "ok", "fan": "x"}})
    assert beat.status_code == 200, beat.text
    body = beat.json()
    assert body["community"] == {"code": "qingxiu", "name": "青秀社区"}
    assert body["kiosk"]["name"] == "3号自助机" and body["settings"]["heartbeat_seconds"] > 0
    with session_scope(context.sessions) as db:
        row = db.get(Kiosk, kiosk.kiosk_id)
        assert row.health == {"printer": "no_paper", "reader": "none", "microphone": "ok"}
        assert row.version == "0.1.0" and row.uptime_seconds == 12 and row.last_seen_at is not None
    config = client.get("/api/v1/kiosk/config", headers=auth)
    assert config.status_code == 200 and config.json()["community"]["code"] == "qingxiu"

    # The kiosk's turn belongs to the token's community, whatever the body claims.
    turn = client.post("/api/v1/kiosk/chat", headers=auth,
                       json={"session_id": None, "text": "高龄津贴怎么申请", "channel": "web", "community": "xixiang"})
    assert turn.status_code == 200, turn.text
    with session_scope(context.sessions) as db:
        session = db.get(ChatSession, turn.json()["session_id"])
        assert session.community_code == "qingxiu" and session.channel == "kiosk"


@pytest.mark.parametrize("header", [None, "Bearer kq_not-a-real-token", "Basic abc", "Bearer "])
def test_a_missing_or_wrong_token_gets_401_in_chinese_and_english(app: tuple, header: str | None) -> None:
    client, _ = app
    headers = {"Authorization": header} if header else {}
    for response in (client.post("/api/v1/kiosk/heartbeat", headers=headers, json={"health": {}}),
                     client.get("/api/v1/kiosk/config", headers=headers),
                     client.post("/api/v1/kiosk/chat", headers=headers, json={"text": "你好", "channel": "kiosk"})):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "invalid_kiosk_token" and "自助机" in error["message_zh"] and error["message_en"]
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_heartbeats_are_limited_per_token(app: tuple) -> None:
    client, context = app
    first = _register(context, "qingxiu", "3号自助机")
    second = _register(context, "qingxiu", "4号自助机")
    statuses = [client.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {first.token}"}).status_code
                for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429  # kiosk_api_rate_per_minute=5
    other = client.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {second.token}"})
    assert other.status_code == 200  # another kiosk's allowance is its own


def test_the_page_lists_kiosks_of_the_workers_community_only(app: tuple) -> None:
    client, context = app
    mine = _register(context, "qingxiu", "3号自助机")
    theirs = _register(context, "xixiang", "9号自助机")
    silent_since = now_utc() - dt.timedelta(minutes=12)
    _beat(context, mine.kiosk_id, now_utc(), printer="no_paper")
    _beat(context, theirs.kiosk_id, silent_since)
    with session_scope(context.sessions) as db:
        account = create_account(db, "qing", "staff", PASSWORD, department="民政", actor="test")
        account.community_code = "qingxiu"

    assert login(client, "qing").status_code == 303
    page = client.get("/staff/kiosks", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "3号自助机" in page.text and "9号自助机" not in page.text
    assert "青秀区 · 青秀社区" in page.text and "在线" in page.text and "缺纸" in page.text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", page.text)  # the last heartbeat, China time
    assert 'href="/staff/kiosks"' in page.text  # linked in the nav

    assert login(client, "staff").status_code == 303  # city staff: every community
    page = client.get("/staff/kiosks", headers={"Accept": "text/html"})
    assert "3号自助机" in page.text and "9号自助机" in page.text and "离线（12 分钟）" in page.text
    with session_scope(context.sessions) as db:
        assert db.scalar(select(StaffAccount.community_code).where(StaffAccount.username == "sam")) is None

    client.cookies.clear()
    assert client.get("/staff/kiosks", headers={"Accept": "text/html"}).status_code == 303  # sign in first


def test_an_administrator_registers_a_kiosk_on_the_page_and_sees_its_token_once(app: tuple) -> None:
    client, context = app
    signed_in(client, "admin")
    page = form_post(client, "/staff/kiosks", "/staff/kiosks", {"community": "xixiang", "name": "5号自助机"})
    assert page.status_code == 200, page.text[:300]
    token = re.search(r"<code>(kq_[^<]+)</code>", page.text)
    assert token and "只显示这一次" in page.text
    with session_scope(context.sessions) as db:
        kiosk = db.scalars(select(Kiosk).where(Kiosk.name == "5号自助机")).one()
        assert kiosk.community_code == "xixiang"
        assert kiosk.token_hash == hashlib.sha256(token.group(1).encode()).hexdigest()
    again = client.get("/staff/kiosks", headers={"Accept": "text/html"})
    assert "5号自助机" in again.text and token.group(1) not in again.text  # shown once
    refused = form_post(client, "/staff/kiosks", "/staff/kiosks", {"community": "xixiang", "name": "5号自助机"})
    assert refused.status_code == 422 and "已有名为「5号自助机」" in refused.text

    signed_in(client, "staff")
    page = client.get("/staff/kiosks", headers={"Accept": "text/html"})
    assert 'id="kiosk-register"' not in page.text  # the form is for administrators
    denied = form_post(client, "/staff/kiosks", "/staff/kiosks", {"community": "xixiang", "name": "6号自助机"})
    assert denied.status_code == 403  # with a good CSRF token: refused for the role
    with session_scope(context.sessions) as db:
        assert db.scalar(select(Kiosk.id).where(Kiosk.name == "6号自助机")) is None


def test_the_cli_registers_and_lists(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.commands.kiosks import kiosks

    context = create_context(settings)
    try:
        _communities(context)
    finally:
        context.close()
    with users_command(settings, monkeypatch) as runner:
        result = runner.invoke(kiosks, ["register", "--community", "qingxiu", "--name", "3号自助机"])
        assert result.exit_code == 0, result.output
        token = result.output.strip().splitlines()[-1]
        assert token.startswith("kq_")
        missing = runner.invoke(kiosks, ["register", "--community", "nowhere", "--name", "1号"])
        assert missing.exit_code != 0 and "nowhere" in missing.output
        listed = runner.invoke(kiosks, ["list"])
        assert listed.exit_code == 0 and "3号自助机" in listed.output and "未连接过" in listed.output
        assert token not in listed.output
