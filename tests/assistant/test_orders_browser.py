"""转为工单 in headless Chromium: a resident in a live handoff says the problem, the place and a phone; the agent
claims, reveals the number (audited) and converts — the form is prefilled, the department is chosen from the list,
and the saved order has the resident's number and a listed department."""

from __future__ import annotations

import httpx
import pytest
from browser_testkit import BROWSER, launch, live_server, sign_in
from handoff_testkit import PASSWORD, STAFF_USERS, Clock
from sqlalchemy import select

from assistant.handoff.contact import REVEAL_ACTION
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog, HandoffRequest, WorkOrder

PHONE = "13912345678"
pytestmark = BROWSER


@pytest.fixture
def server(settings):
    # Clock(): a Tuesday morning, office hours, whatever day the suite runs on.
    with live_server(settings, clock=Clock(), outbox_drain_interval_seconds=0, staff_cookie_secure=False) as live:
        yield live.url, live.context, live.app


def test_agent_reveals_the_number_and_converts_with_a_prefilled_form(server):
    from playwright.sync_api import sync_playwright

    url, context, app = server
    resident = httpx.Client(base_url=url, timeout=30)
    sid = resident.post("/api/v1/chat", json={"session_id": None, "text": "转人工", "channel": "web"}).json()[
        "session_id"]
    for text in ("幸福小区3栋楼道的灯坏了好几天，晚上黑乎乎的", f"我电话{PHONE}"):
        assert resident.post("/api/v1/chat", json={"session_id": sid, "text": text, "channel": "web"}).status_code == 200
    with session_scope(context.sessions) as db:
        hid = db.scalar(select(HandoffRequest.id).where(HandoffRequest.session_id == sid))
    departments = app.state.engine.handoff.policy.departments

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            sign_in(page, url, STAFF_USERS["staff"][0], PASSWORD)
            page.goto(f"{url}/staff/inbox/{hid}")
            assert page.locator("#contact-masked").inner_text() == "139****5678"
            page.click("#claim")
            page.wait_for_selector("#reveal-contact")
            assert PHONE not in page.content()

            page.click("#reveal-contact")
            page.wait_for_selector("#contact-full")
            assert page.locator("#contact-full").inner_text() == PHONE
            with session_scope(context.sessions) as db:
                audits = db.scalars(select(AuditLog).where(AuditLog.action == REVEAL_ACTION)).all()
                assert [(a.actor, a.target) for a in audits] == [(STAFF_USERS["staff"][0], "A001")]

            page.goto(f"{url}/staff/inbox/{hid}")  # the number is shown once, not kept on the page
            assert PHONE not in page.content()
            page.click("summary >> text=转为工单")
            assert "灯坏了" in page.locator("#convert-description").input_value()
            assert page.locator("#convert-location").input_value() == "幸福小区3栋楼道"
            assert "139****5678" in page.locator("#convert-contact").inner_text()
            department = page.locator("#convert-department")
            assert department.evaluate("e => e.tagName") == "SELECT"
            assert department.locator("option").all_inner_texts() == list(departments)
            assert department.input_value() == "物业"  # suggested by the routing rules
            department.select_option("市政")  # editable before saving
            department.select_option("物业")
            page.click("#convert")
            page.wait_for_url("**/staff/orders/GX*")
            assert "139****5678" in page.locator("#contact").inner_text()
            assert "未留" not in page.locator("#contact").inner_text()
            number = page.url.rsplit("/", 1)[1].split("?")[0]
        finally:
            browser.close()
            resident.close()
    with session_scope(context.sessions) as db:
        order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.department == "物业" and order.department in departments
        assert order.location == "幸福小区3栋楼道" and order.contact_masked == "139****5678"
