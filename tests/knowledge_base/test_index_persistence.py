"""The persisted index: a saved index searches like the built one, is reused while the content is unchanged,
is rebuilt when it changes, and a damaged index on disk means a rebuild, never a crash."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.engine import KEEP_OLD_INDEXES, KnowledgeBase
from knowledge_base.errors import IndexBuildError
from knowledge_base.loader import load_entries
from knowledge_base.profile import load_profile
from knowledge_base.retrieval.index import (
    PRETRAINED_VECTORS,
    HybridIndex,
    RetrievalConfig,
    content_fingerprint,
)
from knowledge_base.synonyms import SynonymDictionary, load_synonyms

QUERIES = ["社保卡丢了怎么办", "长寿金怎么领", "社宝", "老人饭堂在哪里", "护照", "", "退休金"]


def same_results(a, b) -> None:
    for query in QUERIES:
        left, right = a.search(query), b.search(query)
        assert left.decision == right.decision, query
        assert [c.entry_id for c in left.candidates] == [c.entry_id for c in right.candidates], query
        np.testing.assert_allclose([c.score for c in left.candidates], [c.score for c in right.candidates],
                                   atol=1e-6)
        for x, y in zip(left.candidates, right.candidates, strict=True):
            assert x.signals == pytest.approx(y.signals, abs=1e-6)


def build(kb_dir: Path, index_root: Path | None, entries=None, synonyms=None) -> KnowledgeBase:
    """The char tokenizer keeps these builds fast (no jieba start-up); persistence does not depend on it."""
    return KnowledgeBase.build(
        entries if entries is not None else load_entries(kb_dir),
        synonyms if synonyms is not None else load_synonyms(kb_dir / "synonyms.yaml"),
        load_profile(kb_dir / "community_profile.example.yaml"),
        index_root=index_root,
        tokenizer="char",
    )


def index_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def test_save_then_load_searches_identically(tiny_kb, tmp_path: Path) -> None:
    directory = tmp_path / "index"
    tiny_kb.index.save(directory)
    assert (directory / "index.pkl").exists() and (directory / "vectors.faiss").exists()
    loaded = HybridIndex.load(directory, tiny_kb.index.analyzer)
    assert loaded.entry_ids == tiny_kb.index.entry_ids
    assert loaded.pretrained is not None
    np.testing.assert_array_equal(loaded.pretrained_vectors, tiny_kb.index.pretrained_vectors)
    same_results(tiny_kb.index, loaded)


def test_saving_over_an_existing_index_replaces_it(tiny_kb, tmp_path: Path) -> None:
    directory = tmp_path / "index"
    tiny_kb.index.save(directory)
    (directory / "stale-file").write_text("left over", encoding="utf-8")
    tiny_kb.index.save(directory)
    assert not (directory / "stale-file").exists()
    assert not directory.with_name("index.tmp").exists() and not directory.with_name("index.old").exists()
    same_results(tiny_kb.index, HybridIndex.load(directory, tiny_kb.index.analyzer))


def test_unchanged_content_is_loaded_from_disk(tiny_kb_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    first = build(tiny_kb_dir, root)
    assert first.loaded_from_disk is False
    second = build(tiny_kb_dir, root)
    assert second.loaded_from_disk is True
    assert second.index.fingerprint == first.index.fingerprint
    assert len(index_dirs(root)) == 1
    same_results(first, second)


def test_a_changed_entry_is_rebuilt(tiny_kb_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    entries = load_entries(tiny_kb_dir)
    first = build(tiny_kb_dir, root, entries)
    changed = [e.model_copy(update={"questions": [*e.questions, "长者生日补贴怎么领"]})
               if e.id == "senior-age-allowance" else e for e in entries]
    second = build(tiny_kb_dir, root, changed)
    assert second.loaded_from_disk is False
    assert second.index.fingerprint != first.index.fingerprint
    assert len(index_dirs(root)) == 2
    assert second.search("长者生日补贴怎么领").top.signals["word"] == pytest.approx(1.0, abs=1e-4)
    # and the new content is itself reused on the next start
    assert build(tiny_kb_dir, root, changed).loaded_from_disk is True


def test_fingerprint_follows_content_synonyms_and_config(tiny_kb_dir: Path) -> None:
    entries = load_entries(tiny_kb_dir)
    synonyms = {"养老金": "退休金"}
    base = content_fingerprint(entries, synonyms, RetrievalConfig())
    assert content_fingerprint(list(reversed(entries)), synonyms, RetrievalConfig()) == base  # order-free
    bookkeeping = [e.model_copy(update={"version": 9, "updated_by": "staff"}) for e in entries]
    assert content_fingerprint(bookkeeping, synonyms, RetrievalConfig()) == base
    answer = [e.model_copy(update={"answer": e.answer + "。"}) if i == 0 else e for i, e in enumerate(entries)]
    assert content_fingerprint(answer, synonyms, RetrievalConfig()) != base
    assert content_fingerprint(entries[1:], synonyms, RetrievalConfig()) != base
    assert content_fingerprint(entries, {"养老金": "养老钱"}, RetrievalConfig()) != base
    assert content_fingerprint(entries, synonyms, RetrievalConfig(encoder="sentence-transformers")) != base
    assert content_fingerprint(entries, synonyms, RetrievalConfig(pretrained="")) != base  # no pretrained vectors
    # where its vectors are kept does not change the index
    assert content_fingerprint(entries, synonyms, RetrievalConfig(pretrained_cache="/elsewhere.npz")) == base


def test_changed_synonyms_are_rebuilt(tiny_kb_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    synonyms = load_synonyms(tiny_kb_dir / "synonyms.yaml")
    build(tiny_kb_dir, root, synonyms=synonyms)
    more = SynonymDictionary({**synonyms.mapping, "社宝": "社保卡"})
    rebuilt = build(tiny_kb_dir, root, synonyms=more)
    assert rebuilt.loaded_from_disk is False
    assert "社保卡" in rebuilt.search("社宝丢了").canonical


@pytest.mark.slow
def test_only_a_few_old_indexes_are_kept(tiny_kb_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    entries = load_entries(tiny_kb_dir)
    last = None
    for n in range(KEEP_OLD_INDEXES + 3):
        variant = [e.model_copy(update={"answer": f"{e.answer}（第{n}版）"}) for e in entries]
        last = build(tiny_kb_dir, root, variant)
    dirs = index_dirs(root)
    assert len(dirs) == KEEP_OLD_INDEXES + 1
    assert root / last.index.fingerprint in dirs


def _rewrite_state(directory: Path, change) -> None:
    """Changes the pickled state as older code would have written it (same format number)."""
    path = directory / "index.pkl"
    state = pickle.loads(path.read_bytes())
    change(state)
    path.write_bytes(pickle.dumps(state))


@pytest.fixture(scope="module")
def saved_root(tmp_path_factory: pytest.TempPathFactory, write_kb) -> tuple[Path, Path, KnowledgeBase]:
    """The tiny knowledge base and an index root holding its saved index, built once for the module."""
    kb_dir = write_kb(tmp_path_factory.mktemp("kb"))
    root = tmp_path_factory.mktemp("indexes")
    return kb_dir, root, build(kb_dir, root)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / "index.pkl").write_bytes(b"not a pickle at all"), id="garbage-pickle"),
        pytest.param(lambda d: (d / "index.pkl").write_bytes((d / "index.pkl").read_bytes()[:100]), id="truncated"),
        pytest.param(lambda d: (d / "index.pkl").write_bytes(b""), id="empty"),
        pytest.param(lambda d: (d / "index.pkl").write_bytes(pickle.dumps({"format": -1})), id="old-format"),
        pytest.param(lambda d: (d / "index.pkl").write_bytes(pickle.dumps(["a", "list"])), id="not-a-mapping"),
        pytest.param(lambda d: (d / "vectors.faiss").write_bytes(b"broken"), id="vectors"),
        pytest.param(lambda d: [p.unlink() for p in (d / "encoder").rglob("*") if p.is_file()], id="encoder"),
        pytest.param(lambda d: _rewrite_state(d, lambda state: [delattr(s, "idf") for s in state["lexical"].values()]),
                     id="older-bm25-layout"),
        pytest.param(lambda d: _rewrite_state(d, lambda state: state.pop("lexical")), id="missing-part"),
        pytest.param(lambda d: (d / PRETRAINED_VECTORS).write_bytes(b"\x93NUMPY broken"), id="pretrained-vectors"),
        pytest.param(lambda d: np.save(d / PRETRAINED_VECTORS, np.zeros((3, 384), dtype=np.float32)),
                     id="pretrained-vectors-of-other-documents"),
    ],
)
def test_a_damaged_index_is_rebuilt_not_a_crash(saved_root, tmp_path: Path, damage) -> None:
    kb_dir, saved, first = saved_root
    root = tmp_path / "indexes"
    shutil.copytree(saved, root)
    assert build(kb_dir, root).loaded_from_disk is True  # the copy is a good index
    damage(root / first.index.fingerprint)
    rebuilt = build(kb_dir, root)
    assert rebuilt.loaded_from_disk is False
    same_results(first, rebuilt)
    # the rebuild repaired the directory: the next start loads it again
    assert build(kb_dir, root).loaded_from_disk is True


def test_load_reports_a_damaged_index_as_index_build_error(tiny_kb, tmp_path: Path) -> None:
    directory = tmp_path / "index"
    tiny_kb.index.save(directory)
    (directory / "index.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(IndexBuildError):
        HybridIndex.load(directory, tiny_kb.index.analyzer)


def test_an_empty_knowledge_base_cannot_be_indexed(tiny_kb_dir: Path) -> None:
    with pytest.raises(IndexBuildError):
        build(tiny_kb_dir, None, entries=[])
