"""The threaded speech engine: one worker thread, a one-slot queue, interruptible playback.

The kiosk calls :meth:`ThreadedTtsEngine.speak` from the Kivy UI thread and must never wait for audio.
The worker thread takes the queued text, synthesises it a few sentences at a time into private temp
files and plays each one; between and during those steps it checks the job's cancel event, so
``stop()`` silences within ~50 ms and a new ``speak()`` takes over at once. Only one job waits at a
time: speaking an answer that is no longer on the screen helps no one.

Failures never reach the UI thread: a missing sound card is logged once as a warning and the engine
goes on silently; a synthesis failure is logged (with the text length, never the text).
"""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PlaybackError, SynthesisError, TtsError
from .speech_text import split_sentences, to_speech_text
from .tts import SpeechRate, TtsEngine, normalise_rate
from .tts_backends import AudioPlayer, SpeechSynthesizer

__all__ = ["DEFAULT_CHUNK_CHARS", "ThreadedTtsEngine", "speech_chunks"]

logger = logging.getLogger(__name__)

# Small enough that the first sound comes quickly and stop() between chunks is immediate, large
# enough that aplay is not restarted (with an audible gap) for every short sentence.
DEFAULT_CHUNK_CHARS = 60


def speech_chunks(text: str, max_chars: int = DEFAULT_CHUNK_CHARS) -> list[str]:
    """Group whole sentences into chunks of at most ``max_chars``; longer sentences are cut at commas,
    then hard. ``"".join(chunks)`` equals ``text`` without surrounding whitespace."""
    pieces: list[str] = []
    for sentence in split_sentences(text.strip()):
        while len(sentence) > max_chars:
            cut = max(sentence.rfind("，", 0, max_chars), sentence.rfind("、", 0, max_chars))
            cut = cut + 1 if cut > 0 else max_chars
            pieces.append(sentence[:cut])
            sentence = sentence[cut:]
        if sentence:
            pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + len(piece) <= max_chars:
            chunks[-1] += piece
        else:
            chunks.append(piece)
    return [chunk for chunk in chunks if re.search(r"\w", chunk)]


@dataclass
class _Job:
    text: str
    rate: int
    cancel: threading.Event = field(default_factory=threading.Event)


class ThreadedTtsEngine(TtsEngine):
    """A :class:`TtsEngine` from a synthesiser and a player, speaking on its own daemon thread."""

    def __init__(
        self,
        synthesizer: SpeechSynthesizer,
        player: AudioPlayer,
        *,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        name: str = "threaded",
        normalise: bool = True,
    ) -> None:
        self.name = name
        # A safety net: even if a caller passes display text, no ID number, URL or Arabic numeral
        # reaches the voice. to_speech_text is idempotent, so speech text passes through unchanged.
        self._prepare = to_speech_text if normalise else str.strip
        self._synthesizer = synthesizer
        self._player = player
        self._chunk_chars = max(1, chunk_chars)
        self._cond = threading.Condition()
        self._pending: _Job | None = None
        self._current: _Job | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._counter = itertools.count()
        self._playback_warned = False

    @property
    def voice(self) -> str:
        return self._synthesizer.voice

    def speak(self, text: str, rate: int = SpeechRate.NORMAL, *, interrupt: bool = True) -> None:
        text = self._prepare(text)
        if not text:
            return
        job = _Job(text, normalise_rate(rate))
        with self._cond:
            if self._closed:
                logger.warning("speak() on a closed %s engine ignored", self.name)
                return
            self._pending = job
            if interrupt and self._current is not None:
                self._current.cancel.set()
            self._start_worker()
            self._cond.notify_all()
        logger.debug("speech queued: %d characters at rate %d", len(text), job.rate)

    def stop(self) -> None:
        with self._cond:
            self._pending = None
            if self._current is not None:
                self._current.cancel.set()
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None or self._current is not None

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and self._current is None, timeout)

    def save_to_file(self, text: str, path: str | Path, rate: int = SpeechRate.NORMAL) -> Path:
        # On the caller's thread: synthesisers serialise themselves, and a file should not wait for
        # whatever is being played.
        path = Path(path)
        text = self._prepare(text)
        self._synthesizer.synthesize(text, path, normalise_rate(rate))
        logger.debug("saved %d characters of speech to a WAV file", len(text))
        return path

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            if self._current is not None:
                self._current.cancel.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # --- worker thread ---

    def _start_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            if self._tmpdir is None:
                # Private (0700) directory: the audio may contain whatever the resident was told.
                self._tmpdir = Path(tempfile.mkdtemp(prefix="shequ-tts-"))
            self._thread = threading.Thread(target=self._run, name=f"shequ-tts-{self.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, self._pending = self._pending, None
                self._current = job
            try:
                if job is not None:
                    self._say(job)
            except PlaybackError as error:
                self._report_playback(error)
            except SynthesisError as error:
                logger.warning("speech synthesis failed (%d characters): %s", len(job.text) if job else 0, error)
            except TtsError as error:
                logger.warning("speech failed: %s", error)
            except Exception:
                # The worker must survive anything, or the kiosk goes mute until restarted.
                logger.exception("unexpected error in the speech worker")
            finally:
                with self._cond:
                    self._current = None
                    self._cond.notify_all()

    def _say(self, job: _Job) -> None:
        assert self._tmpdir is not None
        for chunk in speech_chunks(job.text, self._chunk_chars):
            if job.cancel.is_set():
                return
            path = self._tmpdir / f"utterance-{next(self._counter)}.wav"
            try:
                self._synthesizer.synthesize(chunk, path, job.rate)
                if job.cancel.is_set():
                    return
                self._player.play(path, job.cancel)
            finally:
                path.unlink(missing_ok=True)

    def _report_playback(self, error: PlaybackError) -> None:
        if not self._playback_warned:
            self._playback_warned = True
            logger.warning("audio output failed, the kiosk continues without sound: %s", error)
        else:
            logger.debug("audio output failed again: %s", error)
