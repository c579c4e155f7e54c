"""Audio for the speech-input tests, made here: espeak-ng speech, silence, noise, and encodings of them."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

RATE = 16_000
MANDARIN = "sit/cmn-latn-pinyin"


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make sysdeps)")


def spoken_wav(text: str, path: Path, *, voice: str = MANDARIN, speed: int = 150) -> Path:
    """espeak-ng speaking ``text`` (22.05 kHz mono WAV, as espeak writes it)."""
    need_espeak()
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                   capture_output=True, timeout=30)
    return path


def wav_bytes(samples: np.ndarray, rate: int = RATE, channels: int = 1) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def hiss(seconds: float, level: float = 0.01, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * level).astype(np.float32)


def encoded(samples: np.ndarray, container: str, codec: str, rate: int = RATE) -> bytes:
    """``samples`` encoded with PyAV (e.g. ("webm", "libopus"), ("ogg", "libopus"), ("mp3", "libmp3lame"))."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        out_rate = 48_000 if codec == "libopus" else rate
        stream = out.add_stream(codec, rate=out_rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name if stream.format else "s16", layout="mono",
                                      rate=out_rate)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for chunk in resampler.resample(frame):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()
