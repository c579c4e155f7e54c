"""试一试: what the live assistant would answer to a resident's question, with every signal's score.

For an edit in progress, the same question is also run against a temporary knowledge base in which the
edited entry replaces the published one (same synonyms, profile, calibration and thresholds), so staff see
the effect before they submit. Temporary builds are cached per (revision, edit) because training the small
dense encoder takes a moment.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from knowledge_base.dialect import DialectForm
from knowledge_base.engine import KnowledgeBase
from knowledge_base.models import EntryStatus, KbEntry
from knowledge_base.normalize import normalize
from knowledge_base.pinyin_input import typed_in_pinyin
from knowledge_base.retrieval.fusion import SIGNALS

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
DECISION_LABELS = {"answer": "直接回答", "clarify": "请居民在几个候选中选择", "no_answer": "答不上来（转人工或记录为未答）"}
SIGNAL_LABELS = {"word": "词", "char": "字", "pinyin": "拼音", "dense": "语义", "bag": "整条", "pretrained": "通用语义",
                 "centroid": "通用语义·整条"}
_CACHE_SIZE = 4


@dataclass
class TrialCandidate:
    entry_id: str
    title: str
    score: float
    signals: dict[str, float | None]  # None: a signal this search did not need (pretrained)


@dataclass
class TrialResult:
    query: str
    decision: str
    candidates: list[TrialCandidate] = field(default_factory=list)
    answer: str = ""  # what the resident would be told when the decision is "answer"
    error: str = ""
    mandarin: str = ""  # the question after the dialect lexicon (几耐 → 多久), as every stage reads it
    dialect: list[DialectForm] = field(default_factory=list)  # the dialect forms found in it
    pinyin: bool = False  # typed in pinyin (shebaoka diule): ``mandarin`` shows the characters it became

    @property
    def decision_label(self) -> str:
        return DECISION_LABELS.get(self.decision, self.decision)

    @property
    def signal_labels(self) -> dict[str, str]:
        """The table's signal columns, in the order of ``fusion.SIGNALS``, with their Chinese names."""
        return {s: SIGNAL_LABELS.get(s, s) for s in SIGNALS}

    def rank_of(self, entry_id: str) -> int | None:
        for rank, candidate in enumerate(self.candidates, start=1):
            if candidate.entry_id == entry_id:
                return rank
        return None


def clean_query(text: str | None) -> tuple[str, str]:
    """(query, error message for staff); the query is what a resident could have typed."""
    query = (text or "").strip()
    if not query:
        return "", "请输入一个居民可能会问的问题"
    if len(query) > MAX_QUERY_CHARS:
        return "", f"问题太长了（最多 {MAX_QUERY_CHARS} 字）"
    return query, ""


def run_trial(kb: KnowledgeBase, query: str, k: int = 5) -> TrialResult:
    normalized = normalize(query)
    mandarin = kb.to_mandarin(normalized)
    result = kb.search(mandarin, k)
    candidates = [TrialCandidate(c.entry_id, c.title, c.score, {s: c.signals.get(s) for s in SIGNALS})
                  for c in result.candidates]
    answer = ""
    if str(result.decision) == "answer" and candidates and candidates[0].entry_id in kb.entries:
        answer = kb.rendered_answer(candidates[0].entry_id, for_staff=True)  # staff see the gaps
    return TrialResult(query, str(result.decision), candidates, answer, mandarin=mandarin,
                       dialect=kb.dialect.matches(normalized), pinyin=typed_in_pinyin(query))


class EditedKbCache:
    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, str, str], KnowledgeBase] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kb: KnowledgeBase, edited: KbEntry, tokenizer: str) -> KnowledgeBase:
        key = (kb.revision, edited.id, edited.content_hash())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        built = kb_with_edit(kb, edited, tokenizer)
        with self._lock:
            self._items[key] = built
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return built


def kb_with_edit(kb: KnowledgeBase, edited: KbEntry, tokenizer: str = "jieba") -> KnowledgeBase:
    entries = [e for e in kb.entries.values() if e.id != edited.id]
    entries.append(edited.model_copy(update={"status": EntryStatus.published}))
    # No index_root: the temporary index lives in memory only and never replaces the served one.
    return KnowledgeBase.build(entries, kb.synonyms, kb.profile, config=kb.index.config,
                               calibration=kb.index.calibration, tokenizer=tokenizer, revision=kb.revision,
                               dialect=kb.dialect)
