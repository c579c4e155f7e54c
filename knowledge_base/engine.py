"""The knowledge base as the rest of the system uses it: entries, synonyms, profile and the index.

``KnowledgeBase.build`` takes published entries from wherever they are stored (the shipped YAML or the
database) and either loads a persisted index with the same fingerprint or builds and saves one.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from knowledge_base.dialect import DialectLexicon
from knowledge_base.errors import IndexBuildError
from knowledge_base.models import ASPECTS, EntryStatus, KbEntry
from knowledge_base.profile import CommunityProfile
from knowledge_base.retrieval.fusion import Calibration
from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig, SearchResult, content_fingerprint
from knowledge_base.retrieval.text_analysis import TextAnalyzer, make_tokenizer
from knowledge_base.synonyms import SynonymDictionary

log = logging.getLogger(__name__)

T = TypeVar("T")
DATA_DIR = Path(__file__).resolve().parent / "data"
CALIBRATION_FILE = DATA_DIR / "calibration.json"
USER_DICT = DATA_DIR / "userdict.txt"
KEEP_OLD_INDEXES = 2


# Characters that glue onto a neighbour when a spoken sentence is segmented (最多能, 要排, 做要).
SCRAP_FUNCTION_CHARS = "要能会想去来做给把被让在是有了的吗呢吧啊呀嘛个就都也还再得着过"


@dataclass
class KnowledgeBase:
    entries: dict[str, KbEntry]
    synonyms: SynonymDictionary
    profile: CommunityProfile
    index: HybridIndex
    build_seconds: float = 0.0
    loaded_from_disk: bool = False
    revision: int = 0
    dialect: DialectLexicon = field(default_factory=DialectLexicon)
    _rendered: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        entries: Sequence[KbEntry],
        synonyms: SynonymDictionary,
        profile: CommunityProfile,
        *,
        index_root: Path | None = None,
        config: RetrievalConfig | None = None,
        calibration: Calibration | None = None,
        tokenizer: str = "jieba",
        revision: int = 0,
        dialect: DialectLexicon | None = None,
    ) -> KnowledgeBase:
        config = config or RetrievalConfig()
        dialect = dialect or DialectLexicon()
        published = [e for e in entries if e.status == EntryStatus.published]
        analyzer = make_analyzer(synonyms, tokenizer, dialect)
        if calibration is None:
            calibration = load_calibration()
        started = time.perf_counter()
        fingerprint = content_fingerprint(published, synonyms.mapping, config, dialect.fingerprint_items()) + \
            f"-{tokenizer}"
        index = None
        loaded = False
        if index_root is not None:
            directory = index_root / fingerprint
            if (directory / "index.pkl").exists():
                try:
                    index = HybridIndex.load(directory, analyzer)
                    index.calibration = calibration
                    index.config = config
                    loaded = True
                except IndexBuildError as exc:
                    log.warning("rebuilding index: %s", exc)
        if index is None:
            index = HybridIndex.build(published, analyzer, calibration, config)
            index.fingerprint = fingerprint
            if index_root is not None:
                index_root.mkdir(parents=True, exist_ok=True)
                index.save(index_root / fingerprint)
                _prune_old_indexes(index_root, keep=fingerprint)
        return cls({e.id: e for e in published}, synonyms, profile, index, time.perf_counter() - started, loaded,
                   revision, dialect)

    def search(self, query: str, k: int = 5) -> SearchResult:
        return self.index.search(query, k)

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """A value computed from this knowledge base once (it never changes: a new revision is a new object)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    @property
    def referral_ids(self) -> frozenset[str]:
        """The entries of kind referral."""
        return self.derived("referral_ids", lambda: frozenset(e.id for e in self.entries.values() if e.is_referral))

    def vocabulary(self, entry_id: str) -> frozenset[str]:
        """The retrieval words of an entry (title, questions, answer, aspects): what it can be said to be about."""
        def words() -> frozenset[str]:
            entry = self.entries[entry_id]
            texts = [*entry.searchable_texts(), entry.answer, *entry.aspects.present().values()]
            return frozenset(w for t in texts for w in self.index.analyzer.analyze(t).words)

        return self.derived(f"vocabulary:{entry_id}", words)

    def known_words(self) -> frozenset[str]:
        """Every word some entry uses: a word outside it (a segmentation scrap like 要排) tells no topic apart."""
        return self.derived("vocabulary:*", lambda: frozenset().union(*(self.vocabulary(e) for e in self.entries)))

    def is_scrap(self, word: str, also_known: frozenset[str] = frozenset()) -> bool:
        """A segmentation scrap, not a word: unknown to every entry, and a known word (or nothing) once the
        function characters at its ends are taken off — 最多能 (最多 + 能), 要排, 做要. 股票 and 猫咪 are words.
        ``also_known``: more words that count as known (the aspect table's)."""
        known = self.known_words()
        if word in known or word in also_known:
            return False
        core = word.strip(SCRAP_FUNCTION_CHARS)
        return len(core) <= 1 or core in known or core in also_known

    def uncovered_words(self, query: str, entry_id: str) -> list[str]:
        """Words of ``query`` (two characters or more) that the entry never uses: 社保卡 for 辅助器具."""
        return self.uncovered(self.index.analyzer.analyze_query(query).words, entry_id)

    def uncovered(self, words: list[str], entry_id: str) -> list[str]:
        """``uncovered_words`` for words the caller has already analysed."""
        vocabulary = self.vocabulary(entry_id)
        return [w for w in words if len(w) >= 2 and w not in vocabulary]

    def to_mandarin(self, normalized: str) -> str:
        """A normalised message with its dialect forms rewritten (what every later stage reads)."""
        return self.dialect.apply(normalized)

    def get(self, entry_id: str) -> KbEntry | None:
        return self.entries.get(entry_id)

    def rendered_answer(self, entry_id: str, *, for_staff: bool = False) -> str:
        """The answer with the profile filled in; ``for_staff`` (试一试) marks unknown details instead of
        degrading the sentence around them."""
        if for_staff:
            return self.profile.render(self.entries[entry_id].answer, for_staff=True)
        return self._render(entry_id, "answer")

    def rendered_aspect(self, entry_id: str, aspect: str) -> str | None:
        if aspect not in ASPECTS:
            raise KeyError(aspect)
        entry = self.entries[entry_id]
        if not getattr(entry.aspects, aspect):
            return None
        return self._render(entry_id, aspect)

    def _render(self, entry_id: str, field_name: str) -> str:
        key = (entry_id, field_name)
        if key not in self._rendered:
            entry = self.entries[entry_id]
            raw = entry.answer if field_name == "answer" else getattr(entry.aspects, field_name)
            self._rendered[key] = self.profile.render(raw or "")
        return self._rendered[key]


def make_analyzer(synonyms: SynonymDictionary, tokenizer: str = "jieba",
                  dialect: DialectLexicon | None = None) -> TextAnalyzer:
    extra = synonyms.canonical_terms() | set(synonyms.mapping)
    return TextAnalyzer(make_tokenizer(tokenizer, USER_DICT, extra), synonyms, dialect)


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    if path.exists():
        try:
            return Calibration.load(path)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring calibration file %s: %s", path, exc)
    return Calibration()


def _prune_old_indexes(root: Path, keep: str) -> None:
    directories = sorted((p for p in root.iterdir() if p.is_dir() and p.name != keep and "." not in p.name),
                         key=lambda p: p.stat().st_mtime, reverse=True)
    for old in directories[KEEP_OLD_INDEXES:]:
        shutil.rmtree(old, ignore_errors=True)
