"""Helpers shared by the handoff tests (imported by ``test_handoff_*.py``; not a test module itself)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from assistant.handoff.calendar import CHINA
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import make_engine, make_session_factory, migrate

CIPHER = PersonalDataCipher(Fernet.generate_key())
# A Tuesday in an ordinary week, at 10:00 in China.
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=CHINA)


@contextmanager
def migrated(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url)
    migrate(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = TUESDAY) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + dt.timedelta(**delta)
