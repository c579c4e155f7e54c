"""Sample sound and speech input for the screenshot mode and the tests (no Kivy here).

The voice-like sound is made, not recorded: a vowel with a syllable rhythm that WebRTC's detector takes for
speech and that moves the level meter. What the fake recogniser "hears" is a fixed sample question.
"""

from __future__ import annotations

import numpy as np

from accessibility.asr import FakeSpeechRecognizer
from accessibility.audio_input import SAMPLE_RATE, pcm16_bytes
from assistant.speech import SpeechInput
from kiosk_app.pcm import wav_bytes

# What the fake recogniser "hears", with two other readings as Whisper's n-best list gives them.
SAMPLE_HEARD = ("我想问一下高龄津贴怎么申请", ("我想问一下高龄津贴怎么审批", "我想问一下高龄津贴在哪里申请"))


def voice_like(seconds: float, *, pitch: float = 140.0, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """A vowel with a syllable rhythm: a speech detector takes it for speech and a level meter moves with it.
    float32 at 16 kHz, with the faint hiss of a room."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(pitch * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / SAMPLE_RATE
    sound = np.zeros_like(t)
    for k in range(1, 30):  # harmonics shaped by three formants, as in an open vowel
        weight = sum(np.exp(-(((k * pitch) - f) / width) ** 2) for f, width in ((700, 150), (1200, 200), (2600, 300)))
        sound += (weight + 0.05 / k) * np.sin(k * phase)
    sound *= np.sqrt(np.clip(0.5 * (1 - np.cos(2 * np.pi * 4 * t)), 0, None))  # four syllables a second
    sound *= level / float(np.max(np.abs(sound)))
    return (sound + room_hiss(seconds, seed=seed + 1)).astype(np.float32)


def room_hiss(seconds: float, *, level: float = 0.002, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * level).astype(np.float32)


def sample_voice_wav(seconds: float = 2.4) -> bytes:
    """Half a second of room, ``seconds`` of voice-like sound, half a second of room: a WAV in memory."""
    samples = np.concatenate([room_hiss(0.5, seed=3), voice_like(seconds), room_hiss(0.5, seed=4)])
    return wav_bytes(pcm16_bytes(samples))


def sample_speech_input() -> SpeechInput:
    return SpeechInput(FakeSpeechRecognizer(readings=[SAMPLE_HEARD]))
