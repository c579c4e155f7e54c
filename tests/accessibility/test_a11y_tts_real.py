"""The one test that runs the real synthesiser (espeak-ng, directly and through pyttsx3)."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from accessibility.errors import TtsUnavailableError
from accessibility.speech_text import to_speech_text
from accessibility.tts import SpeechRate, create_tts_engine
from accessibility.wav import read_wav_info

SHORT_ANSWER = "年满80周岁的本地户籍老人可以申请高龄津贴。"
LONG_ANSWER = (
    SHORT_ANSWER
    + "请带上身份证和户口簿，到户籍所在地社区居委会提出申请。咨询电话12345，办理时间8:30-17:30。"
)


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["espeak", "pyttsx3"])
def test_real_engine_writes_plausible_chinese_wav(engine_name: str, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    try:
        engine = create_tts_engine(engine_name)
    except TtsUnavailableError as error:
        pytest.skip(f"{engine_name} is not usable here: {error}")
    with engine:
        short = read_wav_info(engine.save_to_file(to_speech_text(SHORT_ANSWER), tmp_path / "short.wav"))
        long = read_wav_info(engine.save_to_file(to_speech_text(LONG_ANSWER), tmp_path / "long.wav"))
        slow = read_wav_info(
            engine.save_to_file(to_speech_text(SHORT_ANSWER), tmp_path / "slow.wav", SpeechRate.SLOW)
        )

    assert (short.sample_rate, short.channels, short.sample_width) == (22050, 1, 2)
    assert 1.0 <= short.duration <= 30.0
    assert long.duration > short.duration * 1.5  # more text, longer speech
    assert slow.duration > short.duration * 1.15  # the slower rate really is slower
    with wave.open(str(tmp_path / "short.wav")) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 300  # speech, not silence
