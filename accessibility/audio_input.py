"""Audio that a resident speaks, from any source, as the recogniser wants it: 16 kHz mono float32.

One decoder for every path: a WAV from the kiosk's microphone, a webm/opus or ogg clip from the web chat's
MediaRecorder, an AMR/MP3 voice message fetched from WeChat. PyAV (FFmpeg's libraries, bundled in its
wheels) decodes and resamples; nothing here shells out.

Every failure is an :class:`~accessibility.errors.AudioError` whose ``resident_message`` is plain Chinese,
so the caller never shows a traceback or a codec's English.
"""

from __future__ import annotations

import io
import logging

import numpy as np

from .errors import AudioDecodeError, AudioTooLongError, NoSpeechError

__all__ = [
    "MAX_AUDIO_BYTES",
    "MAX_RECORDING_SECONDS",
    "SAMPLE_RATE",
    "decode_audio",
    "duration_seconds",
    "pcm16_bytes",
    "samples_from_pcm16",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper and WebRTC VAD both take
# The recording cap of issue 14; clients stop at 15 s, and a browser's container may run a little over.
MAX_RECORDING_SECONDS = 15.0
LENGTH_GRACE_SECONDS = 0.5
# 15 s of 48 kHz stereo 16-bit WAV is 2.9 MB; anything over this is not a spoken question.
MAX_AUDIO_BYTES = 4 * 1024 * 1024
# Peak amplitude (of 1.0) under which a clip is taken as silence: a muted or unplugged microphone.
SILENCE_PEAK = 0.003


def decode_audio(data: bytes, *, max_seconds: float = MAX_RECORDING_SECONDS) -> np.ndarray:
    """Any container and codec FFmpeg reads → 16 kHz mono float32 in [-1, 1].

    Raises :class:`AudioDecodeError` for empty, oversized or undecodable bytes, :class:`AudioTooLongError`
    past ``max_seconds`` (decoding stops there, so a long file costs no more than the cap) and
    :class:`NoSpeechError` for a clip that is silent throughout.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise AudioDecodeError("audio must be bytes")
    if len(data) == 0:
        raise NoSpeechError("empty audio")
    if len(data) > MAX_AUDIO_BYTES:
        raise AudioTooLongError(f"audio of {len(data)} bytes is over {MAX_AUDIO_BYTES}")
    import av  # heavy: only when audio arrives

    limit = int((max_seconds + LENGTH_GRACE_SECONDS) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(bytes(data)), mode="r") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise AudioDecodeError("no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(streams[0]):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > limit:
                    raise AudioTooLongError(f"audio longer than {max_seconds:g} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (AudioDecodeError, AudioTooLongError):
        raise
    except Exception as exc:  # av.FFmpegError and its kin, plus odd containers that fail elsewhere
        logger.info("audio not decodable: %s", type(exc).__name__)
        raise AudioDecodeError(f"audio could not be decoded ({type(exc).__name__})") from None
    if not chunks:
        raise NoSpeechError("no audio samples")
    pcm = np.concatenate(chunks)
    if pcm.size > limit:
        raise AudioTooLongError(f"audio longer than {max_seconds:g} s")
    samples = samples_from_pcm16(pcm)
    if samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise NoSpeechError("silent audio")
    return samples


def samples_from_pcm16(pcm: np.ndarray | bytes) -> np.ndarray:
    """Signed 16-bit PCM (array or little-endian bytes) → float32 in [-1, 1]."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        pcm = np.frombuffer(bytes(pcm)[: len(pcm) - len(pcm) % 2], dtype="<i2")
    return (np.asarray(pcm, dtype=np.float32) / 32768.0).astype(np.float32)


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] → signed 16-bit little-endian PCM bytes (what WebRTC VAD reads)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def duration_seconds(samples: np.ndarray) -> float:
    return float(len(samples)) / SAMPLE_RATE
