"""Speech input as the assistant offers it: one recogniser per process, fed by every channel.

:class:`SpeechInput` is built once in :class:`~assistant.context.AppContext` (``context.speech``) and used by
``POST /api/v1/asr``, WeChat voice messages and the kiosk when it runs the assistant in-process. It decodes
whatever audio arrives (:func:`accessibility.audio_input.decode_audio`), runs the shared recognition steps
(:func:`accessibility.asr.recognise`) and biases the engine with the knowledge base's own words. The model
loads on first use (or in the background at start with :meth:`SpeechInput.warm_up`), never per request.

Audio is not kept: it lives in memory for the length of the call, unless ``Settings.asr_keep_audio`` is on;
then :func:`keep_recording` stores it encrypted with the conversation, and it goes when the conversation goes
(retention purge, a resident's erasure).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from accessibility.asr import (
    LANGUAGES,
    SpeechRecognizer,
    Transcript,
    build_initial_prompt,
    create_speech_recognizer,
    recognise,
)
from accessibility.audio_input import decode_audio
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings

__all__ = ["SpeechInput", "keep_recording", "prompt_terms", "resolved_model_dir"]

log = logging.getLogger(__name__)

# Words every prompt starts with: what residents ask about most (catalog order), before the synonyms' terms.
CORE_PROMPT_TERMS = (
    "社保", "医保", "养老金", "高龄津贴", "低保", "临时救助", "残疾证", "居住证", "户口", "公租房",
    "就业", "失业金", "医保卡", "社保卡", "异地就医", "老年证", "居家养老", "计划生育", "疫苗", "社区",
)


def resolved_model_dir(settings: Settings) -> Path:
    return settings.asr_model_dir or (settings.var_dir / "models" / "whisper-base")


def prompt_terms(settings: Settings) -> list[str]:
    """The recogniser's vocabulary bias: the core terms, then the synonym dictionary's standard words."""
    from knowledge_base.synonyms import load_synonyms

    terms = list(CORE_PROMPT_TERMS)
    path = settings.kb_data_dir / "synonyms.yaml"
    if path.exists():
        terms.extend(load_synonyms(path).groups())
    return terms


class SpeechInput:
    """Bytes in any audio format → :class:`Transcript`. Thread-safe; the engine serialises decoding."""

    def __init__(self, recognizer: SpeechRecognizer, *, default_language: str = "zh",
                 max_seconds: float = 15.0) -> None:
        self.recognizer = recognizer
        self.default_language = default_language if default_language in LANGUAGES else "zh"
        self.max_seconds = max_seconds

    @classmethod
    def from_settings(cls, settings: Settings, terms: Iterable[str] | None = None) -> SpeechInput:
        words = list(terms) if terms is not None else prompt_terms(settings)
        prompts = {lang: build_initial_prompt(words, language=lang) for lang in LANGUAGES}
        recognizer = create_speech_recognizer(
            settings.asr_engine,
            model_dir=resolved_model_dir(settings),
            prompts=prompts if settings.asr_prompt else {},
            threads=settings.asr_threads,
            auto_install=settings.asr_model_dir is None,
        )
        return cls(recognizer, default_language=settings.asr_language, max_seconds=settings.asr_max_seconds)

    @property
    def enabled(self) -> bool:
        return self.recognizer.name != "off"

    def warm_up(self) -> threading.Thread:
        """Load the model in a background thread (the server's start does not wait for it)."""

        def load() -> None:
            try:
                self.recognizer.load()
            except Exception as exc:  # reported again, to the resident, on first use
                log.warning("speech model not loaded: %s", exc)

        thread = threading.Thread(target=load, name="asr-warm-up", daemon=True)
        thread.start()
        return thread

    def language_of(self, language: str | None) -> str:
        if not language:
            return self.default_language
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return language

    def transcribe_bytes(self, audio: bytes, *, language: str | None = None) -> Transcript:
        """Raises AudioError subclasses (resident's audio), AsrUnavailableError (no model), ValueError."""
        lang = self.language_of(language)
        samples = decode_audio(audio, max_seconds=self.max_seconds)
        return recognise(self.recognizer, samples, language=lang)

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None) -> Transcript:
        return recognise(self.recognizer, samples, language=self.language_of(language))


def keep_recording(factory: sessionmaker[Session], cipher: PersonalDataCipher, session_id: str, audio: bytes,
                   seconds: float) -> int:
    """Store a recording encrypted under its conversation (only call when ``asr_keep_audio`` is on)."""
    from assistant.storage.db import session_scope
    from assistant.storage.models import VoiceClip

    with session_scope(factory) as db:
        clip = VoiceClip(session_id=session_id, seconds=round(seconds, 2), audio_encrypted=cipher.encrypt_bytes(audio))
        db.add(clip)
        db.flush()
        return clip.id
