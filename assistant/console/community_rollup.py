"""The city roll-up of the dashboard: one row per community (issue 15).

Figures of the period (China days, like the rest of the dashboard): conversations, the answer rate over the
assistant's replies, hand-offs to a person. Figures of now (what is waiting on someone): work orders in
progress, emergencies nobody has acknowledged, unanswered questions not yet handled. Each is one grouped
query, so the table costs six queries whatever the number of communities.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.console.stats import ORDER_OPEN, Period
from assistant.storage.models import Alert, ChatSession, HandoffRequest, Turn, UnansweredQuery, WorkOrder


@dataclass
class CommunityRow:
    code: str
    label: str
    conversations: int = 0
    replies: int = 0
    answered: int = 0
    handoffs: int = 0
    open_orders: int = 0
    open_emergencies: int = 0
    unanswered: int = 0

    @property
    def answer_rate(self) -> float:
        return self.answered / self.replies if self.replies else 0.0


def _grouped(session: Session, column: Any, *conditions: Any) -> Counter[str]:
    query = select(column, func.count()).where(*conditions).group_by(column)
    return Counter({code or "": int(n) for code, n in session.execute(query)})


def rollup(session: Session, period: Period, communities: list[tuple[str, str]]) -> list[CommunityRow]:
    """One row per community of ``communities`` ((code, label), in that order) and a 「合计」 row last."""
    def channel(model: Any) -> list[Any]:
        return [model.channel == period.channel] if period.channel else []

    in_period = {model: [model.created_at >= period.since, model.created_at < period.until, *channel(model)]
                 for model in (ChatSession, HandoffRequest)}
    conversations = _grouped(session, ChatSession.community_code, *in_period[ChatSession])
    handoffs = _grouped(session, HandoffRequest.community_code, *in_period[HandoffRequest])
    turns = (select(ChatSession.community_code, Turn.action, func.count())
             .join(ChatSession, ChatSession.id == Turn.session_id)
             .where(Turn.sender == "bot", Turn.created_at >= period.since, Turn.created_at < period.until,
                    *channel(Turn))
             .group_by(ChatSession.community_code, Turn.action))
    replies: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for code, action, n in session.execute(turns):
        replies[code or ""] += int(n)
        if action == "answer":
            answered[code or ""] += int(n)
    orders = _grouped(session, WorkOrder.community_code, WorkOrder.status.in_(ORDER_OPEN), *channel(WorkOrder))
    emergencies = _grouped(session, Alert.community_code, Alert.acknowledged_by.is_(None), *channel(Alert))
    unanswered = _grouped(session, UnansweredQuery.community_code, UnansweredQuery.status == "open",
                          *channel(UnansweredQuery))
    rows = [CommunityRow(code, label, conversations[code], replies[code], answered[code], handoffs[code],
                         orders[code], emergencies[code], unanswered[code]) for code, label in communities]
    total = CommunityRow("", "合计")
    for row in rows:
        for name in ("conversations", "replies", "answered", "handoffs", "open_orders", "open_emergencies",
                     "unanswered"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return [*rows, total]
