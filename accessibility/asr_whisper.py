"""The ``faster-whisper`` engine: Whisper base on CTranslate2, on the CPU, int8.

Loaded once (on first use or :meth:`load`), reused by every caller; a lock serialises decoding, since two
decodes at once on two cores are slower than one after the other. One utterance is at most 15 s, inside
Whisper's 30 s window, so the engine encodes once and asks the decoder for an n-best list directly
(``num_hypotheses``): the alternatives go back to the caller, and the dialogue can try them when the first
reading finds nothing. A prompt per language biases the decoder towards the knowledge base's words.

Cantonese: Whisper base knows no ``yue`` token (only large-v3 has one); it is decoded as ``zh`` with a
Cantonese prompt, and the dialect lexicon in normalisation does the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .asr import Transcript
from .errors import AsrUnavailableError

logger = logging.getLogger(__name__)

COMPUTE_TYPE = "int8"  # a third of float32's time on this CPU, same readings on short questions
BEAM_SIZE = 5
N_BEST = 3
# A spoken question runs at most ~6 characters a second; more tokens than this is decoding running away.
MAX_TOKENS_PER_SECOND = 8
MIN_TOKEN_BUDGET = 16
NO_REPEAT_NGRAM = 4  # 鋒鋒鋒鋒…: Whisper base loops on unclear audio
REPETITION_PENALTY = 1.1
WHISPER_LANGUAGE = {"zh": "zh", "yue": "zh"}  # base has no yue token (see the module docstring)
WINDOW_SAMPLES = 30 * 16_000


class FasterWhisperRecognizer:
    name = "faster-whisper"

    def __init__(self, model_dir: str | Path, *, prompts: Mapping[str, str] | None = None, threads: int = 2,
                 auto_install: bool = False):
        self.model_dir = Path(model_dir)
        # Join the model from the installed packages on first load when it is not in place (the default
        # location under var/: `make run` needs no separate step). A configured directory is never written.
        self.auto_install = auto_install
        self.prompts = dict(prompts or {})
        self.threads = threads
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self.load_seconds: float | None = None

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            if not (self.model_dir / "model.bin").is_file() and self.auto_install:
                from .asr_model import install_model

                try:
                    install_model(self.model_dir)
                except OSError as exc:
                    raise AsrUnavailableError(f"语音识别模型无法安装：{exc.strerror or exc}") from None
            if not (self.model_dir / "model.bin").is_file():
                raise AsrUnavailableError(
                    f"语音识别模型未安装：{self.model_dir}（请运行 shequ asr install）"
                )
            started = time.perf_counter()
            try:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(self.model_dir), device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=self.threads
                )
            except Exception as exc:  # a broken or partial model.bin, a missing library
                raise AsrUnavailableError(
                    f"语音识别模型无法加载（{type(exc).__name__}），请运行 shequ asr check"
                ) from None
            self.load_seconds = time.perf_counter() - started
            logger.info("speech model loaded in %.2f s", self.load_seconds)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def transcribe(self, samples: np.ndarray, *, language: str = "zh") -> Transcript:
        self.load()
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        samples = np.asarray(samples, dtype=np.float32)[:WINDOW_SAMPLES]
        seconds = len(samples) / 16_000
        started = time.perf_counter()
        with self._decode_lock:
            features = model.feature_extractor(samples)
            # Pad to the 30 s window the encoder was trained on (3000 frames).
            frames = model.feature_extractor.nb_max_frames
            if features.shape[-1] < frames:
                features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
            encoder_output = model.encode(features[:, :frames])
            tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=WHISPER_LANGUAGE.get(language, "zh"),
            )
            prompt_text = self.prompts.get(language) or self.prompts.get("zh")
            previous = tokenizer.encode(" " + prompt_text.strip()) if prompt_text else []
            prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
            budget = max(MIN_TOKEN_BUDGET, int(seconds * MAX_TOKENS_PER_SECOND))
            result = model.model.generate(
                encoder_output,
                [prompt],
                beam_size=BEAM_SIZE,
                num_hypotheses=N_BEST,
                max_length=min(model.max_length, len(prompt) + budget),
                no_repeat_ngram_size=NO_REPEAT_NGRAM,
                repetition_penalty=REPETITION_PENALTY,
                return_scores=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )[0]
        texts = [
            tokenizer.decode([t for t in ids if t < tokenizer.eot]).strip() for ids in result.sequences_ids
        ]
        return Transcript(
            text=texts[0] if texts else "",
            alternatives=tuple(texts[1:]),
            language=language,
            audio_seconds=seconds,
            seconds=time.perf_counter() - started,
            engine=self.name,
        )
