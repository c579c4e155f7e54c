"""The resident web chat in headless Chromium against the real app (shipped KB, SQLite, uvicorn in a thread).

Screenshots of every run go to ``test-artifacts/webchat/`` (phone 390 px and desktop, normal and large text).
Every request the page makes is recorded: anything not addressed to the local server fails the test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from accessibility.contrast import AA_TEXT, contrast_ratio
from assistant.api.main import create_app
from assistant.context import AppContext, create_context
from assistant.settings import PROJECT_ROOT, Settings
from assistant.storage.models import ChatSession, HandoffRequest, Turn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "webchat"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
STARTUP_LIMIT_S = 900  # the first build of the shipped KB index on a slow, busy machine
WORKDAY_MORNING = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CLARIFY_CANDIDATES = ("办证", "怎么申请", "钱", "证件", "办卡", "申请补助", "怎么办理", "补贴怎么领", "登记",
                      "老人证", "优待证", "证明", "补助", "卡")
CONTRAST_SELECTORS = (
    "body", ".app-title", ".toggle", "#human-button", ".input-label", ".char-count", "#chat-input", ".send-button",
    ".msg-user .bubble-text", ".msg-bot .bubble-text", ".msg-agent .bubble-text", ".msg-agent .sender",
    ".msg-emergency .bubble-text", ".reply-button", ".choice-button", ".tool-button", ".tool-note", ".error",
    ".handoff-status", ".call-link", "#new-chat",
)

sync_api = pytest.importorskip("playwright.sync_api")


# ---------------------------------------------------------------- the server and the browser

@dataclass
class LiveServer:
    url: str
    app: Any
    context: AppContext

    def api_chat(self, text: str) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/api/v1/chat", json={"text": text, "channel": "api"}, timeout=60)
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        tmp = tmp_path_factory.mktemp("webchat-var")
        settings = Settings(_env_file=None, var_dir=tmp, database_url=f"sqlite:///{(tmp / 'shequ.db').as_posix()}",
                            index_dir=tmp_path_factory.getbasetemp() / "shipped-kb-index",
                            office_hours="00:00-24:00", office_weekends=True)
    context = create_context(settings)
    app = create_app(context=context)
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, name="webchat-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web chat server did not start")
        time.sleep(0.2)
    # Queue for a person whatever today is (weekend, public holiday): the office is open on this clock.
    app.state.engine.handoff.clock = lambda: WORKDAY_MORNING
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, context)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        context.close()


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    contexts, visits = [], []

    def _open(viewport: dict[str, int] = PHONE, large_text: bool = False) -> Visit:
        context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page)
        visits.append(visit)

        def record(route: Any) -> None:
            visit.requests.append(route.request.url)
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", record)
        page.on("pageerror", lambda error: visit.errors.append(str(error)))
        if large_text:
            page.add_init_script("localStorage.setItem('shequ.largeText', '1')")
        page.goto(server.url + "/")
        page.wait_for_function("() => document.readyState === 'complete'")
        return visit

    yield _open
    for context in contexts:
        context.close()
    for visit in visits:
        outside = [url for url in visit.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                   and urlsplit(url).hostname != "127.0.0.1"]
        assert outside == [], f"the page reached beyond the local server: {outside}"
        assert visit.errors == [], f"JavaScript errors: {visit.errors}"


# ---------------------------------------------------------------- page helpers

def ask(page: Any, text: str) -> Any:
    """Types a question, sends it, and returns the bot message that answers it."""
    before = page.locator(".msg-bot:not(.pending)").count()
    page.fill("#chat-input", text)
    page.click("#send-button")
    return wait_for_reply(page, before)


def wait_for_reply(page: Any, before: int) -> Any:
    page.wait_for_function(f"() => document.querySelectorAll('.msg-bot:not(.pending)').length > {before}")
    return page.locator(".msg-bot:not(.pending)").last


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def font_px(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).fontSize)"))


_COLOURS_JS = """
(selectors) => {
  const parse = (s) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(s || "");
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, bottom) => ({r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    return layers.reverse().reduce((acc, layer) => over(layer, acc), {r: 255, g: 255, b: 255, a: 1});
  };
  const rgb = (c) => [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
  const out = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || el.closest("[hidden]")) continue;
      const bg = background(el);
      out.push({selector, fg: rgb(over(parse(getComputedStyle(el).color), bg)), bg: rgb(bg),
                text: (el.textContent || el.placeholder || "").trim().slice(0, 16)});
      const placeholder = el.placeholder ? parse(getComputedStyle(el, "::placeholder").color) : null;
      if (placeholder) out.push({selector: selector + "::placeholder", fg: rgb(over(placeholder, bg)),
                                 bg: rgb(bg), text: el.placeholder.slice(0, 16)});
    }
  }
  return out;
}
"""


def low_contrast(page: Any) -> tuple[list[str], set[str]]:
    """Elements whose text is below 4.5:1 against what is behind it, and the selectors that were measured."""
    found = page.evaluate(_COLOURS_JS, list(CONTRAST_SELECTORS))
    failing = []
    for item in found:
        ratio = contrast_ratio(tuple(item["fg"]), tuple(item["bg"]))
        if ratio < AA_TEXT:
            failing.append(f"{item['selector']} {item['text']!r}: {ratio:.2f} ({item['fg']} on {item['bg']})")
    return failing, {item["selector"] for item in found}


def clarifying_query(server: LiveServer) -> tuple[str, list[str]]:
    """A question that the engine answers with a choice between ≥ 2 topics, and those topics' titles."""
    for query in CLARIFY_CANDIDATES:
        if server.context.kb.current().search(query).candidates:
            body = server.api_chat(query)
            titles = [b["title"].split(". ", 1)[1] for b in body["reply"]["buttons"]
                      if b["payload"].startswith("/choose ") and b["payload"] != "/choose 0"]
            if body["action"] == "clarify" and len(titles) >= 2:
                return query, titles
    pytest.fail(f"none of {CLARIFY_CANDIDATES} makes the engine clarify")


def entry_id_by_title(server: LiveServer, title: str) -> str:
    return next(e.id for e in server.context.kb.current().entries.values() if e.title == title)


# ---------------------------------------------------------------- the tests

def test_ask_get_an_answer_and_rate_it(open_page: Any, server: LiveServer) -> None:
    page = open_page().page
    answer = ask(page, "高龄津贴怎么申请")
    assert answer.get_attribute("data-action") == "answer"
    assert answer.get_attribute("data-topic") == "senior-age-allowance"
    expected = server.context.kb.current().rendered_answer("senior-age-allowance")
    assert answer.locator(".bubble-text").text_content() == expected
    assert page.locator(".msg-user .bubble-text").last.text_content() == "高龄津贴怎么申请"
    assert page.input_value("#chat-input") == ""  # cleared only once the server has the question

    # An aspect button sends its payload; the resident sees the button's words.
    answer.locator(".reply-button", has_text="要带什么").click()
    follow_up = wait_for_reply(page, 2)
    assert follow_up.get_attribute("data-aspect") == "materials"
    assert page.locator(".msg-user .bubble-text").last.text_content() == "要带什么"

    thumbs_up = follow_up.locator(".feedback button[data-rating='1']")
    assert thumbs_up.get_attribute("aria-label") == "这个回答有用"
    thumbs_up.click()
    page.wait_for_selector(".feedback[data-rated='1']")
    assert thumbs_up.get_attribute("aria-pressed") == "true"
    shot(page, "phone-answer-rated")
    with server.context.sessions() as db:
        rated = db.scalars(select(Turn).where(Turn.feedback == 1)).all()
    assert [t.aspect for t in rated] == ["materials"]


def test_clarification_choice_button_answers_that_topic(open_page: Any, server: LiveServer) -> None:
    query, titles = clarifying_query(server)
    page = open_page().page
    question = ask(page, query)
    assert question.get_attribute("data-action") == "clarify"
    choices = question.locator(".choice-button")
    assert [choices.nth(i).text_content() for i in range(len(titles))] == [
        f"{n}. {t}" for n, t in enumerate(titles, start=1)]
    shot(page, "phone-clarify")
    choices.nth(0).click()
    answer = wait_for_reply(page, 2)
    assert answer.get_attribute("data-action") == "answer"
    assert answer.get_attribute("data-topic") == entry_id_by_title(server, titles[0])
    assert page.locator(".msg-user .bubble-text").last.text_content() == f"1. {titles[0]}"
    # Choices of an earlier question would now pick from nothing: they are gone.
    assert page.locator(".choice-button").count() == 0


def test_large_text_switch_scales_the_page_and_is_remembered(open_page: Any) -> None:
    page = open_page().page
    switch = page.locator("#large-text")
    assert switch.get_attribute("role") == "switch" and switch.get_attribute("aria-checked") == "false"
    normal = {s: font_px(page, s) for s in (".bubble-text", "#chat-input", ".send-button", ".reply-button")}
    assert normal[".bubble-text"] >= 18
    switch.click()
    assert switch.get_attribute("aria-checked") == "true"
    large = {s: font_px(page, s) for s in normal}
    assert all(large[s] >= normal[s] * 1.2 for s in normal), (normal, large)
    page.reload()
    assert page.locator("#large-text").get_attribute("aria-checked") == "true"
    assert font_px(page, ".bubble-text") == large[".bubble-text"]
    page.locator("#large-text").click()
    assert font_px(page, ".bubble-text") == normal[".bubble-text"]


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("contrast", ["no-preference", "more"])
def test_text_contrast_of_the_main_elements(open_page: Any, large_text: bool, contrast: str) -> None:
    page = open_page(large_text=large_text).page
    page.emulate_media(contrast=contrast)
    ask(page, "高龄津贴怎么申请")
    ask(page, "我家老人晕倒了")
    page.fill("#chat-input", " ")
    page.click("#send-button")
    page.wait_for_selector("#error:not([hidden])")
    failing, measured = low_contrast(page)
    assert failing == [], failing
    assert {"body", ".msg-user .bubble-text", ".msg-bot .bubble-text", ".reply-button", ".tool-button",
            ".send-button", "#chat-input::placeholder", ".error", ".msg-emergency .bubble-text", ".call-link",
            "#new-chat"} <= measured


def test_errors_are_shown_in_chinese_and_typed_text_is_kept(open_page: Any) -> None:
    page = open_page().page
    page.fill("#chat-input", "   ")
    page.click("#send-button")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "请输入您要问的内容"  # the API's message_zh

    too_long = "社" * 501  # the textarea stops at 500; a paste through script does not
    page.eval_on_selector("#chat-input", "(el, text) => { el.removeAttribute('maxlength'); el.value = text; }",
                          too_long)
    page.click("#send-button")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('500')")
    assert page.input_value("#chat-input") == too_long
    assert page.locator(".msg-user").count() == 0

    page.route("**/api/v1/chat", lambda route: route.abort("internetdisconnected"))
    page.fill("#chat-input", "社保卡丢了怎么办")
    page.click("#send-button")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('网络')")
    assert page.get_attribute("#error", "role") == "alert"
    assert page.input_value("#chat-input") == "社保卡丢了怎么办"
    assert page.locator(".msg-user").count() == 0
    shot(page, "phone-network-error")

    page.unroute("**/api/v1/chat")
    page.click("#send-button")  # the retry sends what is still in the box
    answer = wait_for_reply(page, 1)
    assert answer.get_attribute("data-action") == "answer"
    assert page.is_hidden("#error") and page.input_value("#chat-input") == ""


def test_resident_text_is_shown_as_text_not_html(open_page: Any) -> None:
    page = open_page().page
    hostile = '<img src=x onerror="window.__pwned=1"><b>高龄津贴</b>'
    ask(page, hostile)
    assert page.locator(".msg-user .bubble-text").last.text_content() == hostile
    assert page.locator("#messages img, #messages b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_labels_live_region_and_visible_focus(open_page: Any) -> None:
    page = open_page().page
    assert page.get_by_label("请输入您的问题").evaluate("el => el.id") == "chat-input"
    assert page.get_attribute("#chat-input", "maxlength") == "500"
    assert page.get_attribute("#messages", "aria-live") == "polite"
    ask(page, "高龄津贴怎么申请")
    for button in page.locator(".tool-button").all():
        assert button.get_attribute("aria-label"), button.inner_html()
    page.focus("#chat-input")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send-button"
    outline = page.eval_on_selector("#send-button", "el => [getComputedStyle(el).outlineStyle, "
                                                     "parseFloat(getComputedStyle(el).outlineWidth)]")
    assert outline[0] != "none" and outline[1] >= 2
    # Reading order: the skip link and the header come before the conversation, the input after it.
    order = page.evaluate("""() => ['.skip-link', '#large-text', '#messages', '#chat-input', '#send-button']
        .map(s => document.querySelector(s))
        .every((el, i, all) => i === 0 || (all[i - 1].compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING))""")
    assert order is True


def test_handoff_polls_and_shows_the_agent_reply(open_page: Any, server: LiveServer) -> None:
    page = open_page().page
    ask(page, "高龄津贴怎么申请")
    before = page.locator(".msg-bot:not(.pending)").count()
    with page.expect_response(lambda r: "/messages?after=" in r.url, timeout=60_000) as first_poll:
        page.click("#human-button")
        handoff = wait_for_reply(page, before)
        assert handoff.get_attribute("data-action") == "handoff"
        status = page.locator("#handoff-status")
        assert status.is_visible() and re.search(r"A\d{3}", status.text_content() or "")
    assert first_poll.value.status == 200

    with server.context.sessions() as db:  # a staff member answers from the inbox
        request = db.scalars(select(HandoffRequest).order_by(HandoffRequest.id.desc())).first()
        chat = db.get(ChatSession, request.session_id)
        db.add(Turn(session_id=chat.id, channel=chat.channel, user_text="", action="agent",
                    reply_text="您好，我是社区的小李，请问要办什么？", candidates=[], latency_ms=0.0, sender="agent"))
        db.commit()
    page.wait_for_selector(".msg-agent", timeout=60_000)
    assert page.locator(".msg-agent .bubble-text").text_content() == "您好，我是社区的小李，请问要办什么？"
    assert page.locator(".msg-agent .sender").text_content() == "工作人员"
    shot(page, "phone-handoff-agent")


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_screenshots(open_page: Any, server: LiveServer, device: str, large_text: bool) -> None:
    visit = open_page(PHONE if device == "phone" else DESKTOP, large_text=large_text)
    page = visit.page
    size = "large" if large_text else "normal"
    shot(page, f"{device}-{size}-welcome")
    ask(page, "高龄津贴怎么申请")
    ask(page, "要带什么材料")
    shot(page, f"{device}-{size}-answer")
    query, _titles = clarifying_query(server)
    ask(page, query)
    shot(page, f"{device}-{size}-clarify")
    # Nothing may be cut off sideways on a phone: the page never scrolls horizontally.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for button in page.locator("button:visible").all():
        box = button.bounding_box()
        assert box and box["height"] >= 44, (button.text_content(), box)
