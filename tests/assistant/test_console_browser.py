"""The console in headless Chromium: the editorial loop end to end, rollback, and no XSS from resident text.

Resident text arrives through ``POST /api/v1/chat`` carrying script payloads; every console page is opened
with a dialog handler, a console listener and a window flag the payloads would set, and must stay inert.
Screenshots of the main pages go to ``test-artifacts/console/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from browser_testkit import BROWSER, launch, live_server, sign_in
from console_testkit import ACCOUNTS, PASSWORD, USERS, module_console_settings, remember_warm_cache

from assistant.settings import PROJECT_ROOT

pytestmark = BROWSER

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "console"
FLAG = "__shequ_xss"
PAYLOADS = [
    f"<script>window.{FLAG}=1;alert('xss')</script>社保卡",
    f"<img src=x onerror=\"window.{FLAG}=2;alert('img')\">老人补贴",
    f"<svg onload=window.{FLAG}=3>",
    f"\"><script>window.{FLAG}=4</script>",
    f"<iframe src=\"javascript:window.top.{FLAG}=5\"></iframe>",
    f"<a href=\"javascript:window.{FLAG}=6\">点我</a>",
    f"<body onload=window.{FLAG}=7>",
    "{{7*7}}{% raw %}${7*7}",
    f"<details open ontoggle=window.{FLAG}=8>",
]
NEW_ANSWER = "满80周岁的老人带身份证、户口簿和银行卡到社区服务中心申请高龄津贴，每月发到社保卡。"
BUS_ANSWER = "65周岁以上老人带身份证到公交公司服务网点办理老年人乘车卡，市内公交免费乘坐。"


@dataclass
class Server:
    url: str
    context: Any

    def chat(self, text: str) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/api/v1/chat", json={"session_id": None, "text": text, "channel": "web"},
                              timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def thumbs_down(self, session_id: str) -> int:
        response = httpx.post(f"{self.url}/api/v1/feedback", json={"session_id": session_id, "rating": -1},
                              timeout=60)
        return response.status_code


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = module_console_settings(tmp_path_factory.mktemp("console-browser"))
    with live_server(settings, accounts=ACCOUNTS, start_timeout_s=300) as live:
        remember_warm_cache(settings)
        yield Server(live.url, live.context)


@dataclass
class Watch:
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright import sync_api

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


class Staff:
    """One signed-in browser (its own cookie jar), watching for anything a payload could do."""

    def __init__(self, browser: Any, server: Server, role: str) -> None:
        self.server = server
        self.watch = Watch()
        self.context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda message: self.watch.console.append(message.text))
        sign_in(self.page, server.url, USERS[role], PASSWORD)

    def _dialog(self, dialog: Any) -> None:
        self.watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, path: str, shot: str = "") -> Any:
        self.page.goto(self.server.url + path)
        self.page.wait_for_load_state("load")
        if shot:
            self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        self.assert_inert()
        return self.page

    def submit(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.assert_inert()

    def submit_in(self, locator: Any) -> None:
        with self.page.expect_navigation():
            locator.click()
        self.assert_inert()

    def assert_inert(self) -> None:
        assert self.page.evaluate(f"typeof window.{FLAG}") == "undefined", self.page.url
        assert not self.watch.dialogs, self.watch.dialogs

    def close(self) -> None:
        self.context.close()


def test_resident_payloads_never_execute_on_any_console_page(server: Server, browser: Any):
    for payload in PAYLOADS:
        reply = server.chat(payload)
        if reply["action"] != "fallback":  # answered anyway: the resident's 👎 sends it to staff all the same
            assert server.thumbs_down(reply["session_id"]) in (204, 404)
    staff = Staff(browser, server, "admin")
    try:
        unanswered = staff.open("/staff/unanswered", "unanswered")
        shown = unanswered.inner_text("main")
        # shown as text, not swallowed
        assert "<script>" in shown and "onerror" in shown and "javascript:" in shown and "ontoggle" in shown
        # a payload turned into a draft entry by staff is shown in the editor, escaped too
        cluster = unanswered.locator("section.cluster", has_text="onerror").first
        staff.submit_in(cluster.locator("button.new-entry"))
        staff.page.screenshot(path=str(ARTIFACTS / "draft-from-payload.png"), full_page=True)
        assert "onerror" in staff.page.input_value("#f-questions")
        staff.open("/staff/", "dashboard")
        staff.open("/staff/audit", "audit")
        staff.open("/staff/kb?trial=" + httpx.QueryParams({"x": PAYLOADS[1]})["x"], "kb-list")
        staff.open("/staff/kb/review")
        staff.open("/staff/users", "users")
        staff.open("/staff/synonyms", "synonyms")
        staff.open("/staff/kb/transfer", "transfer")
        for path in ("/staff/kb/due", "/staff/kb/entry/senior-age-allowance", "/staff/login?next=%22%3E%3Cscript%3E"):
            staff.open(path)
        assert not [m for m in staff.watch.console if "xss" in m.lower()]
    finally:
        staff.close()


def test_edit_review_publish_chat_then_roll_back(server: Server, browser: Any):
    old = server.chat("高龄津贴怎么申请")["reply"]["text"]
    staff = Staff(browser, server, "staff")
    try:
        staff.open("/staff/kb/entry/senior-age-allowance")
        staff.submit("#edit-entry")
        staff.page.fill("#f-answer", NEW_ANSWER)
        staff.page.fill("#f-note", "按新规定更新材料")
        staff.submit("#submit-draft")
        assert staff.page.inner_text("#draft-state") == "待审核"
        draft_path = staff.page.url.split(server.url)[1].split("?")[0]
        staff.open(draft_path + "?q=" + "八十岁老人补助怎么领", "draft-try")
        assert "按这份草稿修改后" in staff.page.inner_text("main")
    finally:
        staff.close()
    approver = Staff(browser, server, "approver")
    try:
        approver.open("/staff/kb/review", "review")
        approver.open(draft_path)
        approver.submit("#approve-draft")
        approver.submit("#publish-draft")
        assert "已发布" in approver.page.inner_text("main")
        assert server.chat("高龄津贴怎么申请")["reply"]["text"] == NEW_ANSWER
        approver.open("/staff/kb/entry/senior-age-allowance", "entry-history")
        assert approver.page.locator(".diff ins").count() > 0
        approver.submit("a[data-rollback='1']")  # a confirmation page first: nothing published yet
        assert server.chat("高龄津贴怎么申请")["reply"]["text"] == NEW_ANSWER
        approver.submit("#confirm-rollback")
        assert "已发布" in approver.page.inner_text(".flash")
        assert server.chat("高龄津贴怎么申请")["reply"]["text"] == old
    finally:
        approver.close()


def test_unanswered_cluster_becomes_a_published_entry(server: Server, browser: Any):
    asks = ["老年人乘车卡怎么办", "请问老年人乘车卡在哪里办", "老年人乘车卡怎么办理呢", "老年人乘车卡要什么材料",
            "我想问老年人乘车卡去哪里办", "老年人乘车卡在哪办？", "老年人乘车卡如何办理", "老年人乘车卡怎么申请"]
    for ask in asks:
        reply = server.chat(ask)
        if reply["action"] != "fallback":  # a wrong answer: the resident says so with 👎
            assert server.thumbs_down(reply["session_id"]) in (204, 404)
    staff = Staff(browser, server, "staff")
    try:
        page = staff.open("/staff/unanswered")
        cluster = page.locator("section.cluster", has_text="老年人乘车卡").first
        assert int(cluster.get_attribute("data-count")) >= len(asks)
        with page.expect_navigation():
            cluster.locator("button.new-entry").click()
        page.fill("#f-id", "senior-bus-card")
        page.fill("#f-answer", BUS_ANSWER)
        page.fill("#f-department", "交通")
        page.select_option("#f-category", "yanglao")
        page.fill("#f-questions", page.input_value("#f-questions") + "\n老人坐车的卡怎么弄\n老人免费坐公交的卡")
        staff.submit("#submit-draft")
        assert page.inner_text("#draft-state") == "待审核", page.inner_text("main")[:800]
        draft_path = page.url.split(server.url)[1].split("?")[0]
        assert "老年人乘车卡" not in staff.open("/staff/unanswered").inner_text("main")
    finally:
        staff.close()
    approver = Staff(browser, server, "approver")
    try:
        approver.open(draft_path)
        approver.submit("#approve-draft")
        approver.submit("#publish-draft")
    finally:
        approver.close()
    answer = server.chat("老年人乘车卡怎么办")
    assert answer["topic"]["id"] == "senior-bus-card" and answer["reply"]["text"] == BUS_ANSWER
