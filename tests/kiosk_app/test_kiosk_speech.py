"""What the kiosk says: speech text only, repeat and slower, silence on screen change, forgetting; and one
real synthesis of an answer (espeak-ng) to check the words come out at a plausible length."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accessibility import FakeTtsEngine, SpeechRate, create_tts_engine
from accessibility.errors import PlaybackError, TtsUnavailableError
from accessibility.tts import TtsEngine
from accessibility.wav import read_wav_info
from kiosk_app.speech import KioskSpeech

ID_NUMBER = "450103195203150027"


def test_display_text_is_spoken_without_id_numbers_or_links() -> None:
    tts = FakeTtsEngine()
    speech = KioskSpeech(tts)
    speech.say_display(f"身份证号{ID_NUMBER}已读取。网址：https://zwfw.gxzf.gov.cn/ 电话12345，8:30上班。")
    spoken = tts.last.text
    assert ID_NUMBER not in spoken and "http" not in spoken and "gxzf" not in spoken
    assert "幺二三四五" in spoken and "八点半" in spoken


def test_replay_slower_stop_and_forget() -> None:
    tts = FakeTtsEngine()
    speech = KioskSpeech(tts)
    assert speech.replay() is False
    speech.say("高龄津贴每年核实一次。")
    speech.replay()
    speech.replay(slow=True)
    assert [u.rate for u in tts.spoken] == [SpeechRate.NORMAL, SpeechRate.NORMAL, SpeechRate.SLOW]
    speech.replay()
    assert tts.last.rate == SpeechRate.SLOW  # once slower, the repeats stay slow
    speech.forget()
    assert tts.stop_count == 1 and speech.replay() is False


class BrokenEngine(FakeTtsEngine):
    def speak(self, text: str, rate: int = SpeechRate.NORMAL, *, interrupt: bool = True) -> None:
        raise PlaybackError("no sound card")

    def stop(self) -> None:
        raise PlaybackError("no sound card")


def test_a_broken_speech_engine_never_breaks_the_kiosk() -> None:
    speech = KioskSpeech(BrokenEngine())
    speech.say("您好。")
    speech.stop()
    assert speech.last_text == "您好。"


@pytest.mark.slow
def test_an_answer_synthesised_for_real_has_a_plausible_length(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    try:
        engine: TtsEngine = create_tts_engine("espeak")
    except TtsUnavailableError as error:
        pytest.skip(f"espeak-ng is not usable here: {error}")
    from accessibility import to_speech_text

    answer = "年满80周岁的本地户籍老人，带身份证和户口簿到社区申请高龄津贴，咨询电话12345。"
    text = to_speech_text(answer)
    with engine:
        normal = read_wav_info(engine.save_to_file(text, tmp_path / "answer.wav"))
        slow = read_wav_info(engine.save_to_file(text, tmp_path / "slow.wav", SpeechRate.SLOW))
    # About 3.6 characters a second at the normal rate: 40-odd characters take several seconds.
    assert 4.0 <= normal.duration <= 25.0
    assert slow.duration > normal.duration * 1.15
