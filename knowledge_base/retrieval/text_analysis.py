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
from collections.abc import Callable, Iterable
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
_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")
HOMOPHONE_MIN_CHARS = 2  # shorter stretches sound like too many things
HOMOPHONE_MAX_CHARS = 5
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

    def is_word(self, text: str) -> bool:
        """Whether the dictionary (jieba's own and the project's) knows ``text`` as a word."""
        return self._tokenizer.FREQ.get(text, 0) > 0


def user_dict_words(path: Path) -> list[str]:
    """The words of a jieba user dictionary (``word [freq] [tag]`` per line), in its order."""
    if not path.exists():
        return []
    return [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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


# Sounds that speakers in Guangxi (and pinyin typists) do not tell apart: n/l, zh/z, ch/c, sh/s, in/ing, en/eng.
_MERGED_SOUNDS = ((re.compile(r"^zh"), "z"), (re.compile(r"^ch"), "c"), (re.compile(r"^sh"), "s"),
                  (re.compile(r"^n(?=[aeiou])"), "l"), (re.compile(r"ing$"), "in"), (re.compile(r"eng$"), "en"))


@lru_cache(maxsize=32768)
def _char_sound(char: str) -> str:
    sound = _char_pinyin(char)
    for pattern, replacement in _MERGED_SOUNDS:
        sound = pattern.sub(replacement, sound)
    return sound


# Characters that are words of their own in a sentence (医保吗 is 医保 + 吗, not a typo of 医保码; 地在摇 is not 地灾).
_FUNCTION_CHARS = frozenset("的地得了着过吗呢吧啊呀嘛么哦哈在是有不没就也都还又要会能可和跟与或我你他她它这那哪个点些"
                            "一二两三四五六七八九十几多少")


def _plausible_typo(piece: str, term: str) -> bool:
    """A content character kept, and every changed character a content character (see ``_FUNCTION_CHARS``):
    盖个章 keeps only 个 of 个账, and 交点钱 changes 点 — neither is a typo."""
    pairs = list(zip(piece, term, strict=True))
    return any(a == b and a not in _FUNCTION_CHARS for a, b in pairs) \
        and not any(a != b and a in _FUNCTION_CHARS for a, b in pairs)


class HomophoneCorrector:
    """Typos of pinyin input and speech recognition rewritten to the dictionary's terms: 据住证 → 居住证,
    养老经 → 养老金, 低宝 → 低保, 公基金 → 公积金 — the ones nobody listed among the synonyms.

    A stretch of the text is rewritten to a term when it sounds the same (toneless pinyin, character by
    character, with the sounds of ``_MERGED_SOUNDS`` taken as one), shares at least one character with it (一包
    is no typo of 医保), is no word of its own, and cuts no word of the segmenter's in two: 「找工作」 holds 找工,
    which sounds like 招工, and 「报护理」 holds 报护, which sounds like 报户 — both are left alone."""

    def __init__(self, terms: Iterable[str], is_word: Callable[[str], bool],
                 segment: Callable[[str], list[str]]) -> None:
        self.by_sound: dict[tuple[str, ...], list[str]] = {}
        for term in dict.fromkeys(terms):  # in the caller's order: the first of a sound wins
            if HOMOPHONE_MIN_CHARS <= len(term) <= HOMOPHONE_MAX_CHARS and _CJK_ONLY.fullmatch(term):
                self.by_sound.setdefault(tuple(map(_char_sound, term)), []).append(term)
        self.terms = frozenset(t for group in self.by_sound.values() for t in group)
        self.is_word = is_word
        self.segment = segment

    def correct(self, text: str) -> str:
        if not self.by_sound or not _CJK.search(text):
            return text
        spans: list[tuple[int, int]] | None = None  # segmented only once a stretch sounds like a term: most never do
        out: list[str] = []
        start, end = 0, len(text)
        while start < end:
            step, replacement = 1, None
            for size in range(min(HOMOPHONE_MAX_CHARS, end - start), HOMOPHONE_MIN_CHARS - 1, -1):
                piece = text[start : start + size]
                if piece in self.terms:
                    step = size  # the right word already: it and what it covers stay as they are
                    break
                if not _CJK_ONLY.fullmatch(piece) or self.is_word(piece):
                    continue
                term = next((t for t in self.by_sound.get(tuple(map(_char_sound, piece)), ())
                             if _plausible_typo(piece, t)), None)
                if term is None:
                    continue
                spans = self._word_spans(text) if spans is None else spans
                stop = start + size
                if not any(a < stop and start < b and not (start <= a and b <= stop) for a, b in spans):
                    step, replacement = size, term
                    break
            out.append(text[start : start + step] if replacement is None else replacement)
            start += step
        return "".join(out)

    def _word_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the segmenter's dictionary words lie: a correction may cover them whole, never cut one."""
        spans: list[tuple[int, int]] = []
        position = 0
        for token in self.segment(text):
            start = text.find(token, position)
            if start < 0:
                continue
            position = start + len(token)
            if len(token) >= HOMOPHONE_MIN_CHARS and self.is_word(token):
                spans.append((start, position))
        return spans


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
                 dialect: DialectLexicon | None = None, homophones: HomophoneCorrector | None = None) -> None:
        self.tokenizer = tokenizer
        self.synonyms = synonyms or SynonymDictionary()
        self.dialect = dialect or DialectLexicon()
        self.homophones = homophones
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
        # Dialect first (几耐 → 多久), then fillers, then the KB's own terms (退休金 → 养老金), then the typos
        # nobody listed (据住证 → 居住证), whose correction may be a listed variant in turn.
        canonical = self.synonyms.apply(strip_fillers(self.dialect.apply(normalize(text))))
        if self.homophones is None:
            return canonical
        corrected = self.homophones.correct(canonical)
        return canonical if corrected == canonical else self.synonyms.apply(corrected)

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
