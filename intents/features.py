"""Text → features for the scikit-learn intent model, and a fast scorer for one message.

Training uses an ordinary scikit-learn pipeline (two TF-IDF blocks, jieba word 1-2-grams and
character 1-3-grams, then multinomial logistic regression). At run time ``CompiledModel`` replays
the same arithmetic with dict look-ups and one small matrix product, because a scikit-learn
``transform`` on a single short string costs about a millisecond per vectorizer and the dialogue
layer's budget for the whole classification is two. ``tests/intents`` checks both give the same
probabilities.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from intents.training_data import DOMAIN_WORDS
from knowledge_base.normalize import normalize, strip_fillers

log = logging.getLogger(__name__)

# Bump when anything in this module changes what a given text turns into: saved models are keyed on it.
FEATURE_VERSION = 5

# Personal and ticket numbers say "a ticket/phone/ID was given", not which: replacing them keeps
# the model from learning digit patterns of particular examples.
_PLACEHOLDERS = (
    (re.compile(r"gx[\s-]?\d{8}[\s-]?\d{3,6}", re.IGNORECASE), " 工单号 "),
    (re.compile(r"(?<!\d)\d{17}[\dx](?!\d)", re.IGNORECASE), " 身份证号 "),
    (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), " 手机号 "),
)
_GREETING = re.compile(r"你好|您好")
_SKIP_TOKEN = re.compile(r"^[\s\W_]+$")
_SKIP_CHAR = re.compile(r"[\s,.，。!?！？、:：;；~～\"'“”‘’()（）\[\]【】<>《》…-]")



@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters; part of the saved model's hash."""

    C: float = 20.0
    word_weight: float = 1.0
    char_weight: float = 1.0
    char_max_n: int = 3
    class_weight: str | None = "balanced"
    max_iter: int = 2000

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    # A private tokenizer: the words added here must not change how retrieval tokenises.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in DOMAIN_WORDS:
        tokenizer.add_word(word, freq=20000)
    try:
        from intents.entities import regions

        for kind in ("city", "district"):
            for surface in regions().surfaces(kind):
                tokenizer.add_word(surface, freq=20000)
    except Exception as e:  # a broken region table must not stop intent classification
        log.warning("region names not added to the intent tokenizer: %s", e)
    return tokenizer


def prepare(text: str) -> str:
    """The text the model sees: normalised, fillers stripped, numbers replaced by placeholders."""
    if not isinstance(text, str) or not text:
        return ""
    return prepare_normalized(normalize(text))


def prepare_normalized(normalized: str) -> str:
    """``prepare`` for text that has already been through ``normalize``."""
    if not normalized:
        return ""
    prepared = strip_fillers(normalized)
    # strip_fillers drops 你好 wherever it is, which leaves 阿姨你好 as a bare 阿姨; the greeting
    # itself is the signal for greet, so it is put back as one token at the end.
    if _GREETING.search(normalized) and not _GREETING.search(prepared):
        prepared = f"{prepared} 你好"
    for pattern, placeholder in _PLACEHOLDERS:
        prepared = pattern.sub(placeholder, prepared)
    return prepared.strip()


def word_ngrams(text: str) -> list[str]:
    return list(_word_ngrams(text))


@lru_cache(maxsize=256)
def _word_ngrams(text: str) -> tuple[str, ...]:
    # HMM off: unknown words fall back to single characters, which the char n-grams cover anyway,
    # and segmentation is a third faster. Cached: the intent, aspect and emergency models read the same message.
    tokens = [t for t in _jieba().lcut(text, HMM=False) if not _SKIP_TOKEN.match(t)]
    return (*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens)))


def _char_ngrams(text: str, max_n: int) -> list[str]:
    chars = _SKIP_CHAR.sub("", text)
    grams: list[str] = []
    for n in range(1, max_n + 1):
        grams.extend(chars[i:i + n] for i in range(len(chars) - n + 1))
    return grams


def char_ngrams_3(text: str) -> list[str]:
    return _char_ngrams(text, 3)


def char_ngrams_4(text: str) -> list[str]:
    return _char_ngrams(text, 4)


_CHAR_ANALYZERS = {3: char_ngrams_3, 4: char_ngrams_4}


def build_pipeline(params: ModelParams) -> Pipeline:
    def tfidf(analyzer):  # type: ignore[no-untyped-def]
        return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, lowercase=False)

    union = FeatureUnion(
        [("word", tfidf(word_ngrams)), ("char", tfidf(_CHAR_ANALYZERS[params.char_max_n]))],
        transformer_weights={"word": params.word_weight, "char": params.char_weight},
    )
    model = LogisticRegression(
        C=params.C, class_weight=params.class_weight, max_iter=params.max_iter, solver="newton-cg"
    )
    return Pipeline([("features", union), ("clf", model)])


class CompiledModel:
    """The fitted pipeline's arithmetic, specialised to one short text at a time."""

    def __init__(self, pipeline: Pipeline):
        union: FeatureUnion = pipeline.named_steps["features"]
        clf: LogisticRegression = pipeline.named_steps["clf"]
        weights = union.transformer_weights or {}
        self.classes: list[str] = [str(c) for c in clf.classes_]
        coef = np.asarray(clf.coef_, dtype=np.float64)
        intercept = np.asarray(clf.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps a single row
            coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2
        self._intercept = intercept
        self._blocks: list[tuple[object, dict[str, int], np.ndarray, float, np.ndarray]] = []
        offset = 0
        for name, vectorizer in union.transformer_list:
            vocabulary: dict[str, int] = vectorizer.vocabulary_
            width = len(vocabulary)
            block_coef = np.ascontiguousarray(coef[:, offset:offset + width].T)
            self._blocks.append(
                (vectorizer.analyzer, vocabulary, vectorizer.idf_, float(weights.get(name, 1.0)), block_coef)
            )
            offset += width

    def decision(self, prepared: str) -> np.ndarray:
        scores = self._intercept.copy()
        for analyzer, vocabulary, idf, weight, block_coef in self._blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(prepared):  # type: ignore[operator]
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts))
            values = tf * idf[indices]
            values *= weight / np.sqrt(values @ values)
            scores += values @ block_coef[indices]
        return scores

    def probabilities(self, prepared: str) -> np.ndarray:
        scores = self.decision(prepared)
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()
