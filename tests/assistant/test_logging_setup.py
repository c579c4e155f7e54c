"""Log lines carry China time with its offset, whatever zone the server runs in."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

from assistant.logging_setup import LOG_FORMAT, PersonalDataFormatter

# 2026-12-04 22:33:48 UTC is 06:33:48 the next morning in Guangxi.
LATE_EVENING_UTC = dt.datetime(2026, 12, 4, 22, 33, 48, tzinfo=dt.UTC).timestamp()


def test_a_log_line_is_stamped_in_china_time() -> None:
    record = logging.LogRecord("shequ.test", logging.INFO, __file__, 1, "index built", None, None)
    record.created = LATE_EVENING_UTC
    line = PersonalDataFormatter(LOG_FORMAT).format(record)
    assert line.startswith("2026-12-05 06:33:48+0800 INFO shequ.test: index built")


def test_the_time_survives_the_masking_of_the_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PersonalDataFormatter(LOG_FORMAT))
    logger = logging.getLogger("tests.logging_setup")
    logger.addHandler(handler)
    try:
        logger.warning("caller 13812345678 waited")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+0800 WARNING", line), line
    assert "13812345678" not in line
