"""Decoding what residents' devices send: every format to 16 kHz mono, and every bad input to a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from speech_audio import encoded, hiss, wav_bytes

from accessibility.audio_input import (
    MAX_AUDIO_BYTES,
    SAMPLE_RATE,
    decode_audio,
    pcm16_bytes,
    samples_from_pcm16,
)
from accessibility.errors import AudioDecodeError, AudioError, AudioTooLongError, NoSpeechError


def test_a_16khz_mono_wav_comes_back_sample_for_sample() -> None:
    samples = hiss(1.0, 0.2)
    decoded = decode_audio(wav_bytes(samples))
    assert decoded.dtype == np.float32 and decoded.shape == samples.shape
    assert np.max(np.abs(decoded - samples)) < 1e-3


def test_a_44khz_stereo_wav_is_resampled_to_16khz_mono() -> None:
    rate = 44_100
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)).astype(np.float32)
    decoded = decode_audio(wav_bytes(tone, rate=rate, channels=2))
    assert abs(len(decoded) - 2 * SAMPLE_RATE) < 200
    assert 0.2 < np.max(np.abs(decoded)) < 0.35


@pytest.mark.parametrize(("container", "codec"), [("webm", "libopus"), ("ogg", "libopus"), ("mp3", "libmp3lame")])
def test_browser_and_phone_formats_decode(container: str, codec: str) -> None:
    decoded = decode_audio(encoded(hiss(2.0, 0.2), container, codec))
    assert abs(len(decoded) - 2 * SAMPLE_RATE) < 0.1 * SAMPLE_RATE


def test_empty_and_silent_audio_is_no_speech() -> None:
    with pytest.raises(NoSpeechError):
        decode_audio(b"")
    with pytest.raises(NoSpeechError) as caught:
        decode_audio(wav_bytes(np.zeros(SAMPLE_RATE, dtype=np.float32)))
    assert "没有听到" in caught.value.resident_message


@pytest.mark.parametrize("data", [b"not audio at all", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>",
                                  b"RIFF\x10\x00\x00\x00WAVEfmt ", bytes(range(256)) * 40])
def test_bytes_that_are_not_audio_get_a_plain_chinese_message(data: bytes) -> None:
    with pytest.raises(AudioError) as caught:
        decode_audio(data)
    assert "录音" in caught.value.resident_message or "没有听到" in caught.value.resident_message


def test_a_cut_off_upload_decodes_what_arrived_or_is_refused_cleanly() -> None:
    whole = encoded(hiss(3.0, 0.2), "webm", "libopus")
    try:
        samples = decode_audio(whole[: len(whole) // 2])
    except AudioError:
        return
    assert 0 < len(samples) < 3 * SAMPLE_RATE


def test_wrong_type_is_refused() -> None:
    with pytest.raises(AudioDecodeError):
        decode_audio("a string")  # type: ignore[arg-type]


def test_longer_than_fifteen_seconds_is_refused() -> None:
    with pytest.raises(AudioTooLongError) as caught:
        decode_audio(wav_bytes(hiss(16.0, 0.1)))
    assert "太长" in caught.value.resident_message
    assert len(decode_audio(wav_bytes(hiss(15.0, 0.1)))) == 15 * SAMPLE_RATE


def test_a_huge_upload_is_refused_before_decoding() -> None:
    with pytest.raises(AudioTooLongError):
        decode_audio(b"\0" * (MAX_AUDIO_BYTES + 1))


def test_pcm_round_trip() -> None:
    samples = hiss(0.5, 0.1)
    assert np.max(np.abs(samples_from_pcm16(pcm16_bytes(samples)) - samples)) < 1e-4
    assert len(samples_from_pcm16(b"\x01\x02\x03")) == 1  # an odd trailing byte from a device is dropped


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_give_samples_or_an_audio_error(data: bytes) -> None:
    try:
        samples = decode_audio(data)
    except AudioError:
        return
    assert samples.dtype == np.float32
