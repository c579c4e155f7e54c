"""WeChat and WeCom voice messages without WeChat's own recognition: fetched by MediaId, heard, answered.

The WeChat side is played by the channel kit (wechatpy's own messages and crypto) and its local fake of the
WeChat API, which now also serves ``/cgi-bin/media/get``. The audio is espeak-ng Mandarin (AMR, as WeChat
sends voice, where this PyAV can encode it; else WAV); the recogniser is the scripted fake behind the real
decoder and VAD, so the answer to what was "said" is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from channel_kit import (
    OFFICIAL_ACCOUNT,
    WECHAT_APP_ID,
    FakeApi,
    VoiceMessage,
    WeChatServer,
    WeComServer,
    message_xml,
    module_settings,
)
from fastapi.testclient import TestClient
from speech_audio import encoded, silence, spoken_wav, wav_bytes
from sqlalchemy import select
from wechatpy.work import messages as work_messages

from accessibility.asr import FakeSpeechRecognizer, UnavailableSpeechRecognizer, create_speech_recognizer
from accessibility.audio_input import decode_audio
from assistant.api.main import create_app
from assistant.channels import MediaError
from assistant.channels import formatting as fmt
from assistant.channels.api_client import CustomerServiceSender
from assistant.channels.config import wechat_account
from assistant.channels.service import ChannelService
from assistant.context import create_context
from assistant.speech import SpeechInput
from assistant.storage.db import session_scope
from assistant.storage.models import Turn

QUESTION = "高龄津贴怎么领"
HEARD = f"您说的是：“{QUESTION}”"


@pytest.fixture(scope="module")
def voice_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """(content type, bytes) of the question as WeChat would send it: AMR-NB at 8 kHz."""
    samples = decode_audio(spoken_wav(QUESTION, tmp_path_factory.mktemp("voice") / "q.wav").read_bytes())
    try:
        return "audio/amr", encoded(samples[::2], "amr", "libopencore_amrnb", rate=8000)
    except Exception:  # this PyAV build has no AMR encoder: the format does not change what is tested here
        return "audio/x-wav", wav_bytes(samples)


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeApi]:
    with FakeApi().running() as fake:
        yield fake


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, tiny_kb_data: Any, fake_api: FakeApi) -> Iterator[TestClient]:
    with module_settings(tmp_path_factory.mktemp("voice-app"), tiny_kb_data, wechat_api_base=fake_api.base_url,
                         wecom_api_base=fake_api.base_url) as settings:
        context = create_context(settings)
        context.speech = SpeechInput(FakeSpeechRecognizer([QUESTION]))  # type: ignore[misc]
        try:
            with TestClient(create_app(context=context)) as test_client:
                # The channels were given the process's one recogniser, not a second one.
                assert test_client.app.state.channels.speech is context.speech
                yield test_client
        finally:
            context.close()


@pytest.fixture
def service(client: TestClient) -> Iterator[ChannelService]:
    """The running channel service, its recogniser reset to a fresh script after each test."""
    channels: ChannelService = client.app.state.channels
    original = channels._speech
    channels._speech = SpeechInput(FakeSpeechRecognizer([QUESTION]))
    yield channels
    channels._speech = original


def _speak(fake: FakeApi, clip: tuple[str, bytes], media_id: str) -> str:
    fake.media[media_id] = clip
    return media_id


def _voice(wechat: WeChatServer, media_id: str, recognition: str | None = None) -> str:
    values: dict[str, Any] = {"source": wechat.user, "target": OFFICIAL_ACCOUNT, "time": int(wechat.timestamp),
                              "id": wechat.next_id(), "media_id": media_id, "format": "amr"}
    if recognition is not None:
        values["recognition"] = recognition
    return message_xml(VoiceMessage, **values)


def _recognizer(service: ChannelService) -> FakeSpeechRecognizer:
    recognizer = service.speech.recognizer
    assert isinstance(recognizer, FakeSpeechRecognizer)
    return recognizer


def test_a_voice_message_is_fetched_heard_and_answered(client: TestClient, service: ChannelService,
                                                       fake_api: FakeApi, voice_clip: tuple[str, bytes],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    wechat = WeChatServer(client, user="oVoiceUser-000000000000001")
    media_id = _speak(fake_api, voice_clip, "MEDIA_voice_0001")
    with caplog.at_level(logging.DEBUG):
        reply = wechat.reply_text(wechat.post_xml(_voice(wechat, media_id)))
    first, answer = reply.split("\n", 1)
    assert first == HEARD
    assert "80周岁" in answer and "回复 1：" in answer  # the usual answer with its numbered buttons
    fetches = [line for line in fake_api.requests if line.startswith("GET /cgi-bin/media/get")]
    assert fetches and "media_id=MEDIA_voice_0001" in fetches[-1] and "access_token=ACCESS_TOKEN_" in fetches[-1]
    assert _recognizer(service).calls and _recognizer(service).calls[-1][1] == "zh"
    # The turn is stored like a typed one, under the resident's derived session.
    with session_scope(client.app.state.context.sessions) as db:
        turn = db.scalars(select(Turn).where(Turn.channel == "wechat", Turn.user_text == QUESTION)).first()
        assert turn is not None and turn.session_id.startswith("wx-") and turn.topic_id == "senior-age-allowance"
    # Lengths and durations in the log, never the words, the OpenID, the MediaId URL's token or the secret.
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert "voice message of" in logged
    for secret in (QUESTION, "高龄", wechat.user, "ACCESS_TOKEN_"):
        assert secret not in logged


def test_wechat_recognition_is_used_as_it_is_without_a_fetch(client: TestClient, service: ChannelService,
                                                             fake_api: FakeApi) -> None:
    wechat = WeChatServer(client, user="oVoiceUser-000000000000002")
    before = len(fake_api.requests)
    reply = wechat.reply_text(wechat.post_xml(_voice(wechat, "MEDIA_never_fetched", recognition="社保卡丢了怎么办")))
    assert "挂失" in reply and not reply.startswith("您说的是")
    assert not any("media/get" in line for line in fake_api.requests[before:])
    assert _recognizer(service).calls == []


def test_wecom_and_safe_mode_voice_messages(client: TestClient, service: ChannelService, fake_api: FakeApi,
                                            voice_clip: tuple[str, bytes]) -> None:
    wecom = WeComServer(client, user="grid-worker-voice")
    media_id = _speak(fake_api, voice_clip, "WECOM_media_1")
    xml = message_xml(work_messages.VoiceMessage, source=wecom.user, target="ww", time=int(wecom.timestamp),
                      id=wechat_id(), media_id=media_id, format="amr", agent=wecom.agent_id)
    reply = wecom.reply_text(wecom.post_xml(xml))
    assert reply.startswith(HEARD) and "80周岁" in reply
    assert any(line.startswith("GET /cgi-bin/gettoken") for line in fake_api.requests)  # WeCom's own token

    safe = WeChatServer(client, user="oVoiceUser-000000000000003", encrypted=True)
    response = safe.post_xml(_voice(safe, _speak(fake_api, voice_clip, "MEDIA_safe_1")))
    assert "高龄" not in response.text  # only ciphertext on the wire
    assert safe.reply_text(response).startswith(HEARD)


_IDS = iter(range(7_100_000_000_000_000_001, 7_200_000_000_000_000_000))


def wechat_id() -> int:
    return next(_IDS)


def test_other_readings_are_tried_and_spoken_personal_data_is_masked(client: TestClient, service: ChannelService,
                                                                    fake_api: FakeApi,
                                                                    voice_clip: tuple[str, bytes]) -> None:
    wechat = WeChatServer(client, user="oVoiceUser-000000000000004")
    service._speech = SpeechInput(FakeSpeechRecognizer([
        ("我的身份证是450102199003071234高龄津贴怎么领", []),
        ("嗯嗯啊啊哦哦", ["高龄津贴怎么申请"]),
    ]))
    masked = wechat.reply_text(wechat.post_xml(_voice(wechat, _speak(fake_api, voice_clip, "MEDIA_pii"))))
    assert "4501**********1234" in masked.split("\n", 1)[0] and "450102199003071234" not in masked
    # The first reading means nothing; the alternative is understood and answered.
    other = wechat.reply_text(wechat.post_xml(_voice(wechat, _speak(fake_api, voice_clip, "MEDIA_alt"))))
    assert other.startswith("您说的是：“嗯嗯啊啊哦哦”") and "80周岁" in other


def test_what_cannot_be_heard_gets_a_plain_line(client: TestClient, service: ChannelService, fake_api: FakeApi,
                                                voice_clip: tuple[str, bytes], tmp_path: Any) -> None:
    wechat = WeChatServer(client, user="oVoiceUser-000000000000005")

    def reply_to(media_id: str) -> str:
        return wechat.reply_text(wechat.post_xml(_voice(wechat, media_id)))

    assert reply_to("MEDIA_expired") == fmt.VOICE_NOT_RECEIVED  # errcode 40007 from the API
    assert reply_to(_speak(fake_api, ("audio/amr", wav_bytes(silence(2.0))), "MEDIA_silent")) == fmt.VOICE_UNCLEAR
    assert reply_to(_speak(fake_api, ("audio/amr", b"#!AMR\n" + bytes(300)), "MEDIA_broken")) == fmt.VOICE_UNCLEAR
    long_clip = np.tile(decode_audio(voice_clip[1]), 10)[: 20 * 16000]  # WeChat voice runs to 60 s; ours to 15
    assert reply_to(_speak(fake_api, ("audio/x-wav", wav_bytes(long_clip)), "MEDIA_long")) == fmt.VOICE_TOO_LONG
    assert _recognizer(service).calls == []  # none of these reached the engine

    # Voice input off, or the model missing: said at once, and no audio fetched for nothing.
    for recognizer in (UnavailableSpeechRecognizer(),
                       create_speech_recognizer("faster-whisper", model_dir=tmp_path / "no-model")):
        service._speech = SpeechInput(recognizer)
        before = len(fake_api.requests)
        assert reply_to(_speak(fake_api, voice_clip, "MEDIA_off")) == fmt.VOICE_UNAVAILABLE
        assert not any("media/get" in line for line in fake_api.requests[before:])
    class Crashing(FakeSpeechRecognizer):
        def load(self) -> None:
            raise RuntimeError("out of memory")

    service._speech = SpeechInput(Crashing())
    assert reply_to(_speak(fake_api, voice_clip, "MEDIA_crash")) == fmt.VOICE_UNAVAILABLE  # a line, not silence
    for line in (fmt.VOICE_NOT_RECEIVED, fmt.VOICE_UNCLEAR, fmt.VOICE_TOO_LONG, fmt.VOICE_UNAVAILABLE):
        assert "打字" in line  # every failure tells the resident what to do instead


def test_a_slow_answer_to_a_voice_message_goes_through_the_customer_service_api(
        client: TestClient, service: ChannelService, fake_api: FakeApi, voice_clip: tuple[str, bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "budget", 0.0)  # no passive window: the reply goes out later
    fake_api.delivered.clear()
    wechat = WeChatServer(client, user="oVoiceUser-000000000000006")
    response = wechat.post_xml(_voice(wechat, _speak(fake_api, voice_clip, "MEDIA_late")))
    assert wechat.reply_text(response) == ""
    assert fake_api.delivered.wait(30)
    sent = [m for m in fake_api.sent if m["touser"] == wechat.user]
    assert sent and sent[-1]["text"]["content"].startswith(HEARD) and "80周岁" in sent[-1]["text"]["content"]


# ---------------------------------------------------------------- the media download itself

@pytest.fixture
def sender(settings: Any, app_context: Any, fake_api: FakeApi) -> Iterator[CustomerServiceSender]:
    from channel_kit import channel_settings

    account = wechat_account(channel_settings(settings, wechat_api_base=fake_api.base_url))
    with httpx.Client() as http:
        yield CustomerServiceSender(account, app_context.sessions, app_context.cipher, http)


def test_media_download_caps_retries_a_stale_token_and_fails_plainly(sender: CustomerServiceSender,
                                                                      fake_api: FakeApi) -> None:
    fake_api.media["M1"] = ("audio/amr", b"#!AMR\n" + bytes(5000))
    assert sender.fetch_media("M1", max_bytes=10_000).startswith(b"#!AMR")
    token = sender.tokens.get()
    fake_api.revoked.add(token)  # e.g. the secret was reset: a fresh token, and the download once more
    assert len(sender.fetch_media("M1", max_bytes=10_000)) == 5006
    assert sender.tokens.get() != token
    with pytest.raises(MediaError) as too_big:
        sender.fetch_media("M1", max_bytes=1000)
    assert too_big.value.reason == "too_large"
    with pytest.raises(MediaError) as missing:
        sender.fetch_media("nope", max_bytes=10_000)
    assert missing.value.reason == "errcode:40007"


def test_media_download_without_a_secret_or_a_network(settings: Any, app_context: Any) -> None:
    from channel_kit import channel_settings

    no_secret = wechat_account(channel_settings(settings, wechat_app_secret=""))
    with httpx.Client() as http:
        with pytest.raises(MediaError) as refused:
            CustomerServiceSender(no_secret, app_context.sessions, app_context.cipher, http).fetch_media(
                "M1", max_bytes=100)
        assert refused.value.reason == "not_configured"
        unreachable = wechat_account(channel_settings(settings, wechat_api_base="http://127.0.0.1:9"))
        with pytest.raises(MediaError) as offline:
            CustomerServiceSender(unreachable, app_context.sessions, app_context.cipher, http).fetch_media(
                "M1", max_bytes=100)
        assert offline.value.reason.startswith(("token:", "http:"))
        assert WECHAT_APP_ID not in str(offline.value)
