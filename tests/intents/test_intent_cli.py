"""``shequ intents train | classify | export-rasa``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from intents import INTENTS
from intents.cli import intents

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(intents, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stderr: str, fragment: str) -> None:
    assert code == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误 / error:") and fragment in lines[0]
    assert "Traceback" not in stderr


def test_train_saves_then_reuses(tmp_path: Path) -> None:
    code, out, _ = run("train", "--no-cv", "--model-dir", str(tmp_path))
    assert code == 0 and "model trained" in out and (tmp_path / "intent_model.joblib").exists()
    code, out, _ = run("train", "--no-cv", "--model-dir", str(tmp_path))
    assert code == 0 and "unchanged, reused" in out


@pytest.mark.slow
def test_train_prints_cross_validated_accuracy(tmp_path: Path) -> None:
    code, out, _ = run("train", "--folds", "3", "--model-dir", str(tmp_path))
    assert code == 0
    assert "3-fold cross-validated accuracy per intent" in out
    for intent in INTENTS:
        assert any(line.split()[0] == intent and line.endswith("%") for line in out.splitlines()
                   if line.strip()), intent
    assert "overall" in out


def test_train_bad_data_dir(tmp_path: Path) -> None:
    code, _, err = run("train", "--no-cv", "--data-dir", str(tmp_path / "missing"), "--model-dir", str(tmp_path))
    assert_one_line_error(code, err, "cannot read training data")


def test_classify(tmp_path: Path) -> None:
    code, out, _ = run("classify", "转人工", "--model-dir", str(tmp_path))
    assert code == 0 and out.startswith("request_human")
    code, out, _ = run("classify", "电话13812345678，我八十多岁了", "--json", "--model-dir", str(tmp_path))
    payload = json.loads(out)
    assert "13812345678" not in out and {e["type"] for e in payload["entities"]} == {"phone", "age"}


def test_export_rasa(tmp_path: Path) -> None:
    target = tmp_path / "rasa"
    code, out, _ = run("export-rasa", str(target))
    assert code == 0 and (target / "config.yml").exists() and "rasa train" in out
    code, _, err = run("export-rasa", str(target))
    assert_one_line_error(code, err, "not empty")
    code, _, _ = run("export-rasa", str(target), "--force", "--confidence-threshold", "0.6")
    assert code == 0 and "threshold: 0.6" in (target / "config.yml").read_text(encoding="utf-8")


def test_export_rasa_bad_threshold(tmp_path: Path) -> None:
    code, _, err = run("export-rasa", str(tmp_path / "x"), "--confidence-threshold", "2")
    assert_one_line_error(code, err, "confidence_threshold")


def test_attached_to_shequ() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", "intents", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for command in ("train", "export-rasa", "classify"):
        assert command in result.stdout
