"""The kiosk's heartbeat: what it sends, the configuration it applies, failures retried without the token or
personal data in the log, its own thread; end to end against the real API, the community its turns go to."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from kiosk_testkit import response

from assistant.context import AppContext
from assistant.settings import Settings
from device_adapters.printer import DummyReceiptPrinter, PaperState
from kiosk_app.client import HttpAssistantClient
from kiosk_app.config import KioskConfig, config_from_settings
from kiosk_app.devices import KioskDevices
from kiosk_app.heartbeat import RETRY_SECONDS, KioskHeartbeat, ServerConfig, device_health, start_heartbeat
from kiosk_app.microphone import FileMicrophone, NoMicrophone

TOKEN = "kq_test-token-for-the-fake-server"
CONFIG = {"kiosk": {"id": 3, "name": "3号自助机"}, "community": {"code": "qingxiu", "name": "青秀社区"},
          "settings": {"heartbeat_seconds": 30, "idle_seconds": 90, "asr_language": "zh"}}


class FakeServer:
    """The central server as an httpx transport: records requests, answers heartbeats and chat turns."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/v1/kiosk/heartbeat":
            return httpx.Response(self.status, json=CONFIG if self.status == 200 else {"error": {}})
        if request.url.path in ("/api/v1/kiosk/chat", "/api/v1/chat"):
            return httpx.Response(200, json=response(text="请带身份证。").model_dump())
        return httpx.Response(404)

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


def _heartbeat(server: FakeServer, applied: list[ServerConfig], **kwargs: object) -> KioskHeartbeat:
    return KioskHeartbeat("http://server.test", TOKEN, interval=60, health=lambda: {"printer": "ok"},
                          on_config=applied.append, version="0.1.0", transport=httpx.MockTransport(server),
                          **kwargs)  # type: ignore[arg-type]


def test_a_beat_reports_health_and_the_client_then_uses_the_pulled_community(kiosk_settings: Settings) -> None:
    server = FakeServer()
    client = HttpAssistantClient("http://server.test", kiosk_settings, transport=httpx.MockTransport(server),
                                 kiosk_token=TOKEN)
    heartbeat = KioskHeartbeat("http://server.test", TOKEN, interval=60, health=lambda: {"printer": "no_paper"},
                               on_config=lambda c: client.use_community(c.community_code), version="0.1.0",
                               transport=httpx.MockTransport(server))
    try:
        config = heartbeat.beat_once()
        assert config == ServerConfig("qingxiu", "青秀社区", "3号自助机", 30.0)
        [beat] = server.bodies("/api/v1/kiosk/heartbeat")
        assert beat["version"] == "0.1.0" and beat["health"] == {"printer": "no_paper"} and beat["uptime"] >= 0
        assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
        assert heartbeat.interval == 30.0  # the server's interval is applied

        client.chat(None, "高龄津贴怎么申请")
        [turn] = server.requests[1:]
        assert turn.url.path == "/api/v1/kiosk/chat" and turn.headers["Authorization"] == f"Bearer {TOKEN}"
        assert json.loads(turn.content)["community"] == "qingxiu"
    finally:
        heartbeat.stop()
        client.close()


def test_a_refused_beat_is_logged_without_the_token_and_retried_sooner(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    server.status = 401
    applied: list[ServerConfig] = []
    heartbeat = _heartbeat(server, applied)
    try:
        with caplog.at_level(logging.WARNING, logger="kiosk_app.heartbeat"):
            assert heartbeat.beat_once() is None
            assert heartbeat.beat_once() is None
        assert applied == [] and heartbeat.failures == 2
        assert "HTTP 401" in caplog.text and TOKEN not in caplog.text
        assert heartbeat.next_delay() == RETRY_SECONDS * 2 < heartbeat.interval
        server.status = 200
        assert heartbeat.beat_once() is not None and heartbeat.failures == 0
        assert heartbeat.next_delay() == heartbeat.interval
    finally:
        heartbeat.stop()


def test_an_unreachable_server_or_a_broken_device_does_not_stop_the_beat() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def broken_health() -> dict[str, str]:
        raise OSError("serial port gone")

    heartbeat = KioskHeartbeat("http://server.test", TOKEN, interval=60, health=broken_health,
                               on_config=lambda _c: None, transport=httpx.MockTransport(unreachable))
    try:
        assert heartbeat.beat_once() is None and heartbeat.failures == 1
    finally:
        heartbeat.stop()


def test_the_thread_beats_at_once_never_blocks_the_caller_and_stops() -> None:
    server = FakeServer()
    beaten = threading.Event()
    heartbeat = KioskHeartbeat("http://server.test", TOKEN, interval=60, health=dict,
                               on_config=lambda _c: beaten.set(), transport=httpx.MockTransport(server))
    started = time.monotonic()
    heartbeat.start()
    assert time.monotonic() - started < 1.0
    assert beaten.wait(5.0)
    heartbeat.stop(timeout=5.0)
    assert heartbeat._thread is None and time.monotonic() - started < 5.0


def test_no_heartbeat_without_a_server_or_a_token() -> None:
    assert start_heartbeat("", TOKEN, 60, dict, lambda _c: None) is None
    assert start_heartbeat("http://server.test", "", 60, dict, lambda _c: None) is None


def test_health_comes_from_the_device_adapters() -> None:
    printer = DummyReceiptPrinter()
    devices = KioskDevices(printer=printer)
    try:
        assert device_health(devices, None, None) == {"printer": "ok", "reader": "none", "microphone": "none"}
        printer.set_paper(PaperState.OUT)
        assert device_health(devices, NoMicrophone(), None)["printer"] == "no_paper"
        printer.set_paper(PaperState.OK)
        printer.unplug()
        assert device_health(devices, None, None)["printer"] == "offline"
    finally:
        devices.stop()
    assert device_health(None, FileMicrophone(b"RIFF"), True) == {"printer": "none", "reader": "none",
                                                                  "microphone": "ok"}
    assert device_health(None, FileMicrophone(b"RIFF"), False)["microphone"] == "offline"


def test_the_token_and_interval_come_from_settings(kiosk_settings: Settings) -> None:
    config = config_from_settings(kiosk_settings.model_copy(update={"kiosk_token": f" {TOKEN} ",
                                                                    "kiosk_heartbeat_seconds": 45.0}))
    assert config.kiosk_token == TOKEN and config.heartbeat_seconds == 45.0
    assert KioskConfig().kiosk_token == ""


# ---------------------------------------------------------------- end to end against the real API

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


def test_against_the_server_the_kiosks_turns_belong_to_its_community(server_url: str, kiosk_context: AppContext,
                                                                      kiosk_settings: Settings) -> None:
    from assistant.communities.directory import import_community
    from assistant.kiosks.registry import register_kiosk
    from assistant.storage.db import session_scope
    from assistant.storage.models import ChatSession

    with session_scope(kiosk_context.sessions) as db:
        import_community(db, "heartbeat-e2e", {"name": "心跳社区"})
        token = register_kiosk(db, "heartbeat-e2e", "1号自助机").token
    kiosk_context.communities.invalidate()
    client = HttpAssistantClient(server_url, kiosk_settings, kiosk_token=token)
    heartbeat = KioskHeartbeat(server_url, token, interval=60, health=lambda: {"printer": "ok"},
                               on_config=lambda c: client.use_community(c.community_code))
    try:
        config = heartbeat.beat_once()
        assert config is not None and config.community_code == "heartbeat-e2e" and config.kiosk_name == "1号自助机"
        assert client.community == "heartbeat-e2e"
        reply = client.chat(None, "高龄津贴怎么申请")
        with session_scope(kiosk_context.sessions) as db:
            assert db.get(ChatSession, reply.session_id).community_code == "heartbeat-e2e"
    finally:
        heartbeat.stop()
        client.close()
