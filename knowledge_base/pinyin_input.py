"""Messages typed in pinyin, the characters never chosen: 「shebaoka diule zenme ban」 → 社保卡丢了怎么办.

Residents who cannot pick characters on a phone keyboard send the letters they typed. Every reader of the text
(intents, emergencies, retrieval) works on characters, so ``normalize`` turns such stretches into characters
first. Two well-kept libraries do the work: ``pinyinsplit`` cuts a run of letters into syllables
(「shebaoka」 → she bao ka) and ``Pinyin2Hanzi`` picks the likeliest characters for the syllables (its DAG
model, trained on a large Chinese corpus, ships in the package). A homophone it gets wrong (老年正) is left to
retrieval's sound-alike correction, as with any pinyin typing error.

A stretch is converted only when every run of letters in it splits into syllables and it has at least
``MIN_SYLLABLES``: app, wifi, BB, ETC, ok and a lone 「ma」 stay as they are.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
INTENT_EXAMPLES = Path(__file__).resolve().parents[1] / "intents" / "data" / "nlu.yml"

log = logging.getLogger(__name__)

MIN_SYLLABLES = 2  # a single syllable (「ma」「ai」) is as likely an abbreviation or a sound as a word
# pinyinsplit lists every way to cut a run, which doubles with each ambiguous syllable (xian = xi'an): a run
# longer than this (about nine syllables typed without a space; at worst 128 cuts, a few ms) is left as it is.
MAX_RUN_LETTERS = 30
# A message with more letters or runs of letters than this is no pinyin typing (a question is some 30 syllables
# at most), and the bound keeps a hostile message from costing more than a few runs' cutting.
MAX_LETTERS = 120
MAX_RUNS = 40
TIE_CANDIDATES = 4  # equally short cuts of a run compared by the model (fang'an / fan'gan)

# A run of ASCII letters, apostrophes between syllables allowed (yu'er); NFKC has made full-width letters ASCII.
_LATIN_RUN = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)*)")

_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # [八十岁](age) in the intent examples
_HAN_ONLY = re.compile(r"[\u4e00-\u9fff]+")
# The library's phrase scores are about 0.2: a domain term it does not know starts from that, and the margin puts
# a term ahead of the reading it would otherwise tie with.
DOMAIN_PHRASE_SCORE = 0.2
DOMAIN_MARGIN = 0.01
# The library prefers few long phrases (老年 正在) to the right cut (老年证 在): a domain word's score is this many
# times the likeliest reading of its sound, enough to win the cut, as the residents' own vocabulary should.
DOMAIN_BOOST = 3.0
DOMAIN_WORD_COUNT = 5  # a word the shipped questions use this often is part of that vocabulary
LONGEST_WORD = 6  # longest stretch of the shipped texts looked up as a word
DOMAIN_CHARACTER_COUNT = 30  # a character the shipped questions use this often is the first reading of its sound

_load_lock = threading.RLock()
_NOT_LOADED = object()
_loaded: object = _NOT_LOADED
_loading = False


def domain_words() -> tuple[list[str], list[str]]:
    """The project's own terms: (the synonym dictionary's standard terms and the jieba user dictionary's words,
    the residents' forms the synonym dictionary lists). Forms come last: a misspelling that sounds like its
    standard term (医包, 低报) never comes before it, while 长护险 or 刷脸认证 still read as themselves."""
    # text_analysis imports normalize, which imports this module: imported here, when first needed
    from knowledge_base.retrieval.text_analysis import user_dict_words

    groups = (yaml.safe_load((DATA_DIR / "synonyms.yaml").read_text(encoding="utf-8")) or {}).get("synonyms") or {}
    forms = [str(v) for values in groups.values() for v in values or []]
    terms = [str(term) for term in groups] + user_dict_words(DATA_DIR / "userdict.txt")
    usable = [w for w in dict.fromkeys(terms + forms) if len(w) >= 2 and _HAN_ONLY.fullmatch(w)]
    formset = set(forms) - set(terms)
    return [w for w in usable if w not in formset], [w for w in usable if w in formset]


def shipped_texts() -> list[str]:
    """How residents put things, as shipped: the knowledge base's titles and questions, and the intent examples
    (再见, 转人工, 救命), read as raw text (reading them through ``normalize`` would call this module again)."""
    from knowledge_base.loader import collect_entries

    entries, _ = collect_entries(DATA_DIR)
    texts = [text for entry in entries for text in entry.searchable_texts()]
    try:
        nlu = yaml.safe_load(INTENT_EXAMPLES.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        log.warning("pinyin input: intent examples unreadable, converting without them: %s", exc)
        return texts
    for block in nlu.get("nlu") or []:
        examples = block.get("examples") if isinstance(block, dict) else None
        if isinstance(examples, str):
            texts += [_ANNOTATION.sub(r"\1", line.strip()[2:]) for line in examples.splitlines()
                      if line.strip().startswith("- ")]
    return texts


def _syllable_key(syllables: list[str]) -> str:
    from Pinyin2Hanzi import simplify_pinyin

    return ",".join(simplify_pinyin(s) for s in syllables)


def _models() -> tuple[Any, Any] | None:
    """(syllable splitter, DAG parameters with the domain's vocabulary first), loaded once, on the first message
    with letters in it (about 3 s; other threads' messages wait for it); None when the packages are missing or the
    vocabulary cannot be read. Not loaded at start: the load holds the interpreter for seconds, and a two-worker
    server loading it at start reset connections under a burst of requests (1 run in 3 of the lockout test)."""
    global _loaded, _loading
    if _loaded is not _NOT_LOADED:
        return _loaded  # type: ignore[return-value]
    with _load_lock:
        if _loaded is _NOT_LOADED:
            if _loading:
                return None  # reading the vocabulary came back here on the loading thread: no pinyin in it
            _loading = True
            try:
                _loaded = _load()
            except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
                # A damaged vocabulary file: pinyin goes unconverted (and normalize keeps its promise never to raise)
                log.warning("pinyin input unavailable, its vocabulary could not be read: %s", exc)
                _loaded = None
            finally:
                _loading = False
    return _loaded  # type: ignore[return-value]


def _load() -> tuple[Any, Any] | None:
    try:
        from Pinyin2Hanzi import DefaultDagParams
        from pinyinsplit import PinyinSplit
    except ImportError as exc:  # retrieval still works on characters; pinyin messages go unconverted
        log.warning("pinyin input unavailable: %s", exc)
        return None
    params = DefaultDagParams()
    texts = shipped_texts()
    terms, forms = domain_words()
    # The words the shipped texts use, found as stretches that are words of the library's dictionary or the
    # project's (a segmenter would cost a second jieba dictionary in memory, about 120 MB).
    known = {word for candidates in params.phrase_dict.values() for word, _ in candidates} | set(terms) | set(forms)
    word_counts = Counter(run[i:i + n] for text in texts for run in _HAN_ONLY.findall(text)
                          for n in range(2, LONGEST_WORD + 1) for i in range(len(run) - n + 1) if run[i:i + n] in known)
    del known
    asked = sorted((w for w, n in word_counts.items() if n >= DOMAIN_WORD_COUNT), key=lambda w: -word_counts[w])
    _put_first(params.phrase_dict, [(_key_of(w), w) for w in dict.fromkeys([*terms, *asked, *forms])])
    char_counts = Counter(ch for text in texts for run in _HAN_ONLY.findall(text) for ch in run)
    frequent = sorted((ch for ch, n in char_counts.items() if n >= DOMAIN_CHARACTER_COUNT), key=lambda c: -char_counts[c])
    _put_first(params.char_dict, [(_key_of(ch), ch) for ch in frequent], boost=1.0)
    return PinyinSplit(), _likeliest_only(params)


def _likeliest_only(params: Any) -> Any:
    """The parameters with only the likeliest reading of each sound: conversion asks for one path, and the
    library's full lists hold about 65 MB of Python objects (tracemalloc) against about 35 MB for these. Read-only
    once built, so threads share them without a lock."""
    from Pinyin2Hanzi import AbstractDagParams

    class LikeliestReadings(AbstractDagParams):  # type: ignore[misc]
        def __init__(self, chars: dict[str, list[Any]], phrases: dict[str, list[Any]]) -> None:
            self.char_dict = {key: (str(c[0][0]), float(c[0][1])) for key, c in chars.items() if c}
            self.phrase_dict = {key: (str(c[0][0]), float(c[0][1])) for key, c in phrases.items() if c}

        def get_phrase(self, pinyin_list: list[str], num: int = 1) -> list[list[Any]]:
            table = self.char_dict if len(pinyin_list) == 1 else self.phrase_dict
            found = table.get(",".join(pinyin_list))
            return [list(found)] if found and num > 0 else []

    return LikeliestReadings(params.char_dict, params.phrase_dict)


def _key_of(text: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return _syllable_key(lazy_pinyin(text, style=Style.NORMAL))


def _put_first(table: dict[str, list[list[Any]]], words: list[tuple[str, str]], boost: float = DOMAIN_BOOST) -> None:
    """Each word first among those of its syllables (its score ``boost`` times the likeliest one's), unless an
    earlier word of the list already is."""
    placed: set[str] = set()
    for key, word in words:
        if key in placed or not key:
            continue
        placed.add(key)
        known = table.get(key, [])
        best = max((score for _, score in known), default=DOMAIN_PHRASE_SCORE)
        table[key] = [[word, best * boost + DOMAIN_MARGIN], *(k for k in known if k[0] != word)]


def warm() -> bool:
    """Load the models now rather than on the first message with letters; False if unavailable."""
    return _models() is not None


def _best_path(params: Any, syllables: list[str]) -> tuple[str, float] | None:
    from Pinyin2Hanzi import dag

    try:
        paths = dag(params, [_syllable_key([s]) for s in syllables], path_num=1)
    except (KeyError, ValueError, IndexError, TypeError):
        return None
    if not paths:
        return None
    text = "".join(paths[0].path)
    return (text, float(paths[0].score)) if len(text) == len(syllables) else None


def _syllables(splitter: Any, params: Any, run: str) -> list[str] | None:
    """The run cut into syllables (the cut with the fewest, the model's choice among equals), or None."""
    if len(run) > MAX_RUN_LETTERS:
        return None
    if "'" in run:
        pieces = [_syllables(splitter, params, piece) for piece in run.split("'")]
        return None if any(p is None for p in pieces) else [s for p in pieces for s in p or []]
    cuts = splitter.split(run)
    if not cuts:
        return None
    fewest = min(len(cut) for cut in cuts)
    shortest = [[s.lower() for s in cut] for cut in cuts if len(cut) == fewest][:TIE_CANDIDATES]
    if len(shortest) == 1:
        return shortest[0]
    scored = [(path[1], cut) for cut in shortest if (path := _best_path(params, cut)) is not None]
    return max(scored, key=lambda item: item[0])[1] if scored else shortest[0]


def typed_in_pinyin(text: str) -> bool:
    """Whether some of ``text`` is pinyin that ``normalize`` turns into characters (试一试 says so)."""
    text = unicodedata.normalize("NFKC", text)
    return pinyin_to_hanzi(text) != text


def pinyin_to_hanzi(text: str) -> str:
    """``text`` with every stretch of pinyin replaced by characters; anything else unchanged. Never raises.

    A stretch is a sequence of runs of letters that each cut into syllables, with nothing but spaces between
    them: in 「wo de app dakai bu le」 「wo de」 and 「dakai bu le」 are converted and 「app」 is kept."""
    if not _LATIN_RUN.search(text):
        return text
    models = _models()
    if models is None:
        return text
    splitter, params = models
    parts = _LATIN_RUN.split(text)  # even indexes: other text; odd: runs of letters
    if len(parts) // 2 > MAX_RUNS or sum(len(p) for p in parts[1::2]) > MAX_LETTERS:
        return text
    cuts = [_syllables(splitter, params, part.lower()) if i % 2 else None for i, part in enumerate(parts)]
    out: list[str] = []
    i = 0
    while i < len(parts):
        if i % 2 == 0 or cuts[i] is None:
            out.append(parts[i])
            i += 1
            continue
        # A stretch: this run and the following ones that cut, separated by spaces alone.
        end = i
        while end + 2 < len(parts) and cuts[end + 2] is not None and not parts[end + 1].strip():
            end += 2
        syllables = [s for j in range(i, end + 1, 2) for s in cuts[j] or []]
        path = _best_path(params, syllables) if len(syllables) >= MIN_SYLLABLES else None
        out.append(path[0] if path else "".join(parts[i:end + 1]))
        i = end + 1
    return "".join(out)
