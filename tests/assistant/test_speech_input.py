"""Speech input as the assistant offers it (``SpeechInput``) and ``shequ asr install|check|transcribe``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from speech_audio import encoded, spoken_wav

from accessibility.asr import FakeSpeechRecognizer
from accessibility.errors import AsrUnavailableError, AudioDecodeError, NoSpeechError
from assistant.commands.asr import asr
from assistant.settings import Settings, get_settings
from assistant.speech import SpeechInput, prompt_terms, resolved_model_dir


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spoken_wav("高龄津贴怎么申请", tmp_path_factory.mktemp("speech") / "q.wav")


def test_a_web_chat_clip_goes_through_decode_vad_and_the_engine(question_wav: Path) -> None:
    from accessibility.audio_input import decode_audio

    webm = encoded(decode_audio(question_wav.read_bytes()), "webm", "libopus")
    speech = SpeechInput(FakeSpeechRecognizer(["高龄津贴怎么申请"]))
    transcript = speech.transcribe_bytes(webm)
    assert transcript.text == "高龄津贴怎么申请" and transcript.language == "zh"
    assert speech.transcribe_bytes(webm, language="yue").language == "yue"
    with pytest.raises(ValueError):
        speech.transcribe_bytes(webm, language="fr")
    with pytest.raises(AudioDecodeError):
        speech.transcribe_bytes(b"nonsense")
    with pytest.raises(NoSpeechError):
        speech.transcribe_bytes(b"")


def test_settings_choose_the_engine_the_language_and_the_prompt(settings: Settings) -> None:
    fake = SpeechInput.from_settings(settings.model_copy(update={"asr_engine": "fake", "asr_language": "yue"}))
    assert fake.enabled and fake.recognizer.name == "fake" and fake.default_language == "yue"
    off = SpeechInput.from_settings(settings.model_copy(update={"asr_engine": "off"}))
    assert not off.enabled
    with pytest.raises(AsrUnavailableError):
        off.recognizer.load()
    whisper = SpeechInput.from_settings(settings.model_copy(update={"asr_engine": "faster-whisper"}),
                                        terms=["养老金", "低保"])
    assert "养老金、低保" in whisper.recognizer.prompts["zh"]  # type: ignore[attr-defined]
    plain = SpeechInput.from_settings(settings.model_copy(update={"asr_prompt": False}), terms=["养老金"])
    assert plain.recognizer.prompts == {}  # type: ignore[attr-defined]
    assert resolved_model_dir(settings) == settings.var_dir / "models" / "whisper-base"


def test_the_prompt_uses_the_synonym_dictionarys_standard_words(settings: Settings) -> None:
    terms = prompt_terms(settings)
    assert terms[:3] == ["社保", "医保", "养老金"]
    assert len(terms) > 20


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("SHEQU_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SHEQU_KB_DATA_DIR", str(settings.kb_data_dir))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_install_check_and_transcribe_from_the_command_line(cli_env: Settings, question_wav: Path,
                                                            tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(asr, ["check"])
    assert missing.exit_code == 1 and "shequ asr install" in missing.output
    installed = runner.invoke(asr, ["install"])
    if installed.exit_code != 0 and "未安装" in installed.output:
        pytest.skip(installed.output)
    assert installed.exit_code == 0, installed.output
    assert "语音模型已就绪" in installed.output
    checked = runner.invoke(asr, ["check"])
    assert checked.exit_code == 0 and "加载用时" in checked.output
    heard = runner.invoke(asr, ["transcribe", str(question_wav), "--json"])
    assert heard.exit_code == 0, heard.output
    assert '"text"' in heard.output and '"alternatives"' in heard.output
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....not a wav")
    refused = runner.invoke(asr, ["transcribe", str(junk)])
    assert refused.exit_code == 1 and "录音打不开" in refused.output and "Traceback" not in refused.output
