from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accessibility import tts
from accessibility.errors import (
    PlaybackError,
    SynthesisError,
    TtsError,
    TtsUnavailableError,
    UnknownTtsEngineError,
)
from accessibility.tts import (
    FakeTtsEngine,
    SilentTtsEngine,
    SpeechRate,
    TtsEngine,
    Utterance,
    create_tts_engine,
    normalise_rate,
    register_tts_engine,
    tts_engine_names,
)
from accessibility.tts_backends import (
    AplayPlayer,
    EspeakSynthesizer,
    FakePlayer,
    FakeSynthesizer,
    NullPlayer,
)
from accessibility.tts_worker import ThreadedTtsEngine, speech_chunks
from accessibility.wav import read_wav_info

SECRET = "张三住在民族大道一百号。"  # stands for personal data: must never reach the logs

# --- registry and simple engines ----------------------------------------------------------------


def test_registry_names() -> None:
    assert {"pyttsx3", "espeak", "fake", "silent"} <= set(tts_engine_names())


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(UnknownTtsEngineError, match=r"unknown TTS engine 'festival'; choose one of: .*espeak"):
        create_tts_engine("festival")
    with pytest.raises(UnknownTtsEngineError):
        create_tts_engine("festival", fallback_to_silent=True)  # a config mistake is never hidden
    with pytest.raises(KeyError):
        create_tts_engine("festival")


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError):
        register_tts_engine("fake", lambda **_: FakeTtsEngine())


def _unavailable(**_: object) -> TtsEngine:
    raise TtsUnavailableError("espeak-ng not found on PATH")


def test_unavailable_engine_raises_or_falls_back_to_silent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(tts._REGISTRY, "broken", _unavailable)
    with pytest.raises(TtsUnavailableError):
        create_tts_engine("broken")
    with caplog.at_level(logging.WARNING):
        engine = create_tts_engine("broken", fallback_to_silent=True)
    assert isinstance(engine, SilentTtsEngine)
    assert "espeak-ng not found" in caplog.text
    engine.speak("你好")  # does nothing, does not raise
    engine.stop()
    assert not engine.busy
    with pytest.raises(TtsUnavailableError):
        engine.save_to_file("你好", "/tmp/never.wav")


def test_espeak_synthesizer_without_program_is_unavailable() -> None:
    with pytest.raises(TtsUnavailableError, match="apt-get install espeak-ng"):
        EspeakSynthesizer(executable="no-such-espeak-program")


def test_rates() -> None:
    assert SpeechRate.SLOW < SpeechRate.NORMAL
    assert normalise_rate(SpeechRate.SLOW) == 120
    assert normalise_rate(5) == 60
    assert normalise_rate(10_000) == 400
    assert SpeechRate.from_name("slow") is SpeechRate.SLOW
    assert SpeechRate.from_name(" Normal ") is SpeechRate.NORMAL
    with pytest.raises(ValueError, match="unknown speech rate"):
        SpeechRate.from_name("fast")


def test_fake_engine_records(tmp_path: Path) -> None:
    engine = create_tts_engine("fake")
    assert isinstance(engine, FakeTtsEngine)
    engine.speak("你好。")
    engine.speak("请慢一点。", SpeechRate.SLOW)
    engine.speak("   ")  # nothing to say
    engine.stop()
    assert engine.spoken == [Utterance("你好。", 160), Utterance("请慢一点。", 120)]
    assert engine.texts == ["你好。", "请慢一点。"]
    assert engine.last == Utterance("请慢一点。", 120)
    assert engine.stop_count == 1
    assert not engine.busy and engine.wait(0)
    normal = read_wav_info(engine.save_to_file("高龄津贴每月发放。", tmp_path / "n.wav"))
    slow = read_wav_info(engine.save_to_file("高龄津贴每月发放。", tmp_path / "s.wav", SpeechRate.SLOW))
    assert slow.duration > normal.duration > 0
    assert [u.rate for u, _ in engine.saved] == [160, 120]
    with pytest.raises(SynthesisError):
        engine.save_to_file("", tmp_path / "e.wav")
    with engine:
        pass
    assert engine.closed
    engine.clear()
    assert engine.spoken == [] and engine.stop_count == 0


# --- chunking -----------------------------------------------------------------------------------


def test_speech_chunks_group_sentences() -> None:
    text = "你好。请问您要办理什么业务？我可以帮您查询社保。"
    assert speech_chunks(text, 60) == [text]
    assert speech_chunks(text, 12) == ["你好。", "请问您要办理什么业务？", "我可以帮您查询社保。"]
    assert speech_chunks("一二三，四五六，七八九。", 8) == ["一二三，四五六，", "七八九。"]
    assert speech_chunks("一二三四五六七八九十。", 4) == ["一二三四", "五六七八", "九十。"]
    assert speech_chunks("  。。 ") == []
    long = "请带上身份证、户口簿和近期照片，到社区服务中心办理。" * 5
    assert "".join(speech_chunks(long, 20)) == long


# --- the threaded engine with fake backends -----------------------------------------------------


Held = tuple[ThreadedTtsEngine, FakeSynthesizer, FakePlayer]


@pytest.fixture
def held() -> Iterator[Held]:
    synthesizer, player = FakeSynthesizer(), FakePlayer(hold=True)
    engine = ThreadedTtsEngine(synthesizer, player, chunk_chars=10, name="test")
    yield engine, synthesizer, player
    engine.close()


def _texts_played(synthesizer: FakeSynthesizer, paths: list[Path]) -> list[str]:
    by_path = {path: text for text, _, path in synthesizer.calls}
    return [by_path[path] for path in paths]


def test_speak_returns_at_once_and_plays_on_a_worker(held: Held) -> None:
    engine, synthesizer, player = held
    started = time.monotonic()
    engine.speak("你好，欢迎使用。")
    assert time.monotonic() - started < 0.5  # the UI thread never waits for audio
    assert engine.busy
    assert player.wait_started(1)
    assert not engine.wait(0.05)  # still "speaking": the fake player holds
    player.release()
    assert engine.wait(5)
    assert not engine.busy
    assert synthesizer.texts == ["你好，欢迎使用。"]
    assert _texts_played(synthesizer, player.finished) == ["你好，欢迎使用。"]


def test_stop_interrupts_the_current_utterance_and_drops_the_rest(held: Held) -> None:
    engine, synthesizer, player = held
    engine.speak("第一句话。第二句话。第三句话。")  # three chunks of ≤ 10 characters
    assert player.wait_started(1)
    engine.stop()
    assert engine.wait(5)
    assert len(player.interrupted) == 1
    assert player.finished == []
    assert synthesizer.texts == ["第一句话。第二句话。"]  # nothing after the stop was synthesised
    engine.stop()  # idle stop is harmless


def test_new_speak_interrupts_and_replaces(held: Held) -> None:
    engine, synthesizer, player = held
    engine.speak("旧的回答。")
    assert player.wait_started(1)
    engine.speak("新的回答。", SpeechRate.SLOW)
    assert player.wait_started(2)
    player.release()
    assert engine.wait(5)
    assert _texts_played(synthesizer, player.interrupted) == ["旧的回答。"]
    assert _texts_played(synthesizer, player.finished) == ["新的回答。"]
    assert synthesizer.calls[-1][1] == 120


def test_speak_without_interrupt_replaces_only_what_is_queued(held: Held) -> None:
    engine, synthesizer, player = held
    engine.speak("正在说的。")
    assert player.wait_started(1)
    engine.speak("排队的。", interrupt=False)
    engine.speak("最新的。", interrupt=False)  # replaces 排队的 before it ever starts
    player.release(2)
    assert engine.wait(5)
    assert player.interrupted == []
    assert _texts_played(synthesizer, player.finished) == ["正在说的。", "最新的。"]
    assert "排队的。" not in synthesizer.texts


def test_stop_before_the_worker_plays_drops_the_job(held: Held) -> None:
    engine, _, player = held
    engine.speak("一。")
    engine.stop()
    assert engine.wait(5)
    player.release(5)
    assert player.finished == []


def test_display_text_is_made_speakable_before_synthesis(tmp_path: Path) -> None:
    synthesizer = FakeSynthesizer()
    engine = ThreadedTtsEngine(synthesizer, NullPlayer())
    engine.speak("身份证号450101199001011234，详见https://zwfw.gxzf.gov.cn，电话12333。")
    assert engine.wait(5)
    engine.save_to_file("每月3600元", tmp_path / "a.wav")
    assert synthesizer.texts == ["身份证号码，详见，电话幺二三三三。", "每月三千六百元。"]
    raw = ThreadedTtsEngine(synthesizer, NullPlayer(), normalise=False)
    raw.save_to_file(" 12333 ", tmp_path / "b.wav")
    assert synthesizer.texts[-1] == "12333"
    engine.close()
    raw.close()


def test_playback_failure_is_logged_once_and_speech_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    engine = ThreadedTtsEngine(FakeSynthesizer(), FakePlayer(fail=True))
    with caplog.at_level(logging.DEBUG, logger="accessibility"):
        engine.speak(SECRET)
        assert engine.wait(5)
        engine.speak(SECRET)
        assert engine.wait(5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "without sound" in warnings[0].getMessage()
    assert SECRET not in caplog.text
    engine.close()


def test_synthesis_failure_is_logged_without_the_text(caplog: pytest.LogCaptureFixture) -> None:
    engine = ThreadedTtsEngine(FakeSynthesizer(fail=True), NullPlayer())
    with caplog.at_level(logging.DEBUG, logger="accessibility"):
        engine.speak(SECRET)
        assert engine.wait(5)
    assert "synthesis failed" in caplog.text
    assert f"{len(SECRET)} characters" in caplog.text
    for fragment in ("张三", "民族大道"):
        assert fragment not in caplog.text
    engine.close()


def test_worker_survives_unexpected_errors(caplog: pytest.LogCaptureFixture) -> None:
    class Exploding(FakeSynthesizer):
        def synthesize(self, text: str, path: Path, rate: int) -> None:
            raise ZeroDivisionError

    engine = ThreadedTtsEngine(Exploding(), NullPlayer())
    with caplog.at_level(logging.ERROR):
        engine.speak("一。")
        assert engine.wait(5)
    assert "unexpected error" in caplog.text
    engine.speak("二。")
    assert engine.wait(5)
    engine.close()


def test_save_to_file_and_close(tmp_path: Path) -> None:
    engine = ThreadedTtsEngine(FakeSynthesizer(), NullPlayer())
    path = engine.save_to_file("办理社保卡。", tmp_path / "x.wav", SpeechRate.SLOW)
    assert read_wav_info(path).frames > 0
    engine.speak("你好。")
    assert engine.wait(5)
    engine.close()
    engine.close()  # idempotent
    engine.speak("关闭后不再说话。")
    assert not engine.busy


def test_many_rapid_speaks_from_several_threads_end_idle() -> None:
    synthesizer = FakeSynthesizer()
    engine = ThreadedTtsEngine(synthesizer, NullPlayer())

    def hammer(n: int) -> None:
        for i in range(30):
            engine.speak(f"第{n}组第{i}句。")
            if i % 7 == 0:
                engine.stop()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.wait(5)
    assert not engine.busy
    engine.close()


# --- aplay player, with stand-in programs --------------------------------------------------------


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-aplay"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_aplay_player_is_killed_on_cancel(tmp_path: Path) -> None:
    player = AplayPlayer(executable=_script(tmp_path, "sleep 30"))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    player.play(tmp_path / "a.wav", cancel)
    assert time.monotonic() - started < 3


def test_aplay_failure_is_a_playback_error(tmp_path: Path) -> None:
    player = AplayPlayer(executable=_script(tmp_path, "echo 'audio open error' >&2; exit 1"))
    with pytest.raises(PlaybackError, match="audio open error"):
        player.play(tmp_path / "a.wav", threading.Event())


def test_missing_aplay_warns_and_raises_on_play(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING):
        player = AplayPlayer(executable="no-such-aplay")
    assert "alsa-utils" in caplog.text
    with pytest.raises(PlaybackError):
        player.play(tmp_path / "a.wav", threading.Event())
    assert issubclass(PlaybackError, TtsError)
