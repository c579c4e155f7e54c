"""The project's retrieval as an engine of the external FAQ harness (``../shared/external/eval_faq.py``).

    cd ../shared/external && python eval_faq.py ncov --engine knowledge_base.faq_engine:make_engine

builds the same hybrid index the assistant serves (jieba words, characters, pinyin, the trained static
encoder) over someone else's FAQ items, so its top-1 can be compared with the harness's bm25s baseline on
questions nobody here wrote.

Calibration: the shipped ``calibration.json`` was fitted on the project's own 社保 knowledge base. For
another knowledge base the project refits it on that base's own phrasings (``shequ kb reindex
--calibrate``), and so does this adapter: ``calibrate.fit_calibration`` unchanged, 4 folds over the KB's
similar questions, each held out of its entry and searched against an index built without it. No explicit
negatives are passed (the project's ``calibration_negatives.yaml`` are 社保 near-misses). A KB with fewer
than ``MIN_HELD_OUT`` similar questions (the harness's ``--local`` mode builds KBs of 4–6 items) has nothing
to fit on and keeps the shipped calibration.

Measured (ncov, 2,130 queries): top-1 0.849 / top-3 0.953 / MRR 0.903, build ~24 s, against 0.846 / 0.952 /
0.902 with the shipped calibration (35 queries won, 30 lost: not a significant difference); ``--local``
0.899 / 0.989 / 0.944 (unchanged: those KBs keep the shipped calibration). With the seed-ensemble encoder (off
by default, ``ENSEMBLE_MEMBERS``; issue 12, third pass): 0.854 / 0.954 / 0.907, build ~23 s. With the pretrained
encoder's two signals (issue 12, eighth pass; both fitted here too): 0.871 / 0.969 / 0.920, build ~6 min the first
time (it embeds every item's questions in each fold).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from knowledge_base.engine import load_calibration, make_analyzer
from knowledge_base.retrieval.calibrate import fit_calibration
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
from knowledge_base.retrieval.text_analysis import TextAnalyzer
from knowledge_base.synonyms import SynonymDictionary

log = logging.getLogger(__name__)

# Below this many similar questions a fold has too few positives to fit ten weights on.
MIN_HELD_OUT = 100


@dataclass(frozen=True)
class FaqItem:
    id: str
    title: str
    questions: list[str] = field(default_factory=list)

    def searchable_texts(self) -> list[str]:
        return [self.title, *self.questions]

    def model_copy(self, update: dict[str, Any]) -> FaqItem:
        """The one piece of KbEntry's (pydantic) interface that ``fit_calibration`` uses."""
        return dataclasses.replace(self, **update)


@lru_cache(maxsize=1)
def shared_analyzer() -> TextAnalyzer:
    """One analyzer per process: a new one loads jieba's dictionary again (~1–2 s), which was nearly all of
    the time of each of ``--local`` mode's ~2,100 tiny builds. The analysis is deterministic, so sharing it
    (and its cache) changes no result."""
    return make_analyzer(SynonymDictionary())


class FaqEngine:
    def __init__(self, items: Sequence[dict[str, Any]]) -> None:
        started = time.perf_counter()
        entries = [FaqItem(str(it["id"]), str(it["title"]), [str(q) for q in it.get("questions") or []])
                   for it in items]
        analyzer = shared_analyzer()
        config = RetrievalConfig()
        if sum(len(entry.questions) for entry in entries) >= MIN_HELD_OUT:
            calibration, stats = fit_calibration(entries, analyzer, [], config=config)  # type: ignore[arg-type]
            log.info("faq calibration fitted on the KB's own questions: %s", stats)
        else:
            calibration = load_calibration()
        self.calibration = calibration
        self.index = HybridIndex.build(entries, analyzer, calibration, config)  # type: ignore[arg-type]
        log.info("faq engine built in %.1fs", time.perf_counter() - started)

    def search(self, text: str, k: int) -> list[str]:
        return [c.entry_id for c in self.index.search(text, k).candidates]


def make_engine(items: Sequence[dict[str, Any]]) -> FaqEngine:
    return FaqEngine(items)
