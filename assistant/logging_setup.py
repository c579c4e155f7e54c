"""Logging for the whole process, with a filter that keeps personal data out of every log line."""

from __future__ import annotations

import logging


def redact(text: str) -> str:
    """ID, long-digit and phone numbers masked (half- or full-width): the intents package's masking."""
    # Imported on first use so `shequ --help` does not load the NLP stack.
    from intents.entities import mask_personal_data

    return mask_personal_data(text)


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
