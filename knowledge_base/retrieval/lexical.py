"""BM25 (bm25s) over one token stream, with scores made comparable across queries.

A raw BM25 score grows with the query's length and rarity, so it cannot be thresholded. Each score is
divided by the query's *self score* — what the query would earn against a document identical to
itself under the same statistics — giving roughly the share of the query's weight a document matches.
Tokens the index has never seen count at the highest idf: a question about 护照 that matches only
办/多久 keeps a low share, which is what rejects near-miss questions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np

K1 = 1.2
B = 0.75
# Tokens in more than this share of documents (怎么, 办理 …) carry almost no BM25 weight but have the
# longest postings: skipping them on both sides of the share keeps a 20,000-entry query fast.
MAX_DOC_FREQUENCY = 0.15
# Only on large corpora: in a small knowledge base (a community's first few entries) its main topic words
# are in more than 15 % of the questions, and skipping them would switch off matching on them.
MIN_DOCS_TO_SKIP_COMMON = 1000


class Bm25Signal:
    def __init__(self, corpus_tokens: Sequence[Sequence[str]]) -> None:
        documents = [list(tokens) if tokens else ["\u0000"] for tokens in corpus_tokens]
        self.n_docs = len(documents)
        self.avgdl = float(np.mean([len(d) for d in documents])) if documents else 1.0
        df: Counter[str] = Counter()
        for tokens in documents:
            df.update(set(tokens))
        self.idf = {token: self._idf(count) for token, count in df.items()}
        self._too_common = {t for t, c in df.items()
                            if c > MAX_DOC_FREQUENCY * self.n_docs and self.n_docs > MIN_DOCS_TO_SKIP_COMMON}
        self.max_idf = self._idf(1)
        self.model = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.model.index(documents, show_progress=False)
        self._known = set(self.model.vocab_dict)

    def _idf(self, df: int) -> float:
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def self_score(self, tokens: Sequence[str], length: int | None = None) -> float:
        """What ``tokens`` earn against a document identical to the query, which has ``length`` tokens
        (default: ``len(tokens)``; larger when some of the query's tokens are left out of the sum)."""
        counts = Counter(tokens)
        length_norm = 1 - B + B * (len(tokens) if length is None else length) / self.avgdl
        total = 0.0
        for token, tf in counts.items():
            idf = self.idf.get(token, self.max_idf)
            # bm25s adds a token's contribution once per occurrence in the query, and its "lucene" method
            # scores tf / (tf + k1·norm) without the classic (k1 + 1) factor: the self score must match.
            total += tf * idf * tf / (tf + K1 * length_norm)
        return total

    def unknown_share(self, tokens: Sequence[str]) -> float:
        """Share of the query's self score carried by tokens no document contains (护照 in 办护照要多久)."""
        total = self.self_score(tokens)
        if total <= 0:
            return 0.0
        unknown = [t for t in tokens if t not in self.idf]
        return self.self_score(unknown) / total if unknown else 0.0

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Per-document share of the query's weight matched, in [0, 1]."""
        query_length = len(tokens)
        tokens = [t for t in tokens if t not in self._too_common]
        known = [t for t in tokens if t in self._known]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        raw = self.model.get_scores(known)
        # A document identical to the query still has all its tokens, common ones included.
        denominator = self.self_score(tokens, length=query_length)
        if denominator <= 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.clip(raw / denominator, 0.0, 1.0).astype(np.float32)
