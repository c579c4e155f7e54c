"""Deadlines in Chinese working days: 国庆, 春节, 调休 make-up weekends, and years the calendar does not know."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from assistant.handoff.calendar import CHINA, WorkingCalendar
from assistant.handoff.live import HandoffService
from assistant.handoff.policy import load_policy, parse_policy


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CHINA)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.mark.parametrize(("accepted", "days", "due_day"), [
    # 国庆 2025: 10月1日-8日 off; Sunday 9月28日 and Saturday 10月11日 are 调休 working days.
    ("2025-09-30 10:00", 1, "2025-10-09"),
    ("2025-09-30 10:00", 3, "2025-10-11"),  # the make-up Saturday counts
    ("2025-09-30 10:00", 13, "2025-10-24"),  # a complaint's 13 working days across the holiday
    ("2025-09-26 17:55", 1, "2025-09-28"),  # Friday → the make-up Sunday, not Monday
    ("2025-10-01 09:00", 1, "2025-10-09"),  # accepted on the holiday itself
    # 春节 2026: 2月15日-23日 off; Saturdays 2月14日 and 2月28日 are working days.
    ("2026-02-13 15:00", 1, "2026-02-14"),
    ("2026-02-13 15:00", 2, "2026-02-24"),
    ("2026-02-14 09:00", 1, "2026-02-24"),
    ("2026-02-20 11:00", 3, "2026-02-26"),
    ("2026-02-24 09:00", 4, "2026-02-28"),  # the second make-up Saturday
    # An ordinary week: Friday + 1 is Monday; zero days means the end of the same day.
    ("2026-03-13 09:00", 1, "2026-03-16"),
    ("2026-03-13 09:00", 0, "2026-03-13"),
])
def test_deadline_counts_working_days_with_holidays_and_make_up_days(calendar, accepted, days, due_day):
    due = calendar.add_working_days(at(accepted), days)
    assert due == dt.datetime.combine(dt.date.fromisoformat(due_day), dt.time(18, 0), tzinfo=CHINA)


def test_deadline_from_a_utc_time_uses_the_china_date(calendar):
    # 2026-02-13 20:00 UTC is already Saturday 2月14日 04:00 in China (a make-up working day).
    accepted = dt.datetime(2026, 2, 13, 20, 0, tzinfo=dt.UTC)
    assert calendar.add_working_days(accepted, 1).date() == dt.date(2026, 2, 24)


def test_unknown_year_uses_weekends_and_configured_holidays_and_warns_once(caplog):
    policy = parse_policy({"holidays": [f"2030-10-0{d}" for d in range(1, 8)], "workdays": ["2030-09-29"]})
    calendar = policy.calendar
    assert not calendar.knows(2030)
    with caplog.at_level(logging.WARNING, logger="assistant.handoff.calendar"):
        assert calendar.add_working_days(at("2030-09-27 10:00"), 1).date() == dt.date(2030, 9, 29)
        assert calendar.add_working_days(at("2030-09-27 10:00"), 2).date() == dt.date(2030, 9, 30)
        assert calendar.add_working_days(at("2030-09-27 10:00"), 3).date() == dt.date(2030, 10, 8)
        # Without configured holidays an unknown year is plain Monday–Friday.
        assert WorkingCalendar().add_working_days(at("2030-09-27 10:00"), 3).date() == dt.date(2030, 10, 2)
    warnings = [r for r in caplog.records if "2030" in r.getMessage()]
    assert len(warnings) == 2  # once per calendar (two calendars here), not once per day looked at
    assert all(r.levelno == logging.WARNING for r in warnings)


def test_years_without_a_holiday_schedule_are_named_ahead_of_time():
    assert WorkingCalendar().missing_schedules(dt.date(2026, 6, 1)) == []  # 2026 is in chinese-calendar
    assert WorkingCalendar().missing_schedules(dt.date(2026, 11, 29)) == [2027]  # two months ahead: 2027
    assert WorkingCalendar().missing_schedules(dt.date(2026, 11, 29), horizon_days=10) == []
    configured = parse_policy({"holidays": ["2027-01-01"]}).calendar
    assert configured.missing_schedules(dt.date(2026, 11, 29)) == []


def test_working_days_left_counts_only_working_days(calendar):
    due = calendar.add_working_days(at("2025-09-30 10:00"), 3)  # 10月11日
    assert calendar.working_days_left(at("2025-09-30 12:00"), due) == 3
    assert calendar.working_days_left(at("2025-10-11 09:00"), due) == 0
    assert calendar.working_days_left(at("2025-10-11 19:00"), due) == -1
    assert calendar.working_days_left(at("2025-10-14 09:00"), due) == -2


def test_bad_holiday_in_config_is_a_clear_error():
    from assistant.handoff import ConfigError

    with pytest.raises(ConfigError, match="2030-13-01"):
        parse_policy({"holidays": ["2030-13-01"]})
    with pytest.raises(ConfigError, match="deadline"):
        parse_policy({"deadlines": {"投诉": "thirteen"}})


def test_shipped_config_deadlines_and_routing():
    policy = load_policy()
    hazard = policy.route(description="3栋楼道电线裸露漏电，很危险", category="住房物业", suggested_department="住建")
    assert (hazard.category, hazard.deadline_days, hazard.priority, hazard.department) == ("安全隐患", 1, "high", "社区")
    complaint = policy.route(description="我要投诉物业乱收费", category=None)
    assert (complaint.category, complaint.deadline_days) == ("投诉", 13)
    ordinary = policy.route(description="想咨询高龄津贴什么时候发", category="养老服务", suggested_department="民政")
    assert (ordinary.category, ordinary.deadline_days, ordinary.department) == ("养老服务", 3, "民政")
    routed = parse_policy({"departments": ["社区", "街道民政办"],
                           "routing": {"topics": {"senior-age-allowance": "街道民政办"}}})
    assert routed.route(description="x", topic_id="senior-age-allowance", suggested_department="民政").department \
        == "街道民政办"


@pytest.mark.parametrize(("moment", "weekends", "open_"), [
    ("2025-10-02 10:00", True, False),   # 国庆: closed even where the centre opens at weekends
    ("2025-10-11 10:00", False, True),   # make-up Saturday: open even where weekends are closed
    ("2025-10-12 10:00", False, False),  # an ordinary Sunday
    ("2025-10-12 10:00", True, True),
    ("2025-10-13 07:59", True, False),
    ("2025-10-13 08:00", True, True),
    ("2025-10-13 18:00", True, False),
])
def test_office_hours_follow_the_calendar(settings, moment, weekends, open_):
    service = HandoffService(settings.model_copy(update={"office_weekends": weekends}))
    assert service.in_office_hours(at(moment)) is open_
