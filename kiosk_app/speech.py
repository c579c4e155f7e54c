"""What the kiosk says: one place that speaks, repeats, slows down and forgets.

Every screen speaks when it appears; the previous screen's speech is cut first (``stop``), so the resident
never hears an answer to a question they have left. The engine runs on its own thread (``TtsEngine.speak``
returns at once). Only speech text reaches the engine: display text goes through ``to_speech_text``, which
drops ID numbers and URLs and reads numbers the Mandarin voice can say.

The 普通话/粤语 switch changes the voice with :meth:`KioskSpeech.use_voice` when the kiosk was given a way to
build an engine for another voice (the app does; an injected test engine keeps its one voice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from accessibility import SpeechRate, TtsEngine, to_speech_text
from accessibility.errors import TtsError

log = logging.getLogger(__name__)

MAX_SPEECH_CHARS = 400  # a long aspect is still read to the end of a sentence, then "请看屏幕"


class KioskSpeech:
    def __init__(self, engine: TtsEngine, *, voice: str = "",
                 engine_for_voice: Callable[[str], TtsEngine] | None = None) -> None:
        self.engine = engine
        self.voice = voice or str(getattr(engine, "voice", ""))
        self.default_voice = self.voice
        self._engine_for_voice = engine_for_voice
        self._engines: dict[str, TtsEngine] = {self.voice: engine}
        self.last_text = ""
        self.last_rate: int = SpeechRate.NORMAL

    def use_voice(self, voice: str) -> bool:
        """Speak with ``voice`` from now on; False when this kiosk cannot change voices (or it failed)."""
        if voice == self.voice:
            return True
        engine = self._engines.get(voice)
        if engine is None:
            if self._engine_for_voice is None:
                return False
            try:
                engine = self._engine_for_voice(voice)
            except TtsError as e:
                log.warning("voice %s not available: %s", voice, e)
                return False
            self._engines[voice] = engine
        self.stop()
        self.engine, self.voice = engine, voice
        return True

    @property
    def busy(self) -> bool:
        """Something is being said (the microphone waits for the kiosk's own prompt to end)."""
        try:
            return bool(self.engine.busy)
        except TtsError:
            return False

    def say(self, speech_text: str, rate: int = SpeechRate.NORMAL) -> None:
        """Speak text that is already speech text (a reply's ``speech``)."""
        text = speech_text.strip()
        if not text:
            return
        self.last_text, self.last_rate = text, int(rate)
        self._speak(text, int(rate))

    def say_display(self, display_text: str, rate: int = SpeechRate.NORMAL) -> None:
        """Speak text written for the screen."""
        self.say(to_speech_text(display_text, max_chars=MAX_SPEECH_CHARS, truncation_hint="详细内容请看屏幕。"),
                 rate)

    def announce(self, display_text: str, *, interrupt: bool = True) -> None:
        """Say a warning or a notice's banner: not what 再听一遍 repeats (that stays the screen's own speech).
        ``interrupt=False`` waits for what is being said (the home screen's greeting) to finish."""
        text = to_speech_text(display_text, max_chars=MAX_SPEECH_CHARS * 2, truncation_hint="详细内容请看屏幕。")
        if not text.strip():
            return
        try:
            self.engine.speak(text, SpeechRate.NORMAL, interrupt=interrupt)
        except TtsError as e:
            log.warning("speech failed (%d characters): %s", len(text), e)

    def replay(self, slow: bool = False) -> bool:
        """再听一遍 / 慢一点; False when there is nothing to repeat."""
        if not self.last_text:
            return False
        if slow:
            self.last_rate = SpeechRate.SLOW
        self._speak(self.last_text, self.last_rate)
        return True

    def stop(self) -> None:
        try:
            self.engine.stop()
        except TtsError as e:
            log.warning("stopping speech failed: %s", e)

    def forget(self) -> None:
        """The visit ended: nothing of it may be repeated to the next person."""
        self.stop()
        self.last_text = ""
        self.last_rate = SpeechRate.NORMAL

    def close(self) -> None:
        self.forget()
        for engine in {id(e): e for e in (self.engine, *self._engines.values())}.values():
            engine.close()

    def _speak(self, text: str, rate: int) -> None:
        try:
            self.engine.speak(text, rate)
        except TtsError as e:
            # Speech is a help, not a gate: the screen still shows everything.
            log.warning("speech failed (%d characters): %s", len(text), e)
