"""The assistant seam: in-process, over real HTTP to the chat API, and every way the server can fail."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from kiosk_testkit import response

from assistant.context import AppContext
from assistant.settings import Settings
from kiosk_app.catalog import Catalog, page_of
from kiosk_app.client import HttpAssistantClient, InProcessAssistantClient, create_client
from kiosk_app.config import KioskConfig
from kiosk_app.errors import AssistantUnavailableError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(kiosk_context: AppContext) -> Iterator[str]:
    import uvicorn

    from assistant.api.main import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(context=kiosk_context), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_create_client_follows_the_config(kiosk_settings: Settings) -> None:
    assert isinstance(create_client(KioskConfig(), kiosk_settings), InProcessAssistantClient)
    http = create_client(KioskConfig(assistant_url="http://10.0.0.5:8000"), kiosk_settings)
    assert isinstance(http, HttpAssistantClient) and http.base_url == "http://10.0.0.5:8000"
    http.close()


def test_over_http_a_tile_payload_gets_the_answer(server_url: str, kiosk_settings: Settings) -> None:
    client = HttpAssistantClient(server_url, kiosk_settings, home_codes=("yanglao",))
    try:
        first = client.chat(None, "/topic senior-age-allowance")
        assert first.action == "answer" and first.topic is not None and first.topic.id == "senior-age-allowance"
        follow = client.chat(first.session_id, "/aspect materials")
        assert follow.session_id == first.session_id and follow.aspect == "materials"
        assert "户口簿" in follow.reply.text
        # The tiles come from the KB files installed with the kiosk.
        assert [c.code for c in client.catalog().home_categories()] == ["yanglao"]
    finally:
        client.close()


def test_over_http_an_unreachable_server_is_a_sentence(kiosk_settings: Settings) -> None:
    client = HttpAssistantClient(f"http://127.0.0.1:{_free_port()}", kiosk_settings, timeout=1.0)
    with pytest.raises(AssistantUnavailableError) as info:
        client.chat(None, "高龄津贴")
    assert "连不上" in info.value.message_zh
    client.close()


@pytest.mark.parametrize(("status", "body"), [
    (500, b"Internal Server Error"),
    (422, b'{"detail": "bad"}'),
    (200, b"<html>captive portal</html>"),
    (200, b'{"session_id": "x"}'),
])
def test_over_http_bad_answers_are_a_sentence(kiosk_settings: Settings, status: int, body: bytes) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, content=body)

    client = HttpAssistantClient("http://central", kiosk_settings, transport=httpx.MockTransport(handler))
    with pytest.raises(AssistantUnavailableError):
        client.chat("abc", "高龄津贴")
    assert sent[0].url.path == "/api/v1/chat"
    assert b'"channel":"kiosk"' in sent[0].content.replace(b" ", b"")
    client.close()


def test_over_http_the_contract_reply_is_parsed(kiosk_settings: Settings) -> None:
    body = response("handoff", "已转接", ticket="A003").model_dump_json().encode()
    client = HttpAssistantClient("http://central", kiosk_settings,
                                 transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    reply = client.chat(None, "/human")
    assert reply.ticket is not None and reply.ticket.number == "A003"
    client.close()


def test_empty_text_never_reaches_the_assistant(in_process_client: InProcessAssistantClient) -> None:
    with pytest.raises(AssistantUnavailableError):
        in_process_client.chat(None, "   ")


def test_catalog_groups_and_pages(in_process_client: InProcessAssistantClient) -> None:
    catalog: Catalog = in_process_client.catalog()
    assert [c.code for c in catalog.home_categories()] == ["yanglao", "shebao"]
    assert catalog.other_categories() == []
    yanglao = catalog.category("yanglao")
    assert yanglao is not None and "senior-preferential-card" in [q.entry_id for q in yanglao.questions]
    assert catalog.community_name == "东葛社区"
    items, page, pages = page_of(list(range(14)), 5)
    assert (items, page, pages) == ([12, 13], 2, 3)
    assert page_of([], -3) == ([], 0, 1)
