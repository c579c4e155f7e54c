"""按住说话 on the real Kivy app (hidden window): a finger held on the button while a file microphone plays a
question, letting go, 您说的是, 对 and the answer; a quick tap that ends by itself, 重说, 首页 dropping the
recording; and the idle countdown leaving nothing heard on any screen. The assistant and the recogniser run
on the app's worker thread, the microphone on its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiosk_testkit import FakeClock, question_wav, setup_kivy_for_tests

from accessibility import FakeTtsEngine
from assistant.settings import Settings
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.samples import SAMPLE_HEARD
from kiosk_app.views import SCREENS

pytestmark = pytest.mark.gui

HEARD = SAMPLE_HEARD[0]


@pytest.fixture(scope="module", autouse=True)
def kivy_ready() -> Iterator[None]:
    setup_kivy_for_tests()
    yield


def all_screen_texts(harness) -> list[str]:
    from kivy.uix.label import Label

    from kiosk_app.harness import walk

    return [w.text for name in SCREENS for w in walk(harness.app.ui.screen(name))
            if isinstance(w, Label) and w.text] + [harness.app.ui.banner.text]


def test_speaking_a_question(kiosk_settings: Settings, in_process_client: InProcessAssistantClient) -> None:
    from kiosk_app import texts
    from kiosk_app.app import KioskApp
    from kiosk_app.devices import KioskDevices
    from kiosk_app.harness import KioskHarness
    from kiosk_app.microphone import FileMicrophone

    tts = FakeTtsEngine()
    clock = FakeClock()
    config = KioskConfig(home_categories=("yanglao", "shebao"), idle_seconds=60, idle_warning_seconds=20,
                         tts="fake")
    app = KioskApp(config, kiosk_settings, client=in_process_client, tts=tts, devices=KioskDevices(), clock=clock,
                   microphone=FileMicrophone(question_wav(1.8), speed=1))
    h = KioskHarness(app)
    try:
        c = app.controller
        h.wait_until(lambda: c.voice.available, what="voice input to be offered")
        h.pump(3)

        # Hold 按住说话 while the question is said, then let go.
        finger = h.hold(texts.TALK_BUTTON)
        assert h.screen_name == "listen" and tts.last.text == texts.LISTEN_SPEECH
        h.wait_until(lambda: c.voice.view.hearing, what="the voice to be heard")
        assert texts.LISTEN_HEARING in all_screen_texts(h) and h.screen.ids.meter.level > 0
        h.wait_until(lambda: c.voice.listener is not None and c.voice.listener.seconds >= 2.6,
                     what="the end of the question")
        h.let_go(finger)
        h.wait_until(lambda: h.screen_name == "confirm", what="the confirmation")
        h.settle()
        assert HEARD in all_screen_texts(h)
        assert {texts.CONFIRM_YES, texts.CONFIRM_RETRY, *SAMPLE_HEARD[1]} <= {b.text for b in h.buttons()}

        # 对: the text goes to the assistant as a turn, the answer comes back and is read out.
        h.tap(texts.CONFIRM_YES)
        h.settle()
        assert h.screen_name == "answer" and "高龄津贴" in h.screen.ids.answer_text.text
        assert "高龄津贴" in tts.last.text

        # A quick tap on the answer screen's 按住说话: it ends when the resident stops talking.
        h.tap(texts.TALK_BUTTON)
        assert h.screen_name == "listen"
        h.pump(2)
        assert texts.LISTEN_FINISH in [b.text for b in h.buttons()]
        h.wait_until(lambda: h.screen_name == "confirm", what="the recording to end by itself")
        h.settle()

        # 重说 listens again; 首页 leaves and drops the recording.
        h.tap(texts.CONFIRM_RETRY)
        assert h.screen_name == "listen" and c.voice.listener is not None
        listener = c.voice.listener
        h.tap(texts.HOME)
        assert h.screen_name == "home" and c.voice.listener is None and listener.join(5)
        h.pump(5)
        assert h.screen_name == "home"

        # Once more to 您说的是, then nobody touches the kiosk: nothing heard is left anywhere.
        h.tap(texts.TALK_BUTTON)
        h.wait_until(lambda: h.screen_name == "confirm", what="the confirmation")
        h.settle()
        clock.advance(61)
        h.wait_until(lambda: h.screen_name == "idle", timeout=5, what="the idle warning")
        clock.advance(21)
        h.wait_until(lambda: h.screen_name == "home", timeout=5, what="the idle timeout")
        h.pump(3)
        assert c.voice.heard is None and c.speech.last_text == ""
        assert [t for t in all_screen_texts(h) if HEARD in t or "高龄津贴" in t] == []
    finally:
        h.close()
