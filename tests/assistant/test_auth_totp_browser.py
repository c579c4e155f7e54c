"""Two-step sign-in in headless Chromium: a staff member turns TOTP on from their own account page (the QR
code renders, the secret is shown in groups of 4, a real pyotp code confirms it, the recovery codes are shown
once), then signs in again: password, then the 6-digit code page, a wrong code is refused in Chinese, the
right one opens the console."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from browser_testkit import (
    BROWSER,
    live_server,
    record_problems,
    sign_in,
)
from console_testkit import ACCOUNTS, PASSWORD, USERS, module_console_settings, remember_warm_cache

from assistant.auth import totp

WAIT_MS = 15_000
pytestmark = BROWSER


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    settings = module_console_settings(tmp_path_factory.mktemp("totp-browser"), staff_cookie_secure=False)
    with live_server(settings, accounts=ACCOUNTS, start_timeout_s=300) as live:
        remember_warm_cache(settings)
        yield live.url, live.context


def _page(browser: Any) -> Any:
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(WAIT_MS)
    return page


def _click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_set_up_totp_then_sign_in_with_a_code(server, chromium, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _context = server
    username = USERS["staff"]
    page = _page(chromium)
    errors, _failed = record_problems(page)
    sign_in(page, url, username, PASSWORD)

    _click(page, ".who a[href='/staff/account']")  # the name in the top bar leads to one's own account
    assert "未开启" in page.inner_text("#totp-state")
    _click(page, "#enable-totp")
    qr_width = page.eval_on_selector("#totp-qr", "img => img.complete ? img.naturalWidth : 0")
    assert qr_width > 0  # the SVG QR code really rendered (a data: image the page's CSP allows)
    grouped = page.inner_text("#totp-secret").strip()
    assert all(len(group) == 4 for group in grouped.split()), grouped
    secret = grouped.replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    _click(page, "#confirm-totp")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and "只显示这一次" in page.inner_text("#recovery-codes")
    assert page.get_attribute("#download-codes", "download") == "备用码.txt"
    _click(page, "#continue")
    assert "已开启" in page.inner_text("#totp-state")

    # The next 30-second step on the server's clock (it runs in this process): the set-up code is spent.
    ahead = time.time() + totp.STEP_SECONDS
    monkeypatch.setattr(totp, "clock", lambda: time.time() + totp.STEP_SECONDS)
    again = _page(chromium)
    sign_in(again, url, username, PASSWORD, expect_success=False)
    assert "/staff/login" in again.url and "两步验证" in again.inner_text("main")
    again.goto(f"{url}/staff/kb")  # the half-signed-in browser opens nothing
    assert "/staff/login" in again.url and "两步验证" in again.inner_text("main")

    right = pyotp.TOTP(secret).at(ahead)
    again.fill("#code", "000000" if right != "000000" else "111111")
    _click(again, "button[type=submit]")
    assert "验证码不对" in again.inner_text("#code-error")
    again.fill("#code", right)
    _click(again, "button[type=submit]")
    assert "/staff/login" not in again.url, again.inner_text("body")[:300]
    assert f"{username}（" in again.inner_text(".who")
    again.goto(f"{url}/staff/kb")
    assert "/staff/kb" in again.url
    assert not [e for e in errors if "Failed to load resource" not in e], errors
