"""Log lines carry China time with its offset, whatever zone the server runs in."""

from __future__ import annotations

import datetime as dt
import logging

from assistant.logging_setup import LOG_FORMAT, PersonalDataFilter, PersonalDataFormatter

# 2026-12-04 22:33:48 UTC is 06:33:48 the next morning in Guangxi.
LATE_EVENING_UTC = dt.datetime(2026, 12, 4, 22, 33, 48, tzinfo=dt.UTC).timestamp()


def _line(message: str, level: int = logging.INFO) -> str:
    record = logging.LogRecord("shequ.test", level, __file__, 1, message, None, None)
    record.created = LATE_EVENING_UTC
    PersonalDataFilter().filter(record)
    return PersonalDataFormatter(LOG_FORMAT).format(record)


def test_a_log_line_is_stamped_in_china_time() -> None:
    assert _line("index built").startswith("2026-12-05 06:33:48+0800 INFO shequ.test: index built")


def test_the_time_survives_the_masking_of_the_line() -> None:
    line = _line("caller 13812345678 waited", logging.WARNING)
    assert line.startswith("2026-12-05 06:33:48+0800 WARNING")
    assert "13812345678" not in line
