"""Small WAV helpers for speech output: inspect a file, write silence, wait for a file to appear.

espeak-ng (directly or through pyttsx3) writes 22 050 Hz mono 16-bit PCM, whatever the file extension.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from pathlib import Path

from .errors import SynthesisError

__all__ = [
    "ESPEAK_SAMPLE_RATE",
    "WavInfo",
    "estimate_speech_seconds",
    "read_wav_info",
    "wait_for_wav",
    "write_silence",
]

ESPEAK_SAMPLE_RATE = 22050
# Mandarin at espeak-ng's rate 160 measured about 3.6 characters per second on this voice.
_SECONDS_PER_CHAR_AT_160 = 0.28


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int  # bytes per sample
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def read_wav_info(path: str | Path) -> WavInfo:
    """Header facts of a PCM WAV file; raises ``wave.Error``/``EOFError``/``OSError`` if it is not one."""
    with wave.open(str(path), "rb") as wav:
        return WavInfo(wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())


def write_silence(path: str | Path, seconds: float, sample_rate: int = ESPEAK_SAMPLE_RATE) -> Path:
    """A valid mono 16-bit WAV of ``seconds`` of silence (used by the fakes)."""
    path = Path(path)
    frames = max(1, round(seconds * sample_rate))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(b"\x00\x00" * frames)
    return path


def estimate_speech_seconds(text: str, rate: int) -> float:
    """Rough spoken length of Chinese ``text`` at espeak-ng ``rate`` (words per minute setting)."""
    return len(text) * _SECONDS_PER_CHAR_AT_160 * 160 / max(rate, 1)


def wait_for_wav(path: str | Path, timeout: float = 10.0, poll: float = 0.02) -> WavInfo:
    """Wait until ``path`` is a readable WAV with audio in it.

    pyttsx3's first ``runAndWait()`` in a process can return before its callback has written the file,
    so callers must not assume the file exists when the synthesiser returns.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = read_wav_info(path)
            if info.frames > 0:
                return info
        except (OSError, EOFError, wave.Error):
            pass
        if time.monotonic() >= deadline:
            raise SynthesisError(f"no audio written to {Path(path).name} within {timeout:g} s")
        time.sleep(poll)
