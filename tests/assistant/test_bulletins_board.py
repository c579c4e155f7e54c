"""The board (the JSON kiosks and the web chat read): content, ordering, which notices a community gets, the
revision changing exactly when what residents see changes, expiry, and the short cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from assistant.auth.deps import StaffUser
from assistant.bulletins import notices as svc
from assistant.bulletins.board import BOARD_CACHE_SECONDS, BulletinBoard, dates_text
from assistant.bulletins.cap import CapAlert, CapArea
from assistant.bulletins.models import EarlyWarning, WarningCommunity
from assistant.bulletins.notices import NoticeForm
from assistant.bulletins.warnings import cancel_warning, ingest
from assistant.clock import now_china, now_utc
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.db import session_scope

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)  # 20:00 China time
A, B = "zhuxi", "tinghong"
WRITER, REVIEWER, CITY, BOSS = (StaffUser("wa", "staff", community=A), StaffUser("ra", "approver", community=A),
                                StaffUser("city", "staff"), StaffUser("boss", "admin"))


@pytest.fixture
def ctx(db_settings: Settings) -> Iterator[AppContext]:
    context = create_context(db_settings)
    try:
        with session_scope(context.sessions) as db:
            import_community(db, A, {"name": "竹溪社区"}, street="新竹街道", district="青秀区")
            import_community(db, B, {"name": "亭洪社区"}, street="亭洪街道", district="江南区")
        yield context
    finally:
        context.close()


def warn(context: AppContext, identifier: str, severity: str, *, minutes: int = 0, hours: float = 12,
         area: str = "南宁市青秀区", event: str = "暴雨") -> int:
    sent = NOW - dt.timedelta(minutes=minutes)
    alert = CapAlert(identifier=identifier, sender="nnqxt", sent=sent, status="Actual", msg_type="Alert", event=event,
                     severity=severity, urgency="Immediate", headline=f"南宁市气象台发布{event}预警信号",
                     description="预计未来6小时青秀区将出现50毫米以上降雨。", instruction="减少外出，远离低洼地带。",
                     sender_name="南宁市气象台", effective=sent, expires=sent + dt.timedelta(hours=hours),
                     areas=(CapArea(area),))
    with session_scope(context.sessions) as db:
        return ingest(db, context.events, alert, settings=context.settings, now=sent).warning_id


def notice(context: AppContext, title: str, *, author: StaffUser = WRITER, community: str | None = A,
           start: dt.datetime = dt.datetime(2026, 12, 4, 8), end: dt.datetime = dt.datetime(2026, 12, 5, 18),
           publish_at: dt.datetime = NOW, min_age: int | None = None) -> int:
    reviewer = REVIEWER if author is WRITER else BOSS
    with session_scope(context.sessions) as db:
        created = svc.create(db, context.events, author, NoticeForm(title, f"{title}，请居民留意。", "停水停电", community,
                                                                   min_age, None, start, end))
        svc.submit(db, context.events, author, created.id)
        svc.approve(db, context.events, reviewer, created.id)
        svc.publish(db, context.events, reviewer, created.id, now=publish_at)
        return created.id


def board(context: AppContext, code: str = A, now: dt.datetime = NOW) -> dict:
    return context.bulletins.for_community(code, now=now)


def test_a_warning_as_the_kiosk_gets_it(ctx: AppContext) -> None:
    warning_id = warn(ctx, "rain-1", "Severe")
    shown = board(ctx)
    assert shown["community"] == A and shown["poll_seconds"] == 2.0 and len(shown["revision"]) == 40
    (warning,) = shown["warnings"]
    assert warning == {
        "id": warning_id, "event": "暴雨", "level": "orange", "level_label": "橙色", "title": "暴雨橙色预警",
        "headline": "南宁市气象台发布暴雨预警信号", "description": "预计未来6小时青秀区将出现50毫米以上降雨。",
        "instruction": "减少外出，远离低洼地带。", "area": "南宁市青秀区", "sender_name": "南宁市气象台",
        "source": "cap", "assembly_point": "", "severity": "Severe", "urgency": "Immediate", "banner": True,
        "effective": "2026-12-04T20:00:00+08:00", "expires": "2026-12-05T08:00:00+08:00",
        "expires_text": "12月5日 08:00", "banner_text": "暴雨橙色预警：减少外出，远离低洼地带（有效至12月5日 08:00）",
        "speech": "南宁市气象台发布暴雨橙色预警。减少外出，远离低洼地带。",
        "colors": {"background": "#F08000", "text": "#000000"}, "repeat_seconds": 600,
    }
    assert board(ctx, B)["warnings"] == []


def test_warnings_most_severe_first_then_newest(ctx: AppContext) -> None:
    blue_new = warn(ctx, "b", "Minor", minutes=1, event="大风")
    red_old = warn(ctx, "r", "Extreme", minutes=30, event="台风")
    orange_old = warn(ctx, "o1", "Severe", minutes=20)
    orange_new = warn(ctx, "o2", "Severe", minutes=5, event="雷电")
    assert [w["id"] for w in board(ctx)["warnings"]] == [red_old, orange_new, orange_old, blue_new]


def test_notices_of_the_community_and_the_city_while_valid_newest_first(ctx: AppContext) -> None:
    own = notice(ctx, "竹溪停水", publish_at=NOW - dt.timedelta(hours=2))
    city = notice(ctx, "全市疫苗接种", author=CITY, community=None, publish_at=NOW - dt.timedelta(hours=1), min_age=60)
    notice(ctx, "亭洪停电", author=CITY, community=B)
    notice(ctx, "明天才开始", start=dt.datetime(2026, 12, 6, 8), end=dt.datetime(2026, 12, 6, 18))
    with session_scope(ctx.sessions) as db:  # a draft is not shown
        svc.create(db, ctx.events, WRITER, NoticeForm("草稿", "草稿内容", "活动", A, None, None,
                                                      dt.datetime(2026, 12, 4, 8), dt.datetime(2026, 12, 5, 8)))
    shown = board(ctx)["notices"]
    assert [n["id"] for n in shown] == [city, own]
    assert shown[0]["audience_label"] == "60岁以上老人" and shown[0]["audience_min_age"] == 60
    assert shown[1] == {"id": own, "title": "竹溪停水", "body": "竹溪停水，请居民留意。", "category": "停水停电",
                        "audience_min_age": None, "audience_max_age": None, "audience_label": "全体居民",
                        "valid_from": "2026-12-04T08:00:00+08:00", "valid_to": "2026-12-05T18:00:00+08:00",
                        "dates_text": "12月4日 08:00 至 12月5日 18:00", "image_url": None,
                        "published_at": "2026-12-04T18:00:00+08:00"}
    assert [n["title"] for n in board(ctx, B)["notices"]] == ["亭洪停电", "全市疫苗接种"]


def test_the_revision_changes_on_publish_and_cancel_and_not_otherwise(ctx: AppContext) -> None:
    empty = board(ctx)["revision"]
    assert board(ctx)["revision"] == empty  # nothing changed: same tag (304 for the kiosk)
    notice(ctx, "竹溪停水")
    with_notice = board(ctx)["revision"]
    assert with_notice != empty
    warning_id = warn(ctx, "rain-1", "Severe")
    with_warning = board(ctx)["revision"]
    assert with_warning not in (empty, with_notice)
    assert board(ctx, B)["revision"] == empty  # B's board did not change
    with session_scope(ctx.sessions) as db:
        cancel_warning(db, ctx.events, StaffUser("boss", "admin"), warning_id, ctx.settings, NOW)
    assert board(ctx)["revision"] == with_notice


def test_expired_warnings_and_notices_leave_the_board(ctx: AppContext) -> None:
    warn(ctx, "short", "Severe", hours=1)
    notice(ctx, "今晚停电", start=dt.datetime(2026, 12, 4, 8), end=dt.datetime(2026, 12, 4, 21))
    assert len(board(ctx)["warnings"]) == 1 and len(board(ctx)["notices"]) == 1
    later = board(ctx, now=NOW + dt.timedelta(hours=1, minutes=1))
    assert later["warnings"] == [] and later["notices"] == []


def test_the_board_is_cached_briefly_and_invalidated_on_demand(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("assistant.bulletins.board.time.monotonic", lambda: clock[0])
    live = BulletinBoard(ctx.sessions, ctx.settings)
    first = live.for_community(A)
    assert live.for_community(A) is first  # within the cache time
    with session_scope(ctx.sessions) as db:  # a change made elsewhere (another node): the cache keeps its time
        db.add(EarlyWarning(source="cap", sender="other-node", identifier="w", msg_type="Alert", status="active",
                            event="大风", level="blue", severity="Minor", sent=now_utc(),
                            expires=now_utc() + dt.timedelta(hours=2)))
        db.flush()
        db.add(WarningCommunity(warning_id=db.scalar(select(EarlyWarning.id)), community_code=A))
    assert live.for_community(A) is first
    clock[0] += BOARD_CACHE_SECONDS + 0.01
    assert len(live.for_community(A)["warnings"]) == 1
    today = now_china().replace(tzinfo=None)
    notice(ctx, "今天的通知", start=today - dt.timedelta(hours=1), end=today + dt.timedelta(days=1),
           publish_at=now_utc())  # made on this node: the board is cleared when it commits
    assert [n["title"] for n in live.for_community(A)["notices"]] == ["今天的通知"]
    b_board = live.for_community(B)
    live.invalidate(A)
    assert live.for_community(B) is b_board  # only A's cache was cleared
    assert live.for_community(None)["community"] == "default"  # no code: the default community
    assert ctx.bulletins is ctx.bulletins  # one board per process


def test_dates_text() -> None:
    assert dates_text(dt.datetime(2026, 12, 5, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 5, 10, tzinfo=dt.UTC)) \
        == "12月5日 08:00 至 18:00"
