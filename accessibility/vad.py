"""Voice activity: when a resident starts and stops talking, and whether a clip holds speech at all.

WebRTC's detector (``webrtcvad-wheels``) judges 30 ms frames of 16 kHz 16-bit PCM. Two uses:

- :class:`EndpointDetector` follows a live recording frame by frame (the kiosk's microphone): it reports
  when speech has started, when the resident has been quiet long enough to stop, when nobody spoke at all,
  and when the 15 s cap is reached, plus a 0–1 level for the meter on screen;
- :func:`speech_span` finds the speech in a finished clip, so that silence (which makes Whisper invent
  sentences) never reaches the recogniser.

Pure signal processing: no device, no model, no clock (time is counted in samples).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .audio_input import MAX_RECORDING_SECONDS, SAMPLE_RATE, pcm16_bytes

__all__ = [
    "EndpointDetector",
    "EndpointSettings",
    "EndpointState",
    "level_of",
    "speech_span",
]

FRAME_MS = 30
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
# 0 (lenient) … 3 (strict). 2 keeps a kiosk's fan and street noise out without cutting soft voices.
VAD_AGGRESSIVENESS = 2
# Speech starts only after this much voiced audio in a row: a cough or a click is not a question.
MIN_SPEECH_SECONDS = 0.24
# Older residents pause between words; this much quiet after speech ends the recording.
END_SILENCE_SECONDS = 1.0
# With no speech at all by then, the microphone is taken as silent (or the resident changed their mind).
NO_SPEECH_TIMEOUT_SECONDS = 6.0
# Level meter: RMS in dBFS mapped linearly from this floor to 0 dBFS.
LEVEL_FLOOR_DBFS = -60.0
# Speech kept either side of the detected span, so first and last syllables are not clipped.
SPAN_PADDING_SECONDS = 0.2


class EndpointState(enum.Enum):
    WAITING = "waiting"  # listening, nothing said yet
    SPEAKING = "speaking"
    ENDED = "ended"  # spoke, then quiet for END_SILENCE_SECONDS
    NO_SPEECH = "no_speech"  # nothing said within NO_SPEECH_TIMEOUT_SECONDS
    CAPPED = "capped"  # the 15 s cap

    @property
    def finished(self) -> bool:
        return self in (EndpointState.ENDED, EndpointState.NO_SPEECH, EndpointState.CAPPED)


@dataclass(frozen=True)
class EndpointSettings:
    aggressiveness: int = VAD_AGGRESSIVENESS
    min_speech_seconds: float = MIN_SPEECH_SECONDS
    end_silence_seconds: float = END_SILENCE_SECONDS
    no_speech_timeout_seconds: float = NO_SPEECH_TIMEOUT_SECONDS
    max_seconds: float = MAX_RECORDING_SECONDS


def _new_vad(aggressiveness: int):  # -> webrtcvad.Vad
    import webrtcvad

    return webrtcvad.Vad(aggressiveness)


def level_of(pcm: bytes) -> float:
    """0–1 loudness of 16-bit PCM for a level meter (RMS in dBFS over ``LEVEL_FLOOR_DBFS``…0)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    if rms <= 0.0:
        return 0.0
    dbfs = 20.0 * np.log10(rms)
    return float(min(1.0, max(0.0, (dbfs - LEVEL_FLOOR_DBFS) / -LEVEL_FLOOR_DBFS)))


class EndpointDetector:
    """Feed PCM as it arrives (any chunk size); read :attr:`state` and :attr:`level`.

    Once a finished state is reached it stays; :attr:`audio` holds everything fed until then.
    """

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.settings = settings or EndpointSettings()
        self._vad = _new_vad(self.settings.aggressiveness)
        self._pending = b""
        self._audio = bytearray()
        self._frames = 0
        self._voiced_run = 0
        self._silent_run = 0
        self.state = EndpointState.WAITING
        self.level = 0.0

    @property
    def seconds(self) -> float:
        return self._frames * FRAME_SAMPLES / SAMPLE_RATE

    @property
    def audio(self) -> bytes:
        return bytes(self._audio)

    def _frames_for(self, seconds: float) -> int:
        return max(1, round(seconds * 1000 / FRAME_MS))

    def feed(self, pcm: bytes) -> EndpointState:
        if self.state.finished:
            return self.state
        data = self._pending + bytes(pcm)
        offset = 0
        s = self.settings
        while offset + FRAME_BYTES <= len(data) and not self.state.finished:
            frame = data[offset : offset + FRAME_BYTES]
            offset += FRAME_BYTES
            self._audio += frame
            self._frames += 1
            self.level = level_of(frame)
            voiced = self._vad.is_speech(frame, SAMPLE_RATE)
            if voiced:
                self._voiced_run += 1
                self._silent_run = 0
            else:
                self._silent_run += 1
                if self.state is EndpointState.WAITING:
                    self._voiced_run = 0
            if self.state is EndpointState.WAITING and self._voiced_run >= self._frames_for(
                s.min_speech_seconds
            ):
                self.state = EndpointState.SPEAKING
            elif self.state is EndpointState.SPEAKING and self._silent_run >= self._frames_for(
                s.end_silence_seconds
            ):
                self.state = EndpointState.ENDED
            if self.state is EndpointState.WAITING and self.seconds >= s.no_speech_timeout_seconds:
                self.state = EndpointState.NO_SPEECH
            elif not self.state.finished and self.seconds >= s.max_seconds:
                self.state = EndpointState.CAPPED
        self._pending = data[offset:]
        return self.state


def speech_span(
    samples: np.ndarray, *, aggressiveness: int = VAD_AGGRESSIVENESS
) -> tuple[int, int] | None:
    """(start, end) sample indexes of the speech in a clip, padded; ``None`` when it holds no speech.

    Speech means at least ``MIN_SPEECH_SECONDS`` of voiced frames in a row somewhere in the clip.
    """
    vad = _new_vad(aggressiveness)
    pcm = pcm16_bytes(samples)
    need = max(1, round(MIN_SPEECH_SECONDS * 1000 / FRAME_MS))
    first = last = None
    run = 0
    for index in range(len(pcm) // FRAME_BYTES):
        frame = pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES]
        if vad.is_speech(frame, SAMPLE_RATE):
            run += 1
            if first is None and run >= need:
                first = index - run + 1
            if first is not None:
                last = index
        else:
            run = 0
    if first is None or last is None:
        return None
    pad = int(SPAN_PADDING_SECONDS * SAMPLE_RATE)
    start = max(0, first * FRAME_SAMPLES - pad)
    end = min(len(samples), (last + 1) * FRAME_SAMPLES + pad)
    return start, end
