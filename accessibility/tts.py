"""Speech output: the ``TtsEngine`` seam, the engine registry and the engines without audio.

Engines by registry name (:func:`create_tts_engine`):

- ``pyttsx3`` (default) — pyttsx3 on espeak-ng, voice ``sit/cmn-latn-pinyin`` (Mandarin; ``sit/yue`` for
  Cantonese), run by :class:`~accessibility.tts_worker.ThreadedTtsEngine`: a worker thread synthesises
  sentence by sentence and plays through ``aplay``, so the UI thread never waits;
- ``espeak`` — the same, with ``espeak-ng`` run as a subprocess instead of pyttsx3;
- ``fake`` — :class:`FakeTtsEngine`, records what it was asked to say (tests);
- ``silent`` — :class:`SilentTtsEngine`, what the kiosk runs when speech cannot work on the machine.

Semantics shared by every engine: :meth:`TtsEngine.speak` returns at once; a new ``speak`` replaces
anything still queued and (by default) interrupts what is being said; :meth:`TtsEngine.stop` silences
at once (call it when the screen changes); :meth:`TtsEngine.save_to_file` blocks and writes a WAV.
Text given to an engine should already be speech text (:func:`accessibility.speech_text.to_speech_text`);
the real engines pass it through ``to_speech_text`` again as a safety net (it is idempotent), the fake
records exactly what it was given.
Engines log lengths and rates, never the text: it may contain personal data.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .errors import SynthesisError, TtsUnavailableError, UnknownTtsEngineError
from .wav import estimate_speech_seconds, write_silence

__all__ = [
    "DEFAULT_TTS_ENGINE",
    "VOICE_CANTONESE",
    "VOICE_MANDARIN",
    "FakeTtsEngine",
    "SilentTtsEngine",
    "SpeechRate",
    "TtsEngine",
    "Utterance",
    "create_tts_engine",
    "normalise_rate",
    "register_tts_engine",
    "tts_engine_names",
]

logger = logging.getLogger(__name__)

# espeak-ng voice ids. The plain `sit/cmn` voice of Debian 12 reads tone numbers in English, and `zh`
# silently falls back to English; this one speaks Mandarin tones (but reads Latin letters as pinyin).
VOICE_MANDARIN = "sit/cmn-latn-pinyin"
VOICE_CANTONESE = "sit/yue"
DEFAULT_TTS_ENGINE = "pyttsx3"
MIN_RATE, MAX_RATE = 60, 400


class SpeechRate(IntEnum):
    """espeak-ng speaking rates (its ``-s`` words-per-minute setting; its own default is 175)."""

    NORMAL = 160  # about 3.6 Chinese characters a second: unhurried for older listeners
    SLOW = 120  # the "慢一点" button

    @classmethod
    def from_name(cls, name: str) -> SpeechRate:
        """``"normal"`` / ``"slow"`` (as in the chat reply's ``speech_rate``) → the rate."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown speech rate {name!r}; use 'normal' or 'slow'") from None


def normalise_rate(rate: int) -> int:
    """Any int (or :class:`SpeechRate`) clamped to what espeak-ng accepts without distortion."""
    return max(MIN_RATE, min(MAX_RATE, int(rate)))


@dataclass(frozen=True)
class Utterance:
    text: str
    rate: int


class TtsEngine(ABC):
    """The speech output seam used by the kiosk (see the module docstring for the shared semantics)."""

    name: str = "abstract"  # the registry name, for logs

    @abstractmethod
    def speak(self, text: str, rate: int = SpeechRate.NORMAL, *, interrupt: bool = True) -> None:
        """Say ``text`` without blocking. Replaces anything queued; ``interrupt`` also cuts what is playing."""

    @abstractmethod
    def stop(self) -> None:
        """Silence now and drop anything queued."""

    @abstractmethod
    def save_to_file(self, text: str, path: str | Path, rate: int = SpeechRate.NORMAL) -> Path:
        """Synthesise ``text`` into a WAV at ``path`` (blocking) and return the path."""

    @property
    @abstractmethod
    def busy(self) -> bool:
        """True while something is being said or waits to be said."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until idle; False if ``timeout`` passed first. Engines without a queue are always idle."""
        return True

    def close(self) -> None:
        """Release the engine (stops speech). Idempotent."""
        self.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FakeTtsEngine(TtsEngine):
    """Records every request; ``save_to_file`` writes silence of a plausible length. Thread-safe."""

    name = "fake"

    def __init__(self, voice: str = VOICE_MANDARIN) -> None:
        self.voice = voice
        self.spoken: list[Utterance] = []
        self.saved: list[tuple[Utterance, Path]] = []
        self.stop_count = 0
        self.closed = False
        self._lock = threading.Lock()

    def speak(self, text: str, rate: int = SpeechRate.NORMAL, *, interrupt: bool = True) -> None:
        if not text.strip():
            return
        with self._lock:
            self.spoken.append(Utterance(text, normalise_rate(rate)))

    def stop(self) -> None:
        with self._lock:
            self.stop_count += 1

    def save_to_file(self, text: str, path: str | Path, rate: int = SpeechRate.NORMAL) -> Path:
        if not text.strip():
            raise SynthesisError("nothing to synthesise: the text is empty")
        rate = normalise_rate(rate)
        path = write_silence(path, max(0.2, estimate_speech_seconds(text, rate)))
        with self._lock:
            self.saved.append((Utterance(text, rate), path))
        return path

    @property
    def busy(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    @property
    def texts(self) -> list[str]:
        with self._lock:
            return [u.text for u in self.spoken]

    @property
    def last(self) -> Utterance | None:
        with self._lock:
            return self.spoken[-1] if self.spoken else None

    def clear(self) -> None:
        with self._lock:
            self.spoken.clear()
            self.saved.clear()
            self.stop_count = 0


class SilentTtsEngine(TtsEngine):
    """Says nothing: the kiosk's fallback when espeak-ng or pyttsx3 is missing."""

    name = "silent"

    def __init__(self, voice: str = VOICE_MANDARIN, reason: str = "speech output is disabled") -> None:
        self.voice = voice
        self.reason = reason

    def speak(self, text: str, rate: int = SpeechRate.NORMAL, *, interrupt: bool = True) -> None:
        logger.debug("silent engine skipped %d characters", len(text))

    def stop(self) -> None:
        pass

    def save_to_file(self, text: str, path: str | Path, rate: int = SpeechRate.NORMAL) -> Path:
        raise TtsUnavailableError(f"cannot synthesise: {self.reason}")

    @property
    def busy(self) -> bool:
        return False


# --- registry -----------------------------------------------------------------------------------

TtsFactory = Callable[..., TtsEngine]
_REGISTRY: dict[str, TtsFactory] = {}


def register_tts_engine(name: str, factory: TtsFactory, *, replace: bool = False) -> None:
    """Make ``factory(voice=..., **options)`` available as ``name``."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"TTS engine {name!r} is already registered")
    _REGISTRY[name] = factory


def tts_engine_names() -> list[str]:
    return sorted(_REGISTRY)


def create_tts_engine(
    name: str = DEFAULT_TTS_ENGINE,
    *,
    voice: str = VOICE_MANDARIN,
    fallback_to_silent: bool = False,
    **options: Any,
) -> TtsEngine:
    """Build the engine registered as ``name``.

    Raises :class:`UnknownTtsEngineError` for an unknown name (always: that is a config mistake) and
    :class:`TtsUnavailableError` when the engine cannot run here, unless ``fallback_to_silent`` is set,
    in which case a warning is logged and a :class:`SilentTtsEngine` returned so that the kiosk works on.
    Options for ``pyttsx3``/``espeak``: ``player`` (an ``AudioPlayer``), ``audio_device`` (ALSA name for
    ``aplay -D``), ``chunk_chars``.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownTtsEngineError(
            f"unknown TTS engine {name!r}; choose one of: {', '.join(tts_engine_names())}"
        ) from None
    try:
        return factory(voice=voice, **options)
    except TtsUnavailableError as error:
        if not fallback_to_silent:
            raise
        logger.warning("speech output unavailable, continuing without speech: %s", error)
        return SilentTtsEngine(voice, reason=str(error))


def _threaded_factory(synthesizer_kind: str) -> TtsFactory:
    def factory(
        *,
        voice: str = VOICE_MANDARIN,
        player: Any = None,
        audio_device: str | None = None,
        chunk_chars: int | None = None,
    ) -> TtsEngine:
        # Imported here so that importing this module never loads pyttsx3 or starts threads.
        from .tts_backends import AplayPlayer, EspeakSynthesizer, Pyttsx3Synthesizer
        from .tts_worker import DEFAULT_CHUNK_CHARS, ThreadedTtsEngine

        synthesizer = Pyttsx3Synthesizer(voice) if synthesizer_kind == "pyttsx3" else EspeakSynthesizer(voice)
        return ThreadedTtsEngine(
            synthesizer,
            player if player is not None else AplayPlayer(device=audio_device),
            chunk_chars=chunk_chars or DEFAULT_CHUNK_CHARS,
            name=synthesizer_kind,
        )

    return factory


register_tts_engine("pyttsx3", _threaded_factory("pyttsx3"))
register_tts_engine("espeak", _threaded_factory("espeak"))
register_tts_engine("fake", lambda *, voice=VOICE_MANDARIN, **_: FakeTtsEngine(voice))
register_tts_engine("silent", lambda *, voice=VOICE_MANDARIN, **_: SilentTtsEngine(voice))
