"""The staff inbox in headless Chromium: claim → reply → the resident sees the reply through the polling API,
and the resident's next message appears on the agent's page without a reload."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from browser_testkit import BROWSER, launch, live_server, record_problems, sign_in
from handoff_testkit import PASSWORD, STAFF_USERS, Clock

pytestmark = BROWSER


@pytest.fixture
def server(settings):
    # Clock(): a Tuesday morning, office hours, whatever day the suite runs on.
    with live_server(settings, clock=Clock(), outbox_drain_interval_seconds=0, staff_cookie_secure=False) as live:
        yield live.url


def test_agent_claims_and_replies_in_the_browser_and_the_resident_sees_it(server, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    resident = httpx.Client(base_url=server, timeout=30)
    first = resident.post("/api/v1/chat", json={"session_id": None, "text": "转人工", "channel": "web"}).json()
    sid = first["session_id"]
    resident.post("/api/v1/chat", json={"session_id": sid, "text": "我想办高龄津贴", "channel": "web"})

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            errors, failed = record_problems(page)
            page.goto(f"{server}/staff/inbox")
            assert "/staff/login" in page.url  # signed out: sent to the sign-in page
            sign_in(page, server, STAFF_USERS["staff"][0], PASSWORD)
            page.goto(f"{server}/staff/inbox")
            assert page.locator("#queue").inner_text().count("A001") == 1
            assert "我想办高龄津贴" in page.locator("#queue").inner_text()
            page.click("[data-claim]")
            page.wait_for_selector("#reply-text")
            assert page.locator("#status").inner_text() == "接待中"
            page.fill("#reply-text", "您好，我是社区工作人员，请带上老人的身份证和户口簿。")
            page.click("#send")
            page.wait_for_selector(".msg.from-agent")

            messages = resident.get(f"/api/v1/sessions/{sid}/messages").json()
            agent = [m for m in messages["messages"] if m["from"] == "agent"]
            assert [m["text"] for m in agent] == ["您好，我是社区工作人员，请带上老人的身份证和户口簿。"]
            assert messages["handoff"] == {"status": "接待中", "queue_number": "A001"}

            # The resident answers; the agent's open page shows it by itself (polling, no reload).
            reply = resident.post("/api/v1/chat", json={"session_id": sid, "text": "好的，谢谢，明天上午去",
                                                        "channel": "web"}).json()
            assert reply["action"] == "handoff"
            page.wait_for_selector(".msg.from-resident >> text=明天上午去", timeout=20_000)
            page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)

            # The agent closes with a note; the resident is told, and the conversation is back with the bot.
            page.click("summary:has-text('结束会话')")
            page.fill("textarea[name=note]", "已告知所需材料")
            with page.expect_navigation():
                page.click("#close")
            assert page.locator("#status").inner_text() == "已结束"
            closed = resident.get(f"/api/v1/sessions/{sid}/messages").json()
            assert closed["messages"][-1]["from"] == "system" and "结束" in closed["messages"][-1]["text"]
            assert closed["handoff"]["status"] == "已结束"
            # Nothing of this feature failed to load, and no script error or CSP violation happened.
            ours = [u for u in failed if "/handoff/" in u or "/staff/api/" in u or "/staff/inbox" in u]
            assert not ours, ours
            assert not [e for e in errors if "Failed to load resource" not in e], errors
        finally:
            browser.close()
            resident.close()
