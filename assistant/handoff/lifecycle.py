"""The work-order lifecycle: 受理 → 派单 → 办理中 → 办结 → 回访 → 已评价, with 退单, 延期, 催办 and 重办.

Every action is checked against the current status and the actor's role (and, for department handlers,
their department) before anything changes; every change appends one ``WorkOrderEvent`` (actor, time,
from/to status, note), which is never updated or deleted. Events of orders that leave this console are
written to the outbox in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.handoff import IllegalTransition, InvalidInput, NotAllowed, NotFound
from assistant.handoff.models import WorkOrderExtension
from assistant.handoff.outbox import enqueue
from assistant.handoff.policy import OrderPolicy
from assistant.handoff.tickets import not_a_department
from assistant.storage.models import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

STATUSES = ("受理", "派单", "办理中", "办结", "回访", "已评价")
OPEN_STATUSES = ("受理", "派单", "办理中")  # the deadline runs
MAX_NOTE = 1000
MAX_EXTENSION_DAYS = 30


@dataclass(frozen=True)
class Rule:
    from_statuses: tuple[str, ...]
    to_status: str | None  # None: the status stays (催办, 延期)
    roles: frozenset[str]
    needs_note: bool = False
    label: str = ""


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names) | {"admin"}


# Department handlers act on their own department's orders; community staff may act for the community
# (and take a department's call by phone), so they share the department actions.
RULES: dict[str, Rule] = {
    "派单": Rule(("受理",), "派单", _roles("staff"), label="派给承办部门"),
    "签收": Rule(("派单",), "办理中", _roles("department", "staff"), label="签收并开始办理"),
    "退单": Rule(("派单", "办理中"), "受理", _roles("department", "staff"), needs_note=True,
                 label="退回重新派单（写明原因）"),
    "办结": Rule(("办理中",), "办结", _roles("department", "staff"), needs_note=True, label="办结（写明结果）"),
    "回访": Rule(("办结",), "回访", _roles("staff"), label="回访居民"),
    "评价": Rule(("回访",), "已评价", _roles("staff"), label="记录居民评价"),
    "重办": Rule(("已评价",), "办理中", _roles("staff", "approver"), needs_note=True,
                 label="不满意，重新办理"),
    "催办": Rule(("派单", "办理中"), None, _roles("staff", "approver"), label="催办"),
    "申请延期": Rule(("派单", "办理中"), None, _roles("department", "staff"), needs_note=True, label="申请延期"),
    "批准延期": Rule(("派单", "办理中"), None, _roles("approver"), label="批准延期"),
    "驳回延期": Rule(("派单", "办理中"), None, _roles("approver"), needs_note=True, label="驳回延期"),
}
ACTIONS = tuple(RULES)


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    department: str = ""

    @classmethod
    def of(cls, user: object) -> Actor:
        """From the console's ``StaffUser`` (username, role, department)."""
        return cls(str(user.username), str(user.role), str(getattr(user, "department", "") or ""))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_allowed(order: WorkOrder, action: str, actor: Actor) -> bool:
    rule = RULES.get(action)
    if rule is None or order.status not in rule.from_statuses or actor.role not in rule.roles:
        return False
    if actor.role == "department" and actor.department != order.department:
        return False
    # 重办 only follows a follow-up where the resident said they were not satisfied.
    return action != "重办" or order.rating == 0


def available_actions(db: Session, order: WorkOrder, actor: Actor) -> list[str]:
    pending = pending_extension(db, order)
    result = []
    for action in ACTIONS:
        if not is_allowed(order, action, actor):
            continue
        if action in ("批准延期", "驳回延期") and pending is None:
            continue
        if action == "申请延期" and pending is not None:
            continue
        result.append(action)
    return result


def pending_extension(db: Session, order: WorkOrder) -> WorkOrderExtension | None:
    return db.scalar(select(WorkOrderExtension).where(WorkOrderExtension.order_id == order.id,
                                                      WorkOrderExtension.status == "待审批")
                     .order_by(WorkOrderExtension.id.desc()).limit(1))


def get_order(db: Session, number: str, *, for_update: bool = False) -> WorkOrder:
    query = select(WorkOrder).where(WorkOrder.number == number.strip().upper())
    if for_update:
        query = query.with_for_update()
    order = db.scalar(query)
    if order is None:
        raise NotFound(f"没有工单 {number}")
    return order


def transition(db: Session, order: WorkOrder, action: str, actor: Actor, policy: OrderPolicy, *,
               note: str = "", department: str | None = None, days: int | None = None,
               satisfied: bool | None = None, now: dt.datetime | None = None) -> WorkOrderEvent:
    """Applies one action; raises ``IllegalTransition``, ``NotAllowed`` or ``InvalidInput`` without changing
    anything when it may not happen."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)  # stored as UTC (SQLite keeps no zone)
    rule = RULES.get(action)
    if rule is None:
        raise InvalidInput(f"没有“{action}”这个操作")
    note = (note or "").strip()
    if order.status not in rule.from_statuses:
        raise IllegalTransition(f"工单{order.number}现在是“{order.status}”，不能{action}")
    if actor.role not in rule.roles:
        raise NotAllowed(f"您的角色不能{action}")
    if actor.role == "department" and actor.department != order.department:
        raise NotAllowed(f"这张工单由{order.department}承办，您不能{action}")
    if rule.needs_note and not note:
        raise InvalidInput(f"{action}需要写明原因或结果")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"说明太长了，请不要超过{MAX_NOTE}个字")
    if action == "重办" and order.rating != 0:
        raise IllegalTransition("只有居民回访不满意的工单才能重办")

    from_status = order.status
    detail = note
    if action == "派单":
        if department is not None:
            department = department.strip()
            if not department:
                raise InvalidInput("请选择承办部门")
            if not policy.is_department(department):  # chosen from the fixed list, never typed
                raise InvalidInput(not_a_department(department))
            order.department = department
    elif action == "评价":
        if satisfied is None:
            raise InvalidInput("请选择居民是否满意")
        order.rating = 1 if satisfied else 0
        detail = ("满意" if satisfied else "不满意") + (f"：{note}" if note else "")
    elif action == "办结":
        order.resolved_at = now
    elif action == "重办":
        order.rating = None
        order.resolved_at = None
        order.due_at = policy.due_at(now, order.deadline_days or policy.deadline_days(order.category))
    elif action == "催办":
        order.reminders = (order.reminders or 0) + 1
    elif action == "申请延期":
        detail = _request_extension(db, order, actor, days, note, now)
    elif action in ("批准延期", "驳回延期"):
        detail = _decide_extension(db, order, actor, action == "批准延期", note, policy, now)
    if rule.to_status is not None:
        order.status = rule.to_status
    order.updated_at = now
    event = WorkOrderEvent(order_id=order.id, actor=actor.name, from_status=from_status,
                           to_status=order.status, note=detail, at=now)
    event.action = action
    db.add(event)
    if policy.delivers_to(order.department):
        enqueue(db, order, event)
    log.info("work order %s: %s by %s (%s → %s)", order.number, action, actor.role, from_status, order.status)
    return event


def _request_extension(db: Session, order: WorkOrder, actor: Actor, days: int | None, reason: str,
                       now: dt.datetime) -> str:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise InvalidInput(f"延期天数要在1到{MAX_EXTENSION_DAYS}个工作日之间")
    if pending_extension(db, order) is not None:
        raise IllegalTransition("已经有一个延期申请在等待审批")
    db.add(WorkOrderExtension(order_id=order.id, requested_by=actor.name, days=days, reason=reason,
                              status="待审批", requested_at=now, decision_note="",
                              previous_due_at=order.due_at))
    return f"申请延期{days}个工作日：{reason}"


def _decide_extension(db: Session, order: WorkOrder, actor: Actor, approve: bool, note: str,
                      policy: OrderPolicy, now: dt.datetime) -> str:
    request = pending_extension(db, order)
    if request is None:
        raise IllegalTransition("没有待审批的延期申请")
    if request.requested_by == actor.name:
        raise NotAllowed("不能审批自己提出的延期申请")
    request.status = "已批准" if approve else "已驳回"
    request.decided_by = actor.name
    request.decided_at = now
    request.decision_note = note
    if not approve:
        return f"驳回延期：{note}"
    base = _utc(order.due_at) or now
    order.due_at = policy.due_at(max(base, now), request.days)
    request.new_due_at = order.due_at
    return f"批准延期{request.days}个工作日" + (f"：{note}" if note else "")


def history(db: Session, order: WorkOrder) -> list[WorkOrderEvent]:
    return list(db.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id)
                           .order_by(WorkOrderEvent.id)))
