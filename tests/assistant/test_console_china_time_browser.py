"""China time and Chinese words on the console, in headless Chromium.

Rows are stored at known UTC instants; an administrator signs in and opens the dashboard, the audit log, a KB
entry's history, the unanswered questions, the work orders, alerts, accounts and inbox, and downloads two
exports. Every date-and-time on those pages is
the China time of a stored row (or of something the visit itself just wrote, in China time), never the UTC
one, and no English status, action or audit code is visible.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_testkit import BROWSER, launch, live_server, sign_in
from console_testkit import ACCOUNTS, PASSWORD, USERS, module_console_settings, remember_warm_cache
from sqlalchemy import update

from assistant.clock import CHINA, china_seconds
from assistant.handoff.tickets import create_work_order
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, AuditLog, ChatSession, KbEntryVersion, Turn, UnansweredQuery

pytestmark = BROWSER

STORED = dt.datetime(2026, 3, 10, 2, 30, 15, tzinfo=dt.UTC)  # Beijing 2026-03-10 10:30:15
LATE = dt.datetime(2026, 3, 10, 17, 45, 5, tzinfo=dt.UTC)  # Beijing 2026-03-11 01:45:05: the next China day
ACKNOWLEDGED = STORED + dt.timedelta(seconds=95)  # one alert was acknowledged 95 s after it was raised
STORED_TIMES = {china_seconds(STORED), china_seconds(LATE)}
SHOWN_TIMES = STORED_TIMES | {china_seconds(ACKNOWLEDGED)}
UTC_TEXTS = ("2026-03-10 02:30", "2026-03-10 17:45")
MARCH = "start=2026-03-01&end=2026-03-31"
ENTRY = "senior-age-allowance"
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?")
# Codes that must never reach a person's eyes: statuses, reasons, intents, actions, channels, audit actions.
CODE_WORDS = re.compile(
    r"(?<![\w./-])(published|draft|archived|submitted|approved|withdrawn|resolved|open|out_of_scope|spam|fallback"
    r"|low_confidence|thumbs_down|ask_service|request_human|report_issue|emergency|answer|clarify|handoff"
    r"|smalltalk|ticket|kiosk|web|wechat|shipped|(?:auth|kb|alert|user|unanswered|personal|contact)\.[a-z_.]+)"
    r"(?![\w/-])")


def _seed(context: Any) -> None:
    cipher = PersonalDataCipher.from_settings(context.settings.encryption_key, context.settings.var_dir)
    with session_scope(context.sessions) as session:
        session.execute(update(KbEntryVersion).where(KbEntryVersion.entry_id == ENTRY).values(created_at=STORED))
        session.add(AuditLog(at=STORED, actor="amy", action="kb.publish", target=ENTRY, detail="v2 from draft #3"))
        session.add(AuditLog(at=LATE, actor="system", action="alert.raise", target="alert:1", detail="emergency"))
        session.add(Alert(created_at=STORED, session_id="s-help", channel="kiosk", kind="emergency",
                          text="我妈晕倒了"))
        session.add(Alert(created_at=STORED, session_id="s-help2", channel="web", kind="emergency", text="着火了",
                          acknowledged_by="sam", acknowledged_at=ACKNOWLEDGED))
        for at in (STORED, LATE):
            session.add(UnansweredQuery(created_at=at, session_id="s-q", channel="web", query="居住证怎么补办",
                                        reason="fallback", intent="ask_service"))
        session.add(ChatSession(id="s-q", channel="web", created_at=STORED))
        session.flush()
        session.add(Turn(session_id="s-q", channel="web", user_text="居住证怎么补办", action="fallback",
                         intent="ask_service", reply_text="抱歉", created_at=STORED))
        order = create_work_order(session, cipher, source="report_issue", channel="web", description="路灯不亮",
                                  route=False, department="社区")
        order.created_at = STORED


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = module_console_settings(tmp_path_factory.mktemp("china-time"), staff_cookie_secure=False)
    with live_server(settings, accounts=ACCOUNTS, before_start=_seed, start_timeout_s=300) as live:
        remember_warm_cache(settings)
        yield live.url


def _check_times(text: str, where: str) -> None:
    """Every date-time shown is a stored row's China time, or (rows the visit wrote) China time now."""
    for utc in UTC_TEXTS:
        assert utc not in text, f"{where}: UTC time {utc} shown"
    now = dt.datetime.now(CHINA).replace(tzinfo=None)
    for shown in DATETIME.findall(text):
        if any(stored.startswith(shown) for stored in SHOWN_TIMES):
            continue
        moment = dt.datetime.fromisoformat(shown)
        assert abs((moment - now).total_seconds()) < 15 * 60, f"{where}: {shown} is neither a stored China time " \
                                                                f"nor China time now ({now:%H:%M})"


def _check_words(text: str, where: str) -> None:
    codes = sorted(set(CODE_WORDS.findall(text)))
    assert not codes, f"{where}: English codes visible: {codes}"


def _read_csv(path: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"))))


def test_every_time_is_china_time_and_every_code_chinese(server: str, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(locale="zh-CN", accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(20_000)
            sign_in(page, server, USERS["admin"], PASSWORD)

            def visit(path: str, *, deadlines: bool = False) -> str:
                page.goto(server + path)
                page.wait_for_load_state("load")
                text = page.inner_text("main")
                if deadlines:  # work orders also show their deadlines, days ahead: only UTC must be absent
                    assert not [utc for utc in UTC_TEXTS if utc in text], f"{path}: UTC time shown"
                else:
                    _check_times(text, path)
                _check_words(text, path)
                return text

            dashboard = visit("/staff/?start=2026-03-10&end=2026-03-11")
            assert "2026-03-10 10:30" in dashboard  # the open emergency, in Beijing time
            assert page.inner_text("#em-total") == "2" and page.inner_text("#em-acknowledged") == "1"
            assert page.inner_text("#em-median") == "1 分 35 秒"
            assert "一体机" in dashboard and "100.0%" in dashboard  # the channel in Chinese, rates as percentages
            assert page.locator("#emergencies a[href='/staff/alerts']").count() >= 1

            audit = visit("/staff/audit")
            assert "2026-03-10 10:30:15" in audit and "2026-03-11 01:45:05" in audit
            assert "发布条目" in audit and "登录" in audit and "紧急求助" in audit
            page.select_option("#audit-action", label="紧急求助（全部）")
            with page.expect_navigation():
                page.click("form.filters button[type=submit]")
            only_alerts = page.inner_text("#audit tbody")
            assert "紧急求助" in only_alerts and "发布条目" not in only_alerts and "登录" not in only_alerts

            visit(f"/staff/kb/entry/{ENTRY}")
            assert "2026-03-10 10:30" in page.inner_text("#history")

            unanswered = visit(f"/staff/unanswered?{MARCH}")
            assert "居住证怎么补办" in unanswered
            assert "03-11" in unanswered  # the later question was asked on 03-11, Beijing time
            with page.expect_download() as download:
                page.click("a[href^='/staff/export/unanswered.csv']")
            rows = _read_csv(download.value.path())
            times = sorted(r[0] for r in rows[1:])
            assert times == sorted(STORED_TIMES), rows
            body = "\n".join(",".join(r) for r in rows)
            _check_words(body, "unanswered.csv")
            assert "答不上来" in body and "咨询办事" in body and "网页" in body

            visit("/staff/?start=2026-03-10&end=2026-03-10")
            with page.expect_download() as download:
                page.click("a[href^='/staff/export/work_orders.csv']")
            rows = _read_csv(download.value.path())
            assert rows[1][1] == china_seconds(STORED), rows
            _check_words("\n".join(",".join(r) for r in rows), "work_orders.csv")

            # The other pages that show times or codes: work orders, alerts, accounts, the inbox.
            orders = visit("/staff/orders?view=all", deadlines=True)
            assert "2026-03-10 10:30" in orders
            number = page.locator("a[href^='/staff/orders/GX']").first.get_attribute("href")
            assert "2026-03-10 10:30" in visit(str(number), deadlines=True)
            assert "2026-03-10 10:30" in visit("/staff/alerts")
            visit("/staff/users")
            visit("/staff/inbox")
        finally:
            browser.close()
