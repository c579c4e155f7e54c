"""The one scoping rule (assistant.communities.scope) applied by the handoff, order, alert, unanswered and
statistics code, on SQLite and PostgreSQL: a community worker sees their community's records only, city staff
see all, a department sees what is routed to it from every community; events name their community."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from community_testkit import A, B, Seeded, add_communities, seed
from console_testkit import module_console_settings

from assistant.auth.deps import StaffUser
from assistant.communities import DEFAULT_CODE
from assistant.communities.scope import channel_community, community_of, event_for, event_visible, visible
from assistant.console import exports
from assistant.console.clustering import load_open
from assistant.console.community_rollup import rollup
from assistant.console.emergency_stats import emergencies
from assistant.console.stats import compute, default_period
from assistant.console.unanswered import open_count, weekly_counts
from assistant.context import AppContext, create_context
from assistant.events.bus import ALERT_RAISED, MESSAGE, QUEUE_CHANGED
from assistant.handoff import NotFound, alerts, inbox, push, queries
from assistant.handoff.live import HandoffService
from assistant.storage.db import session_scope

WORKER_A = StaffUser("wa", "staff", "", A)
WORKER_B = StaffUser("wb", "staff", "", B)
CITY = StaffUser("city", "staff", "", None)
DEPARTMENT = StaffUser("dept", "department", "民政", A)  # a department sees its orders of every community


@pytest.fixture(scope="module")
def world(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppContext, Seeded]]:
    directory: Path = tmp_path_factory.mktemp("scope-var")
    context = create_context(module_console_settings(directory, database_url=module_db_url))
    try:
        add_communities(context)
        yield context, seed(context)
    finally:
        context.close()


def test_who_is_limited_to_what() -> None:
    assert community_of(WORKER_A) == A and community_of(CITY) is None
    assert community_of(DEPARTMENT) is None  # scoped by department, not community
    row_b = SimpleNamespace(community_code=B)
    assert visible(row_b, CITY) and visible(row_b, WORKER_B) and not visible(row_b, WORKER_A)
    assert event_visible({"community": A}, WORKER_A) and not event_visible({"community": B}, WORKER_A)
    assert event_visible({"community": B}, CITY) and event_visible({"kb": "published"}, WORKER_A)


def test_handoffs_queue_counts_and_detail(world: tuple[AppContext, Seeded]) -> None:
    context, seeded = world
    service = HandoffService(context.settings)
    with session_scope(context.sessions) as db:
        numbers = {user.username: {item.queue_number for item in inbox.queue(db, service, who=user)}
                   for user in (WORKER_A, WORKER_B, CITY)}
        assert numbers == {"wa": {"A001"}, "wb": {"B001"}, "city": {"A001", "B001"}}
        assert sum(inbox.counts(db, WORKER_A).values()) == 1 and sum(inbox.counts(db, CITY).values()) == 2
        assert push.waiting_counts(db, A)["waiting"] == 1 and push.waiting_counts(db)["waiting"] == 2
        assert inbox.get(db, seeded.handoff[A], WORKER_A).queue_number == "A001"
        with pytest.raises(NotFound):
            inbox.get(db, seeded.handoff[B], WORKER_A)


def test_orders_alerts_and_unanswered(world: tuple[AppContext, Seeded]) -> None:
    context, _seeded = world
    with session_scope(context.sessions) as db:
        def numbers(user: StaffUser, department: str | None = None) -> set[str]:
            return {o.number for o in queries.list_orders(db, "all", department=department, who=user)}

        assert numbers(WORKER_A) == {"GDA0001"} and numbers(CITY) == {"GDA0001", "GDB0001"}
        assert numbers(DEPARTMENT, "民政") == {"GDA0001", "GDB0001"}
        assert [a["text"] for a in alerts.open_alerts(db, who=WORKER_B)] == ["亭洪有人摔倒"]
        assert len(alerts.recent_alerts(db, who=CITY)) == 2
        assert [r.query for r in load_open(db, who=WORKER_A)] == ["竹溪的路灯坏了找谁"]
        assert open_count(db, WORKER_A) == 1 and open_count(db, CITY) == 2
        assert sum(n for _w, n in weekly_counts(db, who=WORKER_B)) == 1


def test_an_alert_of_b_cannot_be_acknowledged_by_a(world: tuple[AppContext, Seeded]) -> None:
    context, seeded = world
    with session_scope(context.sessions) as db:
        refused = alerts.acknowledge(db, context.events, seeded.alert[B], "wa", who=WORKER_A)
    assert not refused.ok and refused.alert is None and refused.message == "没有这条紧急求助。"


def test_statistics_and_exports_per_community(world: tuple[AppContext, Seeded]) -> None:
    context, _seeded = world
    period = default_period()
    with session_scope(context.sessions) as db:
        city = compute(db, period, {})
        period.community = A
        only_a = compute(db, period, {})
        alerts_a = emergencies(db, period.since, period.until, "", A)
        _header, orders_a = exports.work_order_rows(db, period.since, period.until, WORKER_A, None, False, "", A)
        _header, orders_dept = exports.work_order_rows(db, period.since, period.until, DEPARTMENT, None, False, "",
                                                       None)
        _header, unanswered_b = exports.unanswered_rows(db, period.since, period.until, "", B)
        period.community = None
        table = rollup(db, period, [(A, "竹溪"), (B, "亭洪")])
    assert (city.conversations, city.replies) == (3, 5) and (only_a.conversations, only_a.replies) == (2, 3)
    assert only_a.orders_total == 1 and alerts_a.total == 1
    assert [r[0] for r in orders_a] == ["GDA0001"] and len(orders_dept) == 2
    assert [r[4] for r in unanswered_b] == ["亭洪的垃圾站什么时候修"]
    rows = {row.code: row for row in table}
    assert (rows[A].conversations, rows[A].replies, rows[A].answered, rows[A].handoffs) == (2, 3, 2, 1)
    assert (rows[B].conversations, rows[B].open_orders, rows[B].open_emergencies, rows[B].unanswered) == (1, 1, 1, 1)
    assert rows[A].answer_rate == pytest.approx(2 / 3) and rows[B].answer_rate == pytest.approx(0.5)
    assert table[-1].label == "合计" and table[-1].conversations == 3 and table[-1].handoffs == 2


def test_events_name_their_community(world: tuple[AppContext, Seeded]) -> None:
    context, seeded = world
    raised = {e.data["id"]: e.data for e in context.events.since(0, limit=1000) if e.kind == ALERT_RAISED}
    assert raised[seeded.alert[A]]["community"] == A and raised[seeded.alert[B]]["community"] == B
    start = context.events.latest()
    with session_scope(context.sessions) as db:
        push.track(db, context.events)
        request = inbox.get(db, seeded.handoff[B])
        push.queue_changed(db, request.community_code)
        push.message_added(db, request.session_id, request.id)
    published = {e.kind: e.data for e in context.events.since(start)}
    assert published[QUEUE_CHANGED] == {"waiting": 1, "serving": 0, "community": B,
                                         "city": {"waiting": 2, "serving": 0}}
    assert published[MESSAGE]["community"] == B
    # What each one receives: nothing of B for A's worker; B's own counts for B's; the city's for city staff.
    assert event_for(published[QUEUE_CHANGED], WORKER_A) is None
    assert event_for(published[QUEUE_CHANGED], WORKER_B) == {"waiting": 1, "serving": 0, "community": B}
    assert event_for(published[QUEUE_CHANGED], CITY) == {"waiting": 2, "serving": 0, "community": B}
    assert event_for(published[MESSAGE], WORKER_B) == published[MESSAGE]


def test_a_channel_account_serves_its_configured_community(world: tuple[AppContext, Seeded],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    context, _seeded = world
    default = context.communities.default_code
    as_configured = SimpleNamespace(settings=context.settings.model_copy(update={"wechat_community": B}),
                                    communities=context.communities)
    assert channel_community(as_configured, "wechat") == B
    assert channel_community(as_configured, "wecom") == default == DEFAULT_CODE
    wrong = SimpleNamespace(settings=context.settings.model_copy(update={"wecom_community": "nn-nowhere"}),
                            communities=context.communities)
    assert channel_community(wrong, "wecom") == default  # the channel keeps answering
    assert "wecom_community names no community" in caplog.text
