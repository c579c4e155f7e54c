"""The speech test set's builder (eval/speech/build.py) still makes what the ASR benchmark reads.

Two questions (one Mandarin, one Cantonese) into a temporary folder: every clip exists as 16 kHz mono 16-bit
WAV of the length the manifest says, the slow speed is longer, and each noisy clip has the SNR it was asked
for — measured here from the clean and the noisy file alone (the noise is whatever is left once the clean
speech, scaled by least squares, is taken out).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.evaluation import load_cases

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "eval" / "speech" / "build.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="needs espeak-ng and sox"),
]


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (1, 2), path
        data = handle.readframes(handle.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, handle.getframerate()


def _snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    gain = float(np.dot(noisy, clean) / np.dot(clean, clean))
    residual = noisy - gain * clean
    return 10 * np.log10(np.sum((gain * clean) ** 2) / np.sum(residual**2))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("speech")
    result = subprocess.run([sys.executable, str(BUILDER), "--select", "2", "--out", str(out), "--jobs", "2"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    clips = [json.loads(line) for line in (out / "clips.jsonl").read_text(encoding="utf-8").splitlines()]
    return out, clips


def test_every_condition_of_both_languages_is_built(built: tuple[Path, list[dict]]) -> None:
    out, clips = built
    assert len(clips) == 2 * 2 * 5  # questions × speeds × (clean + 2 noises × 2 SNRs)
    assert {c["lang"] for c in clips} == {"zh", "yue"}
    assert {c["voice"] for c in clips} == {"sit/cmn-latn-pinyin", "sit/yue"}
    assert {c["condition"] for c in clips} == {f"s{s}-{n}" for s in (130, 170) for n in
                                               ("clean", "babble20", "babble10", "street20", "street10")}
    for clip in clips:
        assert (out / clip["path"]).is_file(), clip["path"]
        assert clip["expect"].get("topic")
    # The questions also form an evaluation file that `shequ eval` reads (the typed baseline).
    cases = load_cases(out / "sentences.yaml")["cases"]
    assert [c["q"] for c in cases] == list(dict.fromkeys(c["text"] for c in clips))


def test_clips_are_16khz_mono_of_the_stated_length(built: tuple[Path, list[dict]]) -> None:
    out, clips = built
    for clip in clips:
        samples, rate = _read(out / clip["path"])
        assert rate == 16_000
        assert samples.size / rate == pytest.approx(clip["seconds"], abs=0.002)
        assert clip["speech_start"] == pytest.approx(0.3)
        assert clip["seconds"] - clip["speech_end"] == pytest.approx(0.5, abs=0.002)
        assert 0.2 < np.abs(samples).max() < 1.0  # speech at a sane level, not clipped
        if clip["noise"] == "clean":
            assert np.abs(samples[: int(0.25 * rate)]).max() < 1e-3  # the padding is silence
    by_key = {(c["sentence"], c["speed"], c["condition"].split("-")[1]): c for c in clips}
    for sentence in {c["sentence"] for c in clips}:
        slow, fast = by_key[(sentence, 130, "clean")], by_key[(sentence, 170, "clean")]
        assert slow["speech_end"] - slow["speech_start"] > 1.1 * (fast["speech_end"] - fast["speech_start"])


def test_noisy_clips_have_the_snr_asked_for(built: tuple[Path, list[dict]]) -> None:
    out, clips = built
    clean = {(c["sentence"], c["speed"]): c for c in clips if c["noise"] == "clean"}
    noisy = [c for c in clips if c["noise"] != "clean"]
    assert {c["noise"] for c in noisy} == {"babble", "street"}
    for clip in noisy:
        reference = clean[(clip["sentence"], clip["speed"])]
        speech, rate = _read(out / reference["path"])
        mixed, _ = _read(out / clip["path"])
        assert mixed.size == speech.size
        part = slice(round(clip["speech_start"] * rate), round(clip["speech_end"] * rate))
        assert _snr(speech[part], mixed[part]) == pytest.approx(clip["snr"], abs=1.0), clip["clip"]
        # noise also fills the padding, as in a real recording
        assert np.sqrt(np.mean(mixed[: int(0.25 * rate)] ** 2)) > 1e-3


def test_noise_tracks_are_long_enough(built: tuple[Path, list[dict]]) -> None:
    out, _ = built
    for name in ("babble", "street"):
        samples, rate = _read(out / "noise" / f"{name}.wav")
        assert rate == 16_000 and samples.size / rate == pytest.approx(40, abs=0.01)
        assert np.sqrt(np.mean(samples**2)) > 0.02
