"""The one clock: every time a person sees or exports is China time (Asia/Shanghai).

Times are stored in UTC (SQLite keeps no zone, so a naive stored value is read as UTC); they are turned
into China time only where they are shown or exported, with the helpers below.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_china() -> dt.datetime:
    return dt.datetime.now(CHINA)


def today_china() -> dt.date:
    """Today's date in China: the day a resident or a community worker means (the server may run in UTC)."""
    return now_china().date()


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC time (naive values from SQLite are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def china_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time as China local time, to the minute by default; "" for no time."""
    value = as_utc(value)
    return value.astimezone(CHINA).strftime(fmt) if value else ""


def china_seconds(value: dt.datetime | None) -> str:
    """China local time to the second (audit log, exports)."""
    return china_time(value, "%Y-%m-%d %H:%M:%S")


def china_midnight(day: dt.date) -> dt.datetime:
    """The UTC instant a China calendar day begins: the bound for "on or after this day" in stored UTC times."""
    return dt.datetime.combine(day, dt.time(), CHINA).astimezone(dt.UTC)


def china_day(moment: dt.datetime) -> dt.date:
    """The China calendar day a stored time falls on."""
    return as_utc(moment).astimezone(CHINA).date()  # type: ignore[union-attr]
