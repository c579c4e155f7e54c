"""Emergencies on the dashboard: counts, acknowledgements, the median wait, open ones (masked)."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.console.emergency_stats import duration_text, emergencies
from assistant.console.stats import Period
from assistant.storage.db import session_scope
from assistant.storage.models import Alert

DAY = Period(dt.date(2026, 3, 10), dt.date(2026, 3, 10))
T0 = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)


def test_figures_of_the_period(app_context):
    with session_scope(app_context.sessions) as session:
        for i, wait in enumerate((30, 90, 600)):
            session.add(Alert(created_at=T0 + dt.timedelta(minutes=i), session_id=f"s{i}", channel="web",
                              kind="emergency", text="救命", acknowledged_by="sam",
                              acknowledged_at=T0 + dt.timedelta(minutes=i, seconds=wait)))
        session.add(Alert(created_at=T0, session_id="s9", channel="kiosk", kind="medical",
                          text="我爸晕倒了，电话13812345678"))
        session.add(Alert(created_at=T0 - dt.timedelta(days=2), session_id="old", channel="web", kind="fire",
                          text="着火了"))  # another day: not counted
    with session_scope(app_context.sessions) as session:
        figures = emergencies(session, DAY.since, DAY.until)
        kiosk = emergencies(session, DAY.since, DAY.until, "kiosk")
    assert (figures.total, figures.acknowledged, figures.open_total) == (4, 3, 1)
    assert figures.median_ack_seconds == 90
    assert figures.open[0].kind == "medical" and "13812345678" not in figures.open[0].text
    assert kiosk.total == 1 and kiosk.median_ack_seconds is None


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (0, "0 秒"), (59.6, "1 分"), (95, "1 分 35 秒"),
                                               (3600, "1 小时"), (7500, "2 小时 5 分")])
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text
