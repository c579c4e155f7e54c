"""Voice input in the web chat, in headless Chromium against the real app (tiny KB, SQLite, uvicorn in a thread).

Chromium's fake microphone plays an espeak-ng WAV (``--use-file-for-fake-audio-capture``) and grants the
permission without a prompt; the page records it with MediaRecorder and posts it to ``/api/v1/asr``. The server's
recogniser is the scripted fake behind the real decoder and VAD, so what the resident "said" is exact and the
answer to it can be asserted; the clip must still hold speech, or the server says it heard none.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_testkit import BROWSER, CHROMIUM, CHROMIUM_ARGS, LiveServer, live_server
from speech_audio import silence, spoken_wav, wav_bytes
from tests_conftest_bridge import tiny_settings

from accessibility.asr import FakeSpeechRecognizer, UnavailableSpeechRecognizer, create_speech_recognizer
from accessibility.audio_input import decode_audio
from accessibility.contrast import AA_TEXT, contrast_ratio
from assistant.context import AppContext
from assistant.settings import PROJECT_ROOT
from assistant.speech import SpeechInput

pytestmark = [*BROWSER, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")

FIRST, FIRST_ALTERNATIVES = "高龄津贴怎么领", ["高龄津贴怎么拎", "高龄经贴怎么领"]
SECOND = "社保卡丢了怎么办"
VOICE_OFF = "语音输入暂时用不了，请打字或点选"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "voice"
WAIT_MS = 20_000  # a recording (speech, then a pause of 1.3 s) and its recognition


def _fake(*readings: Any) -> FakeSpeechRecognizer:
    return FakeSpeechRecognizer(list(readings) or [(FIRST, FIRST_ALTERNATIVES), SECOND])


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question with quiet around it: Chromium loops the file, and the page stops at the pause after it."""
    folder = tmp_path_factory.mktemp("asr-browser")
    speech = decode_audio(spoken_wav(FIRST, folder / "spoken.wav").read_bytes())
    clip = np.concatenate([silence(0.3), speech, silence(2.2)])
    path = folder / "microphone.wav"
    path.write_bytes(wav_bytes(clip))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        settings = tiny_settings(tmp_path_factory.mktemp("asr-browser-app"))

    def listen(context: AppContext) -> None:
        context.speech = SpeechInput(_fake())  # type: ignore[misc]

    with live_server(settings, accounts=(), before_start=listen, asr_rate_per_minute=1000) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer, microphone_wav: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone_wav}", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A CSP refusal is reported on the console as an error; so is any failed script.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "/api/v1/asr" not in m.text
            and "status of 4" not in m.text and "status of 503" not in m.text else None)
    page.asr_requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.asr_requests.append(r) if "/api/v1/asr" in r.url and r.method == "POST"
            else None)
    page.goto(server.url + "/")
    page.wait_for_function("() => document.readyState === 'complete'")
    try:
        yield page
    finally:
        context.close()
        assert problems == [], problems


@pytest.fixture
def fake(server: LiveServer) -> Iterator[FakeSpeechRecognizer]:
    """A fresh script for each test (the server reads ``context.speech`` on every request)."""
    recognizer = _fake()
    server.context.speech = SpeechInput(recognizer)  # type: ignore[misc]
    yield recognizer
    server.context.speech = SpeechInput(_fake())  # type: ignore[misc]


# Each element's text colour and the colour behind it (the first opaque background up the tree).
_COLOURS_JS = """
(selectors) => {
  const rgb = (s) => (/rgba?\\(([^)]+)\\)/.exec(s || "") || [0, ""])[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  const behind = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.getClientRects().length || el.closest("[hidden]")) continue;
      out.push({selector, fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: behind(el)});
    }
  }
  return out;
}
"""
VOICE_SELECTORS = (".voice-button", ".voice-status", ".voice-heard", "#voice-heard-label", ".voice-yes",
                   ".voice-again", ".voice-edit", ".voice-alt-label", ".voice-alternative")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _bot_messages(page: Any) -> int:
    return int(page.locator(".msg-bot:not(.pending)").count())


def _heard(page: Any) -> str:
    page.locator("#voice-confirm").wait_for(state="visible", timeout=WAIT_MS)
    return str(page.locator("#voice-heard").inner_text())


def test_speak_confirm_with_dui_and_get_the_answer(page: Any, fake: FakeSpeechRecognizer) -> None:
    button = page.locator("#voice-button")
    button.wait_for(state="visible")
    assert "按住说话" in button.inner_text()
    box = button.bounding_box()
    assert box["height"] >= 60 and box["width"] >= 200  # a large target for older hands

    started = time.monotonic()
    button.click()  # a tap starts; the pause after the question stops it
    page.locator("#voice-bar.recording").wait_for()
    assert "说完了" in button.inner_text() and button.get_attribute("aria-pressed") == "true"
    _shot(page, "recording")
    assert _heard(page) == FIRST
    assert time.monotonic() - started < 12  # stopped by the pause, well before the 15 s cap
    _shot(page, "confirm")
    assert page.locator("#voice-heard-label").inner_text() == "您说的是："
    assert float(page.eval_on_selector(".voice-heard", "el => parseFloat(getComputedStyle(el).fontSize)")) >= 24
    assert page.locator(".voice-alternative").all_inner_texts() == FIRST_ALTERNATIVES
    assert button.get_attribute("aria-pressed") == "false" and "按住说话" in button.inner_text()
    # What went to the server: one recording from MediaRecorder, no session yet.
    request = page.asr_requests[-1]
    assert request.headers["content-type"].startswith(("audio/webm", "audio/ogg", "audio/mp4"))
    assert "session_id" not in request.url
    assert len(fake.calls) == 1 and 0.5 < fake.calls[0][0] <= 15.0

    before = _bot_messages(page)
    page.click("#voice-yes")
    page.wait_for_function(f"() => document.querySelectorAll('.msg-bot:not(.pending)').length > {before}")
    assert page.locator(".msg-user .bubble-text").last.inner_text() == FIRST
    answer = page.locator(".msg-bot:not(.pending) .bubble-text").last.inner_text()
    assert "80周岁" in answer and "高龄津贴" in answer
    assert page.locator("#voice-confirm").is_hidden()
    assert page.locator("#chat-input").input_value() == ""  # typing was not touched

    # Speaking again in the same conversation: the session goes along; 重说 records once more.
    button.click()
    assert _heard(page) == SECOND
    assert "session_id=" in page.asr_requests[-1].url
    assert page.locator("#voice-alternatives").is_hidden()  # no other readings this time
    page.click("#voice-again")
    assert _heard(page) == SECOND and len(fake.calls) == 3
    before = _bot_messages(page)
    page.click("#voice-yes")
    page.wait_for_function(f"() => document.querySelectorAll('.msg-bot:not(.pending)').length > {before}")
    assert "挂失" in page.locator(".msg-bot:not(.pending) .bubble-text").last.inner_text()


@pytest.mark.parametrize("contrast", ["no-preference", "more"])
def test_the_voice_controls_are_readable(page: Any, fake: FakeSpeechRecognizer, contrast: str) -> None:
    page.emulate_media(contrast=contrast)
    page.click("#voice-button")
    page.locator("#voice-bar.recording").wait_for()
    measured = page.evaluate(_COLOURS_JS, [".voice-button", ".voice-status"])  # red while recording
    _heard(page)
    measured += page.evaluate(_COLOURS_JS, list(VOICE_SELECTORS))
    failing = [f"{m['selector']}: {contrast_ratio(tuple(m['fg']), tuple(m['bg'])):.2f}" for m in measured
               if contrast_ratio(tuple(m["fg"]), tuple(m["bg"])) < AA_TEXT]
    assert failing == [] and {m["selector"] for m in measured} == set(VOICE_SELECTORS)
    _shot(page, f"confirm-{contrast}")


def test_an_alternative_reading_is_sent_as_it_is_and_edit_puts_the_text_in_the_box(page: Any,
                                                                                   fake: FakeSpeechRecognizer
                                                                                   ) -> None:
    fake.readings = [("高龄经贴怎么领", ["高龄津贴怎么申请"])]
    page.click("#voice-button")
    assert _heard(page) == "高龄经贴怎么领"
    page.click("#voice-edit")
    assert page.locator("#chat-input").input_value() == "高龄经贴怎么领"
    assert page.locator("#voice-confirm").is_hidden()
    page.fill("#chat-input", "")

    page.click("#voice-button")
    _heard(page)
    before = _bot_messages(page)
    page.click(".voice-alternative >> text=高龄津贴怎么申请")
    page.wait_for_function(f"() => document.querySelectorAll('.msg-bot:not(.pending)').length > {before}")
    assert page.locator(".msg-user .bubble-text").last.inner_text() == "高龄津贴怎么申请"
    assert "80周岁" in page.locator(".msg-bot:not(.pending) .bubble-text").last.inner_text()


def test_hold_to_talk_stops_when_released(page: Any, fake: FakeSpeechRecognizer) -> None:
    button = page.locator("#voice-button")
    button.wait_for(state="visible")
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.locator("#voice-bar.recording").wait_for()
    # 1.5 s: too short for the pause rule (0.3 s of speech, then 1.3 s of quiet) to have stopped it.
    page.wait_for_timeout(1500)
    assert page.locator("#voice-bar.recording").count() == 1
    with page.expect_response(lambda r: "/api/v1/asr" in r.url and r.request.method == "POST",
                              timeout=WAIT_MS) as sent:
        page.mouse.up()
        page.wait_for_function("() => !document.querySelector('#voice-bar').classList.contains('recording')",
                               timeout=500)  # the release ended it, at once
    # The clip was sent; whether the looping file was in speech or in quiet during those 1.5 s decides the
    # answer: the text to confirm, or the plain "没有听到说话声".
    if sent.value.status == 200:
        assert sent.value.json()["audio_seconds"] < 2.5
        assert _heard(page) == FIRST
    else:
        assert sent.value.status == 422
        page.locator("#error").wait_for(state="visible")
        assert page.locator("#error").inner_text() == "没有听到说话声，请靠近一点再说一遍。"
    # A short press is a tap: the recording goes on after the release, until the next tap.
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.locator("#voice-bar.recording").wait_for()
    page.mouse.up()
    page.wait_for_timeout(300)
    assert page.locator("#voice-bar.recording").count() == 1
    with page.expect_response(lambda r: "/api/v1/asr" in r.url, timeout=WAIT_MS):
        page.mouse.down()
        page.mouse.up()
    page.wait_for_function("() => !document.querySelector('#voice-bar').classList.contains('recording')")


def test_without_a_microphone_or_recorder_the_page_says_so_and_typing_works(browser: Any, server: LiveServer
                                                                            ) -> None:
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.add_init_script("delete window.MediaRecorder;")
        page.goto(server.url + "/")
        page.locator("#voice-button").click()
        error = page.locator("#error")
        error.wait_for(state="visible")
        assert error.inner_text() == "这个浏览器不能录音，请直接打字。"
        page.fill("#chat-input", "高龄津贴怎么申请")
        page.click("#send-button")
        page.wait_for_function("() => document.querySelectorAll('.msg-bot:not(.pending)').length > 1")
        assert "80周岁" in page.locator(".msg-bot .bubble-text").last.inner_text()
        assert page.locator("#error").is_hidden()

        page = context.new_page()  # the microphone refused (the browser's permission denied)
        page.add_init_script("""navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("denied", "NotAllowedError"));""")
        page.goto(server.url + "/")
        page.locator("#voice-button").click()
        page.locator("#error").wait_for(state="visible")
        assert "允许使用话筒" in page.locator("#error").inner_text() and "打字" in page.locator("#error").inner_text()
        assert page.locator("#voice-button").get_attribute("aria-pressed") == "false"

        page = context.new_page()  # no microphone at all
        page.add_init_script("""navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("none", "NotFoundError"));""")
        page.goto(server.url + "/")
        page.locator("#voice-button").click()
        page.locator("#error").wait_for(state="visible")
        assert page.locator("#error").inner_text() == "没有找到话筒，请直接打字。"
    finally:
        context.close()


def test_the_button_is_hidden_when_voice_is_off_and_goes_when_the_model_is_missing(
        page: Any, server: LiveServer, tmp_path: Path) -> None:
    try:
        server.context.speech = SpeechInput(UnavailableSpeechRecognizer())  # type: ignore[misc]
        page.reload()
        page.wait_for_function("() => document.readyState === 'complete'")
        page.wait_for_timeout(500)  # the status request has come back
        assert page.locator("#voice-bar").is_hidden() and page.locator("#voice-button").is_hidden()
        assert page.locator("#chat-input").is_visible()

        missing = create_speech_recognizer("faster-whisper", model_dir=tmp_path / "no-model")
        server.context.speech = SpeechInput(missing)  # type: ignore[misc]
        page.reload()
        page.locator("#voice-button").click()
        error = page.locator("#error")
        error.wait_for(state="visible", timeout=WAIT_MS)
        assert error.inner_text() == VOICE_OFF
        assert page.locator("#voice-bar").is_hidden()
        assert re.search(r"[\u4e00-\u9fff]", error.inner_text())
    finally:
        server.context.speech = SpeechInput(_fake())  # type: ignore[misc]
