"""Two communities with one of everything each, for the community-scoping tests (not a test module itself).

Community A (竹溪) and community B (亭洪) each get a conversation with bot replies, a queued handoff, a work
order routed to 民政, an emergency alert (raised the real way, so its event is published) and an open
unanswered question. A has more replies and one more conversation, so the per-community figures differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from assistant.auth.service import create_account
from assistant.communities.directory import import_community
from assistant.context import AppContext
from assistant.handoff import alerts
from assistant.handoff.live import QUEUED
from assistant.storage.db import session_scope
from assistant.storage.models import ChatSession, HandoffRequest, Turn, UnansweredQuery, WorkOrder

A, B = "nn-zhuxi", "nn-tinghong"
ZHUXI = {"name": "竹溪社区", "phone": "0771-0000001"}
TINGHONG = {"name": "亭洪社区", "phone": "0771-0000003"}
PASSWORD = "correct-horse-battery"
# (username, role, department, community): community workers of A and B, a city-wide staff member, a
# department handler (民政, no community), an administrator of A only and a city administrator.
COMMUNITY_ACCOUNTS = [("wa", "staff", "", A), ("wb", "staff", "", B), ("city", "staff", "", None),
                      ("dept", "department", "民政", None), ("admin-a", "admin", "", A), ("boss", "admin", "", None)]
QUESTION = {A: "竹溪的路灯坏了找谁", B: "亭洪的垃圾站什么时候修"}
ALERT_TEXT = {A: "竹溪楼道冒烟", B: "亭洪有人摔倒"}


@dataclass
class Seeded:
    handoff: dict[str, int]
    order: dict[str, str]
    alert: dict[str, int]
    queue_number: dict[str, str]


def add_communities(context: AppContext) -> None:
    with session_scope(context.sessions) as db:
        import_community(db, A, ZHUXI, street="新竹街道", district="青秀区")
        import_community(db, B, TINGHONG, street="亭洪街道", district="江南区")
    context.communities.invalidate()


def add_accounts(context: AppContext) -> None:
    with session_scope(context.sessions) as db:
        for username, role, department, community in COMMUNITY_ACCOUNTS:
            create_account(db, username, role, PASSWORD, department=department, actor="test", community=community)


def seed(context: AppContext, now: dt.datetime | None = None) -> Seeded:
    """One of everything in each community (see the module's docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    seeded = Seeded({}, {}, {}, {})
    for code, letter, replies in ((A, "A", ("answer", "answer", "fallback")), (B, "B", ("answer", "fallback"))):
        with session_scope(context.sessions) as db:
            session_id = f"sess-{letter}"
            db.add(ChatSession(id=session_id, channel="web", community_code=code, created_at=now))
            db.flush()
            for action in replies:
                db.add(Turn(session_id=session_id, channel="web", user_text="问", action=action, reply_text="答",
                            created_at=now))
            request = HandoffRequest(session_id=session_id, channel="web", queue_number=f"{letter}001",
                                     status=QUEUED, created_at=now)
            order = WorkOrder(number=f"GD{letter}0001", source="staff", session_id=session_id, channel="web",
                              department="民政", description=f"{letter} 的诉求", created_at=now)
            db.add_all([request, order, UnansweredQuery(session_id=session_id, channel="web",
                                                         query=QUESTION[code], reason="fallback", created_at=now)])
            alert = alerts.raise_alert(db, context.events, session_id, "web", "fire", ALERT_TEXT[code], now)
            db.flush()
            seeded.handoff[code], seeded.order[code] = request.id, order.number
            seeded.alert[code], seeded.queue_number[code] = alert.id, request.queue_number
    with session_scope(context.sessions) as db:  # a second, quiet conversation in A
        db.add(ChatSession(id="sess-A2", channel="web", community_code=A, created_at=now))
    return seeded
