"""From a resident's text to the token streams each retrieval signal indexes.

One ``TextAnalyzer`` serves indexing and querying so both sides see identical processing:
normalise → drop fillers → rewrite synonyms to canonical terms → jieba words (without stopwords),
character uni/bigrams (robust to segmentation errors), and toneless pinyin syllable bigrams (robust to
homophone typos from pinyin input and speech recognition: 社宝 → she bao = 社保).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import jieba
from pypinyin import Style, lazy_pinyin

from knowledge_base.dialect import DialectLexicon
from knowledge_base.errors import UnknownComponentError
from knowledge_base.normalize import normalize, strip_fillers
from knowledge_base.synonyms import SynonymDictionary

log = logging.getLogger(__name__)

# Function words and generic question words: they occur in every question and only add noise.
STOPWORDS = frozenset(
    ["的", "了", "吗", "呢", "吧", "啊", "呀", "哦", "嘛", "么", "是", "我", "我们", "你", "你们", "他", "她", "它", "们", "这", "那", "这个", "那个", "这些", "那些", "有", "没", "没有", "在", "和", "与", "及", "或", "或者", "也", "都", "就", "还", "又", "要", "想", "能", "能不能", "可以", "可不可以", "会", "会不会", "得", "地", "着", "过", "给", "把", "被", "让", "去", "来", "到", "从", "对", "向", "怎么", "怎么样", "怎样", "如何", "怎么办", "咋", "咋办", "啥", "什么", "哪", "哪里", "哪儿", "哪个", "多少", "几", "吗", "请问", "一下", "一个", "个", "一些", "些", "之", "其", "请", "帮", "帮我", "告诉", "知道", "问", "问问", "说", "看", "看看", "下", "上", "里", "中", "等", "而", "但", "但是", "如果", "因为", "所以", "然后", "现在", "今年", "刚", "刚才", "已经", "自己", "人", "家里", "跟", "找", "应该", "需要", "需不需要", "是不是", "有没有", "办", "办理", "弄", "搞", "申请", "?", "?", "!", "！", ",", "，", "。", "、", "：", ":", "；", ";", "（", "）", "(", ")", '"', "'"]
)

PARALLEL_THRESHOLD = 8000
CACHE_LIMIT = 500_000
RECENT_QUERIES = 64
_FORKED_ANALYZER: TextAnalyzer | None = None


def _analyze_in_worker(text: str) -> AnalyzedText:
    assert _FORKED_ANALYZER is not None
    return _FORKED_ANALYZER._analyze(text)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEEP_CHARS = re.compile(r"[\u4e00-\u9fffa-z0-9%]")
_jieba_lock = threading.Lock()


class Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


class JiebaTokenizer:
    """jieba with the project's user dictionary; an own ``jieba.Tokenizer`` so tests stay independent."""

    def __init__(self, user_dict: Path | None = None, extra_words: Iterable[str] = ()) -> None:
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        if user_dict and user_dict.exists():
            self._tokenizer.load_userdict(str(user_dict))
        for word in extra_words:
            if len(word) > 1:
                self._tokenizer.add_word(word, freq=20000)

    def tokenize(self, text: str) -> list[str]:
        with _jieba_lock:  # jieba's lazy structures are not thread-safe
            return [t for t in self._tokenizer.lcut(text, HMM=True) if t.strip()]


class CharTokenizer:
    """Characters only; a fallback with no dictionary (and the fake used in fast tests)."""

    def tokenize(self, text: str) -> list[str]:
        return [c for c in text if _KEEP_CHARS.match(c)]


def make_tokenizer(name: str, user_dict: Path | None = None, extra_words: Iterable[str] = ()) -> Tokenizer:
    if name == "jieba":
        return JiebaTokenizer(user_dict, extra_words)
    if name == "char":
        return CharTokenizer()
    raise UnknownComponentError(f"unknown tokenizer {name!r}; known: jieba, char")


@lru_cache(maxsize=32768)
def _char_pinyin(char: str) -> str:
    syllables = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    return syllables[0] if syllables else ""


def _pinyin_of(chars: str) -> tuple[str, ...]:
    # Character by character (cached): 50× faster than phrase-aware conversion, and a polyphone maps
    # the same way in questions and queries, which is all homophone matching needs.
    return tuple(p for p in map(_char_pinyin, chars) if p)


@dataclass(frozen=True)
class AnalyzedText:
    canonical: str  # normalised, fillers removed, synonyms rewritten
    words: list[str]
    chars: list[str]
    pinyin: list[str]


class TextAnalyzer:
    def __init__(self, tokenizer: Tokenizer, synonyms: SynonymDictionary | None = None,
                 dialect: DialectLexicon | None = None) -> None:
        self.tokenizer = tokenizer
        self.synonyms = synonyms or SynonymDictionary()
        self.dialect = dialect or DialectLexicon()
        # Index builds and calibration folds analyse the same questions many times over.
        self._cache: dict[str, AnalyzedText] = {}
        self._recent: dict[str, AnalyzedText] = {}

    def analyze(self, text: str) -> AnalyzedText:
        cached = self._cache.get(text)
        if cached is None:
            cached = self._remember(text, self._analyze(text))
        return cached

    def _remember(self, text: str, analyzed: AnalyzedText) -> AnalyzedText:
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[text] = analyzed
        return analyzed

    def canonical(self, text: str) -> str:
        # Dialect first (几耐 → 多久), then fillers, then the KB's own terms (退休金 → 养老金).
        return self.synonyms.apply(strip_fillers(self.dialect.apply(normalize(text))))

    def _analyze(self, text: str) -> AnalyzedText:
        canonical = self.canonical(text)
        words = [w for w in self.tokenizer.tokenize(canonical) if w not in STOPWORDS and _KEEP_CHARS.search(w)]
        kept = "".join(_KEEP_CHARS.findall(canonical))
        chars = list(kept)
        chars += [kept[i : i + 2] for i in range(len(kept) - 1)]
        syllables = list(_pinyin_of("".join(_CJK.findall(canonical))))
        pinyin = [f"{a}_{b}" for a, b in itertools.pairwise(syllables)] or syllables
        return AnalyzedText(canonical, words, chars, pinyin)

    def analyze_many(self, texts: list[str]) -> list[AnalyzedText]:
        """Analyses a corpus, on every core for large ones (jieba is pure Python and single-threaded)."""
        workers = min(os.cpu_count() or 1, 8)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if len(missing) < PARALLEL_THRESHOLD or workers < 2 or "fork" not in mp.get_all_start_methods():
            return [self.analyze(t) for t in texts]
        global _FORKED_ANALYZER
        _FORKED_ANALYZER = self  # inherited by the forked workers: no second jieba initialisation
        try:
            chunk = max(1, len(missing) // (workers * 4))
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                for text, analyzed in zip(missing, pool.map(_analyze_in_worker, missing, chunksize=chunk),
                                          strict=True):
                    self._remember(text, analyzed)
        finally:
            _FORKED_ANALYZER = None
        return [self.analyze(t) for t in texts]

    def analyze_query(self, text: str) -> AnalyzedText:
        """Like ``analyze`` but kept only in a small recent-queries cache: a server sees an endless stream of
        distinct questions (keeping each would grow every worker's memory for nothing), while one turn reads
        the same message several times (retrieval, the words each topic uses, broad requests)."""
        found = self._cache.get(text) or self._recent.get(text)
        if found is None:
            found = self._analyze(text)
            if len(self._recent) >= RECENT_QUERIES:
                self._recent.pop(next(iter(self._recent), None), None)  # the oldest (insertion order)
            self._recent[text] = found
        return found

    def dense_tokens(self, text: str) -> str:
        """Words and single characters, space-separated: the input of the trained static encoder."""
        return self.dense_tokens_of(self.analyze(text))

    @staticmethod
    def dense_tokens_of(analyzed: AnalyzedText) -> str:
        return " ".join(analyzed.words + [c for c in analyzed.chars if len(c) == 1])
