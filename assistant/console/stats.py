"""Figures for the dashboard: conversations, answer/fallback/handoff rates, topics, work orders, per week.

Definitions (also shown on the page):
- a conversation is a chat session started in the period;
- rates are over the assistant's replies (turns answered by the bot, not by a live agent): answer rate =
  replies that answered from the knowledge base, fallback rate = replies that could not answer;
- handoff rate = conversations with at least one hand-off (live agent or work order) / conversations.

Periods and weeks are China days (Asia/Shanghai): "today" starts at 00:00 Beijing time, 16:00 UTC the day before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.clock import china_day, china_midnight, now_china
from assistant.communities.scope import scope
from assistant.labels import CHANNEL
from assistant.storage.models import ChatSession, Turn, WorkOrder

try:  # the work-order lifecycle belongs to the handoff feature
    from assistant.handoff.lifecycle import OPEN_STATUSES as ORDER_OPEN
    from assistant.handoff.lifecycle import STATUSES as ORDER_STATUSES
except ImportError:  # pragma: no cover - older trees
    ORDER_STATUSES = ("受理", "派单", "办理中", "办结", "回访", "已评价")
    ORDER_OPEN = ("受理", "派单", "办理中")

CHANNEL_LABELS = CHANNEL  # the one table of channel names (assistant/labels.py)
HANDOFF_ACTIONS = ("handoff", "ticket")


@dataclass
class Period:
    start: dt.date
    end: dt.date  # inclusive
    channel: str = ""
    community: str | None = None  # one community's figures; None: the whole city

    @property
    def since(self) -> dt.datetime:
        """The first instant of the first China day, in UTC (SQLite compares stored UTC wall-clock times)."""
        return china_midnight(self.start)

    @property
    def until(self) -> dt.datetime:
        return china_midnight(self.end + dt.timedelta(days=1))

    def weeks(self) -> list[dt.date]:
        first = self.start - dt.timedelta(days=self.start.weekday())
        return [first + dt.timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]


def default_period(days: int = 28, today: dt.date | None = None) -> Period:
    today = today or now_china().date()
    return Period(today - dt.timedelta(days=days - 1), today)


def _week(moment: dt.datetime) -> dt.date:
    day = china_day(moment)
    return day - dt.timedelta(days=day.weekday())


@dataclass
class Dashboard:
    period: Period
    conversations: int = 0
    replies: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)
    handoff_sessions: int = 0
    top_topics: list[tuple[str, int]] = field(default_factory=list)
    per_channel: dict[str, dict[str, float]] = field(default_factory=dict)
    weeks: list[str] = field(default_factory=list)
    weekly: dict[str, list[float]] = field(default_factory=dict)
    orders_by_status: list[tuple[str, int]] = field(default_factory=list)
    orders_overdue: int = 0
    orders_total: int = 0

    def rate(self, action: str) -> float:
        return self.actions[action] / self.replies if self.replies else 0.0

    @property
    def answer_rate(self) -> float:
        return self.rate("answer")

    @property
    def fallback_rate(self) -> float:
        return self.rate("fallback")

    @property
    def handoff_rate(self) -> float:
        return self.handoff_sessions / self.conversations if self.conversations else 0.0


def compute(session: Session, period: Period, titles: dict[str, str], now: dt.datetime | None = None) -> Dashboard:
    now = now or dt.datetime.now(dt.UTC)
    board = Dashboard(period)
    sessions_q = select(ChatSession.id, ChatSession.channel, ChatSession.created_at).where(
        ChatSession.created_at >= period.since, ChatSession.created_at < period.until)
    turns_q = select(Turn.session_id, Turn.channel, Turn.created_at, Turn.action, Turn.topic_id, Turn.intent).where(
        Turn.created_at >= period.since, Turn.created_at < period.until, Turn.sender == "bot")
    if period.channel:
        sessions_q = sessions_q.where(ChatSession.channel == period.channel)
        turns_q = turns_q.where(Turn.channel == period.channel)
    sessions_q = scope(sessions_q, ChatSession, period.community)
    turns_q = scope(turns_q, Turn, period.community)  # a turn belongs to its conversation's community
    weeks = period.weeks()
    board.weeks = [f"{w:%m-%d}" for w in weeks]
    week_index = {w: i for i, w in enumerate(weeks)}
    conv_week = [0.0] * len(weeks)
    per_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for _sid, channel, created in session.execute(sessions_q):
        board.conversations += 1
        per_channel[channel]["conversations"] += 1
        index = week_index.get(_week(created))
        if index is not None:
            conv_week[index] += 1
    replies_week = [0] * len(weeks)
    answered_week = [0] * len(weeks)
    fallback_week = [0] * len(weeks)
    handoff_ids: set[str] = set()
    topics: Counter[str] = Counter()
    for sid, channel, created, action, topic, intent in session.execute(turns_q):
        board.replies += 1
        board.actions[action] += 1
        if intent:
            board.intents[intent] += 1
        per_channel[channel]["replies"] += 1
        per_channel[channel][action] += 1
        if action in HANDOFF_ACTIONS:
            handoff_ids.add(sid)
        if action == "answer" and topic:
            topics[topic] += 1
        index = week_index.get(_week(created))
        if index is not None:
            replies_week[index] += 1
            answered_week[index] += action == "answer"
            fallback_week[index] += action == "fallback"
    board.handoff_sessions = len(handoff_ids)
    board.top_topics = [(titles.get(t, t), n) for t, n in topics.most_common(10)]
    board.per_channel = {
        channel: {"conversations": c["conversations"], "replies": c["replies"],
                  "answer_rate": c["answer"] / c["replies"] if c["replies"] else 0.0,
                  "fallback_rate": c["fallback"] / c["replies"] if c["replies"] else 0.0}
        for channel, c in sorted(per_channel.items())}
    board.weekly = {
        "会话数": conv_week,
        "回答率": [a / r if r else 0.0 for a, r in zip(answered_week, replies_week, strict=True)],
        "兜底率": [f / r if r else 0.0 for f, r in zip(fallback_week, replies_week, strict=True)],
    }
    _orders(session, period, board, now)
    return board


def _orders(session: Session, period: Period, board: Dashboard, now: dt.datetime) -> None:
    query = select(WorkOrder.status, WorkOrder.due_at).where(WorkOrder.created_at >= period.since,
                                                             WorkOrder.created_at < period.until)
    if period.channel:
        query = query.where(WorkOrder.channel == period.channel)
    query = scope(query, WorkOrder, period.community)
    statuses: Counter[str] = Counter()
    for status, due_at in session.execute(query):
        board.orders_total += 1
        statuses[status] += 1
        if due_at is not None and status in ORDER_OPEN:
            due = due_at if due_at.tzinfo else due_at.replace(tzinfo=dt.UTC)
            if due < now:
                board.orders_overdue += 1
    ordered = [s for s in ORDER_STATUSES if s in statuses] + sorted(set(statuses) - set(ORDER_STATUSES))
    board.orders_by_status = [(s, statuses[s]) for s in ordered]
