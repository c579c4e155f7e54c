"""``POST /api/v1/asr`` end to end through FastAPI on a real database: formats, refusals, limits, the schema.

The recogniser is the scripted fake (exact text to assert on), behind the real decoder and the real VAD, so
every clip here is real audio: espeak-ng Mandarin in wav, webm/opus, ogg, mp3, m4a and amr. One test runs
the real faster-whisper model (installed from its packages into a temporary directory, skipped where that
cannot be done) and asserts only what a poor synthetic voice allows: Chinese text came back, with timings.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from speech_audio import encoded, silence, spoken_wav, wav_bytes
from sqlalchemy import select
from tests_conftest_bridge import tiny_settings

from accessibility.asr import FakeSpeechRecognizer, UnavailableSpeechRecognizer, create_speech_recognizer
from accessibility.audio_input import MAX_AUDIO_BYTES, decode_audio
from accessibility.errors import AudioDecodeError, AudioTooLongError, NoSpeechError
from assistant.api.errors import ASR_BODY_BYTES
from assistant.api.main import create_app
from assistant.context import AppContext, create_context
from assistant.speech import SpeechInput
from assistant.storage.models import VoiceClip

QUESTION = "高龄津贴怎么领"
READINGS = [(QUESTION, ["高龄津贴怎么拎", "高龄经贴怎么领"])]
VOICE_OFF = "语音输入暂时用不了，请打字或点选"
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Api:
    client: TestClient
    context: AppContext
    fake: FakeSpeechRecognizer

    def asr(self, audio: bytes, content_type: str = "audio/wav", **params: str) -> Any:
        return self.client.post("/api/v1/asr", content=audio, headers={"Content-Type": content_type},
                                params=params)

    def session(self) -> str:
        response = self.client.post("/api/v1/chat", json={"text": "你好", "channel": "web"})
        assert response.status_code == 200, response.text
        return response.json()["session_id"]


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return spoken_wav(QUESTION, tmp_path_factory.mktemp("asr-audio") / "question.wav").read_bytes()


@pytest.fixture(scope="module")
def question_samples(question_wav: bytes) -> np.ndarray:
    return decode_audio(question_wav)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        settings = tiny_settings(tmp_path_factory.mktemp("asr-api")).model_copy(
            update={"asr_rate_per_minute": 1000, "asr_warm_up": False})
    context = create_context(settings)
    fake = FakeSpeechRecognizer(READINGS)
    context.speech = SpeechInput(fake)  # type: ignore[misc]  # the one recogniser of the process
    try:
        with TestClient(create_app(context=context)) as client:
            yield Api(client, context, fake)
    finally:
        context.close()


def _error(response: Any, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and CJK.search(error["message_zh"]) and error["message_en"]
    assert "Traceback" not in response.text
    return error


# ---------------------------------------------------------------- what is heard

def test_a_raw_wav_is_recognised_and_the_text_answers_in_chat(api: Api, question_wav: bytes) -> None:
    calls = len(api.fake.calls)
    response = api.asr(question_wav)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == QUESTION and body["alternatives"] == ["高龄津贴怎么拎", "高龄经贴怎么领"]
    assert body["language"] == "zh" and 1.0 < body["audio_seconds"] < 5.0 and body["seconds"] >= 0
    assert len(api.fake.calls) == calls + 1
    # Only the speech reached the engine: the VAD trimmed the clip (espeak pads with quiet).
    assert api.fake.calls[-1][0] <= body["audio_seconds"]
    # The confirmed text goes to the chat like a typed question, its other readings with it.
    chat = api.client.post("/api/v1/chat", json={"text": body["text"], "alternatives": body["alternatives"],
                                                 "channel": "web"}).json()
    assert chat["action"] == "answer" and chat["topic"]["id"] == "senior-age-allowance"


@pytest.mark.parametrize(("container", "codec", "content_type"), [
    ("webm", "libopus", "audio/webm;codecs=opus"),  # Chrome's and Firefox's MediaRecorder
    ("ogg", "libopus", "audio/ogg"),
    ("mp3", "libmp3lame", "audio/mpeg"),
    ("mp4", "aac", "audio/mp4"),  # Safari's MediaRecorder, m4a files
    ("amr", "libopencore_amrnb", "application/octet-stream"),  # a phone's voice memo
])
def test_every_format_the_browsers_and_phones_send(api: Api, question_samples: np.ndarray, container: str,
                                                   codec: str, content_type: str) -> None:
    rate = 8000 if codec == "libopencore_amrnb" else 16000
    samples = question_samples if rate == 16000 else question_samples[::2]
    try:
        clip = encoded(samples, container, codec, rate=rate)
    except Exception as exc:  # an encoder this PyAV build lacks: the decoder is what is under test
        pytest.skip(f"cannot encode {container}/{codec} here: {type(exc).__name__}")
    response = api.asr(clip, content_type)
    assert response.status_code == 200, response.text
    assert response.json()["text"] == QUESTION


def test_multipart_with_language_and_session_in_the_form(api: Api, question_samples: np.ndarray) -> None:
    session = api.session()
    webm = encoded(question_samples, "webm", "libopus")
    response = api.client.post("/api/v1/asr", files={"audio": ("clip.webm", webm, "audio/webm")},
                               data={"language": "yue", "session_id": session})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == QUESTION and response.json()["language"] == "yue"
    assert api.fake.calls[-1][1] == "yue"
    # The query works as well, and the form wins over it.
    both = api.client.post("/api/v1/asr", params={"language": "yue"},
                           files={"audio": ("clip.webm", webm, "audio/webm")}, data={"language": "zh"})
    assert both.json()["language"] == "zh"


def test_language_in_the_query_and_a_wrong_one(api: Api, question_wav: bytes) -> None:
    assert api.asr(question_wav, language="yue").json()["language"] == "yue"
    calls = len(api.fake.calls)
    error = _error(api.asr(question_wav, language="fr"), 422, "invalid_language")
    assert "zh" in error["message_zh"] and "yue" in error["message_zh"]
    _error(api.client.post("/api/v1/asr", files={"audio": ("a.wav", question_wav, "audio/wav")},
                           data={"language": "en"}), 422, "invalid_language")
    assert len(api.fake.calls) == calls  # refused before the engine


# ---------------------------------------------------------------- what is refused

def test_empty_and_silent_recordings_are_422_with_the_residents_message(api: Api) -> None:
    calls = len(api.fake.calls)
    for clip in (b"", wav_bytes(silence(2.0))):
        error = _error(api.asr(clip), 422, "no_speech")
        assert error["message_zh"] == NoSpeechError.resident_message
    assert len(api.fake.calls) == calls


def test_what_is_not_audio_is_415(api: Api, question_wav: bytes) -> None:
    error = _error(api.asr(b"RIFF....this is not a recording at all" * 20, "audio/webm"), 415, "undecodable_audio")
    assert error["message_zh"] == AudioDecodeError.resident_message
    _error(api.asr(b"\x1aE\xdf\xa3" + np.random.default_rng(7).bytes(3000), "audio/webm"), 415, "undecodable_audio")  # a broken webm
    for content_type in ("application/json", "text/plain", "image/png"):
        _error(api.asr(question_wav, content_type), 415, "unsupported_media_type")
    no_type = api.client.post("/api/v1/asr", content=question_wav)
    _error(no_type, 415, "unsupported_media_type")


def test_multipart_without_audio_or_broken_is_a_4xx(api: Api, question_wav: bytes) -> None:
    _error(api.client.post("/api/v1/asr", data={"language": "zh"}, files={"other": ("a.wav", b"x", "audio/wav")}),
           422, "missing_audio")
    # The field as plain text instead of a file is no recording either.
    _error(api.client.post("/api/v1/asr", data={"audio": "高龄津贴"}, files={"x": ("x", b"", "text/plain")}),
           422, "missing_audio")
    broken = api.client.post("/api/v1/asr", content=b"--b\r\nContent-Disposition: form-data; name=\"audio\"",
                             headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert 400 <= broken.status_code < 500, broken.text
    no_boundary = api.client.post("/api/v1/asr", content=question_wav,
                                  headers={"Content-Type": "multipart/form-data"})
    assert 400 <= no_boundary.status_code < 500, no_boundary.text


def test_too_long_and_too_big_are_413(api: Api, question_samples: np.ndarray) -> None:
    sixteen_seconds = np.tile(question_samples, int(16 * 16000 / len(question_samples)) + 1)[: 16 * 16000]
    error = _error(api.asr(wav_bytes(sixteen_seconds)), 413, "audio_too_large")
    assert error["message_zh"] == AudioTooLongError.resident_message
    # Over the audio cap but under the body cap: the decoder refuses it by size.
    _error(api.asr(b"\0" * (MAX_AUDIO_BYTES + 1)), 413, "audio_too_large")
    # Over the body cap with a Content-Length: the middleware refuses before reading.
    declared = api.asr(b"\0" * (ASR_BODY_BYTES + 1))
    assert declared.status_code == 413 and declared.json()["error"]["message_zh"]
    # Chunked, without a Content-Length: the route stops reading at the cap.

    def chunks() -> Iterator[bytes]:
        for _ in range(ASR_BODY_BYTES // 65536 + 2):
            yield b"\0" * 65536

    chunked = api.client.post("/api/v1/asr", content=chunks(), headers={"Content-Type": "audio/wav"})
    _error(chunked, 413, "audio_too_large")


def test_voice_off_model_missing_or_engine_failure_is_503(api: Api, question_wav: bytes, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeSpeechRecognizer):
        def transcribe(self, samples: np.ndarray, *, language: str = "zh") -> Any:
            raise RuntimeError("the engine fell over")

    missing = create_speech_recognizer("faster-whisper", model_dir=tmp_path / "no-model")
    for recognizer in (UnavailableSpeechRecognizer(), missing, Broken()):
        monkeypatch.setattr(api.context, "speech", SpeechInput(recognizer))
        error = _error(api.asr(question_wav), 503, "voice_unavailable")
        assert error["message_zh"] == VOICE_OFF


# ---------------------------------------------------------------- limits

def test_recognitions_are_limited_per_session_per_address_and_in_all(api: Api, question_wav: bytes,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.context, "settings", api.context.settings.model_copy(update={"asr_rate_per_minute": 2}))
    sessions = [api.session() for _ in range(3)]
    other = TestClient(api.client.app, client=("10.20.30.40", 50000))  # a client of its own address

    def status(session: str | None = None) -> int:
        params = {"session_id": session} if session else {}
        response = other.post("/api/v1/asr", content=question_wav, params=params,
                              headers={"Content-Type": "audio/wav"})
        if response.status_code == 429:
            error = _error(response, 429, "too_many_recordings")
            assert "稍等" in error["message_zh"] and int(response.headers["Retry-After"]) >= 1
        return response.status_code

    calls = len(api.fake.calls)
    # Without a session: two a minute for the address.
    assert [status(), status(), status()] == [200, 200, 429]
    # A session of its own has its own two, and a made-up or unknown id counts as no session.
    assert [status(sessions[0]), status(sessions[0]), status(sessions[0])] == [200, 200, 429]
    assert status("x" * 22) == 429
    assert [status(sessions[1]), status(sessions[1])] == [200, 200]
    # All sessions of one address together: five times the allowance (10), refused attempts included, so the
    # third session's second recording is refused although that session used only one.
    assert [status(sessions[2]), status(sessions[2])] == [200, 429]
    assert len(api.fake.calls) == calls + 7  # refused recordings never reached the engine
    # Another address is not affected.
    assert api.asr(question_wav).status_code == 200


# ---------------------------------------------------------------- privacy

def test_text_is_never_logged_and_audio_is_kept_only_when_configured(api: Api, question_wav: bytes,
                                                                     caplog: pytest.LogCaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    session = api.session()
    with caplog.at_level(logging.DEBUG):
        assert api.asr(question_wav, session_id=session).status_code == 200
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert QUESTION not in logged and "高龄" not in logged

    def clips() -> list[VoiceClip]:
        with api.context.sessions() as db:
            return list(db.scalars(select(VoiceClip).where(VoiceClip.session_id == session)))

    assert clips() == []  # asr_keep_audio is off by default: nothing stored
    monkeypatch.setattr(api.context, "settings", api.context.settings.model_copy(update={"asr_keep_audio": True}))
    assert api.asr(question_wav, session_id=session).status_code == 200
    assert api.asr(question_wav).status_code == 200  # no conversation to keep it with: not kept
    kept = clips()
    assert len(kept) == 1 and kept[0].seconds > 1.0
    assert question_wav[44:2000] not in kept[0].audio_encrypted  # stored encrypted
    assert api.context.cipher.decrypt_bytes(kept[0].audio_encrypted) == question_wav


# ---------------------------------------------------------------- the status and the start

def test_the_status_says_whether_the_server_listens(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.client.get("/api/v1/asr").json() == {"enabled": True, "languages": ["zh", "yue"],
                                                    "default_language": "zh", "max_seconds": 15.0}
    monkeypatch.setattr(api.context, "speech", SpeechInput(UnavailableSpeechRecognizer()))
    assert api.client.get("/api/v1/asr").json()["enabled"] is False
    error = _error(api.asr(b"\0" * 100), 503, "voice_unavailable")  # refused before the body is looked at
    assert error["message_zh"] == VOICE_OFF


@pytest.mark.slow
def test_the_served_app_loads_the_model_in_the_background_at_start(api: Api,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer = FakeSpeechRecognizer()
    monkeypatch.setattr(api.context, "speech", SpeechInput(recognizer))
    monkeypatch.setattr(api.context, "settings", api.context.settings.model_copy(update={"asr_warm_up": True}))
    with TestClient(create_app(context=api.context, warm_up_speech=True)) as client:
        deadline = time.monotonic() + 10
        while not recognizer.loaded and time.monotonic() < deadline:
            time.sleep(0.05)
        assert recognizer.loaded and recognizer.calls == []
        assert client.get("/api/v1/asr").json()["enabled"] is True


# ---------------------------------------------------------------- the schema

def test_the_route_is_in_the_openapi_schema(api: Api) -> None:
    schema = api.client.app.openapi()
    operation = schema["paths"]["/api/v1/asr"]["post"]
    assert set(operation["requestBody"]["content"]) == {"audio/*", "application/octet-stream", "multipart/form-data"}
    assert operation["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["audio"]
    assert {p["name"] for p in operation["parameters"]} == {"language", "session_id"}
    assert {"200", "413", "415", "422", "429", "503"} <= set(operation["responses"])
    response = schema["components"]["schemas"]["AsrResponse"]
    assert set(response["properties"]) == {"text", "alternatives", "language", "audio_seconds", "seconds"}


# ---------------------------------------------------------------- the real engine

@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from accessibility.asr_model import install_model
    from accessibility.errors import AsrUnavailableError

    try:
        return install_model(tmp_path_factory.mktemp("whisper") / "whisper-base")
    except (AsrUnavailableError, OSError) as exc:
        pytest.skip(f"the speech model cannot be installed here: {exc}")


@pytest.mark.slow
def test_the_real_model_hears_chinese(api: Api, question_wav: bytes, whisper_dir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api.context.settings.model_copy(update={"asr_engine": "faster-whisper", "asr_model_dir": whisper_dir})
    monkeypatch.setattr(api.context, "speech", SpeechInput.from_settings(settings))
    response = api.asr(question_wav)
    assert response.status_code == 200, response.text
    body = response.json()
    assert CJK.search(body["text"]) and " " not in body["text"], body
    assert all(CJK.search(alternative) for alternative in body["alternatives"])
    assert body["language"] == "zh" and 1.0 < body["audio_seconds"] < 5.0 and 0 < body["seconds"] < 30
    # Silence is still refused before the model is asked (Whisper would invent a sentence).
    _error(api.asr(wav_bytes(silence(2.0))), 422, "no_speech")
