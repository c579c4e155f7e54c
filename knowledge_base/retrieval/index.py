"""The hybrid index: build from entries, persist, load, search.

Documents are an entry's title and each similar question; an entry's signal is the best of its
documents, except the "bag" signal, which reads all of an entry's documents as one. The index directory is
keyed by a fingerprint of the published content, the synonyms and the retrieval settings, so a changed
knowledge base is rebuilt and an unchanged one is loaded.

A search scores the fast signals first; only when they leave the best entry unsure does it ask the pretrained
encoder too and score again with the model fitted with it (``fusion.Calibration.pretrained``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from knowledge_base.errors import IndexBuildError
from knowledge_base.models import KbEntry
from knowledge_base.retrieval.dense import (
    SentenceTransformerEncoder,
    StaticQueryEncoder,
    VectorIndex,
    make_encoder,
)
from knowledge_base.retrieval.fusion import (
    CENTROID,
    CENTROID_COLUMN,
    FAST_SIGNALS,
    PRETRAINED,
    PRETRAINED_COLUMN,
    SIGNALS,
    Calibration,
    Decision,
    Thresholds,
    decide,
)
from knowledge_base.retrieval.lexical import Bm25Signal
from knowledge_base.retrieval.pretrained import E5_SMALL, PretrainedEncoder, pretrained_encoder
from knowledge_base.retrieval.text_analysis import TextAnalyzer

log = logging.getLogger(__name__)

# Bump whenever what save() pickles changes shape (Bm25Signal's attributes, the encoder's files …): an index
# written by older code is then rebuilt instead of failing at the first search.
FORMAT_VERSION = 7
PRETRAINED_VECTORS = "pretrained.npy"
DENSE_CANDIDATES = 64
ALL_WORDS_UNKNOWN = 0.999
UNKNOWN_QUESTION_DAMPING = 0.5
# The best entry shares no word with the question and hardly a sound (红烧肉怎么做 → 烧纸防山火): characters and
# vectors alone are grounds to offer, never to answer. A typo (社宝卡) still shares the sounds.
NO_SHARED_SOUND = 0.3
GROUP_MEMO_SIZE = 4  # example sets kept embedded per index (two are used)


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    title: str
    score: float
    signals: dict[str, float]


@dataclass(frozen=True, eq=False)
class SearchScope:
    """The entries one search may return: a community's view of the shared index (issue 15) sees the city's
    entries and its own, never another community's. The others are out before scoring, so the gap features,
    the decision and the top k are those of the visible entries alone; the dense search runs over vector
    indexes holding only visible documents (the city's, shared by every view, and the community's own), so
    hidden documents neither cost time nor crowd the dense candidates."""

    visible: np.ndarray  # positions of the visible entries in the index, ascending
    dense: tuple[tuple[VectorIndex, np.ndarray], ...] = ()  # (vector index, its documents' ids in the index)


@dataclass
class SearchResult:
    query: str
    canonical: str
    candidates: list[Candidate]
    decision: Decision

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass
class RetrievalConfig:
    encoder: str = "static-trained"
    encoder_model_path: str = ""
    signals: tuple[str, ...] = SIGNALS  # the ablation switches some off
    thresholds: Thresholds = field(default_factory=Thresholds)
    pretrained: str = E5_SMALL  # the pretrained encoder ("" = none: the fast signals alone)
    pretrained_cache: str = ""  # a file keeping its document vectors across builds ("" = memory only)

    def pretrained_cache_file(self) -> Path | None:
        return Path(self.pretrained_cache) if self.pretrained_cache else None

    def fingerprint(self) -> str:
        pretrained = self.pretrained if PRETRAINED in self.signals else ""
        return f"{self.encoder}|{self.encoder_model_path}|{FORMAT_VERSION}|{pretrained}"


def content_fingerprint(entries: Sequence[KbEntry], synonyms: dict[str, str], config: RetrievalConfig,
                        dialect: Sequence[tuple[str, str]] = ()) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.id):
        digest.update(entry.id.encode())
        digest.update(entry.content_hash().encode())
    digest.update(json.dumps(sorted(synonyms.items()), ensure_ascii=False).encode())
    digest.update(config.fingerprint().encode())
    if dialect:  # an empty lexicon keeps the fingerprints of indexes built before it existed
        digest.update(json.dumps(list(dialect), ensure_ascii=False).encode())
    return digest.hexdigest()[:20]


class HybridIndex:
    def __init__(
        self,
        analyzer: TextAnalyzer,
        entry_ids: list[str],
        titles: list[str],
        doc_offsets: np.ndarray,
        lexical: dict[str, Bm25Signal],
        encoder: SentenceTransformerEncoder | StaticQueryEncoder | None,
        vectors: VectorIndex | None,
        doc_entry: np.ndarray,
        calibration: Calibration,
        config: RetrievalConfig,
        fingerprint: str = "",
        pretrained_vectors: np.ndarray | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.entry_ids = entry_ids
        self.titles = titles
        self.doc_offsets = doc_offsets
        self.lexical = lexical
        self.encoder = encoder
        self.vectors = vectors
        self.doc_entry = doc_entry
        self.calibration = calibration
        self.config = config
        self.fingerprint = fingerprint
        # One row per document, as ``vectors``; None when the signal is off or its encoder is missing here.
        self.pretrained_vectors = pretrained_vectors
        self.pretrained: PretrainedEncoder | None = None
        if pretrained_vectors is not None:
            self.pretrained = pretrained_encoder(config.pretrained)
            if self.pretrained is None or self.pretrained.dim != pretrained_vectors.shape[1]:
                self.pretrained, self.pretrained_vectors = None, None
        # One row per entry: the unit mean of its documents' pretrained vectors (fusion.CENTROID). Derived, not
        # saved: the shipped 6,842 rows take about 20 ms, once per build or load.
        self.pretrained_centroids: np.ndarray | None = None
        if self.pretrained_vectors is not None and CENTROID in config.signals:
            self.pretrained_centroids = entry_centroids(self.pretrained_vectors, doc_entry, len(entry_ids))
        self._positions = {entry_id: i for i, entry_id in enumerate(entry_ids)}
        # Example groups embedded for pretrained_margin and pretrained_nearest (the out-of-scope examples, the
        # emergency examples): a few fixed sets, each embedded once per index.
        self._groups: dict[tuple[tuple[str, ...], ...], tuple[np.ndarray, list[int]]] = {}

    # --- building ---
    @classmethod
    def build(
        cls,
        entries: Sequence[KbEntry],
        analyzer: TextAnalyzer,
        calibration: Calibration,
        config: RetrievalConfig | None = None,
        encoder: SentenceTransformerEncoder | None = None,
    ) -> HybridIndex:
        config = config or RetrievalConfig()
        if not entries:
            raise IndexBuildError("no published entries to index")
        started = time.perf_counter()
        entry_ids, titles, docs, doc_entry, offsets = [], [], [], [], []
        for position, entry in enumerate(entries):
            entry_ids.append(entry.id)
            titles.append(entry.title)
            offsets.append(len(docs))
            for text in entry.searchable_texts():
                docs.append(text)
                doc_entry.append(position)
        analyzed = analyzer.analyze_many(docs)
        lexical = {
            "word": Bm25Signal([a.words for a in analyzed]),
            "char": Bm25Signal([a.chars for a in analyzed]),
            "pinyin": Bm25Signal([a.pinyin for a in analyzed]),
        }
        bags: list[list[str]] = [[] for _ in entries]  # each entry's documents as one bag of words (fusion.SIGNALS)
        for position, words in zip(doc_entry, (a.words for a in analyzed), strict=True):
            bags[position].extend(words)
        lexical["bag"] = Bm25Signal(bags)
        vectors = None
        if "dense" in config.signals:
            if encoder is None:
                groups = [entry.searchable_texts() for entry in entries]
                encoder = make_encoder(
                    config.encoder,
                    prepare_tokens=analyzer.dense_tokens,
                    prepare_text=analyzer.canonical,
                    groups=groups,
                    model_path=config.encoder_model_path,
                )
            vectors = VectorIndex(encoder.encode(docs))
        pretrained_vectors = None
        if PRETRAINED in config.signals:
            pretrained = pretrained_encoder(config.pretrained)
            if pretrained is not None:
                pretrained_vectors = pretrained.encode_documents(docs, config.pretrained_cache_file())
        log.info("built index of %d entries / %d documents in %.2fs", len(entries), len(docs),
                 time.perf_counter() - started)
        return cls(analyzer, entry_ids, titles, np.asarray(offsets, dtype=np.int64), lexical, encoder, vectors,
                   np.asarray(doc_entry, dtype=np.int64), calibration, config, pretrained_vectors=pretrained_vectors)

    # --- scopes (community views) ---
    def vector_part(self, positions: np.ndarray) -> tuple[VectorIndex, np.ndarray] | None:
        """A vector index of the documents of the entries at ``positions``, with those documents' ids."""
        if self.vectors is None:
            return None
        documents = np.flatnonzero(np.isin(self.doc_entry, positions))
        return self.vectors.subset(documents), documents

    def scope(self, positions: np.ndarray, parts: Sequence[tuple[VectorIndex, np.ndarray] | None]) -> SearchScope:
        """The scope of the entries at ``positions``, whose documents ``parts`` must cover between them."""
        return SearchScope(np.unique(np.asarray(positions, dtype=np.int64)), tuple(p for p in parts if p is not None))

    # --- searching ---
    @property
    def has_pretrained(self) -> bool:
        """The pretrained signal can be computed and scored here."""
        return self.pretrained_vectors is not None and self.calibration.pretrained is not None

    def signal_matrix(self, query: str, scope: SearchScope | None = None, *,
                      pretrained: bool = True) -> tuple[str, np.ndarray, np.ndarray]:
        """(canonical query, entries × signals matrix of per-entry best document scores, query features).
        The pretrained column is left at 0 unless ``pretrained`` and the index has its vectors."""
        analyzed = self.analyzer.analyze_query(query)
        n = len(self.entry_ids)
        matrix = np.zeros((n, len(SIGNALS)), dtype=np.float32)
        streams = {"word": analyzed.words, "char": analyzed.chars, "pinyin": analyzed.pinyin}
        for column, name in enumerate(SIGNALS):
            if name not in self.config.signals:
                continue
            if name == "dense":
                if self.vectors is not None and self.encoder is not None and analyzed.canonical:
                    # Reuse this analysis: the encoder's own ``prepare`` would analyse the query again.
                    prepared = (self.analyzer.dense_tokens_of(analyzed) if self.config.encoder == "static-trained"
                                else analyzed.canonical)
                    query_vector = self.encoder.encode_prepared([prepared])[0]
                    if scope is None:
                        sims, ids = self.vectors.similarities(query_vector, DENSE_CANDIDATES)
                    else:
                        sims, ids = _scoped_similarities(query_vector, scope)
                    valid = ids >= 0
                    np.maximum.at(matrix[:, column], self.doc_entry[ids[valid]], np.clip(sims[valid], 0, 1))
                continue
            if name == PRETRAINED:  # fills the centroid column too
                if pretrained and analyzed.canonical:
                    self.fill_pretrained(analyzed.canonical, matrix)
                continue
            if name == CENTROID:
                continue
            if name == "bag":  # one document per entry: its scores are the entries' own
                if analyzed.words:
                    matrix[:, column] = self.lexical["bag"].scores(analyzed.words)
                continue
            if streams[name]:
                doc_scores = self.lexical[name].scores(streams[name])
                hits = np.flatnonzero(doc_scores)
                # Only matching documents count; on a large KB they are a small fraction of all.
                np.maximum.at(matrix[:, column], self.doc_entry[hits], doc_scores[hits])
        query_features = np.array([self.lexical["word"].unknown_share(analyzed.words) if analyzed.words else 1.0],
                                  dtype=np.float32)
        return analyzed.canonical, matrix, query_features

    def fill_pretrained(self, canonical: str, matrix: np.ndarray) -> None:
        """Write the pretrained cosines (best document, entry centroid) into ``matrix``'s columns (all entries'
        rows), when the index has them."""
        if self.pretrained is None or self.pretrained_vectors is None:
            return
        query_vector = self.pretrained.encode_queries([canonical])[0]
        similarities = self.pretrained_vectors @ query_vector
        column = np.zeros(len(self.entry_ids), dtype=np.float32)
        np.maximum.at(column, self.doc_entry, np.clip(similarities, 0, 1))
        matrix[:, PRETRAINED_COLUMN] = column
        if self.pretrained_centroids is not None:
            matrix[:, CENTROID_COLUMN] = np.clip(self.pretrained_centroids @ query_vector, 0, 1)

    def pretrained_margin(self, query: str, entry_id: str, others: Sequence[str]) -> float | None:
        """How much nearer the pretrained encoder puts ``query`` to ``entry_id``'s closest question than to the
        closest of ``others`` (a difference of cosines; every text read as the index reads a question). None
        without the encoder, or for an unknown entry or no ``others``. ``others`` are embedded once and kept."""
        position = self._positions.get(entry_id)
        if self.pretrained_vectors is None or position is None or not others:
            return None
        own = self.pretrained_vectors[self.doc_entry == position]
        found = self._nearest(query, (tuple(others),))
        if found is None or not len(own):
            return None
        query_vector, nearest = found
        return float((own @ query_vector).max()) - nearest[0]

    def pretrained_nearest(self, query: str, groups: Sequence[Sequence[str]]) -> list[float] | None:
        """The pretrained encoder's cosine of ``query`` with the closest text of each group (-1 for an empty
        group; every text read as the index reads a question). None without the encoder or for a query with
        nothing to read. The groups are embedded once and kept."""
        found = self._nearest(query, tuple(tuple(group) for group in groups))
        return None if found is None else found[1]

    def prepare_groups(self, groups: Sequence[Sequence[str]]) -> None:
        """Embed example groups now (``pretrained_nearest`` would on its first call), when the index has the encoder."""
        if self.pretrained is not None and self.pretrained_vectors is not None:
            self._group_vectors(tuple(tuple(group) for group in groups))

    def _nearest(self, query: str, groups: tuple[tuple[str, ...], ...]) -> tuple[np.ndarray, list[float]] | None:
        if self.pretrained is None or self.pretrained_vectors is None:
            return None
        canonical = self.analyzer.analyze_query(query).canonical
        if not canonical:
            return None
        query_vector = self.pretrained.encode_queries([canonical])[0]
        vectors, offsets = self._group_vectors(groups)
        similarities = vectors @ query_vector
        return query_vector, [float(similarities[start:end].max()) if end > start else -1.0
                              for start, end in pairwise(offsets)]

    def _group_vectors(self, groups: tuple[tuple[str, ...], ...]) -> tuple[np.ndarray, list[int]]:
        """All the groups' texts embedded as one matrix, and where each group starts (and the last ends)."""
        memo = self._groups.get(groups)
        if memo is None:
            texts = [self.analyzer.analyze_query(t).canonical or t for group in groups for t in group]
            offsets = [0]
            for group in groups:
                offsets.append(offsets[-1] + len(group))
            vectors = (self.pretrained.encode_documents(texts, self.config.pretrained_cache_file()) if texts  # type: ignore[union-attr]
                       else np.zeros((0, self.pretrained_vectors.shape[1]), dtype=np.float32))  # type: ignore[union-attr]
            memo = (vectors, offsets)
            if len(self._groups) >= GROUP_MEMO_SIZE:
                self._groups.pop(next(iter(self._groups)))
            self._groups[groups] = memo
        return memo

    def search(self, query: str, k: int = 5, scope: SearchScope | None = None) -> SearchResult:
        """The top ``k`` entries for ``query``, among those of ``scope`` when given (see ``SearchScope``)."""
        canonical, full_matrix, query_features = self.signal_matrix(query, scope, pretrained=False)
        if not canonical:
            return SearchResult(query, canonical, [], Decision.no_answer)
        positions, matrix = None, full_matrix
        if scope is not None:
            positions, matrix = scope.visible, full_matrix[scope.visible]
            if not len(positions):
                return SearchResult(query, canonical, [], Decision.no_answer)
        scores = self.calibration.score(matrix, query_features)
        matched = matrix.any()  # before the pretrained cosine, which is above 0 for every entry
        signals = FAST_SIGNALS
        if matched and self.has_pretrained and scores.max() < self.config.thresholds.pretrained_below:
            signals = SIGNALS
            self.fill_pretrained(canonical, full_matrix)
            matrix = full_matrix if positions is None else full_matrix[positions]
            scores = self.calibration.pretrained.score(matrix, query_features)  # type: ignore[union-attr]
        if query_features[0] >= ALL_WORDS_UNKNOWN:
            # Not one word of the question occurs in the knowledge base (房贷利率): whatever matches is
            # made of characters and vectors alone, which is grounds to offer, never to answer.
            scores = scores * UNKNOWN_QUESTION_DAMPING
        if not matched:
            scores = np.zeros_like(scores)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        candidates = [
            Candidate(
                self.entry_ids[i if positions is None else positions[i]],
                self.titles[i if positions is None else positions[i]],
                float(scores[i]),
                {name: float(matrix[i, c]) for c, name in enumerate(signals)},  # the pretrained one if asked
            )
            for i in top
        ]
        all_unknown = query_features[0] >= ALL_WORDS_UNKNOWN
        decision = decide([c.score for c in candidates], self.config.thresholds, allow_dominant=not all_unknown)
        if all_unknown and decision == Decision.answer:
            decision = Decision.clarify  # offered, never answered (股票 is not 发票)
        elif decision == Decision.answer and _shares_nothing(candidates[0]):
            decision = Decision.clarify
        return SearchResult(query, canonical, candidates, decision)

    # --- persistence ---
    def save(self, directory: Path) -> None:
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        state = {
            "format": FORMAT_VERSION,
            "entry_ids": self.entry_ids,
            "titles": self.titles,
            "doc_offsets": self.doc_offsets,
            "doc_entry": self.doc_entry,
            "lexical": self.lexical,
            "calibration": self.calibration,
            "config": self.config,
            "fingerprint": self.fingerprint,
        }
        with (tmp / "index.pkl").open("wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if self.vectors is not None and self.encoder is not None:
            self.vectors.save(tmp / "vectors.faiss")
            self.encoder.save(tmp / "encoder")
        if self.pretrained_vectors is not None:
            np.save(tmp / PRETRAINED_VECTORS, self.pretrained_vectors, allow_pickle=False)
        # Replace atomically so a concurrent reader never sees half an index.
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, analyzer: TextAnalyzer) -> HybridIndex:
        try:
            with (directory / "index.pkl").open("rb") as fh:
                state = pickle.load(fh)  # our own file, written by save()
        except Exception as exc:  # a damaged file fails in many ways (EOF, bad opcode, missing class …)
            raise IndexBuildError(f"cannot load index from {directory}: {exc!r}") from exc
        if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
            raise IndexBuildError(f"index at {directory} has an old format")
        lexical = state.get("lexical")
        if not isinstance(lexical, dict) or any(
            not isinstance(signal, Bm25Signal) or set(vars(signal)) != _bm25_attributes()
            for signal in lexical.values()
        ):
            raise IndexBuildError(f"index at {directory} was written by another version of the code")
        encoder = vectors = None
        try:
            if (directory / "vectors.faiss").exists():
                vectors = VectorIndex.load(directory / "vectors.faiss")
                prepare = analyzer.dense_tokens if state["config"].encoder == "static-trained" else analyzer.canonical
                encoder = StaticQueryEncoder.load(directory / "encoder", prepare) or \
                    SentenceTransformerEncoder.load(directory / "encoder", prepare)
            pretrained_vectors = None
            if (directory / PRETRAINED_VECTORS).exists():
                pretrained_vectors = np.load(directory / PRETRAINED_VECTORS, allow_pickle=False)
                if pretrained_vectors.shape[0] != len(state["doc_entry"]):
                    raise IndexBuildError(f"index at {directory}: pretrained vectors do not match its documents")
            return cls(analyzer, state["entry_ids"], state["titles"], state["doc_offsets"], state["lexical"], encoder,
                       vectors, state["doc_entry"], state["calibration"], state["config"], state["fingerprint"],
                       pretrained_vectors=pretrained_vectors)
        except (RuntimeError, KeyError, AttributeError, ValueError, OSError, EOFError) as exc:  # faiss raises RuntimeError on a damaged file
            raise IndexBuildError(f"cannot load index from {directory}: {exc!r}") from exc


def _scoped_similarities(query_vector: np.ndarray, scope: SearchScope) -> tuple[np.ndarray, np.ndarray]:
    """The best DENSE_CANDIDATES documents of the scope's vector indexes, as (similarities, document ids)."""
    found = [(sims, documents[ids[ids >= 0]], ids >= 0)
             for index, documents in scope.dense
             for sims, ids in (index.similarities(query_vector, DENSE_CANDIDATES),)]
    if not found:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    sims = np.concatenate([s[valid] for s, _, valid in found])
    ids = np.concatenate([d for _, d, _ in found])
    if len(sims) > DENSE_CANDIDATES:
        best = np.argpartition(-sims, DENSE_CANDIDATES - 1)[:DENSE_CANDIDATES]
        sims, ids = sims[best], ids[best]
    return sims, ids


@lru_cache(maxsize=1)
def _bm25_attributes() -> frozenset[str]:
    """The attributes a Bm25Signal of this code has (a pickled one from older code may lack some)."""
    return frozenset(vars(Bm25Signal([["a"]])))


def _shares_nothing(candidate: Candidate) -> bool:
    return candidate.signals.get("word", 1.0) == 0.0 and candidate.signals.get("pinyin", 1.0) < NO_SHARED_SOUND


def entry_centroids(vectors: np.ndarray, doc_entry: np.ndarray, entries: int) -> np.ndarray:
    """(entries × dim) unit mean of each entry's document vectors; an entry without documents gets zeros."""
    sums = np.zeros((entries, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, doc_entry, vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
