"""The project's retrieval as an engine of the external FAQ harness (``../shared/external/eval_faq.py``).

    cd ../shared/external && python eval_faq.py ncov --engine knowledge_base.faq_engine:make_engine

builds the same hybrid index the assistant serves (jieba words, characters, pinyin, the trained static
encoder, the shipped calibration) over someone else's FAQ items, so its top-1 can be compared with the
harness's bm25s baseline on questions nobody here wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge_base.engine import load_calibration, make_analyzer
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
from knowledge_base.synonyms import SynonymDictionary


@dataclass(frozen=True)
class FaqItem:
    id: str
    title: str
    questions: list[str] = field(default_factory=list)

    def searchable_texts(self) -> list[str]:
        return [self.title, *self.questions]


class FaqEngine:
    def __init__(self, items: Sequence[dict[str, Any]]) -> None:
        entries = [FaqItem(str(it["id"]), str(it["title"]), [str(q) for q in it.get("questions") or []])
                   for it in items]
        analyzer = make_analyzer(SynonymDictionary())
        self.index = HybridIndex.build(entries, analyzer, load_calibration(), RetrievalConfig())  # type: ignore[arg-type]

    def search(self, text: str, k: int) -> list[str]:
        return [c.entry_id for c in self.index.search(text, k).candidates]


def make_engine(items: Sequence[dict[str, Any]]) -> FaqEngine:
    return FaqEngine(items)
