"""按住说话: listening, the confirmation 您说的是：……, and the 普通话/粤语 switch.

A press on 按住说话 opens the microphone at once (the kiosk's speech stops first, so it never hears itself,
and its short prompt 请说话 is not recorded). Letting go ends the recording when the button was held; a
quick tap instead listens until the resident stops talking (the detector's end point, 15 s at most); 说完了
ends it too. The recording goes to the recogniser off the UI thread — the application context's recogniser
when the assistant runs here, ``POST /api/v1/asr`` on the central server otherwise — and what was heard is
shown large with 对 and 重说 (and up to three other readings). 对 sends the text as an ordinary turn.

Nothing of it outlives the visit: leaving the screen drops the recording, the idle timeout forgets what was
heard and resets the language. Personal data heard (a phone or ID number) is shown masked and not read out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from accessibility import VOICE_CANTONESE, VOICE_MANDARIN
from accessibility.errors import MicrophoneError, NoSpeechError
from kiosk_app import texts
from kiosk_app.errors import VoiceInputError, VoiceUnavailableError
from kiosk_app.microphone import Finish, Listener, Microphone, Recording
from kiosk_app.views import (
    ANSWER,
    CONFIRM,
    HOME,
    LISTEN,
    NOTICE,
    Action,
    AnswerView,
    ConfirmView,
    ListenPhase,
    ListenView,
    NoticeView,
    Style,
)
from pii import mask_text

if TYPE_CHECKING:
    from kiosk_app.client import Heard
    from kiosk_app.controller import KioskController

log = logging.getLogger(__name__)

# A press shorter than this is a tap: listen until the resident stops talking.
HOLD_SECONDS = 0.6
# Less audio than this after letting go: nothing was said (a press let go at once, or during the prompt).
MIN_RECORDING_SECONDS = 0.3
MAX_ALTERNATIVE_LABEL = 30  # characters on an alternative's button; the whole text is sent


def other_language(language: str) -> str:
    return "zh" if language == "yue" else "yue"


class VoiceFlow:
    def __init__(self, controller: KioskController, microphone: Microphone | None,
                 call_soon: Callable[[Callable[[], None]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.c = controller
        self.microphone = microphone
        self.call_soon = call_soon or (lambda fn: fn())
        self.clock = clock
        self.language = controller.config.asr_language
        self.mic_ok: bool | None = None  # unknown until checked
        self.speech_ok: bool | None = None
        self.listener: Listener | None = None
        self.view = ListenView()
        self.heard: Heard | None = None
        self.last_finish: Finish | None = None
        self._pressed_at: float | None = None
        self._token = 0  # bumped whenever listening is left: late results of an old recording are dropped
        self._checking = False
        self.set_language(self.language)  # a kiosk set to 粤语 also speaks Cantonese

    # --- whether 按住说话 is offered ---
    @property
    def available(self) -> bool:
        return self.microphone is not None and self.mic_ok is True and self.speech_ok is True

    def check(self) -> None:
        """Is there a microphone and a recogniser? (At start, off the UI thread; then with the device check.)"""
        if self.microphone is None or self.listener is not None or self._checking:
            return
        microphone, client, need_speech = self.microphone, self.c.client, self.speech_ok is not True

        def work() -> tuple[bool, bool | None]:
            # The model is loaded only where there is something to listen with.
            has_microphone = microphone.available()
            return has_microphone, (client.speech_ready() if need_speech and has_microphone else None)

        def done(result: tuple[bool, bool | None]) -> None:
            self._checking = False
            self._set_state(*result)

        def failed(error: BaseException) -> None:
            self._checking = False
            log.error("voice check failed: %s", type(error).__name__)

        self._checking = True
        # Not tied to a visit (as ``controller.run`` is): the answer must arrive even if a visit ended meanwhile.
        self.c.runner.submit(work, done, failed)

    def _set_state(self, mic_ok: bool | None = None, speech_ok: bool | None = None) -> None:
        before = self.available
        if mic_ok is not None:
            self.mic_ok = mic_ok
        if speech_ok is not None:
            self.speech_ok = speech_ok
        if self.available != before:
            log.info("voice input %s", "offered" if self.available else "not offered")
            self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        """Show or hide 按住说话 on the screen in view."""
        screen = self.c.screen
        if screen == HOME:
            self.c.ui.show(HOME, self.c.home_view())
        elif screen == ANSWER and self.c.current is not None and isinstance(self.c.current[1], AnswerView):
            view = replace(self.c.current[1], voice=self.available)
            if self.c.current[1] is self.c.answer:
                self.c.answer = view
            self.c.current = (ANSWER, view)
            self.c.ui.show(ANSWER, view)

    # --- the language ---
    def voice_for(self, language: str) -> str:
        default = self.c.speech.default_voice
        if language == "yue":
            return VOICE_CANTONESE
        return default if default and default != VOICE_CANTONESE else VOICE_MANDARIN

    def toggle_language(self) -> None:
        self.set_language(other_language(self.language))
        name = texts.LANGUAGE_NAMES[self.language]
        if self.c.screen == HOME:
            self.c.ui.show(HOME, self.c.home_view())
        self.c.speech.say_display(texts.LANGUAGE_ON.format(name=name))

    def set_language(self, language: str) -> None:
        self.language = language
        self.c.speech.use_voice(self.voice_for(language))

    # --- listening ---
    def press(self) -> None:
        """按住说话 touched: listen now; :meth:`release` decides between hold and tap."""
        if self._start():
            self._pressed_at = self.clock()

    def release(self, held: float | None = None) -> None:
        """按住说话 let go; ``held``: how long, by the touch's own times (else by this flow's clock)."""
        pressed, self._pressed_at = self._pressed_at, None
        listener = self.listener
        if pressed is None or listener is None:
            return
        if (held if held is not None else self.clock() - pressed) < HOLD_SECONDS:
            listener.end_on_silence()
            self._show_listening(replace(self.view, tap=True))
        else:
            listener.stop()

    def listen(self) -> None:
        """Tap to talk (重说): listen until the resident stops."""
        if self._start() and self.listener is not None:
            self.listener.end_on_silence()
            self._show_listening(replace(self.view, tap=True))

    def finish_now(self) -> None:
        """说完了."""
        if self.listener is not None:
            self.listener.stop()

    def _start(self) -> bool:
        if self.listener is not None or self.c.busy:
            return False
        if self.microphone is None or not self.available:
            self._microphone_problem(MicrophoneError("no microphone") if self.mic_ok is False or
                                     self.microphone is None else None)
            return False
        self.c.idle.touch()
        self.heard = None
        self.view = ListenView(language=self.language)
        # The previous speech stops here (navigate does it first); the prompt is not recorded (the gate).
        self.c.navigate(LISTEN, self.view, display_speech=texts.LISTEN_SPEECH)
        self._token += 1
        token = self._token
        speech = self.c.speech

        def mine(callback: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if token == self._token:
                    callback(*args)
            return call

        self.listener = Listener(
            self.microphone, call_soon=self.call_soon, on_started=mine(self._started),
            on_level=mine(self._level), on_done=mine(lambda r: self._recorded(r, token)),
            on_error=mine(self._microphone_failed), gate=lambda: not speech.busy)
        self.listener.start()
        return True

    def _show_listening(self, view: ListenView) -> None:
        # Updated in place: not a new screen, nothing said.
        self.view = view
        if self.c.screen == LISTEN:
            self.c.current = (LISTEN, view)
            self.c.ui.show(LISTEN, view)

    def _started(self) -> None:
        self.c.idle.touch()
        self._show_listening(replace(self.view, recording=True))

    def _level(self, level: float, hearing: bool) -> None:
        self.c.idle.touch()  # someone is talking to the kiosk: no idle warning meanwhile
        self._show_listening(replace(self.view, level=level, hearing=hearing))

    def _recorded(self, recording: Recording, token: int) -> None:
        self.listener = None
        self.last_finish = recording.finish
        self.c.idle.touch()
        if recording.dead:
            self._microphone_failed(MicrophoneError("the microphone records only digital silence"))
            return
        if recording.finish is Finish.NO_SPEECH or recording.seconds < MIN_RECORDING_SECONDS:
            self._not_heard(VoiceInputError("no speech", message_zh=NoSpeechError.resident_message))
            return
        self._show_listening(replace(self.view, phase=ListenPhase.RECOGNISING, level=0.0, hearing=False))
        samples, language, session, client = recording.samples(), self.language, self.c.session_id, self.c.client
        started = time.perf_counter()

        def heard(result: Heard) -> None:
            log.info("voice: %.1f s of audio recognised in %.2f s", recording.seconds,
                     time.perf_counter() - started)
            if token == self._token:
                self._confirm(result)

        def failed(error: BaseException) -> None:
            if token == self._token:
                self._recognition_failed(error)

        self.c.run(lambda: client.transcribe(session, samples, language), heard, failed=failed)

    # --- 您说的是 ---
    def _confirm(self, heard: Heard) -> None:
        self.heard = heard
        shown = mask_text(heard.text)
        alternatives = tuple(Action(self._label(mask_text(text)), "heard", text) for text in heard.alternatives)
        view = ConfirmView(shown, alternatives, heard.language)
        speech = (texts.CONFIRM_SPEECH.format(text=heard.text) if shown == heard.text
                  else texts.CONFIRM_PRIVATE_SPEECH)
        self.c.navigate(CONFIRM, view, display_speech=speech)

    @staticmethod
    def _label(text: str) -> str:
        return text if len(text) <= MAX_ALTERNATIVE_LABEL else text[: MAX_ALTERNATIVE_LABEL - 1] + "…"

    def confirm(self, text: str | None = None) -> None:
        """对 (``text`` None: the best reading) or another reading's button: an ordinary turn."""
        chosen = text if text is not None else (self.heard.text if self.heard else "")
        if not chosen.strip():
            return
        self.heard = None
        self.c.send(chosen)

    # --- when it does not work ---
    def _not_heard(self, error: VoiceInputError) -> None:
        actions = (Action(texts.CONFIRM_RETRY, "listen", style=Style.PRIMARY),)
        self.c.navigate(NOTICE, NoticeView(texts.NOT_HEARD_TITLE, error.message_zh, actions),
                        display_speech=error.message_zh)

    def _recognition_failed(self, error: BaseException) -> None:
        if isinstance(error, VoiceUnavailableError):
            self._set_state(speech_ok=False)
            self.c.notice(texts.PROBLEM_TITLE, error.message_zh)
        elif isinstance(error, VoiceInputError):
            self._not_heard(error)
        else:
            self.c.fail(error)

    def _microphone_failed(self, error: MicrophoneError) -> None:
        self.listener = None
        self._set_state(mic_ok=False)
        self._microphone_problem(error)

    def _microphone_problem(self, error: MicrophoneError | None) -> None:
        message = MicrophoneError.resident_message if error is not None else VoiceUnavailableError.default_message_zh
        self.c.notice(texts.PROBLEM_TITLE, message)

    # --- leaving ---
    def leave(self) -> None:
        """Another screen appears: a recording in progress is dropped, a recognition under way ignored."""
        self._token += 1
        self._pressed_at = None
        if self.listener is not None:
            self.listener.cancel()
            self.listener = None

    def forget(self) -> None:
        """The visit ended: nothing heard is kept, and the next person starts in the kiosk's language."""
        self.leave()
        self.heard = None
        self.view = ListenView()
        self.set_language(self.c.config.asr_language)
