"""按住说话 through the controller (no display): a recorded file through the real listener, the fake recogniser,
hold and tap, 您说的是 with 对/重说/other readings, what goes wrong said in plain words, and the idle timeout
forgetting what was heard."""

from __future__ import annotations

from typing import Any

import pytest
from kiosk_testkit import (
    FakeClock,
    ManualLoop,
    RecordingUi,
    ScriptedClient,
    UnpluggedMicrophone,
    dead_input_wav,
    question_wav,
    quiet_room_wav,
    response,
)

from accessibility import VOICE_CANTONESE, VOICE_MANDARIN, FakeTtsEngine
from accessibility.asr import FakeSpeechRecognizer, UnavailableSpeechRecognizer
from accessibility.errors import MicrophoneError, NoSpeechError
from assistant.speech import SpeechInput
from kiosk_app import texts
from kiosk_app.catalog import Catalog
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.microphone import FileMicrophone, Finish, Microphone
from kiosk_app.speech import KioskSpeech
from kiosk_app.views import ANSWER, CONFIRM, HOME, LIST, LISTEN, NOTICE, Action, ListenPhase
from kiosk_app.voice import HOLD_SECONDS
from knowledge_base.models import KbEntry

ENTRY = KbEntry(id="senior-age-allowance", category="yanglao", title="高龄津贴怎么申请", department="民政",
                answer="年满80周岁的本地户籍老人可以申请高龄津贴。", aspects={"materials": "身份证；户口簿。"})
CATALOG = Catalog([ENTRY], home_codes=("yanglao",))
QUESTION = "我想问高龄津贴怎么申请"
OTHERS = ("我想问高龄津贴怎么审批", "我想问高龄津贴在哪里申请")
ANSWER_REPLY = response("answer", ENTRY.answer, topic=(ENTRY.id, ENTRY.title))


class Kiosk:
    """A controller with the fake recogniser, a file microphone and a hand-cranked UI loop."""

    def __init__(self, microphone: Microphone | None = None, *, readings: Any = ((QUESTION, OTHERS),),
                 recognizer: Any = None, **config: Any) -> None:
        self.loop = ManualLoop()
        self.recognizer = recognizer or FakeSpeechRecognizer(readings=list(readings))
        self.client = ScriptedClient(CATALOG, lambda text: ANSWER_REPLY, speech=SpeechInput(self.recognizer))
        self.tts = FakeTtsEngine()
        self.voices: list[str] = []

        def engine_for(voice: str) -> FakeTtsEngine:
            self.voices.append(voice)
            return FakeTtsEngine(voice)

        self.speech = KioskSpeech(self.tts, engine_for_voice=engine_for)
        kiosk_config = KioskConfig(home_categories=("yanglao",), idle_seconds=60, idle_warning_seconds=20,
                                   tts="fake", **config)
        self.c = KioskController(kiosk_config, self.client, self.speech, KioskDevices(), RecordingUi(),
                                 clock=FakeClock(), microphone=microphone, call_soon=self.loop.call_soon)
        self.hold_clock = FakeClock()
        self.c.voice.clock = self.hold_clock
        self.c.start()
        self.c.idle.touch()

    @property
    def screen(self) -> str:
        return self.c.ui.last[0]

    @property
    def view(self) -> Any:
        return self.c.ui.last[1]

    def hold_and_say(self, recorded_seconds: float = 3.0) -> None:
        """Press 按住说话, keep it down while the file plays, let go."""
        self.c.voice.press()
        assert self.screen == LISTEN
        listener = self.c.voice.listener
        assert listener is not None
        self.loop.run_until(lambda: listener.seconds >= recorded_seconds, what="the question to be played")
        self.hold_clock.advance(recorded_seconds)
        self.c.voice.release()

    def tap_and_say(self) -> None:
        self.c.voice.press()
        self.hold_clock.advance(0.2)
        self.c.voice.release()

    def wait_for(self, screen: str) -> None:
        self.loop.run_until(lambda: self.c.screen == screen and self.c.voice.listener is None,
                            what=f"the {screen} screen")


def test_voice_is_offered_with_a_microphone_and_a_recogniser() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav()))
    assert kiosk.c.voice.available and kiosk.view.voice and kiosk.view.language == "zh"
    kiosk.c.ask_topic(ENTRY.id)
    assert kiosk.screen == ANSWER and kiosk.view.voice
    kiosk.c.voice._set_state(mic_ok=False)  # unplugged: the answer on screen loses its 按住说话
    assert kiosk.screen == ANSWER and kiosk.view.voice is False and kiosk.view.text == ENTRY.answer
    assert Kiosk(None).c.home_view().voice is False  # no microphone configured
    off = Kiosk(FileMicrophone(question_wav()), recognizer=UnavailableSpeechRecognizer())
    assert off.c.home_view().voice is False  # the recogniser is switched off


def test_hold_to_talk_reaches_the_confirmation() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(1.8), speed=8))
    kiosk.c.ask_topic(ENTRY.id)  # an answer is being read out
    stops = kiosk.tts.stop_count
    kiosk.c.voice.press()
    assert kiosk.tts.stop_count > stops  # the kiosk stops talking before it listens
    assert kiosk.tts.last.text == texts.LISTEN_SPEECH
    kiosk.loop.run_until(lambda: kiosk.c.voice.view.hearing, what="the voice to be heard")
    assert kiosk.view.level > 0 and kiosk.view.tap is False
    listener = kiosk.c.voice.listener
    kiosk.loop.run_until(lambda: listener.seconds >= 4.0, what="the quiet after the question")
    assert kiosk.c.screen == LISTEN  # a pause does not end a held button
    kiosk.hold_clock.advance(4.0)
    kiosk.c.voice.release()
    kiosk.wait_for(CONFIRM)
    assert kiosk.c.voice.last_finish is Finish.RELEASED
    view = kiosk.view
    assert view.text == QUESTION and [a.argument for a in view.alternatives] == list(OTHERS)
    assert kiosk.tts.last.text.startswith("您说的是") and QUESTION in kiosk.tts.last.text  # read back
    seconds, language = kiosk.recognizer.calls[0]
    assert language == "zh" and 1.8 <= seconds <= 3.0  # the speech, trimmed of the room around it
    assert kiosk.client.heard_sessions == ["s-1"]  # the conversation the answer belonged to


def test_tap_to_talk_ends_by_itself_when_the_resident_stops() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(1.8), speed=8))
    kiosk.tap_and_say()
    assert kiosk.view.tap is True  # 说完了 is offered and the hint says to just stop talking
    kiosk.wait_for(CONFIRM)
    assert kiosk.c.voice.last_finish is Finish.ENDED
    assert kiosk.view.text == QUESTION


def test_yes_sends_the_text_as_a_turn_and_shows_the_answer() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8))
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    kiosk.c.voice.confirm()  # 对
    assert kiosk.client.sent[-1] == (None, QUESTION)
    assert kiosk.screen == ANSWER and kiosk.view.text == ENTRY.answer
    assert kiosk.c.voice.heard is None
    kiosk.c.back()  # 返回 does not go back to 您说的是 (nor to the listening screen)
    assert kiosk.screen == HOME


def test_another_reading_is_sent_as_it_is() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8))
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    kiosk.c.perform(kiosk.view.alternatives[1])
    assert kiosk.client.sent[-1] == (None, OTHERS[1]) and kiosk.screen == ANSWER


def test_say_again_listens_again() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8), readings=["我想问养老金", QUESTION])
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    assert kiosk.view.text == "我想问养老金" and kiosk.view.alternatives == ()
    kiosk.c.perform(Action(texts.CONFIRM_RETRY, "listen"))  # 重说
    assert kiosk.screen == LISTEN and kiosk.c.voice.listener is not None and kiosk.view.tap
    kiosk.wait_for(CONFIRM)
    assert kiosk.view.text == QUESTION and len(kiosk.recognizer.calls) == 2
    assert kiosk.client.sent == []  # nothing is asked before 对


@pytest.mark.parametrize("hold", [False, True])
def test_nobody_speaking_is_said_plainly(hold: bool) -> None:
    kiosk = Kiosk(FileMicrophone(quiet_room_wav(8.0), speed=8))
    if hold:
        kiosk.hold_and_say(recorded_seconds=2.0)
    else:
        kiosk.tap_and_say()
    kiosk.wait_for(NOTICE)
    assert kiosk.view.text == NoSpeechError.resident_message and kiosk.tts.last.text.startswith("没有听到")
    assert [a.command for a in kiosk.view.actions] == ["listen"]  # 重说
    assert kiosk.recognizer.calls == []  # silence never reaches the recogniser
    assert kiosk.c.voice.last_finish is (Finish.RELEASED if hold else Finish.NO_SPEECH)


def test_no_microphone_is_said_and_touch_still_works() -> None:
    microphone = UnpluggedMicrophone()
    kiosk = Kiosk(microphone)
    assert kiosk.view.voice  # it was there at start
    kiosk.c.voice.press()
    kiosk.wait_for(NOTICE)
    assert kiosk.view.text == MicrophoneError.resident_message
    assert kiosk.tts.last.text.startswith("话筒用不了")
    assert any(a.command == "human" for a in kiosk.view.actions)
    kiosk.c.go_home()
    assert kiosk.view.voice is False  # 按住说话 is gone until a microphone is found again
    kiosk.c.perform(Action("养老服务", "category", "yanglao"))
    assert kiosk.screen == LIST
    kiosk.c.perform(kiosk.view.items[0])
    assert kiosk.screen == ANSWER and kiosk.view.voice is False


def test_a_muted_microphone_is_a_microphone_problem() -> None:
    kiosk = Kiosk(FileMicrophone(dead_input_wav(), speed=0))
    kiosk.hold_and_say(recorded_seconds=1.0)
    kiosk.wait_for(NOTICE)
    assert kiosk.view.text == MicrophoneError.resident_message and kiosk.recognizer.calls == []


def test_a_recogniser_that_went_away_hides_the_button() -> None:
    class GoneAway(FakeSpeechRecognizer):
        def transcribe(self, samples: Any, *, language: str = "zh") -> Any:
            from accessibility.errors import AsrUnavailableError

            raise AsrUnavailableError("model deleted")

    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8), recognizer=GoneAway())
    kiosk.tap_and_say()
    kiosk.wait_for(NOTICE)
    assert "语音暂时用不了" in kiosk.view.text
    kiosk.c.go_home()
    assert kiosk.view.voice is False


def test_leaving_while_listening_drops_the_recording() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=1))
    kiosk.c.voice.press()
    listener = kiosk.c.voice.listener
    kiosk.c.go_home()  # 首页
    assert listener is not None and listener.join(5)
    kiosk.loop.drain(0.3)
    assert kiosk.screen == HOME and kiosk.c.voice.listener is None and kiosk.recognizer.calls == []


def test_personal_data_heard_is_masked_and_not_read_out() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8), readings=["我的电话是13812345678"])
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    assert kiosk.view.text == "我的电话是138****5678"
    assert kiosk.tts.last.text == texts.CONFIRM_PRIVATE_SPEECH
    kiosk.c.voice.confirm()
    assert kiosk.client.sent[-1][1] == "我的电话是13812345678"  # the assistant gets what was said


def test_cantonese_is_heard_and_spoken_then_the_next_visit_starts_in_mandarin() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8))
    kiosk.c.perform(Action("现在听普通话", "language"))
    assert kiosk.c.voice.language == "yue" and kiosk.view.language == "yue"
    assert kiosk.speech.voice == VOICE_CANTONESE and kiosk.speech.engine.last.text == "好的，现在听粤语。"
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    assert kiosk.recognizer.calls[-1][1] == "yue"
    kiosk.c.end_visit()
    assert kiosk.c.voice.language == "zh" and kiosk.speech.voice == VOICE_MANDARIN
    assert kiosk.voices == [VOICE_CANTONESE]  # Mandarin is the engine the kiosk started with


def test_a_kiosk_set_to_cantonese_starts_in_cantonese() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8), asr_language="yue")
    assert kiosk.view.language == "yue" and kiosk.speech.voice == VOICE_CANTONESE
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    assert kiosk.recognizer.calls[-1][1] == "yue"


def test_idle_clears_the_recognised_text() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8), readings=[("我叫黄小梅想办低保", ["我叫黄小梅想办低保证"])])
    kiosk.c.perform(Action("", "language"))
    kiosk.tap_and_say()
    kiosk.wait_for(CONFIRM)
    assert kiosk.c.voice.heard is not None
    clock = kiosk.c.idle._clock  # type: ignore[attr-defined]
    clock.advance(61)
    kiosk.c.tick_idle()
    clock.advance(21)
    kiosk.c.tick_idle()
    assert kiosk.screen == HOME and kiosk.c.ui.cleared == 1  # every screen emptied, 您说的是 included
    assert kiosk.c.voice.heard is None and kiosk.c.voice.language == "zh"
    assert kiosk.c.speech.last_text == "" and kiosk.c.session_id is None
    assert all("黄" not in str(view) for _, view in kiosk.c._history)  # type: ignore[attr-defined]
    kiosk.c.continue_use()  # nothing of the last visit comes back
    assert kiosk.screen == HOME


def test_letting_go_at_once_hears_nothing() -> None:
    kiosk = Kiosk(FileMicrophone(question_wav(), speed=1))
    kiosk.c.voice.press()
    kiosk.hold_clock.advance(HOLD_SECONDS + 0.1)
    kiosk.c.voice.release()
    kiosk.wait_for(NOTICE)  # let go at once: too little was recorded to hear anything
    assert kiosk.c.voice.last_finish is Finish.RELEASED and kiosk.view.title == texts.NOT_HEARD_TITLE


def test_the_listening_screen_says_when_the_recording_is_with_the_recogniser() -> None:
    from kiosk_testkit import DeferredRunner

    kiosk = Kiosk(FileMicrophone(question_wav(), speed=8))
    runner = DeferredRunner()
    kiosk.c.runner = runner
    kiosk.tap_and_say()
    kiosk.loop.run_until(lambda: kiosk.c.voice.listener is None, what="the end of the recording")
    assert kiosk.screen == LISTEN and kiosk.view.phase is ListenPhase.RECOGNISING and kiosk.c.busy
    runner.run_all()
    assert kiosk.screen == CONFIRM


def test_in_process_assistant_answers_what_was_said(make_controller, in_process_client) -> None:
    from kiosk_app.samples import SAMPLE_HEARD

    loop = ManualLoop()
    controller: KioskController = make_controller(microphone=FileMicrophone(question_wav(), speed=8),
                                                  call_soon=loop.call_soon)
    controller.start()
    controller.idle.touch()
    controller.voice.listen()
    loop.run_until(lambda: controller.screen == CONFIRM, what="the confirmation")
    assert controller.ui.last[1].text == SAMPLE_HEARD[0]
    controller.voice.confirm()
    screen, view = controller.ui.last
    assert screen == ANSWER and view.topic_id == "senior-age-allowance" and "高龄津贴" in view.text


def test_the_kiosks_prompt_is_waited_for_before_recording() -> None:
    import time

    class Speaking(FakeTtsEngine):
        """Busy for half a second after each request, as a real voice is."""

        until = 0.0

        def speak(self, text: str, rate: int = 160, *, interrupt: bool = True) -> None:
            super().speak(text, rate, interrupt=interrupt)
            self.until = time.monotonic() + 0.5

        @property
        def busy(self) -> bool:
            return time.monotonic() < self.until

    kiosk = Kiosk(FileMicrophone(question_wav(), speed=1))
    kiosk.c.speech.engine = Speaking()
    kiosk.c.voice.press()
    assert kiosk.view.recording is False  # 请稍等 while 请说话 is said
    started = time.monotonic()
    kiosk.loop.run_until(lambda: kiosk.c.voice.view.recording, what="the recording to start")
    assert time.monotonic() - started >= 0.4 and kiosk.c.speech.engine.texts == [texts.LISTEN_SPEECH]


@pytest.mark.slow
def test_the_real_recogniser_through_the_file_microphone(kiosk_context, tmp_path) -> None:
    import re
    import shutil
    import subprocess

    from accessibility.errors import AsrUnavailableError

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make sysdeps)")
    speech = kiosk_context.speech  # Whisper base, as `shequ kiosk` uses it in-process
    try:
        speech.recognizer.load()
    except AsrUnavailableError as error:
        pytest.skip(f"no speech model here: {error}")
    wav = tmp_path / "question.wav"  # espeak writes its own file; the kiosk writes none
    subprocess.run(["espeak-ng", "-v", "sit/cmn-latn-pinyin", "-s", "150", "-w", str(wav), "我想问一下高龄津贴怎么申请"],
                   check=True, capture_output=True, timeout=30)
    kiosk = Kiosk(FileMicrophone(wav, speed=0))
    kiosk.client.speech = speech
    kiosk.c.voice.listen()
    kiosk.loop.run_until(lambda: kiosk.c.screen in (CONFIRM, NOTICE) and kiosk.c.voice.listener is None,
                         timeout=120, what="the recogniser")
    assert kiosk.screen == CONFIRM and kiosk.c.voice.last_finish is Finish.ENDED
    # Whisper base on synthetic Mandarin is rough: only that Chinese came back is asserted.
    assert re.search(r"[\u4e00-\u9fff]{3}", kiosk.view.text)
    assert len(kiosk.view.alternatives) <= 3


def test_a_microphone_plugged_in_later_is_found_by_the_device_check() -> None:
    from kiosk_testkit import DeferredRunner

    class Later:
        name = "later"
        plugged = False

        def available(self) -> bool:
            return self.plugged

        def open(self) -> Any:
            return FileMicrophone(question_wav(), speed=8).open()

    microphone = Later()
    kiosk = Kiosk(microphone)
    assert kiosk.view.voice is False
    runner = DeferredRunner()
    kiosk.c.runner = runner
    microphone.plugged = True
    kiosk.c.check_devices()
    kiosk.c.end_visit()  # a visit ending while the check runs does not lose its answer
    runner.run_all()
    assert kiosk.screen == HOME and kiosk.view.voice is True
