"""Helpers shared by the handoff tests (imported by ``test_handoff_*.py``; not a test module itself)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from assistant.context import AppContext
from assistant.handoff.calendar import CHINA
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import make_engine, make_session_factory, migrate, session_scope

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


# ---------------------------------------------------------------- the app with staff accounts

PASSWORD = "handoff-test-password"
STAFF_USERS = {"staff": ("sam", ""), "staff2": ("sue", ""), "admin": ("ada", ""), "approver": ("amy", ""),
               "department": ("dan", "民政"), "department2": ("ren", "人社")}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_WARM = Path(tempfile.gettempdir()) / f"shequ-handoff-tests-{Path(__file__).stat().st_mtime_ns}"


@contextmanager
def handoff_client(settings, clock: Clock | None = None, **overrides) -> Iterator[tuple[TestClient, AppContext]]:
    """The whole app over HTTPS (secure cookies), staff accounts of every role, a clock the test controls."""
    from assistant.api.main import create_app
    from assistant.auth.service import create_account
    from assistant.context import create_context

    # The search index and the intent model are cached by content: one warm copy serves every test of the run.
    (_WARM / "index").mkdir(parents=True, exist_ok=True)
    if (_WARM / "intents").exists() and not (settings.var_dir / "intents").exists():
        shutil.copytree(_WARM / "intents", settings.var_dir / "intents")
    values = {"outbox_drain_interval_seconds": 0, "staff_login_rate_per_minute": 1000,
              "staff_login_account_rate_per_minute": 1000, "index_dir": _WARM / "index", **overrides}
    context = create_context(settings.model_copy(update=values))
    with session_scope(context.sessions) as db:
        for key, (name, department) in STAFF_USERS.items():
            create_account(db, name, key.rstrip("2"), PASSWORD, department=department, actor="test")
    try:
        with TestClient(create_app(context=context), base_url="https://testserver", follow_redirects=False) as client:
            client.app.state.engine.handoff.clock = clock or Clock()
            if not (_WARM / "intents").exists() and (settings.var_dir / "intents").exists():
                shutil.copytree(settings.var_dir / "intents", _WARM / "intents", dirs_exist_ok=True)
            yield client, context
    finally:
        context.close()


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, who: str) -> str:
    """Signs in as a role key of STAFF_USERS; returns a CSRF token for JSON calls."""
    client.cookies.clear()
    page = client.get("/staff/login")
    response = client.post("/staff/login", data={"username": STAFF_USERS[who][0], "password": PASSWORD,
                                                 "csrf_token": csrf_from(page.text), "next": "/staff/"})
    assert response.status_code == 303, response.text[:300]
    return csrf_from(client.get("/staff/inbox" if who.startswith(("staff", "admin")) else "/staff/orders").text)


def say(client: TestClient, text: str, session_id: str | None = None, channel: str = "web") -> dict:
    response = client.post("/api/v1/chat", json={"session_id": session_id, "text": text, "channel": channel})
    assert response.status_code == 200, response.text
    return response.json()


def poll(client: TestClient, session_id: str, after: int = 0) -> dict:
    response = client.get(f"/api/v1/sessions/{session_id}/messages", params={"after": after})
    assert response.status_code == 200, response.text
    return response.json()
