"""Chinese working days for work-order deadlines: statutory holidays and 调休 make-up working days.

chinese-calendar knows the State Council's schedule for the years it ships; for any other year the
calendar falls back to Monday–Friday plus the holidays and make-up days listed in the orders
configuration, and logs a warning once per year so that someone adds the new year's schedule.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import chinese_calendar

from assistant.clock import CHINA

log = logging.getLogger(__name__)


class WorkingCalendar:
    def __init__(self, extra_holidays: Iterable[dt.date] = (), extra_workdays: Iterable[dt.date] = (),
                 day_end: dt.time = dt.time(18, 0)) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.day_end = day_end
        self._warned: set[int] = set()

    def knows(self, year: int) -> bool:
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def missing_schedules(self, today: dt.date, horizon_days: int = 60) -> list[int]:
        """Years from ``today`` to ``horizon_days`` ahead whose public holidays nobody has told us about:
        chinese-calendar does not know them and the orders config lists none for them."""
        last = today + dt.timedelta(days=horizon_days)
        configured = {day.year for day in self.extra_holidays}
        return [year for year in range(today.year, last.year + 1)
                if not self.knows(year) and year not in configured]

    def _unknown_year(self, year: int) -> None:
        if year not in self._warned:
            self._warned.add(year)
            log.warning("chinese-calendar has no holiday schedule for %d: counting weekends and the configured "
                        "holidays only; add that year's holidays and make-up days to the orders config", year)

    def is_workday(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            self._unknown_year(day.year)
            return day.weekday() < 5

    def is_statutory_holiday(self, day: dt.date) -> bool:
        """A public holiday (国庆, 春节 …), as opposed to an ordinary weekend."""
        if day in self.extra_holidays:
            return True
        if day in self.extra_workdays:
            return False
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            self._unknown_year(day.year)
            return False
        return bool(on_holiday and name)

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The deadline: the end of the office day on the ``days``-th working day after the day of ``start``.

        The day of acceptance never counts (an order taken at 17:55 must not be due at 18:00), so one
        working day means "by the end of the next working day".
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day = _local(start).date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return dt.datetime.combine(day, self.day_end, tzinfo=CHINA)

    def working_days_left(self, now: dt.datetime, due: dt.datetime) -> int:
        """Whole working days from today until the due day (0 on the due day, negative when overdue)."""
        today, due_day = _local(now).date(), _local(due).date()
        if due_day == today:
            return 0 if _local(now) <= _local(due) else -1
        step = 1 if due_day > today else -1
        count, day = 0, today
        while day != due_day:
            day += dt.timedelta(days=step)
            if self.is_workday(day):
                count += step
        return count


def _local(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(CHINA)
