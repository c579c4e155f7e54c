"""The fixed list of departments (``departments`` in the orders config) for choosing, never typing, one."""

from __future__ import annotations

from fastapi import Request

from assistant.handoff.policy import OrderPolicy, policy_from_settings


def departments_of(policy: OrderPolicy) -> list[str]:
    """The policy's department list; older configs without one fall back to every department they name."""
    listed = getattr(policy, "departments", None)
    if listed:
        return list(listed)
    named = {policy.default_department, *policy.local_departments, *policy.category_routes.values(),
             *policy.topic_routes.values()}
    return sorted(n for n in named if n)


def department_choices(request: Request) -> list[str]:
    """From the policy the running engine files orders with (the same list the work orders use)."""
    engine = getattr(request.app.state, "engine", None)
    policy = getattr(getattr(engine, "handoff", None), "policy", None)
    if policy is None:
        policy = policy_from_settings(request.app.state.context.settings)
    return departments_of(policy)
