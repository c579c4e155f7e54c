"""Logging for the whole process: personal data is masked in every log line (``pii.mask_text``).

Two layers: ``PersonalDataFilter`` masks a record's message and string arguments (so every handler, also a
test's capture handler, sees them masked), and ``PersonalDataFormatter`` masks the whole formatted line,
exception text and traceback included, as the last line of defence (an exception message may quote input).
"""

from __future__ import annotations

import datetime as dt
import logging

from assistant.clock import CHINA
from pii import mask_text


class PersonalDataFilter(logging.Filter):
    """Masks ID and phone numbers, names and addresses in messages and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: mask_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
            else:
                record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
        return True


class PersonalDataFormatter(logging.Formatter):
    """Masks the whole formatted line, the exception text and traceback with it. Times are China time with
    their offset (the city's IT staff read them against the console and the residents' reports, which are in
    China time; the server itself may run in UTC)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = dt.datetime.fromtimestamp(record.created, CHINA)
        return moment.strftime(datefmt) if datefmt else moment.strftime(LOG_TIME_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S%z"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_shequ_configured", False):
        root.setLevel(level.upper())
        return
    # A library that called logging.basicConfig() first (python-escpos does on import) left a handler
    # without our filter: drop it so no line is printed unmasked.
    for existing in list(root.handlers):
        if not any(isinstance(f, PersonalDataFilter) for f in existing.filters):
            root.removeHandler(existing)
    handler = logging.StreamHandler()
    handler.setFormatter(PersonalDataFormatter(LOG_FORMAT))
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("jieba", "httpx", "httpx2", "sentence_transformers", "faiss", "bm25s", "urllib3", "filelock",
                  "alembic", "multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._shequ_configured = True  # type: ignore[attr-defined]
