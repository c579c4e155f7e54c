"""What :class:`~accessibility.tts_worker.ThreadedTtsEngine` is built from: synthesisers and players.

A :class:`SpeechSynthesizer` turns text into a WAV file (blocking); an :class:`AudioPlayer` plays a WAV
file until it ends or a cancel event is set. Splitting the two lets ``stop()`` cut speech at once by
killing ``aplay`` — pyttsx3's own ``say()`` plays through ``aplay`` inside a C callback that cannot be
interrupted — and lets tests swap either half for a fake.

- :class:`Pyttsx3Synthesizer` — pyttsx3's espeak driver, in process;
- :class:`EspeakSynthesizer` — ``espeak-ng`` as a subprocess (text on stdin, not argv);
- :class:`AplayPlayer` — ``aplay`` (Debian ``alsa-utils``), killed on cancel;
- :class:`NullPlayer`, :class:`FakeSynthesizer`, :class:`FakePlayer` — no audio.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from .errors import PlaybackError, SynthesisError, TtsUnavailableError
from .tts import VOICE_MANDARIN
from .wav import estimate_speech_seconds, wait_for_wav, write_silence

__all__ = [
    "AplayPlayer",
    "AudioPlayer",
    "EspeakSynthesizer",
    "FakePlayer",
    "FakeSynthesizer",
    "NullPlayer",
    "Pyttsx3Synthesizer",
    "SpeechSynthesizer",
    "espeak_voice_ids",
]

logger = logging.getLogger(__name__)

# espeak-ng keeps one voice, rate and callback per process, and pyttsx3 hands out one shared engine
# per driver name: every use of it, from any thread or instance, goes through this lock.
_PYTTSX3_LOCK = threading.Lock()
_applied: dict[str, str | int] = {}  # what espeak-ng has confirmed, guarded by _PYTTSX3_LOCK
_APPLY_TIMEOUT = 3.0
_INSTALL_HINT = "install it with: apt-get install espeak-ng"


class SpeechSynthesizer(ABC):
    voice: str

    @abstractmethod
    def synthesize(self, text: str, path: Path, rate: int) -> None:
        """Write ``text`` spoken at ``rate`` as a WAV file at ``path``; raise :class:`SynthesisError`."""


class AudioPlayer(ABC):
    @abstractmethod
    def play(self, path: Path, cancel: threading.Event) -> None:
        """Play ``path``, returning when it ends or soon after ``cancel`` is set; raise :class:`PlaybackError`."""


def espeak_voice_ids(executable: str = "espeak-ng") -> set[str]:
    """Lower-cased voice ids (the "File" column of ``espeak-ng --voices``), e.g. ``sit/cmn-latn-pinyin``."""
    try:
        listing = subprocess.run(
            [executable, "--voices"], capture_output=True, text=True, timeout=15, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise TtsUnavailableError(f"cannot list espeak-ng voices: {error}") from error
    ids = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5:
            ids.add(columns[4].lower())
    return ids


class EspeakSynthesizer(SpeechSynthesizer):
    """``espeak-ng -v VOICE -s RATE -w PATH --stdin``."""

    def __init__(self, voice: str = VOICE_MANDARIN, *, executable: str = "espeak-ng", timeout: float = 60.0):
        found = shutil.which(executable)
        if found is None:
            raise TtsUnavailableError(f"{executable} not found on PATH; {_INSTALL_HINT}")
        if voice.lower() not in espeak_voice_ids(found):
            raise TtsUnavailableError(f"espeak-ng has no voice {voice!r} on this machine")
        self.voice = voice
        self._executable = found
        self._timeout = timeout

    def synthesize(self, text: str, path: Path, rate: int) -> None:
        if not text.strip():
            raise SynthesisError("nothing to synthesise: the text is empty")
        path.unlink(missing_ok=True)
        command = [self._executable, "-v", self.voice, "-s", str(rate), "-b", "1", "-w", str(path), "--stdin"]
        try:
            # The text goes through stdin: argv is visible to every local user in `ps`.
            result = subprocess.run(
                command, input=text.encode("utf-8"), capture_output=True, timeout=self._timeout, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise SynthesisError(f"espeak-ng took longer than {self._timeout:g} s") from error
        except OSError as error:
            raise SynthesisError(f"cannot run espeak-ng: {error}") from error
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise SynthesisError(f"espeak-ng exited with status {result.returncode}: {detail[0]}")
        wait_for_wav(path, timeout=5.0)


def _discard(*_args: Any, **_kwargs: Any) -> None:
    return None


class Pyttsx3Synthesizer(SpeechSynthesizer):
    """pyttsx3's ``espeak`` driver writing WAV files (``save_to_file`` + ``runAndWait``)."""

    def __init__(self, voice: str = VOICE_MANDARIN, *, file_timeout: float = 10.0) -> None:
        try:
            import pyttsx3
            import pyttsx3.drivers.espeak as espeak_driver
        except Exception as error:  # ImportError, or OSError/RuntimeError when libespeak-ng is missing
            raise TtsUnavailableError(f"pyttsx3 with espeak-ng is not usable: {error}; {_INSTALL_HINT}") from error
        with _PYTTSX3_LOCK:
            try:
                engine = pyttsx3.init("espeak")
                voices = {v.id.lower() for v in engine.getProperty("voices")}
            except Exception as error:
                raise TtsUnavailableError(f"pyttsx3 could not start espeak-ng: {error}") from error
        if voice.lower() not in voices:
            raise TtsUnavailableError(f"espeak-ng has no voice {voice!r} on this machine")
        with _PYTTSX3_LOCK:
            # A fresh pyttsx3 proxy is "busy": the first runAndWait() pumps its queue in an order that
            # ends the loop before synthesis starts (the file appears late, the voice may be dropped).
            # An empty run settles it so that later property changes are applied at once.
            engine.runAndWait()
        # pyttsx3 2.99's driver print()s "Audio saved to <path>" from its callback; the kiosk's stdout
        # is not the place for that. Shadowing the name in that module only is thread-safe, unlike
        # redirecting sys.stdout.
        vars(espeak_driver)["print"] = _discard
        self.voice = voice
        self._engine = engine
        self._file_timeout = file_timeout

    def synthesize(self, text: str, path: Path, rate: int) -> None:
        if not text.strip():
            raise SynthesisError("nothing to synthesise: the text is empty")
        path.unlink(missing_ok=True)  # so that waiting for the file cannot be fooled by an old one
        with _PYTTSX3_LOCK:
            try:
                self._apply("voice", self.voice.lower())
                self._apply("rate", rate, force=_applied.get("voice") != self.voice.lower())
                _applied["voice"], _applied["rate"] = self.voice.lower(), rate
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()
            except SynthesisError:
                raise
            except Exception as error:
                raise SynthesisError(f"pyttsx3 failed: {type(error).__name__}") from error
        wait_for_wav(path, timeout=self._file_timeout)

    def _apply(self, name: str, value: str | int, *, force: bool = False) -> None:
        """Set a property and wait until espeak-ng has taken it.

        With pyttsx3's driver espeak-ng runs asynchronously: property changes wait in espeak-ng's
        command queue, and the ``Cancel()`` that ``runAndWait()`` issues on entry throws away whatever
        is still queued, so an unconfirmed voice or rate change is silently lost.
        """
        if not force and _applied.get(name) == value and self._engine.getProperty(name) == value:
            return
        self._engine.setProperty(name, value)
        deadline = time.monotonic() + _APPLY_TIMEOUT
        while self._engine.getProperty(name) != value:
            if time.monotonic() > deadline:
                raise SynthesisError(f"espeak-ng did not apply the {name} setting")
            time.sleep(0.002)


class AplayPlayer(AudioPlayer):
    """Plays through ``aplay`` (ALSA); cancellation kills it within about 50 ms."""

    def __init__(self, *, device: str | None = None, executable: str = "aplay", poll: float = 0.05) -> None:
        self._executable = shutil.which(executable)
        self._device = device
        self._poll = poll
        if self._executable is None:
            logger.warning("%s not found (apt-get install alsa-utils): speech will be silent", executable)

    def play(self, path: Path, cancel: threading.Event) -> None:
        if cancel.is_set():
            return
        if self._executable is None:
            raise PlaybackError("aplay is not installed")
        command = [self._executable, "-q", *(["-D", self._device] if self._device else []), str(path)]
        try:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as error:
            raise PlaybackError(f"cannot run aplay: {error}") from error
        try:
            while True:
                try:
                    _, stderr = process.communicate(timeout=self._poll)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        return
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            raise PlaybackError(f"aplay exited with status {process.returncode}: {lines[-1] if lines else ''}")


class NullPlayer(AudioPlayer):
    """Plays nothing (synthesis still runs, which keeps timing close to real use)."""

    def play(self, path: Path, cancel: threading.Event) -> None:
        return None


class FakeSynthesizer(SpeechSynthesizer):
    """Writes silence of a plausible length and records ``(text, rate, path)``; ``fail`` raises instead."""

    def __init__(self, voice: str = VOICE_MANDARIN, *, fail: bool = False) -> None:
        self.voice = voice
        self.fail = fail
        self.calls: list[tuple[str, int, Path]] = []
        self._lock = threading.Lock()

    def synthesize(self, text: str, path: Path, rate: int) -> None:
        with self._lock:
            self.calls.append((text, rate, path))
        if self.fail:
            raise SynthesisError("fake synthesiser told to fail")
        write_silence(path, max(0.05, estimate_speech_seconds(text, rate)))

    @property
    def texts(self) -> list[str]:
        with self._lock:
            return [text for text, _, _ in self.calls]


class FakePlayer(AudioPlayer):
    """Records plays. With ``hold=True`` each play blocks until :meth:`release` or cancel (for tests
    of interruption); ``fail=True`` behaves like a machine without a sound card."""

    def __init__(self, *, hold: bool = False, fail: bool = False, max_hold: float = 10.0) -> None:
        self.hold = hold
        self.fail = fail
        self.max_hold = max_hold
        self.started: list[Path] = []
        self.finished: list[Path] = []
        self.interrupted: list[Path] = []
        self._releases = 0
        self._cond = threading.Condition()

    def play(self, path: Path, cancel: threading.Event) -> None:
        if self.fail:
            raise PlaybackError("fake player: no sound card")
        with self._cond:
            self.started.append(path)
            self._cond.notify_all()
            waited = 0.0
            # cancel is a plain Event, which cannot wake this condition: poll it.
            while self.hold and not self._releases and not cancel.is_set() and waited < self.max_hold:
                self._cond.wait(0.01)
                waited += 0.01
            if cancel.is_set():
                self.interrupted.append(path)
            else:
                self._releases = max(0, self._releases - 1)
                self.finished.append(path)
            self._cond.notify_all()

    def release(self, count: int = 1) -> None:
        """Let ``count`` held plays finish (now or when they start)."""
        with self._cond:
            self._releases += count
            self._cond.notify_all()

    def wait_started(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.started) >= count, timeout)

    def wait_ended(self, count: int, timeout: float = 5.0) -> bool:
        """Until ``count`` plays have finished or been interrupted."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.finished) + len(self.interrupted) >= count, timeout)
