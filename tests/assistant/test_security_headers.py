"""Security headers on every page and answer, resident pages included; API docs only when enabled (issue 18)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from browser_testkit import CHROMIUM, launch, live_server, record_problems
from console_testkit import add_users, module_console_settings
from fastapi.testclient import TestClient

from assistant.api.main import create_app
from assistant.context import create_context

HTML_PAGES = ["/", "/t/", "/t/?number=nonsense", "/t/GX20990101999", "/staff/login"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = module_console_settings(tmp_path_factory.mktemp("headers-app"))
    context = create_context(settings)
    add_users(context)
    try:
        with TestClient(create_app(context=context), base_url="https://testserver", follow_redirects=False) as c:
            yield c
    finally:
        context.close()


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, style elements and attributes,
    event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self._in_script = True
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")]

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_has_the_security_headers_and_no_inline_code(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404) and response.headers["content-type"].startswith("text/html")
    csp = _directives(response.headers["content-security-policy"])
    assert csp["script-src"] == "script-src 'self'" and csp["style-src"] == "style-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'" and csp["object-src"] == "object-src 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    # Staff pages set these themselves too: the middleware must not add a second copy.
    assert all(len(response.headers.get_list(name)) == 1 for name in ("content-security-policy", "x-frame-options"))
    parser = _InlineCode()
    parser.feed(response.text)
    assert parser.found == []


def test_json_answers_are_nosniff_and_not_stored(client):
    chat = client.post("/api/v1/chat", json={"text": "高龄津贴怎么申请", "channel": "api"})
    bad = client.post("/api/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    order = client.get("/api/v1/orders/GX20990101999")
    for response in (chat, bad, order):
        assert response.headers["content-type"].startswith("application/json"), response.status_code
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    assert chat.status_code == 200 and bad.status_code in (400, 422) and order.status_code == 404


def test_static_files_are_nosniff_and_cacheable(client):
    for path in ("/static/chat.js", "/static/chat-early.js", "/static/ticket_status.css", "/static/chat.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in response.headers.get("cache-control", "")


def test_a_route_that_sets_its_own_header_keeps_it(client):
    response = client.get("/t/")
    assert response.headers["x-robots-tag"] == "noindex"
    assert len(response.headers.get_list("content-security-policy")) == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_api_docs_follow_the_setting(tmp_path, enabled):
    settings = module_console_settings(tmp_path, api_docs=enabled)
    with TestClient(create_app(settings)) as docs_client:
        statuses = {path: docs_client.get(path).status_code for path in ("/docs", "/redoc", "/openapi.json")}
        assert docs_client.get("/").status_code == 200
        if enabled:
            docs = docs_client.get("/docs")
            # Swagger UI needs its CDN script and inline bootstrap, so no CSP there; still never framed.
            assert "content-security-policy" not in docs.headers and docs.headers["x-frame-options"] == "DENY"
    assert set(statuses.values()) == ({200} if enabled else {404})


# ---------------------------------------------------------------- the real page in Chromium, under its CSP

CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
def test_the_web_chat_works_under_its_csp(settings):
    sync_api = pytest.importorskip("playwright.sync_api")
    with live_server(settings, accounts=()) as server, sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.add_init_script(CSP_LISTENER)
            _, failed = record_problems(page)
            errors: list[str] = []
            # The status page has no icon link, so Chromium asks for /favicon.ico (a 404 unrelated to the CSP).
            page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                    and not m.location.get("url", "").endswith("/favicon.ico") else None)
            page.goto(f"{server.url}/", wait_until="load", timeout=30_000)
            page.fill("#chat-input", "高龄津贴怎么申请")
            page.click("#send-button")
            # The answer arrived through chat.js's fetch and was rendered: the page's script really ran.
            page.locator(".msg-bot", has_text="80周岁").first.wait_for(timeout=30_000)
            # The large-text choice is applied by the early script (once inline), before the first paint.
            page.click("#large-text")
            page.reload(wait_until="load")
            assert page.evaluate("document.documentElement.classList.contains('large-text')")
            violations: list[Any] = page.evaluate("window.__csp")

            page.goto(f"{server.url}/t/", wait_until="load")
            # The status page's styles now come from a file: large type for older residents still applies.
            assert page.evaluate("getComputedStyle(document.body).fontSize") == "24px"
            violations += page.evaluate("window.__csp")
        finally:
            browser.close()
    assert violations == []
    assert not [e for e in errors if re.search("Content Security Policy|Refused", e)], errors
    assert errors == [], errors
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
