"""Accounts and safe defaults in headless Chromium: a new account gets the least privilege, disabling it
(after a confirmation page) signs its open browser out on the next request, enabling lets it back in; a
rollback shows what it will publish and asks first, then says 已发布."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_testkit import (
    BROWSER,
    live_server,
    sign_in,
)
from console_testkit import ACCOUNTS, PASSWORD, USERS, module_console_settings, remember_warm_cache

from assistant.storage import kb_repository
from assistant.storage.db import session_scope
from assistant.storage.models import KbEntryRow
from knowledge_base.models import KbEntry

WAIT_MS = 15_000
ENTRY = "senior-age-allowance"
NEW_ANSWER = "满80周岁的老人带身份证和户口簿到社区服务中心申请高龄津贴，每月发到社保卡。"
pytestmark = BROWSER


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    settings = module_console_settings(tmp_path_factory.mktemp("accounts-browser"), staff_cookie_secure=False)
    with live_server(settings, accounts=ACCOUNTS, start_timeout_s=300) as live:
        remember_warm_cache(settings)
        yield live.url, live.context


def _signed_in(browser: Any, url: str, username: str, password: str = PASSWORD) -> Any:
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(WAIT_MS)
    sign_in(page, url, username, password)
    return page


def _click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_new_account_least_privilege_disable_signs_out_then_enable(server, chromium):
    url, _context = server
    admin = _signed_in(chromium, url, USERS["admin"])
    admin.goto(f"{url}/staff/users")
    assert admin.input_value("#new-account select[name=role]") == "department"  # least privilege by default
    admin.fill("#new-account input[name=username]", "newcomer")
    admin.select_option("#new-account select[name=department]", "物业")  # chosen from the list, never typed
    admin.fill("#new-account input[name=password]", PASSWORD)
    _click(admin, "#new-account button[type=submit]")
    assert "账号已创建" in admin.inner_text(".flash")
    row = admin.locator("#accounts tr[data-user=newcomer]").inner_text()
    assert "部门经办人" in row and "物业" in row

    newcomer = _signed_in(chromium, url, "newcomer")
    assert "/staff/welcome" in newcomer.url

    admin.goto(f"{url}/staff/users/newcomer")
    _click(admin, "#disable")
    assert admin.locator("#confirm").is_visible() and "停用账号 newcomer" in admin.inner_text("#confirm")
    newcomer.reload()
    assert "/staff/welcome" in newcomer.url  # nothing happens before the confirmation
    _click(admin, "#confirm-button")
    assert "已停用" in admin.inner_text(".flash") and admin.inner_text("#account-state") == "已停用"

    newcomer.reload()  # the open session ended: the next request is sent to the sign-in page
    assert "/staff/login" in newcomer.url
    sign_in(newcomer, url, "newcomer", PASSWORD, expect_success=False)
    assert "用户名或密码不对" in newcomer.inner_text("main")

    _click(admin, "#enable")
    assert admin.inner_text("#account-state") == "正常"
    back = _signed_in(chromium, url, "newcomer")
    assert "/staff/welcome" in back.url


def test_rollback_asks_first_then_says_published(server, chromium):
    url, context = server
    old_answer = httpx.post(f"{url}/api/v1/chat", json={"session_id": None, "text": "高龄津贴怎么申请",
                                                        "channel": "web"}, timeout=60).json()["reply"]["text"]
    with session_scope(context.sessions) as session:  # a second published version to roll back from
        data = dict(session.get(KbEntryRow, ENTRY).data)
        kb_repository.save_entry(session, KbEntry.model_validate({**data, "answer": NEW_ANSWER}), "test",
                                 note="新答案")
    context.kb.refresh()

    def answer() -> str:
        return httpx.post(f"{url}/api/v1/chat", json={"session_id": None, "text": "高龄津贴怎么申请",
                                                      "channel": "web"}, timeout=60).json()["reply"]["text"]

    assert answer() == NEW_ANSWER
    approver = _signed_in(chromium, url, USERS["approver"])
    approver.goto(f"{url}/staff/kb/entry/{ENTRY}")
    _click(approver, "a[data-rollback='1']")
    confirm = approver.inner_text("#rollback-confirm")
    assert "确认回滚并发布" in confirm and approver.locator("#rollback-confirm del").count() > 0
    assert answer() == NEW_ANSWER  # the confirmation page changed nothing
    _click(approver, "#confirm-rollback")
    assert "已发布" in approver.inner_text(".flash")
    assert answer() == old_answer
    history = approver.inner_text("#history")
    assert "已发布" in history and "published" not in history
