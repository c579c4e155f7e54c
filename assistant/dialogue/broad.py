"""Broad requests — 补贴, 医保, 有什么补助, 办证 — answered with a choice of the services they may mean.

A message is broad when what is left of it, after function words and generic words (政策, 福利的事, 有哪些),
is one or two *broad terms*: words the knowledge base uses across several entries' titles (医保 in five
titles), or the terms of ``knowledge_base/data/broad_terms.yaml`` (补助 → 补贴, 津贴, 救助 …). The options are
the entries those terms point at, ordered by how well they match the message and by what residents ask
most, one category after another so the first screen is not all one kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from knowledge_base.engine import KnowledgeBase
from knowledge_base.loader import parse_yaml_file
from knowledge_base.retrieval.fusion import Decision
from knowledge_base.retrieval.index import SearchResult

BROAD_TERMS_FILE = Path(__file__).resolve().parents[2] / "knowledge_base" / "data" / "broad_terms.yaml"
# A word in at least this many titles is broad by itself.
MIN_TITLES_FOR_BROAD = 3
RELEVANCE_CANDIDATES = 20  # retrieval candidates that order a broad request's options
MAX_OTHER_WORDS = 1  # 「老人 补贴」: one more word narrows the options instead of making the message specific
# 「退伍军人的优待证怎么办」: several broad words that together name one entry this surely are no broad request.
NARROWED_MATCH = 0.9
GENERIC_WORDS = frozenset({
    "政策", "待遇", "方面", "相关", "那些", "这些", "东西", "事情", "事", "问题", "情况", "哪些", "有哪些",
    "项目", "服务", "了解", "咨询", "介绍", "规定", "之类", "什么样", "种类", "啥子", "几种", "类", "政府", "国家",
    "享受", "领", "发", "能", "一些", "块", "那块", "哪样", "么子", "讲", "讲下", "说说", "东东", "想", "问下", "关于",
    "手续", "刚刚", "之后", "以后",
})
# What may stand around the broad terms of a bare request (「医保嘅嘢想问下」, 「有什么补助」); anything else
# (怎么申请, 丢了) makes the message say what it wants.
_GENERIC_SURFACE = re.compile(
    r"我想问下|我想问问|我想问|想问下|想问问|想问|想咨询下?|咨询下|问一下|问下|讲下|说说|了解下|了解一下|"
    r"有什么|有哪些|有没有|有冇|有乜嘢|有咩|有么子|有哪样|都有啥|都有什么|有啥|什么|啥子|啥|哪些|乜嘢|咩|么子|哪样|啲乜|乜|"
    r"方面的?|那块的?|那些|之类|的事情?|的问题|的东西|嘅嘢|问题|事情|政策|福利|好处|国家|政府|能享受|享受|"
    r"怎么弄|怎么搞|怎么整|怎么办理?|怎样办理?|如何办理?|咋整|咋办|咋弄|咋搞|点样搞|点样弄|点样办|点搞|哪门搞|哪门办|关于|"
    r"得不得|可以|能|领|发|的|了|吗|呢|啊|呀|嘛|吧|我|给|对|都|要|想|请问|你好|您好|找|办|开|个|弄|搞|申请|注意|"
    # fillers of 「能申请点什么」「还有什么可以享受」「仲可以申请啲乜」
    r"点|些|啲|还|仲|再|"
    r"[\s,.?!，。？！、]")
CATEGORY_KEY = "分类:"
# The resident asks what there is (「老人补贴有哪些」, 「能申请点什么」), not for one service: a list of choices
# even when one entry matches the words well.
_ASKS_FOR_LIST = re.compile(
    r"有哪些|有哪几|哪几种|哪几样|哪几个|都有啥|都有什么|都有哪|有什么(?:补贴|补助|福利|好处|优惠|政策|待遇|救助|帮扶)|"
    r"有啥(?:补贴|补助|福利|好处|优惠|政策|待遇)|有乜嘢|有咩|有么子|有哪样|"
    r"(?:能|可以|可)(?:申请|领|享受|办)(?:点|些|到)?(?:什么|啥|哪些|乜嘢|么子|哪样)|"
    r"有(?:什么|啥|哪些|乜嘢|么子)(?:可以|能|可)(?:申请|领|享受|办)|"
    # 「生了孩子要办哪些事」「手续有边啲」: the things to do after a life event, not one service
    r"(?:要|该|得|需要)(?:办|弄|搞|跑|做)(?:点|些|的)?(?:哪些|哪几|什么事|啥事|些什么|些乜嘢|哪些地方)|"
    r"(?:要|该|得|需要)(?:弄|搞|跑)(?:点|些)?(?:什么|啥)|"
    r"手续有(?:哪|边)|有哪些要(?:办|弄|搞)")


@dataclass(frozen=True)
class BroadRequest:
    terms: tuple[str, ...]
    options: tuple[str, ...]  # entry ids, best first
    others: tuple[str, ...]  # the other words of the message
    bare: bool  # nothing but broad terms and generic words (「医保」, 「有什么补贴」): a choice even when one matches
    asks_for_list: bool = False  # 「老人补贴有哪些」: what there is, so a choice even when one entry matches well


@lru_cache(maxsize=4)
def load_broad_terms(path: Path = BROAD_TERMS_FILE) -> Mapping[str, tuple[str, ...]]:
    if not path.exists():
        return {}
    data, _ = parse_yaml_file(path)
    terms = data.get("broad_terms") if isinstance(data, dict) else None
    if not isinstance(terms, dict):
        return {}
    return {str(term): tuple(str(k) for k in (keys or [term])) for term, keys in terms.items()}


def _matching(knowledge: KnowledgeBase, titles: dict[str, str], keys: tuple[str, ...]) -> list[str]:
    def match() -> list[str]:
        categories = {k.removeprefix(CATEGORY_KEY) for k in keys if k.startswith(CATEGORY_KEY)}
        words = [k for k in keys if not k.startswith(CATEGORY_KEY)]
        return [entry_id for entry_id, title in titles.items()
                if knowledge.entries[entry_id].category in categories or any(k in title for k in words)]

    return knowledge.derived(f"broad-match:{'|'.join(keys)}", match)


def _titles(knowledge: KnowledgeBase) -> dict[str, str]:
    analyzer = knowledge.index.analyzer
    return knowledge.derived("broad-titles", lambda: {
        entry_id: f"{entry.title}|{analyzer.canonical(entry.title)}"
        for entry_id, entry in knowledge.entries.items() if not entry.is_referral})


def find_broad_request(knowledge: KnowledgeBase, normalized: str, popularity: Mapping[str, int],
                       max_options: int, search: SearchResult | None = None) -> BroadRequest | None:
    """``search``: the message's retrieval with ``RELEVANCE_CANDIDATES`` candidates, when the caller has it."""
    analyzer = knowledge.index.analyzer
    analyzed = analyzer.analyze_query(normalized)
    canonical = analyzed.canonical
    explicit = load_broad_terms()
    titles = _titles(knowledge)
    # Listed terms are spotted in the text itself (longest first): word segmentation splits 「有没有钱领」 as 钱领.
    terms: list[str] = []
    rest = canonical
    # …but not inside a longer term of the knowledge base's dictionary (社保 in 社保卡).
    known = knowledge.derived("canonical-terms", lambda: frozenset(knowledge.synonyms.canonical_terms()))
    longer = [w for w in analyzed.words if w in known]
    for term in sorted(explicit, key=len, reverse=True):
        if term in rest and not any(term in w and len(w) > len(term) for w in longer):
            terms.append(term)
            rest = rest.replace(term, " ")
    asks_for_list = bool(_ASKS_FOR_LIST.search(normalized))
    if not terms and asks_for_list and not _GENERIC_SURFACE.sub("", canonical):
        # 「有什么可以申请的」: nothing named at all — the services residents ask most, one per category first
        return _everything(knowledge, titles, popularity, max_options, search)
    if not terms and search is not None and search.decision == Decision.answer:
        return None  # only a bare listed term outranks a confident answer: nothing more to look for
    for word in analyzer.analyze_query(rest).words:
        if len(word) >= 2 and word not in GENERIC_WORDS and \
                len(_matching(knowledge, titles, (word,))) >= MIN_TITLES_FOR_BROAD:
            terms.append(word)
            rest = rest.replace(word, " ")
    if not terms:
        return None
    # The generic surface goes first: segmentation glues it to nothing words (我要, 开个, 整个 in 「我要开个证明」)
    others = [w for w in analyzer.analyze_query(_GENERIC_SURFACE.sub(" ", rest)).words
              if w not in GENERIC_WORDS and len(w) >= 2]
    if len(others) > MAX_OTHER_WORDS:
        return None
    # Several broad words, or one and another word, that retrieval is sure name one entry (「退伍军人的优待证怎么办」,
    # 「老年证有啥好处」: the good things of the one thing named) are no broad request.
    if (len(terms) > 1 or others) and search is not None and search.decision == Decision.answer \
            and search.top is not None and search.top.score >= NARROWED_MATCH:
        return None
    matched: dict[str, int] = {}
    for term in terms:
        for entry_id in _matching(knowledge, titles, explicit.get(term) or (term,)):
            matched[entry_id] = matched.get(entry_id, 0) + 1
    if search is None:
        search = knowledge.search(normalized, k=RELEVANCE_CANDIDATES)
    relevance = {c.entry_id: c.score for c in search.candidates}
    if others:  # 「老人家有什么福利」: prefer the options that also match the other word
        narrowed = {e: n for e, n in matched.items() if relevance.get(e, 0.0) > 0.05 or others[0] in titles[e]}
        if len(narrowed) >= MIN_TITLES_FOR_BROAD:
            matched = narrowed
    ranked = sorted(matched, key=lambda e: (-matched[e], -relevance.get(e, 0.0), -popularity.get(e, 0), e))
    # Bare: nothing but listed terms and generic words. A word that is merely in several titles (社保卡) is not
    # bare: 「社保卡」 alone is still answered when retrieval is sure.
    bare = all(term in explicit for term in terms) and not _GENERIC_SURFACE.sub("", rest)
    options = by_category(knowledge, ranked)[:max_options]
    return BroadRequest(tuple(terms), tuple(options), tuple(others), bare, asks_for_list)


def _everything(knowledge: KnowledgeBase, titles: dict[str, str], popularity: Mapping[str, int], max_options: int,
                search: SearchResult | None) -> BroadRequest:
    relevance = {c.entry_id: c.score for c in search.candidates} if search is not None else {}
    ranked = sorted(titles, key=lambda e: (-popularity.get(e, 0), -relevance.get(e, 0.0), e))
    return BroadRequest((), tuple(by_category(knowledge, ranked)[:max_options]), (), True, True)


def by_category(knowledge: KnowledgeBase, ranked: list[str]) -> list[str]:
    """The best of each category first, then the second of each, and so on."""
    queues: dict[str, list[str]] = {}
    for entry_id in ranked:
        queues.setdefault(knowledge.entries[entry_id].category, []).append(entry_id)
    ordered: list[str] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                ordered.append(queue.pop(0))
    return ordered
