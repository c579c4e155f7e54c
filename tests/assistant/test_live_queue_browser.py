"""The live queue in headless Chromium: an open inbox shows a new request by server push (no reload) within
3 s with the resident's real question, the menu and the tab title count who is waiting, an emergency row comes
first in red, and after claiming, the resident's next message appears in the open transcript by push."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser_testkit import BROWSER, launch, live_server, record_problems, sign_in
from handoff_testkit import PASSWORD, STAFF_USERS, Clock

PUSH_MS = 3000  # the bound: a change shows on an open staff page within 3 s
pytestmark = BROWSER


@pytest.fixture
def server(settings):
    # Clock(): a Tuesday morning, office hours, whatever day the suite runs on.
    with live_server(settings, clock=Clock(), outbox_drain_interval_seconds=0, staff_cookie_secure=False) as live:
        yield live.url


def test_the_queue_and_the_transcript_update_by_push(server, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    resident = httpx.Client(base_url=server, timeout=30)

    def chat(text: str, sid: str | None = None) -> dict:
        response = resident.post("/api/v1/chat", json={"session_id": sid, "text": text, "channel": "web"})
        assert response.status_code == 200, response.text
        return response.json()

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            errors, _failed = record_problems(page)
            sign_in(page, server, STAFF_USERS["staff"][0], PASSWORD)
            page.goto(f"{server}/staff/inbox")
            assert page.locator("#queue-empty").is_visible()
            assert page.locator("#queue-count").is_hidden()
            assert not page.title().startswith("(")
            page.wait_for_timeout(500)  # the event stream is open

            # The optional sound: off by default, remembered across pages.
            assert page.locator("#queue-sound").inner_text() == "提示音：关"
            page.click("#queue-sound")
            assert page.locator("#queue-sound").inner_text() == "提示音：开"

            asked = chat("高龄津贴怎么申请")
            chat("/human", asked["session_id"])
            row = page.locator("#queue-rows tr", has_text="高龄津贴怎么申请")
            row.wait_for(timeout=PUSH_MS)  # no reload: pushed, re-fetched
            assert "/human" not in page.locator("#queue").inner_text()
            assert asked["topic"]["title"] in row.locator(".topic").inner_text()
            assert "网页" in row.inner_text()
            expect(page).to_have_title(re.compile(r"^\(1\) "), timeout=PUSH_MS)
            assert page.locator("#queue-count").inner_text() == "1"

            danger = chat("他倒在地上叫他不应")
            assert danger["action"] == "emergency"
            chat("/human", danger["session_id"])
            expect(page).to_have_title(re.compile(r"^\(2\) "), timeout=PUSH_MS)
            first = page.locator("#queue-rows tr").first
            expect(first).to_contain_text("紧急", timeout=PUSH_MS)  # the list re-fetch may land after the title
            expect(first).to_have_class(re.compile(r"\burgent\b"))
            page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

            page.reload()  # the count is rendered on the server too, and the sound setting is remembered
            assert page.locator("#queue-count").inner_text() == "2"
            assert page.locator("#queue-sound").inner_text() == "提示音：开"

            row = page.locator("#queue-rows tr", has_text="高龄津贴怎么申请")
            row.locator("[data-claim]").click()
            page.wait_for_selector("#reply-text")
            expect(page).to_have_title(re.compile(r"^\(1\) "), timeout=PUSH_MS)
            page.wait_for_timeout(500)  # the event stream is open
            chat("我家在星湖路8号", asked["session_id"])
            page.locator(".msg.from-resident", has_text="星湖路").wait_for(timeout=PUSH_MS)  # push, not the poll
            page.screenshot(path=str(tmp_path / "transcript.png"), full_page=True)
            assert not [e for e in errors if "Failed to load resource" not in e], errors
        finally:
            browser.close()
            resident.close()
