"""Dense sentence vectors: a sentence-transformers encoder and a FAISS inner-product index.

Two encoder modes behind one ``Encoder`` seam:
- ``static-trained`` (default): no Chinese model can be downloaded here, so the project trains a
  sentence-transformers ``StaticEmbedding`` from the knowledge base's own questions with
  MultipleNegativesRankingLoss (questions of one entry are positives, the rest of the batch negatives).
  Its vocabulary is the analyzer's words and characters; it trains in seconds on CPU.
- ``sentence-transformers``: a local checkpoint directory (a bge-small-zh download, say), loaded with
  the same ``SentenceTransformer`` class; it sees the normalised text, not our tokens.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from knowledge_base.errors import IndexBuildError, UnknownComponentError

log = logging.getLogger(__name__)

STATIC_DIM = 128
# Static encoders trained from different seeds and used side by side (see ``train_static_encoder``). Measured
# December 2026 over three seeds each (one encoder: seeds 13/14/15; four: 13–16, 17–20, 21–24): the external FAQ
# set 0.845 → 0.855 on average, every ensemble above every single encoder; the challenge set 1,209 → 1,210 of
# 1,251; the second held-out set 497 → 497; and the spread from the seed alone roughly halved. It costs about
# 6 s more per shipped index build (one torch thread per member, in turn).
ENSEMBLE_MEMBERS = 4
PAIR_STEPS_BUDGET = 40_000
EXACT_SEARCH_LIMIT = 100_000
STATIC_WEIGHTS = "static_weights.npy"
STATIC_TOKENIZER = "static_tokenizer.json"
UNKNOWN_TOKEN = "[UNK]"
PAD_TOKEN = "[PAD]"


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def encode_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        """The same for texts already in the model's input form."""
        ...

    def save(self, directory: Path) -> None: ...


class SentenceTransformerEncoder:
    """Any sentence-transformers model on disk; ``prepare`` maps raw text to the model's input."""

    name = "sentence-transformers"

    def __init__(self, model, prepare: Callable[[str], str]) -> None:
        self.model = model
        self.prepare = prepare
        self._static = _static_parts(model)

    @classmethod
    def load(cls, path: str | Path, prepare: Callable[[str], str]) -> SentenceTransformerEncoder:
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise IndexBuildError(f"cannot load sentence-transformers model from {path}: {exc}") from exc
        return cls(model, prepare)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_prepared([self.prepare(t) for t in texts])

    def encode_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        """Vectors for texts already in the model's input form (``prepare`` applied)."""
        prepared = [p or " " for p in prepared]
        if self._static is not None:
            return self._encode_static(prepared)
        vectors = self.model.encode(
            prepared, batch_size=256, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_static(self, prepared: Sequence[str]) -> np.ndarray:
        tokenizer, weights = self._static  # type: ignore[misc]
        return mean_pool(tokenizer, weights, prepared)

    def save(self, directory: Path) -> None:
        self.model.save(str(directory))
        if self._static is not None:
            # Also as plain arrays, so a worker can answer queries without importing torch (seconds saved
            # at every start); the sentence-transformers directory stays the portable copy.
            tokenizer, weights = self._static
            np.save(directory / STATIC_WEIGHTS, weights)
            tokenizer.save(str(directory / STATIC_TOKENIZER))


class StaticQueryEncoder:
    """A trained StaticEmbedding read back as numpy arrays: same vectors, no torch import."""

    name = "static-numpy"

    def __init__(self, tokenizer, weights: np.ndarray, prepare: Callable[[str], str]) -> None:
        self.tokenizer = tokenizer
        self.weights = weights
        self.prepare = prepare

    @classmethod
    def load(cls, directory: Path, prepare: Callable[[str], str]) -> StaticQueryEncoder | None:
        if not (directory / STATIC_WEIGHTS).exists() or not (directory / STATIC_TOKENIZER).exists():
            return None
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(directory / STATIC_TOKENIZER)), np.load(directory / STATIC_WEIGHTS),
                   prepare)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_prepared([self.prepare(t) for t in texts])

    def encode_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        return mean_pool(self.tokenizer, self.weights, [p or " " for p in prepared])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / STATIC_WEIGHTS, self.weights)
        self.tokenizer.save(str(directory / STATIC_TOKENIZER))


def mean_pool(tokenizer, weights: np.ndarray, prepared: Sequence[str]) -> np.ndarray:
    """What a StaticEmbedding computes (the mean of token vectors), L2-normalised, in numpy: ~20× faster
    than a pass through sentence-transformers for a single query, with the same numbers (see the tests)."""
    encodings = tokenizer.encode_batch(list(prepared), add_special_tokens=False)
    ids = [e.ids or [0] for e in encodings]
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    vectors = np.add.reduceat(weights[flat], offsets, axis=0) / lengths[:, None]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _static_parts(model) -> tuple[object, np.ndarray] | None:
    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:
        return None
    modules = list(model.children()) if hasattr(model, "children") else []
    if len(modules) != 1 or not isinstance(modules[0], StaticEmbedding):
        return None
    module = modules[0]
    weights = module.embedding.weight.detach().cpu().numpy()
    return module.tokenizer, weights


def _build_word_tokenizer(tokenized_texts: Sequence[str]):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    vocab = {PAD_TOKEN: 0, UNKNOWN_TOKEN: 1}
    for text in tokenized_texts:
        for token in text.split():
            vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token=UNKNOWN_TOKEN))
    tokenizer.pre_tokenizer = WhitespaceSplit()
    return tokenizer


def train_static_encoder(
    groups: Sequence[Sequence[str]],
    prepare: Callable[[str], str],
    *,
    dim: int = STATIC_DIM,
    epochs: int | None = None,
    batch_size: int = 256,
    scale: float = 20.0,
    seed: int = 13,
    members: int = ENSEMBLE_MEMBERS,
) -> SentenceTransformerEncoder:
    """Trains a StaticEmbedding so that texts of one group (one KB entry) land close together.

    The loss is MultipleNegativesRankingLoss (in-batch softmax over scaled cosines) written over an
    ``EmbeddingBag``: the same objective as sentence-transformers' loss on a StaticEmbedding, but many
    times faster than its generic training step, which keeps a rebuild of 1,000 entries within seconds.
    One torch thread: on a small model, thread hand-offs cost more than they save (10× slower on 2 cores). The trained
    weights become a real ``StaticEmbedding`` module that sentence-transformers saves and loads.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tokenizer, parts = None, []
        for member in range(max(1, members)):
            rng = random.Random(seed + member)
            torch.manual_seed(seed + member)
            tokenizer, weights = _train(groups, prepare, dim, epochs, batch_size, scale, rng)
            parts.append(weights)
    finally:
        torch.set_num_threads(threads)
    # Members differ only in their random start and batch order: their vectors side by side give the mean of
    # their cosines (each member's pooled vector has about the same length), which varies far less with the
    # seed than any one member does.
    weights = np.hstack(parts) / np.sqrt(len(parts))
    if len(parts) > 1:
        weights = _project(weights, tokenizer, [t for g in groups for t in (prepare(x) for x in g if x) if t], dim)
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)], device="cpu")
    return SentenceTransformerEncoder(model, prepare)


def _project(weights: np.ndarray, tokenizer, texts: Sequence[str], dim: int) -> np.ndarray:
    """The ensemble's token vectors projected onto the ``dim`` directions that carry most of its sentence
    vectors (their leading right singular vectors): a sentence vector is a mean of token vectors, so projecting
    the tokens projects the sentences, and the search costs what one member's would, with nearly the same
    cosines."""
    if weights.shape[1] <= dim or len(texts) < dim:
        return weights
    vectors = mean_pool(tokenizer, weights.astype(np.float32), texts)
    _, _, vt = np.linalg.svd(vectors, full_matrices=False)
    return np.ascontiguousarray(weights @ vt[:dim].T, dtype=np.float32)


def _train(
    groups: Sequence[Sequence[str]],
    prepare: Callable[[str], str],
    dim: int,
    epochs: int | None,
    batch_size: int,
    scale: float,
    rng: random.Random,
) -> tuple[object, np.ndarray]:
    import torch

    prepared_groups = [[p for p in (prepare(t) for t in group if t) if p] for group in groups]
    all_texts = [t for g in prepared_groups for t in g]
    if not all_texts:
        raise IndexBuildError("no text to train the encoder on")
    if epochs is None:
        # Ten passes for a community-sized KB; fewer for a large one so a rebuild stays within seconds.
        epochs = max(2, min(10, PAIR_STEPS_BUDGET // len(all_texts)))
    tokenizer = _build_word_tokenizer(all_texts)
    vocab = tokenizer.get_vocab()
    ids_of = {text: [vocab.get(tok, 1) for tok in text.split()] or [0] for text in all_texts}

    bag = torch.nn.EmbeddingBag(len(vocab), dim, mode="mean")
    with torch.no_grad():
        bag.weight.normal_(0.0, 0.1)
        bag.weight[0].zero_()
    optimizer = torch.optim.Adam(bag.parameters(), lr=0.03)

    def embed(texts: list[str]) -> torch.Tensor:
        flat, offsets = [], []
        for text in texts:
            offsets.append(len(flat))
            flat.extend(ids_of[text])
        vectors = bag(torch.tensor(flat), torch.tensor(offsets))
        return torch.nn.functional.normalize(vectors, dim=-1)

    for _epoch in range(epochs):
        for batch in _pairs_without_duplicate_groups(prepared_groups, rng, batch_size):
            anchors = embed([a for a, _ in batch])
            positives = embed([p for _, p in batch])
            logits = anchors @ positives.T * scale
            labels = torch.arange(len(batch))
            loss = torch.nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return tokenizer, bag.weight.detach().numpy().copy()


def _pairs_without_duplicate_groups(
    groups: Sequence[Sequence[str]], rng: random.Random, batch_size: int
) -> list[list[tuple[str, str]]]:
    """Anchor/positive pairs in batches where a group appears at most once (no false in-batch negatives)."""
    per_group: list[list[tuple[str, str]]] = []
    for texts in groups:
        if len(texts) < 2:
            continue
        shuffled = list(texts)
        rng.shuffle(shuffled)
        pairs = [(shuffled[i], shuffled[(i + 1) % len(shuffled)]) for i in range(len(shuffled))]
        per_group.append(pairs)
    batches: list[list[tuple[str, str]]] = []
    while any(per_group):
        order = [i for i, pairs in enumerate(per_group) if pairs]
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            if len(chunk) > 1:
                batches.append([per_group[i].pop() for i in chunk])
            else:
                per_group[chunk[0]].pop()
    rng.shuffle(batches)
    return batches


def make_encoder(
    name: str,
    *,
    prepare_tokens: Callable[[str], str],
    prepare_text: Callable[[str], str],
    groups: Sequence[Sequence[str]] = (),
    model_path: str = "",
) -> SentenceTransformerEncoder:
    if name == "static-trained":
        return train_static_encoder(groups, prepare_tokens)
    if name == "sentence-transformers":
        if not model_path:
            raise UnknownComponentError("encoder 'sentence-transformers' needs encoder_model_path (a local directory)")
        return SentenceTransformerEncoder.load(model_path, prepare_text)
    raise UnknownComponentError(f"unknown encoder {name!r}; known: static-trained, sentence-transformers")


class VectorIndex:
    """FAISS inner product over L2-normalised vectors (= cosine); exact below ~100k vectors.

    One query at a time is a few hundred thousand multiply-adds: FAISS's OpenMP threads cost more to
    wake than they save (40 ms instead of 1 ms on a busy 2-core machine), so searches run on one thread.
    """

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = vectors.shape[1]
        if len(vectors) > EXACT_SEARCH_LIMIT:
            # Inverted lists: a query scans ~nprobe/nlist of the vectors (about 5 % here).
            nlist = int(np.sqrt(len(vectors)) * 2)
            quantizer = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), nlist * 40),
                                                             replace=False)]
            index.train(sample)
            index.add(vectors)
            index.nprobe = max(8, nlist // 20)
            self.index = index
        else:
            self.index = faiss.IndexFlatIP(self.dim)
            if len(vectors):
                self.index.add(vectors)

    def similarities(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, self.index.ntotal))
        faiss.omp_set_num_threads(1)
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return scores[0], ids[0]

    def subset(self, ids: np.ndarray) -> VectorIndex:
        """A new index of the vectors ``ids`` of this one (their positions in it are their order in ``ids``)."""
        if isinstance(self.index, faiss.IndexIVF):
            self.index.make_direct_map()  # reconstructing from inverted lists needs it
        vectors = self.index.reconstruct_batch(np.asarray(ids, dtype=np.int64)) if len(ids) else \
            np.zeros((0, self.dim), dtype=np.float32)
        return VectorIndex(vectors)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        instance = cls.__new__(cls)
        instance.index = faiss.read_index(str(path))
        instance.dim = instance.index.d
        return instance
