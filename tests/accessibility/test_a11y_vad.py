"""Hearing when a resident starts and stops: WebRTC VAD on real (espeak-ng) speech, silence and noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech_audio import RATE, hiss, silence, spoken_wav

from accessibility.audio_input import decode_audio, pcm16_bytes
from accessibility.vad import (
    END_SILENCE_SECONDS,
    NO_SPEECH_TIMEOUT_SECONDS,
    EndpointDetector,
    EndpointSettings,
    EndpointState,
    level_of,
    speech_span,
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = spoken_wav("我想问一下高龄津贴怎么申请", tmp_path_factory.mktemp("vad") / "q.wav")
    return decode_audio(Path(path).read_bytes())


def feed_in_chunks(detector: EndpointDetector, samples: np.ndarray, chunk_bytes: int = 3200) -> list[EndpointState]:
    pcm = pcm16_bytes(samples)
    states = []
    for start in range(0, len(pcm), chunk_bytes):
        states.append(detector.feed(pcm[start : start + chunk_bytes]))
    return states


def test_speech_span_finds_the_speech_between_silences(speech: np.ndarray) -> None:
    clip = np.concatenate([silence(1.0), speech, silence(1.5)])
    span = speech_span(clip)
    assert span is not None
    start, end = span
    assert 0.6 * RATE <= start <= 1.2 * RATE
    assert (1.0 * RATE + len(speech)) - 0.5 * RATE <= end <= (1.0 * RATE + len(speech)) + 0.5 * RATE


def test_silence_and_a_quiet_hiss_hold_no_speech() -> None:
    assert speech_span(silence(3.0)) is None
    assert speech_span(hiss(3.0, 0.002)) is None


def test_the_recording_ends_after_the_resident_stops_talking(speech: np.ndarray) -> None:
    detector = EndpointDetector()
    states = feed_in_chunks(detector, np.concatenate([silence(0.5), speech, silence(3.0)]))
    assert EndpointState.SPEAKING in states
    assert detector.state is EndpointState.ENDED
    spoken_until = 0.5 + len(speech) / RATE
    assert spoken_until < detector.seconds <= spoken_until + END_SILENCE_SECONDS + 0.8
    assert detector.feed(pcm16_bytes(speech)) is EndpointState.ENDED  # finished stays finished
    assert len(detector.audio) == int(detector.seconds * RATE) * 2


def test_nobody_speaking_times_out() -> None:
    detector = EndpointDetector()
    feed_in_chunks(detector, silence(NO_SPEECH_TIMEOUT_SECONDS + 1))
    assert detector.state is EndpointState.NO_SPEECH
    assert abs(detector.seconds - NO_SPEECH_TIMEOUT_SECONDS) < 0.05


def test_talking_on_and_on_is_capped(speech: np.ndarray) -> None:
    detector = EndpointDetector(EndpointSettings(max_seconds=4.0, end_silence_seconds=5.0))
    feed_in_chunks(detector, np.concatenate([speech] * 4))
    assert detector.state is EndpointState.CAPPED and abs(detector.seconds - 4.0) < 0.05


def test_odd_chunk_sizes_from_a_device_are_fine(speech: np.ndarray) -> None:
    detector = EndpointDetector()
    feed_in_chunks(detector, np.concatenate([speech, silence(2.0)]), chunk_bytes=7)
    assert detector.state is EndpointState.ENDED


def test_the_level_meter_rises_with_the_voice(speech: np.ndarray) -> None:
    assert level_of(pcm16_bytes(silence(0.03))) == 0.0
    assert level_of(b"") == 0.0
    peak = int(np.argmax(np.abs(speech)))
    frame = speech[max(0, peak - 240) : peak + 240]
    loud, quiet = level_of(pcm16_bytes(frame)), level_of(pcm16_bytes(frame * 0.05))
    assert 0.0 < quiet < loud <= 1.0
