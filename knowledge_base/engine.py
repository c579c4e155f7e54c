"""The knowledge base as the rest of the system uses it: entries, synonyms, profile and the index.

``KnowledgeBase.build`` takes published entries from wherever they are stored (the shipped YAML or the
database) and either loads a persisted index with the same fingerprint or builds and saves one.

Communities (issue 15): the index also holds every community's local entries; the knowledge base built is
the city's (local entries hidden), and ``for_community(code)`` is a light view of it for one community's
residents — its overrides applied, its local entries visible, its profile — that shares the index.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from knowledge_base.dialect import DialectLexicon
from knowledge_base.errors import IndexBuildError
from knowledge_base.models import ASPECTS, EntryStatus, KbEntry
from knowledge_base.overlays import Overlay
from knowledge_base.profile import CommunityProfile
from knowledge_base.retrieval.fusion import Calibration
from knowledge_base.retrieval.index import (
    HybridIndex,
    RetrievalConfig,
    SearchResult,
    SearchScope,
    content_fingerprint,
)
from knowledge_base.retrieval.text_analysis import (
    HomophoneCorrector,
    JiebaTokenizer,
    TextAnalyzer,
    make_tokenizer,
    user_dict_words,
)
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
    # Communities (issue 15). ``community`` is None for the city knowledge base itself, else a view's code.
    overlays: Mapping[str, Overlay] = field(default_factory=dict, repr=False)
    profiles: Mapping[str, CommunityProfile] = field(default_factory=dict, repr=False)
    default_community: str | None = None
    community: str | None = None
    _scope: SearchScope | None = field(default=None, repr=False, compare=False)  # None: the whole index is this KB's
    _city: KnowledgeBase | None = field(default=None, repr=False, compare=False)
    _views: dict[str, KnowledgeBase] = field(default_factory=dict, repr=False, compare=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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
        overlays: Sequence[Overlay] = (),
        profiles: Mapping[str, CommunityProfile] | None = None,
        default_community: str | None = None,
    ) -> KnowledgeBase:
        """``entries``: the city's; ``overlays``: each community's overrides and local entries (one index
        holds them all); ``profiles``: each community's profile by code (``profile`` stays the city's)."""
        config = config or RetrievalConfig()
        dialect = dialect or DialectLexicon()
        city = [e for e in entries if e.status == EntryStatus.published]
        local = [e for overlay in overlays for e in overlay.entries if e.status == EntryStatus.published]
        published = city + local  # no overlays: exactly the city's index (same fingerprint, same results)
        analyzer = make_analyzer(synonyms, tokenizer, dialect, titles=[e.title for e in published])
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
        knowledge = cls({e.id: e for e in city}, synonyms, profile, index, time.perf_counter() - started, loaded,
                        revision, dialect, overlays={o.code: o for o in overlays}, profiles=dict(profiles or {}),
                        default_community=default_community)
        knowledge._scope = knowledge._scope_for(None)
        return knowledge

    def search(self, query: str, k: int = 5) -> SearchResult:
        return self.index.search(query, k, scope=self._scope)

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
        city = self._city
        if city is not None and city.entries.get(entry_id) is self.entries.get(entry_id):
            return city.vocabulary(entry_id)  # a city entry this community did not override: computed once

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
        function characters at its ends are taken off — 最多能 (最多 + 能), 要排, 做要 — or a known word and one more
        character (最多贷). 股票 and 猫咪 are words.
        ``also_known``: more words that count as known (the aspect table's)."""
        known = self.known_words()
        if word in known or word in also_known:
            return False
        core = word.strip(SCRAP_FUNCTION_CHARS)
        if len(core) >= 3 and any(part in known or part in also_known for part in (core[:-1], core[1:])):
            return True  # a known word glued to one more character: 最多贷 (最多 + 贷), 要交够 (要交 + 够)
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

    def for_community(self, code: str | None) -> KnowledgeBase:
        """The knowledge base as residents of community ``code`` see it: the city entries with its overrides,
        its local entries (never another community's), its profile. ``None`` or an unknown code: the default
        community. Built once per (revision, community); a community with nothing of its own is the city KB."""
        city = self._city or self
        if code is None or (code not in city.profiles and code not in city.overlays):
            code = city.default_community
        if code is None or (code not in city.overlays and city.profiles.get(code, city.profile) == city.profile):
            return city
        view = city._views.get(code)
        if view is None:
            with city._views_lock:
                view = city._views.get(code) or city._view(code)
                city._views[code] = view
        return view

    def _view(self, code: str) -> KnowledgeBase:
        overlay = self.overlays.get(code) or Overlay(code)
        entries = dict(self.entries)
        for entry_id, override in overlay.overrides.items():
            if entry_id in entries:  # a city entry archived since: the override has nothing to change
                entries[entry_id] = override.apply(entries[entry_id])
        entries.update((e.id, e) for e in overlay.entries if e.status == EntryStatus.published)
        view = KnowledgeBase(entries, self.synonyms, self.profiles.get(code, self.profile), self.index,
                             self.build_seconds, self.loaded_from_disk, self.revision, self.dialect,
                             overlays=self.overlays, profiles=self.profiles,
                             default_community=self.default_community, community=code)
        view._city = self
        view._scope = self._scope_for(code)
        if not overlay.overrides and not overlay.entries:
            # Only the profile differs: everything derived from the entries is the city's (one copy, and no
            # first turn per community spent recomputing it); renderings stay per view.
            view._derived = self._derived
        return view

    def _scope_for(self, code: str | None) -> SearchScope | None:
        """What the city (``None``) or community ``code`` may retrieve from the shared index (called on the
        city KB); None when the index holds no local entry: a search is then exactly what it was before."""
        positions = {entry_id: i for i, entry_id in enumerate(self.index.entry_ids)}
        if len(positions) == len(self.entries):
            return None
        if code is None or self._scope is None:
            city = np.array(sorted(positions[entry_id] for entry_id in self.entries), dtype=np.int64)
            return self.index.scope(city, [self.index.vector_part(city)])
        overlay = self.overlays.get(code)
        own = np.array([positions[e.id] for e in (overlay.entries if overlay else ()) if e.id in positions],
                       dtype=np.int64)
        if not len(own):
            return self._scope
        return self.index.scope(np.concatenate([self._scope.visible, own]),
                                [*self._scope.dense, self.index.vector_part(own)])

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
                  dialect: DialectLexicon | None = None, titles: Iterable[str] = ()) -> TextAnalyzer:
    """``titles``: the entries' titles, whose words typos are corrected to as well (驾使证 → 驾驶证)."""
    extra = synonyms.canonical_terms() | set(synonyms.mapping)
    made = make_tokenizer(tokenizer, USER_DICT, extra)
    homophones = None
    if isinstance(made, JiebaTokenizer):
        # The terms typos are corrected to: the KB's own terms first, then the user dictionary's words, then the
        # words of the titles (a typo of 驾驶证 must not become the nearest listed term that sounds like part of it).
        terms = [*sorted(synonyms.canonical_terms()), *user_dict_words(USER_DICT),
                 *(word for title in sorted(titles) for word in made.tokenize(title))]
        homophones = HomophoneCorrector(terms, made.is_word, made.tokenize)
    return TextAnalyzer(made, synonyms, dialect, homophones)


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
