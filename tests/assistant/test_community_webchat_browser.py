"""The web chat names its community: ``/?c=CODE`` is remembered and sent with every chat request; an unknown
code is explained in Chinese with a chooser; with several communities and no code the page asks once.
Headless Chromium, 390×844, uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from browser_testkit import BROWSER, launch, live_server
from community_testkit import A, B, add_communities
from handoff_testkit import Clock
from sqlalchemy import select

from assistant.storage.models import ChatSession

PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000
pytestmark = BROWSER


@pytest.fixture
def server(settings: Any) -> Iterator[Any]:
    with live_server(settings, clock=Clock(), before_start=add_communities, staff_cookie_secure=False) as live:
        yield live


def _chat_bodies(page: Any) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.url.endswith("/api/v1/chat") and request.method == "POST":
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return bodies


def _send(page: Any, text: str) -> None:
    before = page.locator(".msg-bot:not(.pending)").count()
    page.fill("#chat-input", text)
    page.click("#send-button")
    page.wait_for_function(f"() => document.querySelectorAll('.msg-bot:not(.pending)').length > {before}",
                           timeout=WAIT_MS)


def test_the_chat_sends_the_community_of_its_link_and_asks_when_there_is_none(server: Any) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            # /?c=B: remembered and sent with every message; the conversation is B's.
            context = browser.new_context(viewport=PHONE, locale="zh-CN")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            bodies = _chat_bodies(page)
            page.goto(f"{server.url}/?c={B}")
            page.wait_for_function(f"() => localStorage.getItem('shequ.community') === '{B}'", timeout=WAIT_MS)
            assert page.locator(".community-ask").count() == 0
            _send(page, "你好")
            page.goto(f"{server.url}/")  # the link is not needed again on this device
            _send(page, "谢谢")
            assert [b.get("community") for b in bodies] == [B, B]
            session_id = page.evaluate("localStorage.getItem('shequ.sessionId')")
            with server.context.sessions() as db:
                assert db.scalar(select(ChatSession.community_code).where(ChatSession.id == session_id)) == B
            assert errors == []
            context.close()

            # An unknown code: a clear Chinese message and the chooser; the choice is remembered.
            context = browser.new_context(viewport=PHONE, locale="zh-CN")
            page = context.new_page()
            bodies = _chat_bodies(page)
            page.goto(f"{server.url}/?c=nn-nowhere")
            page.wait_for_selector(".community-ask", timeout=WAIT_MS)
            assert "没有找到编号为“nn-nowhere”的社区" in page.inner_text(".community-ask")
            page.click(f".community-ask button[data-community='{A}']")
            assert page.evaluate("localStorage.getItem('shequ.community')") == A
            assert page.locator(".community-ask").count() == 0
            _send(page, "你好")
            assert bodies[-1]["community"] == A
            context.close()

            # No code, several communities: asked once, then never again on this device.
            context = browser.new_context(viewport=PHONE, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{server.url}/")
            page.wait_for_selector(".community-ask", timeout=WAIT_MS)
            assert "您在哪个社区？" in page.inner_text(".community-ask")
            labels = page.locator(".community-ask button").all_text_contents()
            assert "江南区亭洪街道 · 亭洪社区" in labels and len(labels) == 3  # the default community too
            page.click(f".community-ask button[data-community='{B}']")
            page.reload()
            page.wait_for_load_state("networkidle")
            assert page.locator(".community-ask").count() == 0
            context.close()
        finally:
            browser.close()
