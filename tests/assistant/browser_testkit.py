"""Helpers shared by the Playwright browser tests (imported by ``test_*_browser.py``; not a test module itself).

The real app runs under uvicorn in a thread on loopback, because a browser needs a real socket; every wait
here is bounded, so a server or page that never comes up fails the test instead of hanging the run.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from handoff_testkit import PASSWORD, STAFF_USERS

from assistant.api.main import create_app
from assistant.auth.service import create_account
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.db import session_scope

CHROMIUM = "/usr/bin/chromium"  # the Debian package; Playwright's own download is not used
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# ``pytestmark = BROWSER``: selectable with ``-m browser``, skipped (with the reason) where Chromium is missing.
BROWSER = [pytest.mark.browser,
           pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")]

# An explicit account: (username, role, password, department).
Account = tuple[str, str, str, str]


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    context: AppContext
    app: Any


def launch(playwright: Any) -> Any:
    """The system Chromium with the arguments every browser test uses; the caller closes it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _account(who: str | Account) -> Account:
    # A bare name is a role key of handoff_testkit.STAFF_USERS ("staff2" is a second "staff").
    if isinstance(who, str):
        name, department = STAFF_USERS[who]
        return name, who.rstrip("2"), PASSWORD, department
    return who


@contextmanager
def live_server(settings: Settings, *, accounts: Iterable[str | Account] = ("staff",),
                clock: Callable[[], dt.datetime] | None = None,
                before_start: Callable[[AppContext], object] | None = None,
                start_timeout_s: float = 120.0, graceful_shutdown_s: float | None = None,
                **setting_overrides: object) -> Iterator[LiveServer]:
    """The whole app on a free loopback port, with ``accounts`` created, until the block ends.

    ``setting_overrides`` are applied with ``settings.model_copy``; ``before_start`` seeds the database before
    the first request can read it; ``clock`` replaces the handoff clock (office hours in a test are a choice,
    not the day the suite runs on). ``graceful_shutdown_s`` bounds how long open event streams delay the stop.
    """
    if setting_overrides:
        settings = settings.model_copy(update=setting_overrides)
    context = create_context(settings)
    try:
        with session_scope(context.sessions) as db:
            for username, role, password, department in map(_account, accounts):
                create_account(db, username, role, password, department=department, actor="test")
        if before_start is not None:
            before_start(context)
        app = create_app(context=context)
        port = _free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=graceful_shutdown_s))
        thread = threading.Thread(target=uv.run, name="browser-test-uvicorn", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + start_timeout_s
            while not uv.started and thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert uv.started, f"the app did not start within {start_timeout_s:.0f} s"
            if clock is not None:
                app.state.engine.handoff.clock = clock
            yield LiveServer(f"http://127.0.0.1:{port}", context, app)
        finally:
            uv.should_exit = True
            thread.join(timeout=30)
    finally:
        context.close()


def record_problems(page: Any) -> tuple[list[str], list[str]]:
    """Lists that fill as the page runs: console errors, and URLs answered with an error status. A script error
    or a failed fetch does not fail a test by itself; the test asserts on these at the end."""
    errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    return errors, failed


def sign_in(page: Any, base_url: str, username: str, password: str, *, expect_success: bool = True) -> None:
    """Signs in through the real form, waiting for the answer so that a following ``goto`` cannot cut the POST
    short; by default fails at once if the form came back (wrong password, locked account)."""
    page.goto(f"{base_url}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if expect_success:
        assert "/staff/login" not in page.url, page.inner_text("body")[:500]
