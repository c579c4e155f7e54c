"""Helpers shared by the console tests (imported by ``test_console_*.py``; not a test module itself)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from assistant.api.main import create_app
from assistant.auth.service import create_account
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.db import session_scope

PASSWORD = "correct-horse-battery"
USERS = {"admin": "ada", "staff": "sam", "approver": "amy", "department": "dan"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_cookie_secure": False, "staff_login_rate_per_minute": 1000})


def add_users(context: AppContext, extra: dict[str, str] | None = None) -> None:
    with session_scope(context.sessions) as session:
        for role, name in {**USERS, **(extra or {})}.items():
            create_account(session, name, role.split(":")[0], PASSWORD, department="民政")


@contextmanager
def console_client(settings: Settings) -> Iterator[tuple[TestClient, AppContext]]:
    context = create_context(console_settings(settings))
    add_users(context)
    try:
        with TestClient(create_app(context=context), follow_redirects=False) as client:
            yield client, context
    finally:
        context.close()


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, role_or_name: str, password: str = PASSWORD) -> None:
    username = USERS.get(role_or_name, role_or_name)
    client.cookies.clear()
    page = client.get("/staff/login")
    response = client.post("/staff/login", data={"username": username, "password": password,
                                                 "csrf_token": csrf_from(page.text), "next": "/staff/"})
    assert response.status_code == 303, response.text[:500]


def form_post(client: TestClient, page_url: str, action: str, data: dict[str, object] | None = None,
              **kwargs: object):
    """POSTs a form the way a browser would: with the CSRF token of the page it was on."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    payload = {"csrf_token": csrf_from(page.text), **(data or {})}
    return client.post(action, data=payload, **kwargs)
