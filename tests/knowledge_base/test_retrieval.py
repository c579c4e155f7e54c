"""Hybrid retrieval: BM25 shares against a brute-force oracle, fusion, decisions, dense top-k, and search
behaviour on the tiny and on the shipped knowledge base."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.engine import load_calibration
from knowledge_base.errors import UnknownComponentError
from knowledge_base.retrieval import lexical
from knowledge_base.retrieval.dense import (
    VectorIndex,
    _build_word_tokenizer,
    _project,
    make_encoder,
    mean_pool,
    train_static_encoder,
)
from knowledge_base.retrieval.fusion import (
    FAST_SIGNALS,
    FEATURES,
    SIGNALS,
    Calibration,
    Decision,
    Thresholds,
    decide,
    fusion_features,
)
from knowledge_base.retrieval.index import DENSE_CANDIDATES
from knowledge_base.retrieval.lexical import K1, MAX_DOC_FREQUENCY, B, Bm25Signal
from knowledge_base.retrieval.text_analysis import (
    CharTokenizer,
    HomophoneCorrector,
    TextAnalyzer,
    make_tokenizer,
)
from knowledge_base.synonyms import SynonymDictionary

# ---------------------------------------------------------------- BM25 against an oracle

TOKENS = list("abcdefgh")
MANY_TOKENS = [*"abc", *(f"t{i}" for i in range(25))]  # a few common, many rare


def oracle_shares(corpus: list[list[str]], query: list[str], min_docs: int = lexical.MIN_DOCS_TO_SKIP_COMMON,
                  ) -> np.ndarray:
    """Lucene BM25 (k1=1.2, b=0.75, tf/(tf + k1·norm) as bm25s and Lucene ≥ 8 score it) of each document,
    divided by what the query earns against a document identical to itself.

    On corpora of more than ``min_docs`` documents, tokens in more than MAX_DOC_FREQUENCY of the documents
    are left out of both sums (the identical document still has its full length).
    """
    k1, b = 1.2, 0.75
    docs = [d if d else ["\u0000"] for d in corpus]
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    df = Counter(t for d in docs for t in set(d))
    common = {t for t, c in df.items() if n > min_docs and c > MAX_DOC_FREQUENCY * n}
    counted = [t for t in query if t not in common]

    def idf(token: str) -> float:
        count = df.get(token, 1)  # a token no document has counts as the rarest
        return math.log(1 + (n - count + 0.5) / (count + 0.5))

    def bm25(doc: list[str], terms: list[str]) -> float:
        tf = Counter(doc)
        norm = 1 - b + b * len(doc) / avgdl
        # every occurrence of a token in the query adds its contribution
        return sum(idf(t) * tf[t] / (tf[t] + k1 * norm) for t in terms if t in df and tf[t])

    # the identical document scored with the corpus statistics, unknown tokens at the highest idf
    query_tf = Counter(query)
    query_norm = 1 - b + b * len(query) / avgdl
    identical = sum(idf(t) * query_tf[t] / (query_tf[t] + k1 * query_norm) for t in counted)
    if identical <= 0:
        return np.zeros(n)
    return np.clip(np.array([bm25(d, counted) for d in docs]) / identical, 0, 1)


def test_constants_are_the_lucene_defaults() -> None:
    assert (K1, B) == (1.2, 0.75)


@settings(deadline=None, max_examples=150)
@given(
    corpus=st.lists(st.lists(st.sampled_from(TOKENS), max_size=8), min_size=1, max_size=12),
    query=st.lists(st.sampled_from([*TOKENS, "x", "y"]), min_size=1, max_size=6),
)
def test_bm25_share_equals_brute_force_over_self_score(corpus: list[list[str]], query: list[str]) -> None:
    shares = Bm25Signal(corpus).scores(query)
    assert shares.shape == (len(corpus),)
    assert np.all((shares >= 0) & (shares <= 1))
    np.testing.assert_allclose(shares, oracle_shares(corpus, query), rtol=1e-4, atol=1e-5)


@settings(deadline=None, max_examples=40)
@given(
    corpus=st.lists(st.lists(st.sampled_from(MANY_TOKENS), max_size=8), min_size=51, max_size=70),
    query=st.lists(st.sampled_from([*MANY_TOKENS, "x"]), min_size=1, max_size=8),
)
def test_bm25_share_with_common_tokens_skipped_equals_brute_force(corpus: list[list[str]],
                                                                   query: list[str]) -> None:
    with patch.object(lexical, "MIN_DOCS_TO_SKIP_COMMON", 50):  # the large-corpus rule on a small corpus
        shares = Bm25Signal(corpus).scores(query)
    assert np.all((shares >= 0) & (shares <= 1))
    np.testing.assert_allclose(shares, oracle_shares(corpus, query, min_docs=50), rtol=1e-4, atol=1e-5)


@settings(deadline=None, max_examples=100)
@given(corpus=st.lists(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8), min_size=1, max_size=12),
       pick=st.integers(min_value=0))
def test_a_document_identical_to_the_query_has_share_one(corpus: list[list[str]], pick: int) -> None:
    query = corpus[pick % len(corpus)]
    shares = Bm25Signal(corpus).scores(query)
    assert shares[pick % len(corpus)] == pytest.approx(1.0, abs=1e-4)


@settings(deadline=None, max_examples=40)
@given(corpus=st.lists(st.lists(st.sampled_from(MANY_TOKENS), min_size=1, max_size=8), min_size=51, max_size=70),
       pick=st.integers(min_value=0))
def test_identical_document_share_one_when_common_tokens_are_skipped(corpus: list[list[str]], pick: int) -> None:
    query = corpus[pick % len(corpus)]
    with patch.object(lexical, "MIN_DOCS_TO_SKIP_COMMON", 50):
        signal = Bm25Signal(corpus)
    df = Counter(t for d in corpus for t in set(d))
    if all(df[t] > MAX_DOC_FREQUENCY * len(corpus) for t in query):
        return  # nothing but common tokens: no evidence either way
    assert signal.scores(query)[pick % len(corpus)] == pytest.approx(1.0, abs=1e-4)


def test_topic_words_of_a_small_knowledge_base_still_count() -> None:
    # 社保 in 40 % of 200 questions: a small knowledge base's main topic, not a word to skip
    corpus = [["社保", "卡", f"q{i}"] if i % 5 < 2 else [f"q{i}", "高龄"] for i in range(200)]
    shares = Bm25Signal(corpus).scores(["社保"])
    assert shares[0] == pytest.approx(shares.max()) and shares[0] > 0.5
    assert shares[2] == 0


def test_unknown_tokens_lower_the_share() -> None:
    signal = Bm25Signal([["社保", "卡", "补办"], ["高龄", "津贴"], ["老年", "食堂"]])
    known_only = signal.scores(["社保", "卡"])[0]
    with_unknown = signal.scores(["社保", "卡", "护照"])[0]
    assert 0 < with_unknown < known_only
    assert signal.scores(["护照"]).tolist() == [0, 0, 0]
    assert signal.unknown_share(["护照"]) == 1.0
    assert signal.unknown_share(["社保"]) == 0.0
    assert 0 < signal.unknown_share(["社保", "护照"]) < 1


# ---------------------------------------------------------------- fusion

def brute_force_features(matrix: np.ndarray, query_features: np.ndarray) -> np.ndarray:
    n, s = matrix.shape
    rows = []
    for i in range(n):
        gaps = []
        for c in range(s):
            others = [matrix[j, c] for j in range(n) if j != i]
            gaps.append(matrix[i, c] - (max(others) if others else 0.0))
        dense_x_unknown = matrix[i, SIGNALS.index("dense")] * query_features[0]
        rows.append([*matrix[i], *gaps, *query_features, dense_x_unknown])
    return np.array(rows, dtype=np.float32).reshape(n, 2 * s + len(query_features) + 1)


@settings(deadline=None, max_examples=200)
@given(
    n=st.integers(min_value=0, max_value=7),
    values=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]), min_size=28, max_size=28),
    unknown=st.floats(min_value=0, max_value=1),
)
def test_fusion_gap_columns_match_a_brute_force_loop(n: int, values: list[float], unknown: float) -> None:
    # few distinct values, so ties for the best entry are common
    matrix = np.array(values[: n * 4], dtype=np.float32).reshape(n, 4)
    query_features = np.array([unknown], dtype=np.float32)
    np.testing.assert_allclose(fusion_features(matrix, query_features),
                               brute_force_features(matrix, query_features), atol=1e-6)


def test_fusion_feature_order_matches_the_calibration() -> None:
    assert list(FEATURES) == [*FAST_SIGNALS, *(f"{s}_gap" for s in FAST_SIGNALS), "unknown_words", "dense_x_unknown"]
    assert len(Calibration().weights) == len(FEATURES)


def test_calibrated_scores_are_probabilities_and_reward_distinct_matches() -> None:
    calibration = load_calibration()
    matrix = np.array([[0.9, 0.9, 0.9, 0.95, 0.9], [0.1, 0.2, 0.1, 0.3, 0.1], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    scores = calibration.score(matrix, np.array([0.0], dtype=np.float32))
    assert np.all((scores > 0) & (scores < 1))
    assert scores[0] > 0.9 > scores[1] >= scores[2]


def test_calibration_round_trip_and_mismatch(tmp_path: Path) -> None:
    calibration = Calibration([float(i) for i in range(len(FEATURES))], -1.5)
    calibration.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == calibration
    Calibration([1.0, 2.0], 0.0, ["word", "dense"]).save(tmp_path / "old.json")
    with pytest.raises(ValueError, match="refit"):
        Calibration.load(tmp_path / "old.json")
    assert load_calibration(tmp_path / "old.json") == Calibration()  # falls back to the defaults
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert load_calibration(tmp_path / "broken.json") == Calibration()


def test_with_signals_switches_off_weights() -> None:
    calibration = Calibration([1.0] * len(FEATURES), 0.5)
    reduced = calibration.with_signals({"word", "dense"})
    kept = {name for name, w in zip(reduced.signals, reduced.weights, strict=True) if w}
    assert kept == {"word", "dense", "word_gap", "dense_gap", "unknown_words", "dense_x_unknown"}
    assert reduced.bias == 0.5


# ---------------------------------------------------------------- decisions

T = Thresholds(answer=0.55, clarify=0.35, margin=0.08, dominant_floor=0.3, dominant_ratio=3.0)
LOW_CLARIFY = Thresholds(answer=0.55, clarify=0.2, margin=0.08, dominant_floor=0.3, dominant_ratio=3.0)


@pytest.mark.parametrize(
    ("scores", "thresholds", "expected"),
    [
        ([], T, Decision.no_answer),
        ([0.34], T, Decision.no_answer),  # below clarify: nothing to offer, however alone it stands
        ([0.55], T, Decision.answer),  # at the answer threshold
        ([0.9, 0.5], T, Decision.answer),  # a clear winner
        ([0.9, 0.83], T, Decision.clarify),  # two close good candidates
        ([0.9, 0.82], T, Decision.answer),  # exactly the margin apart
        ([0.9, 0.88, 0.1], T, Decision.clarify),
        ([0.6, 0.58], T, Decision.clarify),
        ([0.9, 0.34], T, Decision.answer),  # a close runner-up below clarify does not count
        # between clarify and answer: answered only when far ahead of the runner-up (dominant)
        ([0.54, 0.17], T, Decision.answer),
        ([0.54, 0.19], T, Decision.clarify),
        ([0.4, 0.34], T, Decision.clarify),
        ([0.36], T, Decision.answer),  # alone: the runner-up counts as 0
        # the dominant rule has its own floor below which a lone candidate is only offered
        ([0.29, 0.01], LOW_CLARIFY, Decision.clarify),
        ([0.3, 0.09], LOW_CLARIFY, Decision.answer),
        ([0.3, 0.11], LOW_CLARIFY, Decision.clarify),
        ([0.25, 0.19], LOW_CLARIFY, Decision.clarify),
    ],
)
def test_decide_thresholds(scores: list[float], thresholds: Thresholds, expected: Decision) -> None:
    assert decide(scores, thresholds) == expected


# ---------------------------------------------------------------- dense top-k

@pytest.mark.parametrize(("n", "dim", "k"), [(1, 8, 1), (50, 16, 5), (300, 32, 10), (20, 8, 50)])
def test_vector_index_matches_numpy_cosine_top_k(n: int, dim: int, k: int) -> None:
    rng = np.random.default_rng(n + dim)
    raw = rng.normal(size=(n, dim)).astype(np.float32)
    vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    index = VectorIndex(vectors)
    for _ in range(5):
        query = rng.normal(size=dim).astype(np.float32)
        query /= np.linalg.norm(query)
        scores, ids = index.similarities(query, k)
        cosine = vectors @ query
        expected_ids = np.argsort(-cosine, kind="stable")[: min(k, n)]
        assert ids.tolist() == expected_ids.tolist()
        np.testing.assert_allclose(scores, cosine[expected_ids], atol=1e-5)


def test_vector_index_save_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(10, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(vectors)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert loaded.dim == 8
    for a, b in zip(index.similarities(vectors[4], 3), loaded.similarities(vectors[4], 3), strict=True):
        np.testing.assert_array_equal(a, b)


def test_trained_encoder_gives_unit_vectors(tiny_kb) -> None:
    vectors = tiny_kb.index.encoder.encode(["社保卡丢了", "高龄津贴", "", "😀"])
    assert vectors.dtype == np.float32 and vectors.shape[0] == 4
    norms = np.linalg.norm(vectors[:2], axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_static_query_encoding_matches_the_model(tiny_kb) -> None:
    # up to four texts are encoded in numpy, more through sentence-transformers: the numbers must agree
    encoder = tiny_kb.index.encoder
    texts = ["社保卡丢了", "长寿金怎么领", "护照", "", "社保卡丢了要带什么材料去补办"]
    batch = encoder.encode(texts)  # the model path
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])  # the numpy path
    np.testing.assert_allclose(one_by_one, batch, atol=1e-5)


def test_the_static_encoder_is_an_ensemble_of_seeds_projected_to_one_members_size() -> None:
    groups = [["社保卡丢了", "社保卡不见了", "补办社保卡"], ["高龄津贴", "长寿金怎么领", "老人补贴"],
              ["低保申请", "吃低保", "最低生活保障"]]
    one = train_static_encoder(groups, lambda t: " ".join(t), dim=4, epochs=2, members=1)
    two = train_static_encoder(groups, lambda t: " ".join(t), dim=4, epochs=2, members=2)
    v1, v2 = one.encode(["社保卡丢了"]), two.encode(["社保卡丢了"])
    assert v1.shape == v2.shape == (1, 4)  # the search costs what one member's does
    np.testing.assert_allclose(np.linalg.norm(v2), 1.0, atol=1e-5)
    assert not np.allclose(v1, v2)


def test_projecting_the_ensemble_keeps_the_cosines_of_its_sentences() -> None:
    texts = ["社 保 卡", "高 龄 津 贴", "低 保", "社 保 卡 丢", "老 人 补 贴", "吃 低 保"]
    tokenizer = _build_word_tokenizer(texts)
    weights = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), 16)).astype(np.float32)
    projected = _project(weights, tokenizer, texts, 6)  # six sentences span at most six directions
    assert projected.shape == (weights.shape[0], 6)
    before, after = mean_pool(tokenizer, weights, texts), mean_pool(tokenizer, projected, texts)
    np.testing.assert_allclose(after @ after.T, before @ before.T, atol=1e-4)


def test_unknown_components_are_clear_errors() -> None:
    with pytest.raises(UnknownComponentError, match="nosuch"):
        make_tokenizer("nosuch")
    with pytest.raises(UnknownComponentError, match="nosuch"):
        make_encoder("nosuch", prepare_tokens=str, prepare_text=str)
    with pytest.raises(UnknownComponentError, match="encoder_model_path"):
        make_encoder("sentence-transformers", prepare_tokens=str, prepare_text=str)


# ---------------------------------------------------------------- text analysis

def test_analyzer_streams() -> None:
    analyzer = TextAnalyzer(CharTokenizer(), SynonymDictionary.from_groups({"高龄津贴": ["长寿金"]}))
    analyzed = analyzer.analyze("请问，長壽金怎么领？")
    assert analyzed.canonical == "高龄津贴怎么领?"
    assert {"高", "津贴", "龄津"} <= set(analyzed.chars)
    assert "gao_ling" in analyzed.pinyin and "jin_tie" in analyzed.pinyin
    assert analyzer.analyze("社宝").pinyin == analyzer.analyze("社保").pinyin == ["she_bao"]


def test_jieba_words_drop_stopwords(tiny_kb) -> None:
    words = tiny_kb.index.analyzer.analyze("我想问一下社保卡怎么办理").words
    assert "社保卡" in words
    assert not {"我", "怎么", "办理", "一下"} & set(words)


# ---------------------------------------------------------------- search on the tiny knowledge base

def test_every_indexed_question_finds_its_entry(tiny_kb) -> None:
    for entry in tiny_kb.entries.values():
        for question in entry.searchable_texts():
            result = tiny_kb.search(question)
            assert result.top is not None and result.top.entry_id == entry.id, (question, result.candidates[:2])
            assert result.decision == Decision.answer, question


def test_an_exact_copy_has_full_lexical_shares(tiny_kb) -> None:
    result = tiny_kb.search("社保卡挂失电话是多少")
    assert result.top.entry_id == "social-security-card-loss"
    for signal in ("word", "char", "pinyin"):
        assert result.top.signals[signal] == pytest.approx(1.0, abs=1e-4)
    assert result.top.signals["dense"] == pytest.approx(1.0, abs=1e-3)


def test_homophone_typo_is_found_through_pinyin(tiny_kb) -> None:
    assert "社宝" not in tiny_kb.synonyms.mapping  # the tiny dictionary must not do the pinyin's job
    result = tiny_kb.search("社宝卡丢了")
    assert result.top.entry_id == "social-security-card-loss"
    _, matrix, _ = tiny_kb.index.signal_matrix("社宝")
    pinyin = matrix[:, SIGNALS.index("pinyin")]
    word = matrix[:, SIGNALS.index("word")]
    ids = tiny_kb.index.entry_ids
    assert word.max() == 0  # 社宝 is no word of the knowledge base
    assert ids[int(pinyin.argmax())] in {"social-security-card-apply", "social-security-card-loss"}
    for i, entry_id in enumerate(ids):
        if entry_id.startswith("social-security"):
            assert pinyin[i] > 0
        else:
            assert pinyin[i] == 0, entry_id


@pytest.mark.parametrize(
    ("query", "expected", "canonical_term"),
    [
        ("长寿金怎么领", "senior-age-allowance", "高龄津贴"),
        ("老人补贴去哪里申请", "senior-age-allowance", "高龄津贴"),
        ("退休金几岁能领", "resident-pension-claim", "养老金"),
        ("老人饭堂在哪里", "community-elderly-canteen", "老年食堂"),
        ("社会保障卡不见了", "social-security-card-loss", "社保卡"),
    ],
)
def test_synonym_variant_finds_the_canonical_entry(tiny_kb, query: str, expected: str, canonical_term: str) -> None:
    result = tiny_kb.search(query)
    assert canonical_term in result.canonical
    assert result.top.entry_id == expected
    assert result.decision == Decision.answer


def test_traditional_and_full_width_queries_are_found(tiny_kb) -> None:
    assert tiny_kb.search("社保卡丟了怎麼辦？").top.entry_id == "social-security-card-loss"
    assert tiny_kb.search("我爸八十五歲了有高齡津貼嗎").top.entry_id == "senior-age-allowance"


def test_search_results_are_sorted_bounded_probabilities(tiny_kb) -> None:
    result = tiny_kb.search("老人补贴", k=3)
    scores = [c.score for c in result.candidates]
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert len(tiny_kb.search("老人补贴", k=100).candidates) == len(tiny_kb.entries)
    assert result.decision == decide(scores, tiny_kb.index.config.thresholds)


def test_entry_signal_is_the_best_of_its_documents(tiny_kb) -> None:
    index = tiny_kb.index
    query = "社保卡丢了要带什么材料去补办"
    analyzed = index.analyzer.analyze(query)
    _, matrix, _ = index.signal_matrix(query)
    streams = {"word": analyzed.words, "char": analyzed.chars, "pinyin": analyzed.pinyin}
    docs_of = [np.flatnonzero(index.doc_entry == e) for e in range(len(index.entry_ids))]
    for name, tokens in streams.items():
        doc_scores = index.lexical[name].scores(tokens)
        expected = [doc_scores[d].max() for d in docs_of]
        np.testing.assert_allclose(matrix[:, SIGNALS.index(name)], expected, atol=1e-6)
    texts = [t for e in index.entry_ids for t in tiny_kb.entries[e].searchable_texts()]
    doc_vectors = index.encoder.encode(texts)
    sims = doc_vectors @ index.encoder.encode([query])[0]
    considered = set(np.argsort(-sims)[:DENSE_CANDIDATES].tolist())
    expected_dense = [max([float(np.clip(sims[d], 0, 1)) for d in docs if d in considered], default=0.0)
                      for docs in docs_of]
    np.testing.assert_allclose(matrix[:, SIGNALS.index("dense")], expected_dense, atol=1e-4)


def test_bag_signal_reads_all_of_an_entrys_documents_as_one(tiny_kb) -> None:
    index = tiny_kb.index
    query = "社保卡丢了要带什么材料去补办"
    words = index.analyzer.analyze(query).words
    _, matrix, _ = index.signal_matrix(query)
    bags = [[w for t in tiny_kb.entries[e].searchable_texts() for w in index.analyzer.analyze(t).words]
            for e in index.entry_ids]
    np.testing.assert_allclose(matrix[:, SIGNALS.index("bag")], Bm25Signal(bags).scores(words), atol=1e-6)


def test_bag_signal_sees_an_entry_cover_a_question_no_one_document_does(tiny_kb) -> None:
    from knowledge_base.engine import make_analyzer
    from knowledge_base.retrieval.index import HybridIndex, RetrievalConfig
    from knowledge_base.synonyms import SynonymDictionary

    base = next(iter(tiny_kb.entries.values()))

    def entry(entry_id: str, title: str, questions: list[str]):
        return base.model_copy(update={"id": entry_id, "title": title, "questions": questions})

    entries = [entry("pay-by-phone", "手机缴费", ["微信可以缴费吗", "农村医保怎么办理"]),
               entry("enroll", "医保参保登记", ["农村医保怎么参加", "农村医保在哪登记"])]
    index = HybridIndex.build(entries, make_analyzer(SynonymDictionary()), load_calibration(),
                              RetrievalConfig(signals=("word", "bag")))
    _, matrix, _ = index.signal_matrix("农村医保能用微信缴费吗")
    bag = matrix[:, SIGNALS.index("bag")]
    assert bag[0] > bag[1]  # only 手机缴费 has 微信, 缴费 and 农村医保, in two different questions


@pytest.mark.parametrize(
    "query",
    ["", "   ", "\u3000\n\t", "😀😀🙏", "\x00\x01\x02", "？？？", "社" * 10_000, "a" * 10_000,
     "社保卡\x00丢了\x1b[31m", "请问", "\ud800", "１２３４５"],
)
def test_odd_queries_give_a_clear_result(tiny_kb, query: str) -> None:
    result = tiny_kb.search(query)
    assert result.decision in set(Decision)
    assert all(0 <= c.score <= 1 for c in result.candidates)
    if not result.canonical:
        assert result.decision == Decision.no_answer
        assert result.candidates == []


@pytest.mark.parametrize("query", ["", "   ", "😀😀", "\x00\x07", "\u200b"])
def test_empty_queries_are_no_answer(tiny_kb, query: str) -> None:
    result = tiny_kb.search(query)
    assert result.decision == Decision.no_answer
    assert result.candidates == [] and result.top is None


# ---------------------------------------------------------------- the shipped knowledge base

UNRELATED = ["股票", "哪支股票能涨", "房贷利率", "房贷利率现在多少", "红烧肉怎么做"]


@pytest.mark.slow
@pytest.mark.parametrize("query", UNRELATED)
def test_unrelated_questions_stay_below_the_answer_threshold(shipped_kb, query: str) -> None:
    result = shipped_kb.search(query)
    # Never answered: a question with no word the KB knows (股票 is not 发票) is at most offered as a choice.
    assert result.decision != Decision.answer, result.candidates[:2]


@pytest.mark.slow
def test_shipped_questions_find_their_entries(shipped_kb) -> None:
    misses = []
    for entry in shipped_kb.entries.values():
        for question in entry.searchable_texts()[:3]:
            top = shipped_kb.search(question).top
            if top is None or top.entry_id != entry.id:
                misses.append((question, entry.id, top and top.entry_id))
    assert misses == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "expected"),
    [("社宝卡丢了怎么办", "social-security-card-loss"), ("八十岁老人补贴", "senior-age-allowance"),
     ("退休金怎么认证", "pension-eligibility-certification")],
)
def test_shipped_colloquial_questions(shipped_kb, query: str, expected: str) -> None:
    result = shipped_kb.search(query)
    assert result.top.entry_id == expected
    assert result.decision == Decision.answer


REFERRED = {"办护照要多久": "referral-passport", "新车上车牌去哪里": "referral-vehicle-registration",
            "老板欠了我三个月工资": "referral-wage-arrears", "网上买的衣服商家不给退": "referral-online-shopping-return"}


@pytest.mark.slow
@pytest.mark.parametrize(("query", "entry_id"), REFERRED.items())
def test_matters_of_other_departments_find_their_referral(shipped_kb, query: str, entry_id: str) -> None:
    result = shipped_kb.search(query)
    assert result.top is not None and result.top.entry_id == entry_id, result.candidates[:2]
    assert shipped_kb.entries[entry_id].is_referral


def test_a_known_word_glued_to_one_more_character_is_a_scrap(tiny_kb) -> None:
    # jieba cuts 「最多贷几多」 as 最多贷: 最多 (an aspect word) + 贷, not a word no entry knows
    assert tiny_kb.is_scrap("最多贷", frozenset({"最多"}))
    assert not tiny_kb.is_scrap("最多贷")  # 最多 unknown here: nothing to tell it from a word
    assert not tiny_kb.is_scrap("股票") and not tiny_kb.is_scrap("猫咪")
    assert not tiny_kb.is_scrap("比特币交易", frozenset({"比特"}))  # more than one character beyond it


def _corrector(words: set[str], terms: list[str]) -> HomophoneCorrector:
    def segment(text: str) -> list[str]:  # forward maximum matching over ``words``: a stand-in for jieba
        tokens, start = [], 0
        while start < len(text):
            size = next((n for n in range(min(4, len(text) - start), 1, -1) if text[start:start + n] in words), 1)
            tokens.append(text[start:start + size])
            start += size
        return tokens

    return HomophoneCorrector(terms, lambda w: w in words, segment)


def test_typos_are_corrected_to_the_terms_they_sound_like() -> None:
    corrector = _corrector({"怎么", "怎么办", "申请", "几号"}, ["居住证", "低保", "养老金", "公积金"])
    assert corrector.correct("据住证怎么办") == "居住证怎么办"
    assert corrector.correct("低宝怎么申请") == "低保怎么申请"
    # Guangxi accents: in/ing, n/l, s/sh … are one sound (养老经 → 养老金)
    assert corrector.correct("养老经几号发") == "养老金几号发"
    assert corrector.correct("公基金") == "公积金"
    # a broad word typed as a homophone is the word (补帖 → 补贴, 社宝 → 社保), wherever it stands
    broad = _corrector({"我问下", "那块"}, ["补贴", "社保", "医保"])
    assert broad.correct("补帖") == "补贴" and broad.correct("我问下社宝那块") == "我问下社保那块"
    assert broad.correct("医宝社宝这些") == "医保社保这些"


def test_no_correction_where_it_would_change_the_meaning() -> None:
    corrector = _corrector({"一包", "找工作", "护理", "医保"}, ["医保", "医保码", "招工", "报户", "个账"])
    assert corrector.correct("买一包烟") == "买一包烟"  # a word of its own, and no character shared
    assert corrector.correct("找工作") == "找工作"  # 找工 sounds like 招工, but cutting 找工作 in two is no fix
    assert corrector.correct("可以报护理的钱") == "可以报护理的钱"  # 报护 would cut 护理
    assert corrector.correct("医保吗") == "医保吗"  # 吗 is a word of its own, not a typo of 码
    assert corrector.correct("盖个章") == "盖个章"  # only 个 kept of 个账
    assert corrector.correct("医保") == "医保"


def test_the_shipped_analyzer_reads_a_typo_as_its_term() -> None:
    from knowledge_base.engine import DATA_DIR, make_analyzer
    from knowledge_base.loader import load_entries
    from knowledge_base.synonyms import load_synonyms

    synonyms = load_synonyms(DATA_DIR / "synonyms.yaml")
    analyzer = make_analyzer(synonyms, titles=[entry.title for entry in load_entries(DATA_DIR)])
    assert "居住证" in analyzer.canonical("据住证怎么办")
    assert analyzer.canonical("找工作") == "找工作" and "一包" in analyzer.canonical("买一包烟")
    # a word of a title (驾驶证到期换证…) is a term too: its typo is not read as 死亡证明 (死证 sounds like 使证)
    assert analyzer.canonical("驾使证到期怎么换").startswith("驾驶证")
    assert not make_analyzer(synonyms).canonical("驾使证到期怎么换").startswith("驾驶证")

