"""The microphone and one recording: a WAV through the same listener the real microphone feeds, hold and tap,
the 15 s cap, the kiosk's own prompt kept out, reports on the UI thread, and no microphone in plain words."""

from __future__ import annotations

import importlib.abc
import io
import sys
import threading
import time
import wave
from typing import Any

import numpy as np
import pytest
from kiosk_testkit import ManualLoop, as_wav, dead_input_wav, question_wav, quiet_room_wav

from accessibility.errors import MicrophoneError
from kiosk_app.microphone import (
    FileMicrophone,
    Finish,
    Listener,
    NoMicrophone,
    Recording,
    SoundDeviceMicrophone,
    create_microphone,
)
from kiosk_app.pcm import read_wav_pcm
from kiosk_app.samples import voice_like


class Run:
    """One Listener on a FileMicrophone, its reports collected on the test's thread."""

    def __init__(self, source: bytes, *, speed: float = 0, gate: Any = None, max_seconds: float = 15.0,
                 trailing_silence: bool = True) -> None:
        self.loop = ManualLoop()
        self.started = 0
        self.levels: list[tuple[float, bool]] = []
        self.done: list[Recording] = []
        self.errors: list[MicrophoneError] = []
        self.threads: set[str] = set()

        def on_level(level: float, hearing: bool) -> None:
            self.threads.add(threading.current_thread().name)
            self.levels.append((level, hearing))

        def on_started() -> None:
            self.started += 1

        self.listener = Listener(FileMicrophone(source, speed=speed, trailing_silence=trailing_silence),
                                 call_soon=self.loop.call_soon, on_started=on_started, on_level=on_level,
                                 on_done=self.done.append, on_error=self.errors.append, gate=gate,
                                 max_seconds=max_seconds)

    def finish(self, timeout: float = 20.0) -> Recording:
        self.loop.run_until(lambda: bool(self.done or self.errors), timeout, "the recording to end")
        assert not self.errors, self.errors
        return self.done[0]


def test_tap_to_talk_ends_when_the_resident_stops() -> None:
    # Paced (4× real time), not as fast as it can be read: the end is decided on the UI loop, and unpaced quiet
    # frames piled up while a busy machine got to it (5.5 s recorded once on a loaded CI run).
    run = Run(question_wav(1.8), speed=4)
    run.listener.start()
    run.listener.end_on_silence()
    recording = run.finish()
    assert recording.finish is Finish.ENDED and recording.speech_heard
    # 0.4 s room + 1.8 s voice, then about a second of quiet ends it: long before the 15 s cap.
    assert 2.4 < recording.seconds < 4.0
    assert run.started == 1 and any(hearing for _, hearing in run.levels)
    assert max(level for level, _ in run.levels) > 0.5 and min(level for level, _ in run.levels) < 0.2
    assert run.threads == {"MainThread"}  # every report came through call_soon, onto the "UI" thread


def test_hold_records_until_let_go_even_through_pauses() -> None:
    run = Run(question_wav(1.8), speed=8)  # a quiet room after the file, as after the last word
    run.listener.start()
    run.loop.run_until(lambda: run.listener.seconds >= 4.5, what="the pause after the question")
    run.listener.stop()
    recording = run.finish()
    assert recording.finish is Finish.RELEASED and recording.speech_heard
    assert recording.seconds >= 4.5  # the second of quiet did not end a held recording


def test_the_cap_ends_a_recording_that_goes_on() -> None:
    run = Run(question_wav(1.0), speed=0, max_seconds=3.0)
    run.listener.start()  # held, never let go
    recording = run.finish()
    assert recording.finish is Finish.CAPPED and recording.seconds == pytest.approx(3.0, abs=0.05)


def test_nobody_speaking_is_no_speech_not_a_recording() -> None:
    run = Run(quiet_room_wav(8.0), speed=0)
    run.listener.start()
    run.listener.end_on_silence()
    recording = run.finish()
    assert recording.finish is Finish.NO_SPEECH and not recording.speech_heard and not recording.dead


def test_a_muted_input_is_told_from_a_quiet_room() -> None:
    run = Run(dead_input_wav(2.0), speed=0, trailing_silence=False)
    run.listener.start()
    recording = run.finish()
    assert recording.finish is Finish.SOURCE_ENDED and recording.dead


def test_the_kiosks_own_prompt_is_not_recorded() -> None:
    # The kiosk "speaks" for 0.8 s while the file plays at 4×: the whole question (1.8 s) passes meanwhile.
    speaking_until = time.monotonic() + 0.8
    run = Run(question_wav(1.0), speed=4, gate=lambda: time.monotonic() > speaking_until)
    run.listener.start()
    run.loop.run_until(lambda: run.started == 1, what="recording to start")
    assert time.monotonic() >= speaking_until
    run.listener.stop()
    recording = run.finish()
    assert not recording.speech_heard and recording.peak < 200  # nothing of the voice got in


def test_cancel_drops_the_audio_and_reports_nothing() -> None:
    run = Run(question_wav(1.8), speed=4)
    run.listener.start()
    run.loop.run_until(lambda: run.started == 1, what="recording to start")
    run.listener.cancel()
    assert run.listener.join(5)
    run.loop.drain(0.3)
    assert run.done == [] and run.errors == []


def test_a_file_at_another_rate_in_stereo_is_heard_at_16_khz_mono() -> None:
    samples = voice_like(1.0)
    stereo_44k = np.interp(np.arange(0, len(samples), 16_000 / 44_100), np.arange(len(samples)), samples)
    pcm = (np.repeat(stereo_44k[:, None], 2, axis=1) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(pcm)
    converted = read_wav_pcm(buffer.getvalue())
    assert len(converted) / 2 / 16_000 == pytest.approx(1.0, abs=0.02)
    assert np.max(np.abs(np.frombuffer(converted, "<i2"))) > 5000


def test_a_file_that_is_no_wav_is_a_microphone_error() -> None:
    run = Run(b"RIFF nonsense")
    run.listener.start()
    run.loop.run_until(lambda: bool(run.errors), what="the error")
    assert isinstance(run.errors[0], MicrophoneError)
    assert run.errors[0].resident_message.startswith("话筒用不了")
    assert run.done == []


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """``import sounddevice`` as on a machine without libportaudio2."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


def test_without_portaudio_there_is_no_microphone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    microphone = SoundDeviceMicrophone()
    assert microphone.available() is False
    with pytest.raises(MicrophoneError, match="PortAudio"):
        microphone.open()


def test_without_the_sounddevice_package_there_is_no_microphone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import raises ImportError
    assert SoundDeviceMicrophone().available() is False
    with pytest.raises(MicrophoneError):
        SoundDeviceMicrophone().open()


def test_portaudio_without_an_input_device_is_a_microphone_error() -> None:
    sounddevice = pytest.importorskip("sounddevice")
    if any(d["max_input_channels"] > 0 for d in sounddevice.query_devices()):
        pytest.skip("this machine has a microphone")
    microphone = SoundDeviceMicrophone()
    assert microphone.available() is False
    with pytest.raises(MicrophoneError):
        microphone.open()


def test_the_microphone_setting() -> None:
    assert isinstance(create_microphone(""), SoundDeviceMicrophone)
    assert create_microphone("2").device == 2  # type: ignore[union-attr]
    assert create_microphone("USB Audio").device == "USB Audio"  # type: ignore[union-attr]
    off = create_microphone("off")
    assert isinstance(off, NoMicrophone) and off.available() is False
    with pytest.raises(MicrophoneError):
        off.open()
    from_file = create_microphone("file:/nowhere/question.wav")
    assert isinstance(from_file, FileMicrophone) and from_file.available() is False


def test_recording_samples_are_the_pcm_as_floats() -> None:
    recording = Recording(as_wav(np.zeros(10, dtype=np.float32))[44:], Finish.RELEASED, False, 0)
    assert recording.samples().dtype == np.float32 and recording.dead
