"""The work-order lifecycle: the whole path, every illegal transition, roles, extensions, append-only history."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from handoff_testkit import CIPHER, TUESDAY, migrated
from sqlalchemy import select

from assistant.handoff import IllegalTransition, InvalidInput, NotAllowed
from assistant.handoff.calendar import CHINA
from assistant.handoff.lifecycle import (
    ACTIONS,
    RULES,
    STATUSES,
    Actor,
    available_actions,
    history,
    transition,
)
from assistant.handoff.models import OutboxMessage
from assistant.handoff.policy import load_policy
from assistant.handoff.queries import deadline_state, list_orders, public_view
from assistant.handoff.tickets import create_work_order
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder, WorkOrderEvent

STAFF = Actor("sam", "staff")
APPROVER = Actor("amy", "approver")
ADMIN = Actor("ada", "admin")
MINZHENG = Actor("dan", "department", "民政")
RENSHE = Actor("ren", "department", "人社")

# Written out independently of RULES: (status before, status after) of every action that changes status.
EXPECTED_MOVES = {"派单": ("受理", "派单"), "签收": ("派单", "办理中"), "退单": ("派单|办理中", "受理"),
                  "办结": ("办理中", "办结"), "回访": ("办结", "回访"), "评价": ("回访", "已评价"),
                  "重办": ("已评价", "办理中"), "催办": ("派单|办理中", None), "申请延期": ("派单|办理中", None),
                  "批准延期": ("派单|办理中", None), "驳回延期": ("派单|办理中", None)}


@pytest.fixture
def factory(db_url):
    with migrated(db_url) as sessions:
        yield sessions


@pytest.fixture
def policy():
    return load_policy()


def new_order(db, policy, description="申请上门助浴服务", **kwargs) -> WorkOrder:
    kwargs.setdefault("now", TUESDAY)
    kwargs.setdefault("department", "民政")
    return create_work_order(db, CIPHER, source="report_issue", description=description, contact="13800138000",
                             category="社区事务", policy=policy, **kwargs)


def act(db, order, action, actor, policy, **kwargs):
    kwargs.setdefault("note", "说明")
    kwargs.setdefault("now", TUESDAY + dt.timedelta(hours=1))
    return transition(db, order, action, actor, policy, **kwargs)


def test_the_whole_lifecycle_with_return_reminder_extension_and_reopen(factory, policy):
    with session_scope(factory) as db:
        order = new_order(db, policy)
        assert order.status == "受理" and order.number.startswith("GX20260310")
        assert order.due_at.astimezone(CHINA) == dt.datetime(2026, 3, 13, 18, 0, tzinfo=CHINA)  # 3 working days
        assert order.contact_masked == "138****8000" and "13800138000" not in order.contact_encrypted
        assert CIPHER.decrypt(order.contact_encrypted) == "13800138000"
        act(db, order, "派单", STAFF, policy, department="民政")
        act(db, order, "退单", MINZHENG, policy, note="不属于民政职责")
        assert order.status == "受理"
        act(db, order, "派单", STAFF, policy, department="民政")
        act(db, order, "签收", MINZHENG, policy)
        act(db, order, "催办", STAFF, policy)
        act(db, order, "催办", APPROVER, policy)
        assert order.reminders == 2 and order.status == "办理中"
        act(db, order, "申请延期", MINZHENG, policy, days=2, note="需要采购灯具")
        before = order.due_at
        act(db, order, "批准延期", APPROVER, policy, note="同意")
        assert order.due_at.astimezone(CHINA) == dt.datetime(2026, 3, 17, 18, 0, tzinfo=CHINA)  # Fri + 2 → Tue
        assert order.due_at > before
        act(db, order, "办结", MINZHENG, policy, note="已更换灯具")
        act(db, order, "回访", STAFF, policy)
        act(db, order, "评价", STAFF, policy, satisfied=False, note="还有一盏不亮")
        assert (order.status, order.rating) == ("已评价", 0)
        act(db, order, "重办", STAFF, policy, note="居民不满意，重新办理", now=TUESDAY + dt.timedelta(days=7))
        assert order.status == "办理中" and order.rating is None
        assert order.due_at.astimezone(CHINA).date() == dt.date(2026, 3, 20)  # 3 working days from the reopen
        act(db, order, "办结", STAFF, policy, note="全部修好")
        act(db, order, "回访", STAFF, policy)
        act(db, order, "评价", STAFF, policy, satisfied=True)
        assert order.status == "已评价" and order.rating == 1
        with pytest.raises(IllegalTransition):
            act(db, order, "重办", STAFF, policy)  # satisfied: nothing to reopen
        events = history(db, order)
        assert [e.action for e in events] == ["受理", "派单", "退单", "派单", "签收", "催办", "催办", "申请延期",
                                              "批准延期", "办结", "回访", "评价", "重办", "办结", "回访", "评价"]
        assert events[2].actor == "dan" and events[2].note == "不属于民政职责"
        assert all(e.at is not None for e in events)
        assert [e.to_status for e in events][-1] == "已评价"
        view = public_view(db, order.number)
        assert view is not None and view.finished and "13800138000" not in repr(view)
        assert [s.status for s in view.steps][:3] == ["受理", "派单", "受理"]


def _order_in(db, policy, status: str) -> WorkOrder:
    order = new_order(db, policy)
    order.status = status
    order.rating = 0 if status == "已评价" else None
    return order


ILLEGAL = [(a, s) for a, s in itertools.product(ACTIONS, STATUSES) if s not in EXPECTED_MOVES[a][0].split("|")]


def test_every_illegal_transition_is_refused_and_changes_nothing(factory, policy):
    assert len(ILLEGAL) == 50
    with session_scope(factory) as db:
        for action, status in ILLEGAL:
            order = _order_in(db, policy, status)
            events = len(history(db, order))
            with pytest.raises(IllegalTransition):
                act(db, order, action, ADMIN, policy, days=2, satisfied=True)
            assert (order.status, len(history(db, order))) == (status, events), (action, status)


def test_the_rules_match_the_expected_moves():
    for action, (before, after) in EXPECTED_MOVES.items():
        assert set(RULES[action].from_statuses) == set(before.split("|")), action
        assert RULES[action].to_status == after, action
    assert set(RULES) == set(EXPECTED_MOVES)


WRONG_ROLES = [
    ("派单", "受理", MINZHENG), ("派单", "受理", APPROVER),
    ("签收", "派单", APPROVER), ("签收", "派单", RENSHE),  # another department's order
    ("办结", "办理中", APPROVER), ("办结", "办理中", RENSHE),
    ("回访", "办结", MINZHENG), ("评价", "回访", MINZHENG), ("重办", "已评价", MINZHENG),
    ("催办", "办理中", MINZHENG), ("批准延期", "办理中", STAFF), ("批准延期", "办理中", MINZHENG),
]


def test_wrong_roles_are_refused(factory, policy):
    with session_scope(factory) as db:
        for action, status, actor in WRONG_ROLES:
            order = _order_in(db, policy, status)
            with pytest.raises(NotAllowed):
                act(db, order, action, actor, policy, satisfied=True)
            assert order.status == status


def test_notes_days_and_ratings_are_checked(factory, policy):
    with session_scope(factory) as db:
        order = _order_in(db, policy, "办理中")
        with pytest.raises(InvalidInput):
            act(db, order, "退单", MINZHENG, policy, note="  ")
        with pytest.raises(InvalidInput):
            act(db, order, "办结", MINZHENG, policy, note="x" * 1001)
        for days in (0, 31, None, True):
            with pytest.raises(InvalidInput):
                act(db, order, "申请延期", MINZHENG, policy, days=days)
        with pytest.raises(InvalidInput):
            act(db, order, "不存在的操作", ADMIN, policy)
        with pytest.raises(IllegalTransition):
            act(db, order, "批准延期", APPROVER, policy)  # nothing requested
        act(db, order, "申请延期", Actor("amy", "admin"), policy, days=3)
        with pytest.raises(IllegalTransition):
            act(db, order, "申请延期", MINZHENG, policy, days=1)  # one request at a time
        with pytest.raises(NotAllowed):
            act(db, order, "批准延期", Actor("amy", "approver"), policy)  # nobody approves their own request
        due = order.due_at
        act(db, order, "驳回延期", APPROVER.__class__("bob", "approver"), policy, note="请按期办结")
        assert order.due_at == due
        assert "批准延期" not in available_actions(db, order, APPROVER)
        order.status = "回访"
        with pytest.raises(InvalidInput):
            act(db, order, "评价", STAFF, policy, satisfied=None)


def test_available_actions_follow_role_and_department(factory, policy):
    with session_scope(factory) as db:
        order = _order_in(db, policy, "派单")
        assert available_actions(db, order, MINZHENG) == ["签收", "退单", "申请延期"]
        assert available_actions(db, order, RENSHE) == []
        assert available_actions(db, order, APPROVER) == ["催办"]
        assert "签收" in available_actions(db, order, STAFF)


def test_history_rows_are_append_only(factory, policy):
    with session_scope(factory) as db:
        order = new_order(db, policy)
        act(db, order, "派单", STAFF, policy)
        first = [(e.id, e.action, e.actor, e.to_status, e.note) for e in history(db, order)]
        act(db, order, "签收", MINZHENG, policy)
        again = [(e.id, e.action, e.actor, e.to_status, e.note) for e in history(db, order)]
        assert again[: len(first)] == first and len(again) == len(first) + 1
        assert db.scalar(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id,
                                                      WorkOrderEvent.action == "签收")).actor == "dan"


def test_near_due_and_overdue_lists(factory, policy):
    with session_scope(factory) as db:
        hazard = new_order(db, policy, "楼道电线漏电，很危险")  # 1 working day: due Wed 18:00
        ordinary = new_order(db, policy, "想问问社区活动室开放时间")  # 3 working days: due Fri 18:00
        done = new_order(db, policy, "井盖松动了")
        done.status = "办结"
        wednesday_noon = dt.datetime(2026, 3, 11, 12, 0, tzinfo=CHINA)
        thursday_noon = dt.datetime(2026, 3, 12, 19, 0, tzinfo=CHINA)  # hazard overdue, Friday 18:00 within 24 h
        assert [o.number for o in list_orders(db, "near_due", now=wednesday_noon)] == [hazard.number]
        assert list_orders(db, "overdue", now=wednesday_noon) == []
        assert [o.number for o in list_orders(db, "overdue", now=thursday_noon)] == [hazard.number]
        assert [o.number for o in list_orders(db, "near_due", now=thursday_noon)] == [ordinary.number]
        assert deadline_state(hazard, thursday_noon) == "overdue"
        assert deadline_state(done, thursday_noon) == "closed"
        assert hazard.department == "社区"  # safety hazards are routed to the community by the shipped table
        assert [o.number for o in list_orders(db, "open", now=thursday_noon, department="民政")] == [ordinary.number]
        assert [o.number for o in list_orders(db, "open", now=thursday_noon)] == [hazard.number, ordinary.number]


def test_events_for_other_departments_go_to_the_outbox_in_the_same_transaction(factory):
    delivering = load_policy(deliver=True)
    with session_scope(factory) as db:
        order = new_order(db, delivering)  # 民政: delivered
        act(db, order, "派单", STAFF, delivering)
        local = new_order(db, delivering, department="社区")  # handled in the console: nothing queued
        act(db, local, "派单", STAFF, delivering)
    with session_scope(factory) as db:
        rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.order_number, r.event) for r in rows] == [(order.number, "created"), (order.number, "dispatched")]
        assert len({r.idempotency_key for r in rows}) == 2
        assert all("13800138000" not in str(r.payload) for r in rows)  # no personal data stored in the outbox
