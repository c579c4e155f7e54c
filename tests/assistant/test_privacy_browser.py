"""个人信息查询 in headless Chromium: an administrator finds a resident's data by phone number (shown masked),
downloads the copy, erases after a confirmation page, and a search afterwards finds only the order that is still
open; bad input is a Chinese message on the same page; the page is in the administrator's menu only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_testkit import (
    BROWSER,
    live_server,
    record_problems,
    sign_in,
)
from console_testkit import ACCOUNTS, PASSWORD, USERS, module_console_settings, remember_warm_cache
from sqlalchemy import select

from assistant.context import AppContext
from assistant.privacy import index
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog, ChatSession, Turn, WorkOrder

pytestmark = BROWSER
WAIT_MS = 15_000
PHONE = "13812345678"


def _seed(context: AppContext) -> None:
    import pii

    index.install(context.sessions, context.settings)
    with session_scope(context.sessions) as db:
        for sid, text in (("chat-a", f"我电话{PHONE}，门口路灯坏了"), ("chat-b", f"{PHONE} 楼道灯也不亮")):
            db.add(ChatSession(id=sid, channel="web", state={}, turn_count=1))
            db.flush()
            db.add(Turn(session_id=sid, channel="web", user_text=pii.mask_text(text), action="ticket",
                        reply_text="已登记"))
            index.record_personal_data(db, sid, text)
        for number, sid, status in (("GX2026030100011", "chat-a", "已评价"), ("GX2026030100012", "chat-b", "办理中")):
            order = WorkOrder(number=number, source="report_issue", session_id=sid, status=status,
                              description="路灯坏了", contact_masked="138****5678")
            db.add(order)
            db.flush()
            index.record_personal_data(db, sid, PHONE, work_order_id=order.id)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, AppContext]]:
    settings = module_console_settings(tmp_path_factory.mktemp("privacy-browser"), staff_cookie_secure=False)
    with live_server(settings, accounts=ACCOUNTS, before_start=_seed, start_timeout_s=300) as live:
        remember_warm_cache(settings)
        yield live.url, live.context


def _page(browser: Any, url: str, who: str) -> Any:
    page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
    page.set_default_timeout(WAIT_MS)
    sign_in(page, url, USERS[who], PASSWORD)
    return page


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _search(page: Any, number: str, reason: str) -> None:
    page.fill("#privacy-lookup input[name=number]", number)
    page.fill("#privacy-lookup input[name=reason]", reason)
    _submit(page, "#privacy-lookup button[type=submit]")


def test_find_export_and_erase_a_residents_data(server, chromium, tmp_path: Path):
    url, context = server
    staff = _page(chromium, url, "staff")
    assert staff.locator("a[href='/staff/privacy']").count() == 0  # not in the menu of other roles

    admin = _page(chromium, url, "admin")
    admin.goto(f"{url}/staff/")
    _submit(admin, "a[href='/staff/privacy']")
    assert admin.inner_text("h1") == "个人信息查询"

    _search(admin, "张三", "居民申请查阅")
    assert "没有认出手机号" in admin.inner_text("#privacy-error")  # answered 422, on the same page
    errors, failed = record_problems(admin)  # from here on, no request may fail

    _search(admin, f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}", "居民申请查阅")
    result = admin.inner_text("#privacy-result")
    assert "手机号 138****5678" in result and PHONE not in admin.content()
    assert "GX2026030100011" in result and "GX2026030100012" in result
    assert admin.locator("#privacy-sessions tbody tr").count() == 2
    assert "需等待：有未办结的工单" in admin.inner_text("#privacy-sessions")

    with admin.expect_download() as download:
        admin.click("#privacy-export button")
    saved = tmp_path / "copy.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["号码"] == "手机号 138****5678" and len(data["工单"]) == 2 and PHONE not in saved.read_text()

    _submit(admin, "#privacy-erase button")
    confirm = admin.inner_text("#confirm")
    assert "确认删除" in confirm and "未办结的工单 1 张" in confirm
    with session_scope(context.sessions) as db:
        assert db.get(ChatSession, "chat-a") is not None  # the confirmation page changed nothing
    _submit(admin, "#confirm-button")
    assert "已处理" in admin.inner_text("#privacy-notice")
    after = admin.inner_text("#privacy-result")
    assert "GX2026030100011" not in after and "GX2026030100012" in after  # the open one waits
    assert "已申请删除" in admin.inner_text("#privacy-pending")

    with session_scope(context.sessions) as db:
        assert db.get(ChatSession, "chat-a") is None
        done = db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100011"))
        assert done is not None and done.contact_masked == "" and done.session_id is None
        audits = list(db.scalars(select(AuditLog).where(AuditLog.action.like("privacy.%")).order_by(AuditLog.id)))
    assert [a.action for a in audits] == ["privacy.lookup", "privacy.export", "privacy.erase"]
    assert all(a.target == "手机号 138****5678" and PHONE not in a.detail for a in audits)

    admin.goto(f"{url}/staff/audit")
    assert "删除居民个人信息" in admin.inner_text("main")
    assert not errors and not failed, (errors, failed)
