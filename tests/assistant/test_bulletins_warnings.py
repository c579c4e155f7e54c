"""Ingesting warnings: new, duplicate (also two at once), update, cancel, expired, not Actual, no area; manual
warnings and their scope; staff alerts per community, never escalated; area matching as a pure function."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from assistant.auth.deps import StaffUser
from assistant.bulletins import WARNING_ALERT_KIND
from assistant.bulletins.areas import Place, covered, normalise_code
from assistant.bulletins.cap import CapAlert, CapArea
from assistant.bulletins.models import EarlyWarning
from assistant.bulletins.warnings import (
    IngestResult,
    ManualWarning,
    WarningError,
    cancel_warning,
    expire_warnings,
    ingest,
    issue_manual,
    list_warnings,
)
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.events.bus import BULLETIN_CHANGED
from assistant.handoff.alerts import escalate_overdue
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, AuditLog

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)  # 20:00 in China
A, B, C = "zhuxi", "tinghong", "changhu"
SENDER = "nnqxt@example.cn"


def cap(identifier: str, *, event: str = "暴雨", severity: str = "Severe", area: str = "南宁市青秀区",
        msg_type: str = "Alert", status: str = "Actual", hours: float = 12.0, sent: dt.datetime = NOW,
        references: tuple[tuple[str, str], ...] = (), geocodes: tuple[tuple[str, str], ...] = (),
        headline: str = "") -> CapAlert:
    return CapAlert(identifier=identifier, sender=SENDER, sent=sent, status=status, msg_type=msg_type, event=event,
                    severity=severity, urgency="Immediate", certainty="Likely",
                    headline=headline or f"南宁市气象台发布{event}预警信号", sender_name="南宁市气象台",
                    instruction="减少外出，远离低洼地带。", effective=sent, expires=sent + dt.timedelta(hours=hours),
                    areas=(CapArea(area, geocodes),), references=references)


def add_communities(context: AppContext) -> None:
    with session_scope(context.sessions) as db:
        import_community(db, A, {"name": "竹溪社区", "city": "南宁市", "area_codes": ["450103001001"]},
                         street="新竹街道", district="青秀区")
        import_community(db, C, {"name": "长湖社区", "city": "南宁市"}, street="新竹街道", district="青秀区")
        import_community(db, B, {"name": "亭洪社区", "city": "南宁市"}, street="亭洪街道", district="江南区")
    context.communities.invalidate()


@pytest.fixture
def ctx(db_settings: Settings) -> Iterator[AppContext]:
    context = create_context(db_settings)
    try:
        add_communities(context)
        yield context
    finally:
        context.close()


def run(context: AppContext, alert: CapAlert, now: dt.datetime = NOW, source: str = "cap") -> IngestResult:
    with session_scope(context.sessions) as db:
        return ingest(db, context.events, alert, source=source, settings=context.settings, now=now)


def warning_alerts(context: AppContext) -> list[tuple[str, str, str]]:
    with session_scope(context.sessions) as db:
        return [(a.session_id, a.community_code or "", a.text) for a in
                db.scalars(select(Alert).where(Alert.kind == WARNING_ALERT_KIND).order_by(Alert.id))]


def changes(context: AppContext) -> list[dict]:
    return [e.data for e in context.events.since(0, limit=1000) if e.kind == BULLETIN_CHANGED]


def status_of(context: AppContext, warning_id: int) -> str:
    with session_scope(context.sessions) as db:
        return db.get(EarlyWarning, warning_id).status


# ---------------------------------------------------------------- ingest (SQLite and PostgreSQL)

def test_a_new_warning_covers_its_district_and_alerts_each_community_once(ctx: AppContext) -> None:
    result = run(ctx, cap("rain-1"))
    assert (result.action, result.communities) == ("new", (C, A))  # sorted codes
    assert warning_alerts(ctx) == [(f"warning:{result.warning_id}", C, "南宁市气象台发布暴雨预警信号"),
                                   (f"warning:{result.warning_id}", A, "南宁市气象台发布暴雨预警信号")]
    assert changes(ctx) == [{"communities": [C, A], "all": False}]
    with session_scope(ctx.sessions) as db:
        row = db.get(EarlyWarning, result.warning_id)
        assert (row.level, row.status, row.source, row.sender_name) == ("orange", "active", "cap", "南宁市气象台")


def test_the_same_alert_twice_is_a_duplicate_and_changes_nothing(ctx: AppContext) -> None:
    first = run(ctx, cap("rain-1"))
    events = len(changes(ctx))
    again = run(ctx, cap("rain-1"), now=NOW + dt.timedelta(seconds=5))
    assert (again.action, again.warning_id) == ("duplicate", first.warning_id)
    assert len(warning_alerts(ctx)) == 2 and len(changes(ctx)) == events


def test_two_workers_ingesting_the_same_alert_at_once_store_it_once(ctx: AppContext) -> None:
    results: list[IngestResult] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        results.append(run(ctx, cap("typhoon-1", event="台风", severity="Extreme")))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.action for r in results) == ["duplicate", "new"]
    with session_scope(ctx.sessions) as db:
        assert db.scalar(select(func.count()).select_from(EarlyWarning)) == 1
    assert len(warning_alerts(ctx)) == 2  # one per covered community, not per delivery


def test_an_update_supersedes_the_old_warning_and_alerts_again(ctx: AppContext) -> None:
    old = run(ctx, cap("rain-1"))
    new = run(ctx, cap("rain-2", severity="Extreme", msg_type="Update", references=((SENDER, "rain-1"),),
                       headline="南宁市气象台将暴雨橙色预警升级为红色"), now=NOW + dt.timedelta(minutes=30))
    assert new.action == "updated"
    assert status_of(ctx, old.warning_id) == "superseded"
    with session_scope(ctx.sessions) as db:
        assert db.get(EarlyWarning, old.warning_id).superseded_by == new.warning_id
        assert db.get(EarlyWarning, new.warning_id).level == "red"
    assert [text for _, _, text in warning_alerts(ctx)][-1] == "南宁市气象台将暴雨橙色预警升级为红色"


def test_a_cancel_ends_the_warning_without_a_new_alert(ctx: AppContext) -> None:
    first = run(ctx, cap("rain-1"))
    result = run(ctx, cap("rain-1-cancel", msg_type="Cancel", references=((SENDER, "rain-1"),)))
    assert (result.action, result.warning_id) == ("cancelled", first.warning_id)
    assert set(result.communities) == {A, C}
    assert status_of(ctx, first.warning_id) == "cancelled"
    assert len(warning_alerts(ctx)) == 2
    assert changes(ctx)[-1]["communities"] == sorted([A, C])
    assert run(ctx, cap("rain-1-cancel", msg_type="Cancel", references=((SENDER, "rain-1"),))).action == "duplicate"


def test_a_cancel_of_an_unknown_warning_is_ignored(ctx: AppContext) -> None:
    result = run(ctx, cap("x-cancel", msg_type="Cancel", references=((SENDER, "never-seen"),)))
    assert (result.action, result.reason) == ("ignored", "unknown_reference")


def test_expired_test_and_exercise_alerts_are_ignored_and_not_stored(ctx: AppContext) -> None:
    assert run(ctx, cap("old", sent=NOW - dt.timedelta(hours=13))).reason == "expired"
    assert run(ctx, cap("drill", status="Exercise")).reason == "not_actual"
    assert run(ctx, cap("test", status="Test")).reason == "not_actual"
    with session_scope(ctx.sessions) as db:
        assert db.scalar(select(func.count()).select_from(EarlyWarning)) == 0
    assert warning_alerts(ctx) == [] and changes(ctx) == []


def test_a_warning_for_another_city_district_is_ignored_without_alerts(ctx: AppContext) -> None:
    result = run(ctx, cap("lz-1", area="柳州市城中区"))
    assert (result.action, result.reason, result.communities) == ("ignored", "no_area", ())
    assert warning_alerts(ctx) == []
    assert run(ctx, cap("lz-1", area="柳州市城中区")).action == "duplicate"  # the next poll is cheap


def test_a_geocode_covers_the_community_with_that_area_code(ctx: AppContext) -> None:
    result = run(ctx, cap("landslide-1", event="地质灾害", area="山体滑坡隐患点",
                          geocodes=(("行政区划代码", "450103001"),)))
    assert result.communities == (A,)


def test_below_the_configured_level_no_alert_is_raised(db_settings: Settings) -> None:
    context = create_context(db_settings.model_copy(update={"warning_min_level": "orange"}))
    try:
        add_communities(context)
        assert run(context, cap("blue-1", severity="Minor")).action == "new"
        assert warning_alerts(context) == []
        assert context.bulletins.for_community(A, now=NOW)["warnings"][0]["banner"] is False
        run(context, cap("red-1", severity="Extreme"))
        assert len(warning_alerts(context)) == 2
    finally:
        context.close()


def test_warning_alerts_are_never_escalated(ctx: AppContext) -> None:
    run(ctx, cap("rain-1"))
    with session_scope(ctx.sessions) as db:
        assert escalate_overdue(db, ctx.events, NOW + dt.timedelta(hours=2), 120) == []


def test_expire_warnings_marks_them_and_announces_the_change(ctx: AppContext) -> None:
    short = run(ctx, cap("short", hours=1))
    long = run(ctx, cap("long", area="南宁市江南区", hours=10))
    with session_scope(ctx.sessions) as db:
        assert expire_warnings(db, ctx.events, NOW + dt.timedelta(hours=2)) == [short.warning_id]
    assert status_of(ctx, short.warning_id) == "expired" and status_of(ctx, long.warning_id) == "active"
    assert changes(ctx)[-1] == {"communities": sorted([A, C]), "all": False}


# ---------------------------------------------------------------- manual warnings and staff actions

def manual(communities: tuple[str, ...], **changes_: object) -> ManualWarning:
    fields = {"event": "转移安置", "level": "red", "headline": "竹溪社区低洼地带居民请立即转移",
              "instruction": "请带好证件和药品，听从工作人员安排。", "assembly_point": "竹溪小学操场",
              "communities": communities, "expires_hours": 6.0}
    return ManualWarning(**{**fields, **changes_})  # type: ignore[arg-type]


def test_community_staff_issue_a_manual_warning_only_to_their_community(ctx: AppContext) -> None:
    worker = StaffUser("wa", "staff", community=A)
    with pytest.raises(WarningError, match="本社区"), session_scope(ctx.sessions) as db:
        issue_manual(db, ctx.events, worker, manual((B,)), ctx.settings, NOW)
    with pytest.raises(WarningError, match="角色"), session_scope(ctx.sessions) as db:
        issue_manual(db, ctx.events, StaffUser("dept", "department", "民政"), manual((A,)), ctx.settings, NOW)
    with session_scope(ctx.sessions) as db:
        result = issue_manual(db, ctx.events, worker, manual((A,)), ctx.settings, NOW)
    assert (result.action, result.communities) == ("new", (A,))
    assert warning_alerts(ctx) == [(f"warning:{result.warning_id}", A,
                                    "竹溪社区低洼地带居民请立即转移（集合地点：竹溪小学操场）")]
    with session_scope(ctx.sessions) as db:
        row = db.get(EarlyWarning, result.warning_id)
        assert (row.source, row.issued_by, row.sender, row.level) == ("manual", "wa", "shequ:wa", "red")
        assert db.scalar(select(AuditLog.action).where(AuditLog.target == f"warning:{row.id}")) == "warning.issue"
    board = ctx.bulletins.for_community(A, now=NOW)
    assert "集合地点：竹溪小学操场" in board["warnings"][0]["banner_text"]
    assert ctx.bulletins.for_community(B, now=NOW)["warnings"] == []


def test_city_staff_issue_to_several_communities_and_bad_forms_are_refused(ctx: AppContext) -> None:
    city = StaffUser("city", "staff")
    with session_scope(ctx.sessions) as db:
        assert issue_manual(db, ctx.events, city, manual((A, B)), ctx.settings, NOW).communities == (B, A)
    with session_scope(ctx.sessions) as db:
        assert set(list_warnings(db, city, now=NOW)[0]["communities"]) == {A, B}
    with session_scope(ctx.sessions) as db:
        before = len(list_warnings(db, city, now=NOW))
    for bad in (manual(()), manual((A,), level="purple"), manual((A,), expires_hours=0),
                manual((A,), expires_hours=500), manual(("nowhere",)), manual((A, "nowhere")),
                manual((A,), instruction="请" * 301), manual((A,), event=" ")):
        with pytest.raises(WarningError), session_scope(ctx.sessions) as db:
            issue_manual(db, ctx.events, city, bad, ctx.settings, NOW)
    with session_scope(ctx.sessions) as db:
        assert len(list_warnings(db, city, now=NOW)) == before  # nothing of a refused warning is kept


def test_cancelling_a_warning_obeys_scope(ctx: AppContext) -> None:
    worker_a, worker_b, city = StaffUser("wa", "staff", community=A), StaffUser("wb", "staff", community=B), \
        StaffUser("city", "approver")
    with session_scope(ctx.sessions) as db:
        own = issue_manual(db, ctx.events, worker_a, manual((A,)), ctx.settings, NOW).warning_id
    rain = run(ctx, cap("rain-1")).warning_id
    with pytest.raises(WarningError, match="找不到"), session_scope(ctx.sessions) as db:
        cancel_warning(db, ctx.events, worker_b, own, ctx.settings, NOW)
    with pytest.raises(WarningError, match="市里"), session_scope(ctx.sessions) as db:
        cancel_warning(db, ctx.events, worker_a, rain, ctx.settings, NOW)
    with session_scope(ctx.sessions) as db:
        cancel_warning(db, ctx.events, worker_a, own, ctx.settings, NOW)
        cancel_warning(db, ctx.events, city, rain, ctx.settings, NOW)
    assert status_of(ctx, own) == status_of(ctx, rain) == "cancelled"
    with pytest.raises(WarningError, match="已经解除"), session_scope(ctx.sessions) as db:
        cancel_warning(db, ctx.events, city, rain, ctx.settings, NOW)
    assert ctx.bulletins.for_community(A, now=NOW)["warnings"] == []


def test_list_warnings_is_scoped_and_hides_past_ones_by_default(ctx: AppContext) -> None:
    run(ctx, cap("rain-1"))  # 青秀区: A and C
    run(ctx, cap("jn-1", area="南宁市江南区", hours=1))  # B, expires soon
    with session_scope(ctx.sessions) as db:
        assert [w["area"] for w in list_warnings(db, StaffUser("wb", "staff", community=B), now=NOW)] \
            == ["南宁市江南区"]
        assert len(list_warnings(db, StaffUser("city", "staff"), now=NOW)) == 2
        later = NOW + dt.timedelta(hours=2)
        assert len(list_warnings(db, StaffUser("city", "staff"), now=later)) == 1
        assert len(list_warnings(db, StaffUser("city", "staff"), now=later, include_past=True)) == 2


# ---------------------------------------------------------------- area matching (pure function)

PLACES = [
    Place(A, "竹溪社区", "新竹街道", "青秀区", city="南宁市", area_codes=("450103001001",)),
    Place(C, "长湖社区", "新竹街道", "青秀区", city="南宁市"),
    Place("jinhu", "金湖社区", "金湖街道", "青秀区", city="南宁市"),
    Place(B, "亭洪社区", "亭洪街道", "江南区", city="南宁市"),
    Place("liuzhou", "城中社区", "城中街道", "城中区", city="柳州市"),
    Place("nocity", "某某社区", "", ""),
]


@pytest.mark.parametrize(("description", "geocodes", "expected"), [
    ("南宁市青秀区", (), {A, C, "jinhu"}),
    ("南宁市青秀区新竹街道", (), {A, C}),
    ("南宁市青秀区新竹街道竹溪社区", (), {A}),
    ("竹溪", (), {A}),
    ("南宁市江南区、青秀区金湖街道", (), {B, "jinhu"}),
    ("南宁市", (), {A, C, "jinhu", B, "nocity"}),  # city-wide: its communities and those with no city
    ("南宁市全市", (), {A, C, "jinhu", B, "nocity"}),
    ("柳州市", (), {"liuzhou", "nocity"}),
    ("广西壮族自治区", (), {A, C, "jinhu", B, "liuzhou", "nocity"}),
    ("柳州市柳南区", (), set()),  # a district we do not have is not ours
    ("", (("行政区划代码", "450103"),), {A}),
    ("", (("行政区划代码", "450100"),), {A}),  # the city's code covers its districts' codes
    ("", (("行政区划代码", "450102"),), set()),
    ("", (("shequ_community", B),), {B}),
    ("不知道哪里", (), set()),
])
def test_area_matching(description: str, geocodes: tuple[tuple[str, str], ...], expected: set[str]) -> None:
    assert set(covered([CapArea(description, geocodes)], PLACES)) == expected


def test_several_areas_cover_their_union_and_codes_lose_trailing_zero_groups() -> None:
    assert set(covered([CapArea("南宁市江南区"), CapArea("竹溪社区")], PLACES)) == {A, B}
    assert [normalise_code(c) for c in ("450100", "450000", "450103", "450103001000", "450103001001")] == \
        ["4501", "45", "450103", "450103001", "450103001001"]


def test_an_installation_that_never_said_where_it_is_gets_every_warning_of_its_feed() -> None:
    from assistant.bulletins.areas import COMMUNITY_GEOCODE

    alone = [Place(code="default", name="某某社区")]
    assert covered([CapArea("南宁市青秀区")], alone) == ("default",)
    assert covered([CapArea("", ((COMMUNITY_GEOCODE, "other"),))], alone) == ()  # aimed elsewhere by code
    placed = [*alone, Place(code="zx", district="青秀区")]  # once one community has a place, places decide
    assert covered([CapArea("南宁市青秀区")], placed) == ("zx",)
