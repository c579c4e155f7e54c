"""The external set's global top-1 with its duplicate items counted, from a harness run and blind judgments.

    cd ../shared/external && python eval_faq.py ncov --engine knowledge_base.faq_engine:make_engine --json /tmp/run.json
    python eval/external/corrected_top1.py /tmp/run.json

Why: the ncov set's groups were never deduplicated across the annotators' ``query1``s (its SOURCE.md, "Caveats"),
so several items ask the same question, and global top-1 counts a retrieved twin of the expected item as a miss.
``ncov_judgments.tsv`` holds blind judgments of whether a retrieved item asks the same question as the query (one
answer written for the item would fully answer it). The judge saw only the two texts, shuffled with control pairs
of known truth, not which engine retrieved the item nor which item was expected:

- ``query:N`` rows pair test query N (its line in ``ncov_test.jsonl``, from 0) with the item in column 2. Where the
  item is the query's expected one, the row is a control that should read "same".
- ``negative:K`` rows pair the K-th text the annotators labelled as a *different* question against the item
  (``ncov_hardneg.jsonl``): controls that should read "different".

The file holds item ids and line numbers only: the data set has no license to publish its texts.

The report gives the literal top-1 (what the harness prints), the misses judged a same-question twin, the judge's
error rates on the controls, and the top-1 with the judged twins counted as hits. A miss nobody judged (a run whose
misses differ from those judged) counts as a miss there; when only a sample of the misses was judged, the share judged
same is also carried over to all the misses, with its 95 % interval, and corrected for the judge's false "same" rate.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

JUDGMENTS = Path(__file__).with_name("ncov_judgments.tsv")
SAME, DIFFERENT = "same", "different"
Z_95 = 1.96


@dataclass(frozen=True)
class Judgment:
    pair: str  # "query:N" or "negative:K"
    item: str
    verdict: str  # SAME or DIFFERENT
    batch: str = ""


def load_judgments(lines: Iterable[str]) -> list[Judgment]:
    judgments = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 3 or fields[2] not in (SAME, DIFFERENT) or not fields[0].startswith(("query:", "negative:")):
            raise ValueError(f"judgments line {number}: expected 'pair<TAB>item<TAB>same|different', got {line!r}")
        judgments.append(Judgment(fields[0], fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
    return judgments


def verdicts_by_pair(judgments: Sequence[Judgment], batch: str = "") -> dict[tuple[str, str], bool]:
    """(pair, item) → judged the same question, from every batch or from ``batch`` alone. A pair judged twice
    counts as the same only if both said so."""
    verdicts: dict[tuple[str, str], bool] = {}
    for j in judgments:
        if batch and j.batch != batch:
            continue
        key = (j.pair, j.item)
        verdicts[key] = verdicts.get(key, True) and j.verdict == SAME
    return verdicts


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (0, 0 for no trials)."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / (1 + Z_95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Report:
    queries: int
    hits: int
    misses_same: int
    misses_different: int
    misses_unjudged: int
    controls_same_right: int  # control pairs of the expected item judged "same"
    controls_same: int
    controls_different_wrong: int  # labelled-different pairs judged "same"
    controls_different: int
    sample_same: int = 0  # misses judged the same in the random sample of misses (--sample-batch), if one
    sample_judged: int = 0

    @property
    def literal(self) -> float:
        return self.hits / self.queries

    @property
    def corrected(self) -> float:
        """Judged twins counted as hits; unjudged misses stay misses."""
        return (self.hits + self.misses_same) / self.queries

    @property
    def judged(self) -> int:
        return self.misses_same + self.misses_different

    def extrapolated(self) -> tuple[float, float, float] | None:
        """(estimate, low, high) of top-1 with the share of twins among the misses corrected for the judge's false
        "same" and missed "same" on the controls. The share is that of all the misses when every one was judged,
        else that of the random sample; None without either (judged misses that are not a random sample, such as
        another engine's, would bias it)."""
        if self.judged and not self.misses_unjudged:
            same, judged = self.misses_same, self.judged
        elif self.sample_judged:
            same, judged = self.sample_same, self.sample_judged
        else:
            return None
        misses = self.queries - self.hits
        true_rate = self.controls_same_right / self.controls_same if self.controls_same else 1.0
        false_rate = self.controls_different_wrong / self.controls_different if self.controls_different else 0.0

        def top1(share: float) -> float:
            if true_rate > false_rate:
                share = min(1.0, max(0.0, (share - false_rate) / (true_rate - false_rate)))
            return (self.hits + share * misses) / self.queries

        low, high = wilson(same, judged)
        return top1(same / judged), top1(low), top1(high)


def correct(rows: Sequence[dict], verdicts: dict[tuple[str, str], bool],
            sample: dict[tuple[str, str], bool] | None = None) -> Report:
    """``rows``: the harness's per-query rows (``--json``, global mode), in the order of ``ncov_test.jsonl``;
    ``sample``: the verdicts of a batch that judged a random sample of this engine's misses, if one did."""
    hits = same = different = unjudged = sample_same = sample_judged = 0
    for number, row in enumerate(rows):
        if row.get("rank") == 1:
            hits += 1
            continue
        got = row.get("got") or []
        key = (f"query:{number}", got[0]) if got else None
        verdict = verdicts.get(key) if key else None
        if sample is not None and key in sample:
            sample_judged += 1
            sample_same += sample[key]
        if verdict is None:
            unjudged += 1
        elif verdict:
            same += 1
        else:
            different += 1
    expected = {f"query:{number}": row["expected_id"] for number, row in enumerate(rows)}
    positives = [v for (pair, item), v in verdicts.items() if expected.get(pair) == item]
    negatives = [v for (pair, _), v in verdicts.items() if pair.startswith("negative:")]
    return Report(len(rows), hits, same, different, unjudged, sum(positives), len(positives), sum(negatives),
                  len(negatives), sample_same, sample_judged)


def render(report: Report) -> str:
    lines = [
        f"查询 {report.queries} 条；字面 top-1 {report.literal:.4f}（命中 {report.hits}）",
        f"未命中 {report.queries - report.hits} 条：判为同一问题 {report.misses_same}，不同问题 {report.misses_different}，"
        f"未判 {report.misses_unjudged}",
        f"判定员对照：应为同一问题 {report.controls_same_right}/{report.controls_same} 判对；"
        f"标注为不同问题 {report.controls_different_wrong}/{report.controls_different} 误判为同一问题",
        f"把判为同一问题的计为命中：top-1 {report.corrected:.4f}（未判的仍算未命中）",
    ]
    estimate = report.extrapolated()
    if estimate is not None and report.misses_unjudged:
        lines.append(f"按随机样本（{report.sample_same}/{report.sample_judged} 判为同一问题）推算全部未命中，"
                     f"并按对照纠偏：top-1 {estimate[0]:.4f}"
                     f"（95% 区间 {estimate[1]:.4f}–{estimate[2]:.4f}）")
    elif estimate is not None:
        lines.append(f"按对照纠偏：top-1 {estimate[0]:.4f}（95% 区间 {estimate[1]:.4f}–{estimate[2]:.4f}）")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the harness's --json output (global mode)")
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS)
    parser.add_argument("--sample-batch", default="",
                        help="the batch that judged a random sample of this run's misses (2: the bm25s baseline's)")
    args = parser.parse_args(argv)
    try:
        run = json.loads(args.run.read_text(encoding="utf-8"))
        judgments = load_judgments(args.judgments.read_text(encoding="utf-8").splitlines())
    except (OSError, ValueError) as exc:
        print(f"无法读取：{exc}", file=sys.stderr)
        return 2
    if run.get("summary", {}).get("mode") != "global" or run.get("summary", {}).get("distractors"):
        print("只适用于全局模式（不加 --local、--distractors）的结果", file=sys.stderr)
        return 2
    sample = verdicts_by_pair(judgments, args.sample_batch) if args.sample_batch else None
    print(render(correct(run["rows"], verdicts_by_pair(judgments), sample)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
