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


# --- speech input: POST /api/v1/asr (raw audio/wav body, query language and session_id) ---

def _asr_client(kiosk_settings: Settings, handler) -> HttpAssistantClient:
    return HttpAssistantClient("http://central", kiosk_settings, transport=httpx.MockTransport(handler))


def _speech(seconds: float = 1.0):
    from kiosk_app.samples import voice_like

    return voice_like(seconds)


def test_over_http_speech_is_posted_as_a_wav_and_the_reading_comes_back(kiosk_settings: Settings) -> None:
    import io
    import wave

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"text": "我想问低保", "alternatives": ["我想问低保", "我想问老保", ""],
                                         "language": "zh", "audio_seconds": 1.0})

    client = _asr_client(kiosk_settings, handler)
    heard = client.transcribe("s-9", _speech(1.0), "zh")
    assert heard.text == "我想问低保" and heard.alternatives == ("我想问老保",) and heard.language == "zh"
    request = sent[0]
    assert request.method == "POST" and request.url.path == "/api/v1/asr"
    assert dict(request.url.params) == {"language": "zh", "session_id": "s-9"}
    assert request.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(request.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        assert wav.getnframes() == 16_000
    client.transcribe(None, _speech(0.5), "yue")
    assert dict(sent[1].url.params) == {"language": "yue"}  # no session yet: none sent
    client.close()


@pytest.mark.parametrize(("status", "body", "expected", "unavailable"), [
    # The route's own refusals (assistant/api/routes/asr.py): the kiosk's words, never "please type".
    (422, {"error": {"code": "no_speech", "message": "没有听到说话声 / no speech", "message_zh": "没有听到说话声",
                     "message_en": "no speech"}}, "没有听到说话声，请靠近一点再说一遍。", False),
    (413, {"error": {"code": "audio_too_large", "message_zh": "录音太长"}}, "说得太长了", False),
    (415, {"error": {"code": "undecodable_audio", "message_zh": "这段录音打不开"}}, "这段录音打不开，请再录一次。", False),
    (429, {"error": {"code": "too_many_recordings", "message_zh": "说得太频繁了，请稍等一会儿再说，或者直接打字"}},
     "说得太频繁了，请过一会儿再说，或者用手点选。", False),
    (503, {"error": {"code": "voice_unavailable", "message_zh": "语音输入暂时用不了，请打字或点选"}},
     "语音暂时用不了，请用手点选", True),
    # Anything else: the server's sentence when it has one, else the kiosk's for the status.
    (422, {"error": {"code": "something_new", "message_zh": "录音里有杂音"}}, "录音里有杂音", False),
    (415, {"detail": "不支持这种录音格式"}, "不支持这种录音格式", False),
    (413, None, "说得太长了", False),
    (429, None, "说得太频繁了", False),
    (503, None, "语音暂时用不了", True),
    (404, {"detail": "Not Found"}, "语音暂时用不了", True),  # a server from before speech input
    (500, None, "暂时连不上服务", False),
])
def test_over_http_speech_errors_are_sentences(kiosk_settings: Settings, status: int, body: object, expected: str,
                                               unavailable: bool) -> None:
    from kiosk_app.errors import VoiceInputError, VoiceUnavailableError

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, content=b"")

    client = _asr_client(kiosk_settings, handler)
    with pytest.raises(VoiceInputError) as info:
        client.transcribe("s-1", _speech(), "zh")
    assert info.value.message_zh.startswith(expected)
    assert isinstance(info.value, VoiceUnavailableError) is unavailable
    client.close()


@pytest.mark.parametrize(("body", "expected"), [
    (b"<html>portal</html>", "没听清楚"),
    (b'{"text": 3}', "没听清楚"),
    (b'{"alternatives": []}', "没听清楚"),
    (b'{"text": "", "alternatives": []}', "没有听到说话声"),
    ('{"text": " \ufffd", "alternatives": []}'.encode(), "没有听到说话声"),
])
def test_over_http_a_speech_reply_the_kiosk_cannot_use_is_not_heard(kiosk_settings: Settings, body: bytes,
                                                                    expected: str) -> None:
    from kiosk_app.errors import VoiceInputError, VoiceUnavailableError

    client = _asr_client(kiosk_settings, lambda request: httpx.Response(200, content=body))
    with pytest.raises(VoiceInputError) as info:
        client.transcribe(None, _speech(), "zh")
    assert not isinstance(info.value, VoiceUnavailableError) and info.value.message_zh.startswith(expected)
    client.close()


def test_half_a_character_at_the_end_of_a_reading_is_dropped() -> None:
    from kiosk_app.client import heard

    result = heard("社保卡丢了\ufffd", ["社保卡丢了", "社保卡丢的\ufffd", "社保卡丢的", 7, "甲", "乙", "丙"], "zh")
    assert result.text == "社保卡丢了" and result.alternatives == ("社保卡丢的", "甲", "乙")


def test_over_http_an_unreachable_server_for_speech_is_a_sentence(kiosk_settings: Settings) -> None:
    from kiosk_app.errors import VoiceInputError

    client = HttpAssistantClient(f"http://127.0.0.1:{_free_port()}", kiosk_settings, timeout=1.0)
    assert client.speech_ready() is False  # no answer to GET /api/v1/asr: no button for now
    with pytest.raises(VoiceInputError) as info:
        client.transcribe(None, _speech(), "zh")
    assert "连不上" in info.value.message_zh
    client.close()


@pytest.mark.parametrize(("status", "body", "ready"), [
    (200, {"enabled": True, "languages": ["zh", "yue"], "default_language": "zh", "max_seconds": 15.0}, True),
    (200, {"enabled": False, "languages": ["zh", "yue"], "default_language": "zh", "max_seconds": 15.0}, False),
    (404, {"detail": "Not Found"}, False),
    (200, ["not", "a", "status"], False),
])
def test_over_http_the_server_says_whether_it_listens(kiosk_settings: Settings, status: int, body: object,
                                                      ready: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("GET", "/api/v1/asr")
        return httpx.Response(status, json=body)

    client = _asr_client(kiosk_settings, handler)
    assert client.speech_ready() is ready
    client.close()


def test_over_http_the_real_route_refuses_silence_in_the_kiosks_words(server_url: str,
                                                                      kiosk_settings: Settings) -> None:
    from kiosk_app.errors import VoiceInputError, VoiceUnavailableError
    from kiosk_app.samples import room_hiss

    client = HttpAssistantClient(server_url, kiosk_settings)
    try:
        session = client.chat(None, "你好").session_id
        with pytest.raises(VoiceInputError) as info:
            client.transcribe(session, room_hiss(1.0) * 0.5, "zh")  # a clip with nobody in it
        assert not isinstance(info.value, VoiceUnavailableError)
        assert info.value.message_zh.startswith("没有听到说话声")
    finally:
        client.close()


def test_in_process_speech_goes_through_the_contexts_recogniser(kiosk_settings: Settings,
                                                                 kiosk_context: AppContext) -> None:
    from accessibility.asr import FakeSpeechRecognizer, UnavailableSpeechRecognizer
    from assistant.speech import SpeechInput
    from kiosk_app.errors import VoiceInputError, VoiceUnavailableError
    from kiosk_app.samples import room_hiss

    recognizer = FakeSpeechRecognizer(readings=[("我想问医保", ["我想问医疗保险", "我想问一保"])])
    client = InProcessAssistantClient(kiosk_settings, context=kiosk_context, speech=SpeechInput(recognizer))
    assert client.speech_ready() and recognizer.loaded
    heard = client.transcribe(None, _speech(), "yue")
    assert heard.text == "我想问医保" and heard.alternatives == ("我想问医疗保险", "我想问一保")
    assert heard.language == "yue" and recognizer.calls[-1][1] == "yue"
    with pytest.raises(VoiceInputError) as info:
        client.transcribe(None, room_hiss(2.0), "zh")
    assert info.value.message_zh.startswith("没有听到说话声")
    # By default the application context's one recogniser; switched off, the button is not offered.
    assert InProcessAssistantClient(kiosk_settings, context=kiosk_context).speech_input() is kiosk_context.speech
    off = InProcessAssistantClient(kiosk_settings, context=kiosk_context,
                                   speech=SpeechInput(UnavailableSpeechRecognizer()))
    assert off.speech_ready() is False
    with pytest.raises(VoiceUnavailableError):
        off.transcribe(None, _speech(), "zh")
