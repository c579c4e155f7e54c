"""Groups unanswered questions by the need behind them, so fifty phrasings of one gap show as one row.

Texts are normalised (the KB's synonym dictionary maps 退休金→养老金 and so on, punctuation dropped),
identical texts are counted once with their frequency, then character 1–3-gram TF-IDF vectors are grouped
by agglomerative clustering with average linkage on cosine distance, cut at ``distance_threshold``.
Chinese has no spaces, so character n-grams carry both words and the typos residents make.

Groups that share no characters but mean the same (天气/下雨, 医保报销/看病报销) are then merged with the
knowledge base's own dense encoder (the one retrieval uses): two groups whose mean vectors are at least
``MERGE_SIMILARITY`` alike become one. Texts made of words the encoder does not know (哈哈哈, asdf) all look
like its unknown-word vector, so groups that close to it are never merged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.clock import china_midnight
from assistant.communities.scope import scope
from assistant.storage.models import UnansweredQuery
from knowledge_base.engine import KnowledgeBase
from knowledge_base.retrieval.dense import Encoder
from knowledge_base.synonyms import SynonymDictionary

log = logging.getLogger(__name__)

DISTANCE_THRESHOLD = 0.8
# Cosine of two groups' mean vectors in the KB encoder from which they are one need. Measured on the shipped
# KB's trained encoder: 天气/下雨 0.41, 医保报销/看病报销 0.51, unrelated gaps (狗证, 上牌, 停车 …) ≤ 0.2.
MERGE_SIMILARITY = 0.35
# … raised, for an encoder that tells topics apart less well (one trained on a handful of entries), to how
# alike this share of pairs of *different* KB entries look in it (shipped KB: 0.33; a 6-entry KB: 0.53).
DISTINCT_ENTRIES_PERCENTILE = 99.0
# A group's vector this close to the encoder's unknown-word vector carries nothing the encoder knows.
UNKNOWN_LIKENESS = 0.5
_UNKNOWN_PROBE = "\ue000"  # a private-use character: no vocabulary has it
MAX_MERGE_TEXTS = 20  # texts per group that make its mean vector (the most frequent ones)
MAX_UNIQUE_TEXTS = 1500  # agglomerative clustering is quadratic in memory; rarer texts join the nearest group
MAX_ROWS = 20_000
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
# Politeness and question frames say nothing about the need; without them the content words decide.
_FILLER = re.compile(
    r"(请问|你好|您好|我想问|想问|想了解|了解|一下|谢谢|麻烦|怎么办理|怎样办理|如何办理|怎么办|怎么弄|怎么申请|"
    r"如何申请|怎么|如何|怎样|在哪里办|在哪办|去哪里办|去哪里|去哪|在哪里|在哪|哪里|要钱吗|要多少钱|多少钱|"
    r"需要什么|要什么|有没有|能不能|可不可以|可以吗|是什么|吗|呢|啊|呀|吧|嘛|的|了)")
_SAME_WORD = (("老年人", "老人"), ("老人家", "老人"), ("长者", "老人"), ("公交车", "公交"), ("乘车", "坐车"))
REASON_LABELS = {"fallback": "答不上来", "low_confidence": "把握不大", "thumbs_down": "居民点了👎"}


@dataclass
class Cluster:
    key: str
    ids: list[int]
    phrasings: list[tuple[str, int]]  # (text as typed, how many times), most frequent first
    channels: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    representative: str = ""
    suggestions: list[tuple[str, str, float]] = field(default_factory=list)  # (entry id, title, score)

    @property
    def count(self) -> int:
        return len(self.ids)


def normalise(text: str, synonyms: SynonymDictionary | None = None) -> str:
    text = text.lower()
    if synonyms is not None:
        text = synonyms.apply(text)
    text = _PUNCT.sub("", text)
    for variant, word in _SAME_WORD:
        text = text.replace(variant, word)
    return _FILLER.sub("", text) or text


def load_open(session: Session, start: dt.date | None = None, end: dt.date | None = None,
              channel: str = "", reason: str = "", who: object = None) -> list[UnansweredQuery]:
    query = select(UnansweredQuery).where(UnansweredQuery.status == "open")
    if start:
        query = query.where(UnansweredQuery.created_at >= china_midnight(start))  # the days staff pick are China days
    if end:
        query = query.where(UnansweredQuery.created_at < china_midnight(end + dt.timedelta(days=1)))
    if channel:
        query = query.where(UnansweredQuery.channel == channel)
    if reason:
        query = query.where(UnansweredQuery.reason == reason)
    query = scope(query, UnansweredQuery, who)  # a staff user or a community code: that community's only
    return list(session.scalars(query.order_by(UnansweredQuery.created_at.desc()).limit(MAX_ROWS)))


def _labels(texts: list[str], threshold: float) -> np.ndarray:
    if len(texts) == 1:
        return np.zeros(1, dtype=int)
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(texts)
    # Rows are L2-normalised, so the sparse product is the cosine similarity; a precomputed n×n distance
    # matrix is far smaller than the dense n×vocabulary matrix the "cosine" metric would build.
    distances = np.clip(1.0 - (vectors @ vectors.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                    distance_threshold=threshold)
    return model.fit_predict(distances)


def cluster_queries(rows: list[UnansweredQuery], synonyms: SynonymDictionary | None = None,
                    threshold: float = DISTANCE_THRESHOLD, encoder: Encoder | None = None,
                    merge_similarity: float = MERGE_SIMILARITY) -> list[Cluster]:
    """Clusters, largest first; every row belongs to exactly one. With ``encoder`` (the KB's), groups that
    mean the same are merged."""
    if not rows:
        return []
    by_text: dict[str, list[UnansweredQuery]] = {}
    for row in rows:
        key = normalise(row.query, synonyms) or row.query
        by_text.setdefault(key, []).append(row)
    texts = sorted(by_text, key=lambda t: -len(by_text[t]))
    head, tail = texts[:MAX_UNIQUE_TEXTS], texts[MAX_UNIQUE_TEXTS:]
    labels = list(_labels(head, threshold))
    if tail:
        labels += list(_nearest(head, labels, tail, threshold))
    groups: dict[int, list[str]] = {}
    for text, label in zip(head + tail, labels, strict=True):
        groups.setdefault(int(label), []).append(text)
    members_list = list(groups.values())
    if encoder is not None and len(members_list) > 1:
        counts = {text: len(found) for text, found in by_text.items()}
        members_list = merge_same_meaning(members_list, counts, encoder, merge_similarity)
    clusters = [_make_cluster([r for t in members for r in by_text[t]]) for members in members_list]
    clusters.sort(key=lambda c: (-c.count, c.representative))
    return clusters


def merge_threshold(kb: KnowledgeBase, floor: float = MERGE_SIMILARITY) -> float:
    """``floor``, or how alike different entries of this KB look to its encoder if that is higher."""
    encoder = kb.index.encoder
    if encoder is None or len(kb.entries) < 2:
        return floor

    def compute() -> float:
        means = []
        for entry in kb.entries.values():
            vectors = encoder.encode([normalise(q, kb.synonyms) for q in (entry.title, *entry.questions)])
            means.append(_unit(vectors.sum(axis=0)))
        matrix = np.array(means)
        upper = np.triu_indices(len(means), 1)
        return float(np.percentile((matrix @ matrix.T)[upper], DISTINCT_ENTRIES_PERCENTILE))

    return max(floor, kb.derived("unanswered-merge-threshold", compute))


def merge_same_meaning(groups: list[list[str]], counts: dict[str, int], encoder: Encoder,
                       similarity: float = MERGE_SIMILARITY) -> list[list[str]]:
    """Merges groups of normalised texts whose mean vectors in ``encoder`` are at least ``similarity`` alike.

    Largest groups first; each group joins the most similar group kept so far (whose mean then takes it in),
    so a merge never chains through a series of slightly different groups.
    """
    order = sorted(range(len(groups)), key=lambda i: -sum(counts.get(t, 1) for t in groups[i]))
    try:
        unknown = encoder.encode_prepared([_UNKNOWN_PROBE])[0]
        texts = [sorted(groups[i], key=lambda t: -counts.get(t, 1))[:MAX_MERGE_TEXTS] for i in order]
        vectors = encoder.encode([t for group in texts for t in group])
    except Exception:  # the encoder is an optimisation of the page: without it the groups stay as they are
        log.exception("could not encode unanswered questions; clusters not merged by meaning")
        return groups
    kept: list[list[str]] = []
    sums: list[np.ndarray] = []
    position = 0
    for index, group_texts in zip(order, texts, strict=True):
        weights = np.array([counts.get(t, 1) for t in group_texts], dtype=np.float32)[:, None]
        total = (vectors[position:position + len(group_texts)] * weights).sum(axis=0)
        position += len(group_texts)
        mean = _unit(total)
        target = -1
        if kept and float(mean @ unknown) < UNKNOWN_LIKENESS:
            alike = np.array([_unit(s) @ mean for s in sums])
            for candidate in np.argsort(-alike):
                if alike[candidate] < similarity:
                    break
                if float(_unit(sums[candidate]) @ unknown) < UNKNOWN_LIKENESS:
                    target = int(candidate)
                    break
        if target >= 0:
            kept[target] = kept[target] + groups[index]
            sums[target] = sums[target] + total
        else:
            kept.append(list(groups[index]))
            sums.append(total)
    return kept


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _nearest(head: list[str], labels: list[int], tail: list[str], threshold: float) -> list[int]:
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(head + tail)
    similarity = (vectorizer.transform(tail) @ vectorizer.transform(head).T).toarray()
    next_label = max(labels) + 1
    result = []
    for row in similarity:
        best = int(row.argmax())
        if 1.0 - row[best] <= threshold:
            result.append(labels[best])
        else:
            result.append(next_label)
            next_label += 1
    return result


def _make_cluster(rows: list[UnansweredQuery]) -> Cluster:
    phrasings = Counter(r.query for r in rows).most_common()
    ids = sorted(r.id for r in rows)
    key = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:12]
    times = [r.created_at for r in rows if r.created_at is not None]
    return Cluster(key=key, ids=ids, phrasings=phrasings, channels=Counter(r.channel for r in rows),
                   reasons=Counter(r.reason for r in rows), first=min(times) if times else None,
                   last=max(times) if times else None, representative=phrasings[0][0])


def suggest_entries(kb: KnowledgeBase, cluster: Cluster, k: int = 3, probes: int = 3) -> list[tuple[str, str, float]]:
    """Likely entries for a cluster: KB search of its most frequent phrasings, scores summed per entry."""
    totals: dict[str, float] = {}
    titles: dict[str, str] = {}
    for text, _count in cluster.phrasings[:probes]:
        for candidate in kb.search(text[:200], k).candidates:
            if candidate.score <= 0:
                continue
            totals[candidate.entry_id] = totals.get(candidate.entry_id, 0.0) + candidate.score
            titles[candidate.entry_id] = candidate.title
    probes_used = max(1, min(probes, len(cluster.phrasings)))
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:k]
    return [(entry_id, titles[entry_id], score / probes_used) for entry_id, score in ranked]
