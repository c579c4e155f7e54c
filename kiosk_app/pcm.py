"""16-bit PCM as the recogniser and the speech detector want it (16 kHz mono), from any rate and channel count,
and WAV in and out — all in memory: the kiosk never writes audio to disk."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np

from accessibility.audio_input import SAMPLE_RATE
from accessibility.errors import MicrophoneError


class Converter:
    """Any rate and channel count of 16-bit PCM → 16 kHz mono, chunk by chunk (PyAV's resampler keeps state)."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate, self.channels = rate, channels
        self._resampler: Any = None
        if (rate, channels) != (SAMPLE_RATE, 1):
            import av

            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def __call__(self, pcm: bytes) -> bytes:
        if self._resampler is None or not pcm:
            return pcm
        import av

        usable = len(pcm) - len(pcm) % (2 * self.channels)
        data = np.frombuffer(pcm[:usable], dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono" if self.channels == 1 else "stereo")
        frame.sample_rate = self.rate
        return b"".join(out.to_ndarray().astype("<i2").tobytes() for out in self._resampler.resample(frame))

    def flush(self) -> bytes:
        """What the resampler still holds (the end of a file)."""
        if self._resampler is None:
            return b""
        return b"".join(out.to_ndarray().astype("<i2").tobytes() for out in self._resampler.resample(None))


def read_wav_pcm(source: Path | bytes) -> bytes:
    """A 16-bit PCM WAV (any rate, mono or stereo) as 16 kHz mono PCM; raises :class:`MicrophoneError`."""
    try:
        with wave.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() not in (1, 2):
                raise MicrophoneError("the recording must be 16-bit mono or stereo PCM")
            rate, channels = wav.getframerate(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise MicrophoneError(f"the recording cannot be read: {type(e).__name__}") from e
    convert = Converter(rate, channels)
    return convert(frames) + convert.flush()


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM as WAV bytes, in memory (what ``POST /api/v1/asr`` takes)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
