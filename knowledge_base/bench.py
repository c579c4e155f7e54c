"""Retrieval benchmark: index build time, per-query latency (p50/p99) and memory.

Sizes: the shipped knowledge base, and generated ones (1,000 and 20,000 entries) made by recombining
shipped questions with perturbations, so vocabulary and lengths stay realistic.

The shipped size runs as it ships, with the pretrained signal; the generated sizes run without it unless asked
(``pretrained_generated``): every generated question is a new text, and embedding 300,000 of them takes this
machine about half an hour, where a real city's knowledge base embeds each question once and keeps it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from knowledge_base.engine import load_calibration, make_analyzer
from knowledge_base.loader import load_entries
from knowledge_base.models import KbEntry
from knowledge_base.retrieval.fusion import PRETRAINED
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
from knowledge_base.retrieval.pretrained import pretrained_encoder
from knowledge_base.synonyms import SynonymDictionary, load_synonyms

_FILLERS = ["请问", "我想问一下", "麻烦问下", "老人家", "我家", "现在", "今年", "我们这边", "那个"]
_ENDINGS = ["怎么办", "怎么弄", "去哪里办", "要什么", "可以吗", "有没有", "咋个搞", "得不得"]


@dataclass
class BenchResult:
    label: str
    entries: int
    documents: int
    build_seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    queries: int
    rss_mb: float
    index_mb: float
    pretrained_share: float = 0.0  # queries that asked the pretrained encoder (the fast signals were unsure)

    def line(self) -> str:
        return (f"{self.label:>10} {self.entries:>7} entries {self.documents:>8} docs | build {self.build_seconds:6.2f} s"
                f" | p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  mean {self.mean_ms:6.2f} ms"
                f" ({self.queries} queries, {self.pretrained_share:.0%} pretrained) | RSS {self.rss_mb:7.1f} MB"
                f"  index ~{self.index_mb:6.1f} MB")


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _perturb(text: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return rng.choice(_FILLERS) + text
    if choice < 0.5 and len(text) > 4:
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1:]
    if choice < 0.7:
        return text + rng.choice(_ENDINGS)
    return text


def synthetic_entries(base: Sequence[KbEntry], size: int, seed: int = 3) -> list[KbEntry]:
    """``size`` entries: the shipped ones, then variants mixing questions of two shipped entries."""
    rng = random.Random(seed)
    entries = list(base[:size])
    counter = 0
    while len(entries) < size:
        a, b = rng.sample(list(base), 2)
        counter += 1
        questions = [_perturb(q, rng) for q in rng.sample(a.questions, min(10, len(a.questions)))]
        questions += [_perturb(q, rng) for q in rng.sample(b.questions, min(5, len(b.questions)))]
        entries.append(a.model_copy(update={"id": f"{a.id}-v{counter}", "title": _perturb(a.title, rng),
                                            "questions": list(dict.fromkeys(questions))}))
    return entries


def bench_queries(entries: Sequence[KbEntry], count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    pool = [q for e in entries[:200] for q in e.questions]
    return [_perturb(rng.choice(pool), rng) for _ in range(count)]


def run_one(label: str, entries: Sequence[KbEntry], synonyms: SynonymDictionary, queries: Sequence[str],
            config: RetrievalConfig | None = None) -> BenchResult:
    gc.collect()
    before = rss_mb()
    analyzer = make_analyzer(synonyms)
    started = time.perf_counter()
    index = HybridIndex.build(entries, analyzer, load_calibration(), config or RetrievalConfig())
    build = time.perf_counter() - started
    after_build = rss_mb()
    for q in queries[:20]:
        index.search(q)  # warm caches and lazy imports
    timings = []
    asked = 0
    for q in queries:
        t0 = time.perf_counter()
        result = index.search(q)
        timings.append((time.perf_counter() - t0) * 1000)
        asked += bool(result.top and PRETRAINED in result.top.signals)
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    return BenchResult(label, len(entries), int(index.doc_entry.shape[0]), round(build, 3),
                       round(statistics.median(timings), 3), round(p99, 3), round(statistics.fmean(timings), 3),
                       len(timings), round(rss_mb(), 1), round(after_build - before, 1),
                       round(asked / max(1, len(timings)), 3))


def run(data_dir: Path, sizes: Sequence[int], queries_per_size: int = 1000, *, config: RetrievalConfig | None = None,
        pretrained_generated: bool = False) -> list[BenchResult]:
    import sentence_transformers  # noqa: F401 - import once up front so it is not timed as "build"

    config = config or RetrievalConfig()
    if config.pretrained:
        pretrained_encoder(config.pretrained)  # loaded here, so that its start is not timed as a build
    shipped = [e for e in load_entries(data_dir) if e.status == "published"]
    synonyms_path = data_dir / "synonyms.yaml"
    synonyms = load_synonyms(synonyms_path) if synonyms_path.exists() else SynonymDictionary()
    results = [run_one("shipped", shipped, synonyms, bench_queries(shipped, queries_per_size), config)]
    generated_config = config if pretrained_generated else replace(config, pretrained="")
    for size in sizes:
        entries = synthetic_entries(shipped, size)
        results.append(run_one(f"gen-{size}", entries, synonyms, bench_queries(entries, queries_per_size),
                               generated_config))
    return results


def as_dicts(results: Sequence[BenchResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
