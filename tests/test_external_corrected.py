"""The external set's duplicate-corrected top-1 (eval/external/corrected_top1.py), against hand-counted cases, and
the shipped judgments file: well-formed, free of the data set's texts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "eval" / "external" / "corrected_top1.py"
_spec = importlib.util.spec_from_file_location("corrected_top1", SCRIPT)
assert _spec and _spec.loader
corrected_top1 = importlib.util.module_from_spec(_spec)
sys.modules["corrected_top1"] = corrected_top1
_spec.loader.exec_module(corrected_top1)


def _rows() -> list[dict]:
    # query 0 hit; 1 retrieved a judged twin; 2 a judged different item; 3 an item nobody judged
    return [
        {"text": "a", "expected_id": "e0", "got": ["e0"], "rank": 1},
        {"text": "b", "expected_id": "e1", "got": ["t1", "e1"], "rank": 2},
        {"text": "c", "expected_id": "e2", "got": ["x2", "e2"], "rank": 2},
        {"text": "d", "expected_id": "e3", "got": ["y3"], "rank": None},
    ]


JUDGMENTS = """# pair\titem\tverdict\tbatch
query:1\tt1\tsame\t1
query:2\tx2\tdifferent\t1
query:0\te0\tsame\t1
negative:0\te0\tdifferent\t1
negative:1\te0\tsame\t1
"""


def test_twins_count_as_hits_and_unjudged_misses_stay_misses() -> None:
    verdicts = corrected_top1.verdicts_by_pair(corrected_top1.load_judgments(JUDGMENTS.splitlines()))
    report = corrected_top1.correct(_rows(), verdicts)
    assert (report.hits, report.misses_same, report.misses_different, report.misses_unjudged) == (1, 1, 1, 1)
    assert report.literal == 0.25
    assert report.corrected == 0.5
    # controls: the expected item judged same (1 of 1); the labelled-different texts judged same once in 2
    assert (report.controls_same_right, report.controls_same) == (1, 1)
    assert (report.controls_different_wrong, report.controls_different) == (1, 2)
    # a run with unjudged misses and no random sample is not extrapolated
    assert report.extrapolated() is None


def test_extrapolation_corrects_for_the_judges_false_same() -> None:
    # every miss judged: 1 of 3 same; the judge says "same" to 1 in 2 labelled-different pairs and to every same
    # one, so a raw share under 0.5 is less than its false "same" alone would give: no twin at all
    judgments = JUDGMENTS + "query:3\ty3\tdifferent\t1\n"
    verdicts = corrected_top1.verdicts_by_pair(corrected_top1.load_judgments(judgments.splitlines()))
    estimate = corrected_top1.correct(_rows(), verdicts).extrapolated()
    assert estimate is not None
    assert estimate[0] == pytest.approx(0.25)
    assert estimate[1] <= estimate[0] <= estimate[2]


def test_a_pair_judged_twice_is_the_same_only_if_both_said_so() -> None:
    lines = ["query:1\tt1\tsame\t1", "query:1\tt1\tdifferent\t2"]
    judgments = corrected_top1.load_judgments(lines)
    assert corrected_top1.verdicts_by_pair(judgments) == {("query:1", "t1"): False}
    assert corrected_top1.verdicts_by_pair(judgments, "1") == {("query:1", "t1"): True}


def test_a_malformed_line_is_named() -> None:
    with pytest.raises(ValueError, match="line 2"):
        corrected_top1.load_judgments(["# header", "query:1\tt1\tmaybe"])


def test_the_script_refuses_a_local_run_in_chinese(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"summary": {"mode": "local"}, "rows": []}), encoding="utf-8")
    done = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "全局模式" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_shipped_judgments_are_well_formed_and_hold_no_text() -> None:
    text = corrected_top1.JUDGMENTS.read_text(encoding="utf-8")
    judgments = corrected_top1.load_judgments(text.splitlines())
    assert len(judgments) > 500
    for judgment in judgments:
        kind, _, number = judgment.pair.partition(":")
        assert kind in ("query", "negative") and number.isdigit()
        assert judgment.item.startswith("ncov-") and judgment.item[5:].isdigit()
    # the data set has no license to publish: ids and line numbers only, not one Chinese character
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_a_random_sample_of_the_misses_is_carried_over_to_all_of_them() -> None:
    # the sample (batch 2) judged 1 of the 2 misses it saw a twin; a perfect judge on the controls → half of the
    # 3 misses are twins: (1 hit + 1.5) / 4
    lines = ["query:0\te0\tsame\t1", "negative:0\te0\tdifferent\t1",
             "query:1\tt1\tsame\t2", "query:2\tx2\tdifferent\t2"]
    judgments = corrected_top1.load_judgments(lines)
    report = corrected_top1.correct(_rows(), corrected_top1.verdicts_by_pair(judgments),
                                    corrected_top1.verdicts_by_pair(judgments, "2"))
    assert (report.sample_same, report.sample_judged, report.misses_unjudged) == (1, 2, 1)
    estimate = report.extrapolated()
    assert estimate is not None and estimate[0] == pytest.approx(2.5 / 4)
