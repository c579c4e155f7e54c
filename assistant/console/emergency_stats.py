"""Emergencies of a period for the dashboard: how many, how many a person acknowledged, how fast, which are open.

Read from the ``alerts`` table. ``escalated_at`` is added by the alert feature (assistant/events/models.py);
it is read when present and not required, so the dashboard works on a tree without that feature.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.clock import as_utc
from assistant.communities.scope import scope
from assistant.storage.models import Alert
from pii import mask_text

# Open emergencies listed on the dashboard; the alerts page (/staff/alerts) has all of them.
MAX_OPEN_SHOWN = 20
# How much of the resident's message an open emergency shows (masked): enough to know what it is about.
TEXT_PREVIEW_CHARS = 40


@dataclass
class OpenAlert:
    id: int
    created_at: dt.datetime
    channel: str
    kind: str
    text: str
    escalated: bool


@dataclass
class Emergencies:
    total: int = 0
    acknowledged: int = 0
    escalated: int = 0
    ack_seconds: list[float] = field(default_factory=list)
    open: list[OpenAlert] = field(default_factory=list)
    open_total: int = 0

    @property
    def median_ack_seconds(self) -> float | None:
        return statistics.median(self.ack_seconds) if self.ack_seconds else None


def emergencies(session: Session, since: dt.datetime, until: dt.datetime, channel: str = "",
                community: str | None = None) -> Emergencies:
    """Alerts raised in the period (of one community; None: the whole city)."""
    query = select(Alert).where(Alert.created_at >= since, Alert.created_at < until)
    if channel:
        query = query.where(Alert.channel == channel)
    query = scope(query, Alert, community)
    figures = Emergencies()
    for alert in session.scalars(query.order_by(Alert.created_at.desc())):
        figures.total += 1
        escalated = getattr(alert, "escalated_at", None) is not None
        figures.escalated += escalated
        if alert.acknowledged_at is not None:
            figures.acknowledged += 1
            waited = as_utc(alert.acknowledged_at) - as_utc(alert.created_at)  # type: ignore[operator]
            figures.ack_seconds.append(max(0.0, waited.total_seconds()))
            continue
        figures.open_total += 1
        if len(figures.open) < MAX_OPEN_SHOWN:
            figures.open.append(OpenAlert(alert.id, alert.created_at, alert.channel, alert.kind,
                                          mask_text(alert.text)[:TEXT_PREVIEW_CHARS], escalated))
    return figures


def duration_text(seconds: float | None) -> str:
    """A waiting time as people say it: 45 秒, 3 分 20 秒, 2 小时 5 分; "—" when there is none."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} 秒"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} 分 {secs} 秒" if secs else f"{minutes} 分"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分" if minutes else f"{hours} 小时"
