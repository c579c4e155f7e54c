from __future__ import annotations

from pathlib import Path

import pytest

from accessibility import errors
from accessibility.errors import AccessibilityError, FontNotFoundError, SynthesisError
from accessibility.fonts import WQY_MICROHEI_PATH, cjk_font_path
from accessibility.wav import estimate_speech_seconds, read_wav_info, wait_for_wav, write_silence


def test_configured_font_wins(tmp_path: Path) -> None:
    font = tmp_path / "font.ttc"
    font.write_bytes(b"\0")
    assert cjk_font_path(font) == font
    assert cjk_font_path(candidates=[tmp_path / "missing.ttc", font]) == font


def test_missing_font_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
        cjk_font_path(candidates=[tmp_path / "missing.ttc"])
    with pytest.raises(FontNotFoundError, match="configured"):
        cjk_font_path(tmp_path / "missing.ttc")
    with pytest.raises(FileNotFoundError):
        cjk_font_path(tmp_path / "missing.ttc")


@pytest.mark.skipif(not WQY_MICROHEI_PATH.is_file(), reason="fonts-wqy-microhei is not installed")
def test_system_font_is_found() -> None:
    assert cjk_font_path() == WQY_MICROHEI_PATH


def test_exception_tree_matches_docstring() -> None:
    names = [name for name in vars(errors) if name.endswith("Error")]
    for name in names:
        assert name in (errors.__doc__ or ""), name
        assert issubclass(getattr(errors, name), AccessibilityError)


def test_write_and_read_silence(tmp_path: Path) -> None:
    path = write_silence(tmp_path / "a.wav", 1.5)
    info = read_wav_info(path)
    assert (info.sample_rate, info.channels, info.sample_width) == (22050, 1, 2)
    assert info.duration == pytest.approx(1.5, abs=0.001)
    assert wait_for_wav(path, timeout=0.1) == info


def test_wait_for_wav_times_out(tmp_path: Path) -> None:
    with pytest.raises(SynthesisError):
        wait_for_wav(tmp_path / "never.wav", timeout=0.05)
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(SynthesisError):
        wait_for_wav(tmp_path / "junk.wav", timeout=0.05)


def test_estimate_grows_with_text_and_slower_rate() -> None:
    assert estimate_speech_seconds("一二三四", 160) > estimate_speech_seconds("一二", 160)
    assert estimate_speech_seconds("一二三四", 120) > estimate_speech_seconds("一二三四", 160)
