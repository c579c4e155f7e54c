"""Logging for the whole process, with a filter that keeps personal data out of every log line."""

from __future__ import annotations

import logging
import re

# Resident ID numbers (18 digits, last may be X) and mainland mobile numbers.
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def redact(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)[:4]}**********{m.group(2)}", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


class PersonalDataFilter(logging.Filter):
    """Masks ID and phone numbers in messages and arguments, as a last line of defence."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
            else:
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


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
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("jieba", "httpx", "httpx2", "sentence_transformers", "faiss", "bm25s", "urllib3", "filelock",
                  "alembic", "multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._shequ_configured = True  # type: ignore[attr-defined]
