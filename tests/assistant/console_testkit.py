"""Helpers shared by the console tests (imported by ``test_console_*.py``; not a test module itself).

Starting the app trains the intent model and builds the search index; both are cached per content, so the
tests share one warm cache directory for the whole run instead of paying that for every test.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from fastapi.testclient import TestClient
from tests_conftest_bridge import tiny_settings

from assistant.api.main import create_app
from assistant.auth import service as auth_service
from assistant.auth.service import create_account
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.db import session_scope

PASSWORD = "correct-horse-battery"
USERS = {"admin": "ada", "staff": "sam", "approver": "amy", "department": "dan"}
# The same people as accounts for browser_testkit.live_server: (username, role, password, department).
ACCOUNTS = [(name, role, PASSWORD, "民政") for role, name in USERS.items()]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# The production parameters cost ~0.5 s a hash on this machine; the tests sign in hundreds of times. Still
# argon2id, just cheaper.
auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
_WARM = Path(tempfile.gettempdir()) / f"shequ-console-tests-{Path(__file__).stat().st_mtime_ns}"


def console_settings(settings: Settings, **overrides: object) -> Settings:
    (_WARM / "index").mkdir(parents=True, exist_ok=True)
    cached_intents = _WARM / "intents"
    if cached_intents.exists() and not (settings.var_dir / "intents").exists():
        shutil.copytree(cached_intents, settings.var_dir / "intents")
    values: dict[str, object] = {"staff_login_rate_per_minute": 1000, "staff_login_account_rate_per_minute": 1000,
                                 "index_dir": _WARM / "index"}
    values.update(overrides)
    return settings.model_copy(update=values)


def module_console_settings(directory: Path, **overrides: object) -> Settings:
    """``console_settings`` on the tiny knowledge base in ``directory``, for module-scoped fixtures (they cannot
    use the function-scoped ``settings`` fixture): read with no ``SHEQU_*`` variable set, as that fixture is, so
    a developer's environment cannot leak in."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        return console_settings(tiny_settings(directory), **overrides)


def remember_warm_cache(settings: Settings) -> None:
    source = settings.var_dir / "intents"
    if source.exists() and not (_WARM / "intents").exists():
        shutil.copytree(source, _WARM / "intents", dirs_exist_ok=True)


def add_users(context: AppContext) -> None:
    with session_scope(context.sessions) as session:
        for name, role, password, department in ACCOUNTS:
            create_account(session, name, role, password, department=department, actor="test")


@contextmanager
def console_client(settings: Settings, **overrides: object) -> Iterator[tuple[TestClient, AppContext]]:
    settings = console_settings(settings, **overrides)
    context = create_context(settings)
    add_users(context)
    try:
        # HTTPS, because the session cookie is Secure (the default) and is not sent over plain HTTP.
        with TestClient(create_app(context=context), base_url="https://testserver",
                        follow_redirects=False) as client:
            remember_warm_cache(settings)
            yield client, context
    finally:
        context.close()


@contextmanager
def users_command(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner for the ``users`` command on this test's database: the command reads its settings from the
    environment through a cached ``get_settings``, so the cache is cleared on the way in and on the way out."""
    from assistant.settings import get_settings

    for name, value in {"SHEQU_VAR_DIR": str(settings.var_dir), "SHEQU_DATABASE_URL": settings.database_url,
                        "SHEQU_KB_DATA_DIR": str(settings.kb_data_dir)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield CliRunner()
    finally:
        get_settings.cache_clear()


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, role_or_name: str, password: str = PASSWORD):
    username = USERS.get(role_or_name, role_or_name)
    client.cookies.clear()
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"username": username, "password": password,
                                             "csrf_token": csrf_from(page.text), "next": "/staff/"})


def signed_in(client: TestClient, role: str) -> None:
    response = login(client, role)
    assert response.status_code == 303, response.text[:500]


def form_post(client: TestClient, page_url: str, action: str, data: dict[str, object] | None = None):
    """POSTs a form the way a browser would: with the CSRF token of the page it was on."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    return client.post(action, data={"csrf_token": csrf_from(page.text), **(data or {})})


def chat(client: TestClient, text: str) -> dict:
    response = client.post("/api/v1/chat", json={"session_id": None, "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return response.json()
