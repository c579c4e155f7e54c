"""社区通知 and 灾害预警 in headless Chromium: a staff member writes a notice with a picture and submits it, an
approver approves and publishes it (residents' board has it), then issues a 转移安置 warning to every community
with 全选 and the confirmation step; the warning is on the board and staff get an alert. Screenshots go to
``SHOTS`` (default /tmp/h3shots) for a person to look at."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from browser_testkit import BROWSER, launch, live_server, record_problems, sign_in
from community_testkit import A, B, add_communities
from handoff_testkit import PASSWORD, STAFF_USERS
from PIL import Image
from sqlalchemy import select

from assistant.bulletins import WARNING_ALERT_KIND
from assistant.bulletins.models import EarlyWarning
from assistant.clock import now_china
from assistant.storage.db import session_scope
from assistant.storage.models import Alert

pytestmark = BROWSER
SHOTS = Path(os.environ.get("SHEQU_SHOTS_DIR", "/tmp/h3shots"))
TITLE = "12月6日竹溪小区停水"
HEADLINE = "竹溪、亭洪低洼处居民请马上转移"


@pytest.fixture
def server(settings):
    with live_server(settings, accounts=("staff", "approver"), before_start=add_communities,
                     staff_cookie_secure=False, outbox_drain_interval_seconds=0, graceful_shutdown_s=2) as live:
        yield live


def _png(path: Path) -> Path:
    image = Image.new("RGB", (480, 240), (230, 240, 255))
    for x in range(40, 440):
        for y in range(100, 140):
            image.putpixel((x, y), (20, 80, 160))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_a_notice_is_written_approved_published_and_a_warning_issued(server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    start = now_china().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            writer = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            errors, failed = record_problems(writer)
            sign_in(writer, server.url, STAFF_USERS["staff"][0], PASSWORD)
            writer.goto(f"{server.url}/staff/notices")
            writer.click("#new-notice")
            writer.fill("#f-title", TITLE)
            writer.fill("#f-body", "12月6日上午8点到下午6点，竹溪小区1至5栋停水检修管道，请提前储水。")
            writer.select_option("#f-category", "停水停电")
            writer.select_option("#f-audience", label="60岁以上老人")
            writer.fill("#f-valid_from", f"{start:%Y-%m-%dT%H:%M}")
            writer.fill("#f-valid_to", f"{start + dt.timedelta(hours=10):%Y-%m-%dT%H:%M}")
            writer.select_option("#f-community", A)
            writer.set_input_files("#f-image", str(_png(tmp_path / "map.png")))
            with writer.expect_navigation():
                writer.click("#save-notice")
            assert "/staff/notices/" in writer.url and "已保存草稿" in writer.inner_text("#notice-done")
            assert writer.inner_text("#notice-state") == "草稿"
            assert writer.locator(".resident-image").evaluate("img => img.naturalWidth") == 480
            writer.screenshot(path=str(SHOTS / "notice-draft.png"), full_page=True)
            with writer.expect_navigation():
                writer.click("#notice-submit")
            assert writer.inner_text("#notice-state") == "待审核"
            assert writer.locator("#notice-approve").count() == 0  # staff do not approve
            notice_url = writer.url.split("?")[0]

            approver = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            errors2, failed2 = record_problems(approver)
            sign_in(approver, server.url, STAFF_USERS["approver"][0], PASSWORD)
            approver.goto(notice_url)
            with approver.expect_navigation():
                approver.click("#notice-approve")
            with approver.expect_navigation():
                approver.click("#notice-publish")
            assert approver.inner_text("#notice-state") == "已发布"
            approver.screenshot(path=str(SHOTS / "notice-published.png"), full_page=True)
            board = server.context.bulletins
            board.invalidate()
            [shown] = [n for n in board.for_community(A)["notices"] if n["title"] == TITLE]
            assert shown["audience_label"] == "60岁以上老人" and shown["image_url"]
            approver.goto(f"{server.url}/staff/notices")
            assert TITLE in approver.inner_text("#notices") and "已发布" in approver.inner_text("#notices")
            approver.screenshot(path=str(SHOTS / "notices-list.png"), full_page=True)

            approver.goto(f"{server.url}/staff/warnings")
            approver.select_option("#f-event", "转移安置")
            approver.check("input[name=level][value=red]")
            approver.fill("#f-headline", HEADLINE)
            approver.fill("#f-instruction", "带上身份证和常用药，听从社区工作人员安排。")
            approver.fill("#f-assembly", "竹溪小学操场")
            approver.fill("#f-hours", "8")
            approver.check("[data-select-all]")
            checked = approver.locator("#warning-communities input[name=communities]:checked").count()
            assert checked == approver.locator("#warning-communities input[name=communities]").count() >= 2
            approver.screenshot(path=str(SHOTS / "warning-form.png"), full_page=True)
            with approver.expect_navigation():
                approver.click("#warning-next")
            assert "确认发布？" in approver.inner_text("main")
            assert "竹溪小学操场" in approver.inner_text("#confirm-banner")
            approver.screenshot(path=str(SHOTS / "warning-confirm.png"), full_page=True)
            with server.context.sessions() as db:
                assert db.scalar(select(EarlyWarning).where(EarlyWarning.headline == HEADLINE)) is None
            with approver.expect_navigation():
                approver.click("#confirm-issue")
            assert "预警已发布" in approver.inner_text("#warning-done")
            active = approver.inner_text("#active-warnings")
            assert HEADLINE in active and "红色" in active and "工作人员发布" in active
            approver.screenshot(path=str(SHOTS / "warnings-issued.png"), full_page=True)

            with session_scope(server.context.sessions) as db:
                warning = db.scalar(select(EarlyWarning).where(EarlyWarning.headline == HEADLINE))
                assert warning is not None and warning.level == "red" and warning.source == "manual"
                kinds = {a.community_code for a in db.scalars(select(Alert).where(Alert.kind == WARNING_ALERT_KIND))}
            assert {A, B} <= kinds
            board.invalidate()
            assert [w["assembly_point"] for w in board.for_community(B)["warnings"]] == ["竹溪小学操场"]

            for problems in (failed, failed2):
                ours = [u for u in problems if "/staff/" in u]
                assert not ours, ours
            for logged in (errors, errors2):
                assert not [e for e in logged if "Failed to load resource" not in e], logged
        finally:
            browser.close()
