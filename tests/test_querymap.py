"""The learned query map: the ridge fit on hand-made vectors, the map file, and the mapped dense channel
in a real search, on statutes only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kb.config import BuildSettings, SearchSettings
from kb.errors import ConfigError, KBError
from kb.pipeline import build_index, open_retriever
from kb.querymap import QueryMap, fit_query_map, map_file, shipped_map
from kb.retrieve import Retriever
from tests.test_backends import NEEDS_LITE, close
from tests.test_expand import LAW, NOTICE, SCHOOL, on_both_stores


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_ridge_recovers_a_linear_turn_and_stays_at_the_identity_when_pulled_hard():
    rng = np.random.default_rng(0)
    questions = rng.normal(size=(200, 6))
    turn = np.roll(np.eye(6), 1, axis=1)  # clause = the question's coordinates shifted by one
    clauses = questions @ turn
    np.testing.assert_allclose(fit_query_map(questions, clauses, "m", alpha=1e-6).matrix, turn, atol=1e-4)
    np.testing.assert_allclose(fit_query_map(questions, clauses, "m", alpha=1e9).matrix, np.eye(6), atol=1e-4)
    assert fit_query_map(questions, clauses, "m").pairs == 200
    with pytest.raises(ValueError, match="alike"):
        fit_query_map(questions, clauses[:, :5], "m")


def test_apply_gives_a_unit_vector_in_the_mapped_direction():
    query_map = QueryMap("m", np.array([[0.0, 2.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(query_map.apply(np.array([1.0, 0.0])), [0.0, 1.0])
    assert not query_map.apply(np.array([0.0, 1.0])).any()  # mapped to nothing: left at zero


def test_save_and_load_round_trip_and_bad_files_name_the_file(tmp_path):
    query_map = QueryMap("usem3/x", np.eye(4, dtype=np.float32) * 0.5, 7)
    path = map_file("usem3/x", tmp_path)
    assert path.name == "usem3__x.npz"
    query_map.save(path)
    again = QueryMap.load(path)
    assert (again.model, again.pairs) == ("usem3/x", 7)
    np.testing.assert_allclose(again.matrix, query_map.matrix, atol=1e-3)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a map")
    with pytest.raises(KBError, match="bad.npz"):
        QueryMap.load(bad)


def test_no_shipped_map_for_an_embedder_without_one():
    assert shipped_map("hashing-256", 256) is None


def test_the_shipped_map_is_one_of_the_default_embedder_and_holds_no_questions():
    import zipfile

    from kb.querymap import DEFAULT_MAPS

    paths = sorted(DEFAULT_MAPS.glob("*.npz"))
    assert len(paths) == 2  # the mapped channel's and the law prior's
    for path in paths:
        found = QueryMap.load(path)
        assert found.model.startswith("usem3/") and found.matrix.shape == (512, 512) and found.pairs > 1000
        assert path == map_file(found.model, target=found.target)
        assert sorted(zipfile.ZipFile(path).namelist()) == ["header.npy", "matrix.npy"]  # one matrix, no text
    assert sorted(QueryMap.load(p).target for p in paths) == ["clauses", "law-titles"]


@pytest.mark.parametrize("value", [-0.1, 10.5])
def test_mapped_weight_is_checked(value):
    with pytest.raises(ConfigError, match="mapped_weight"):
        SearchSettings(mapped_weight=value)


# ---------------------------------------------------------------- in a real search

PLAIN = SearchSettings(top_k=3, dense_weight=0.0, expand_weight=0.0, law_weight=0.0, expand_min_statute=0.5,
                       mapped_weight=0.0)
QUESTION = "离婚了孩子谁管"


def _towards(retriever: Retriever, row: int) -> QueryMap:
    """A map that turns the question's vector into that row's vector (rank one)."""
    q = retriever.embedder.embed_query(QUESTION)
    target = retriever.index.store.vectors[row]
    return QueryMap(retriever.embedder.model, np.outer(q, target).astype(np.float32) / float(q @ q))


def _retriever(tmp_path, name: str, text: str) -> Retriever:
    corpus = tmp_path / name
    corpus.mkdir()
    (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / f"{name}-index", BuildSettings(embedder="hashing"))
    return open_retriever(tmp_path / f"{name}-index")


def test_the_mapped_channel_reaches_the_clause_it_maps_to_on_statutes(tmp_path):
    base = _retriever(tmp_path, "law", LAW)
    # 第三条 (劳动报酬) shares nothing with the question: only the map can bring it up
    row = next(i for i, c in enumerate(base.index.chunks) if c.label == "第三条")
    retriever = Retriever(base.index, base.embedder, query_map=_towards(base, row))
    plain = retriever.search(QUESTION, PLAIN)
    mapped = retriever.search(QUESTION, replace(PLAIN, mapped_weight=5.0))
    assert plain[0].chunk.label != "第三条" and all("mapped" not in h.retrievers for h in plain)
    assert mapped[0].chunk.label == "第三条" and "mapped" in mapped[0].retrievers


def test_the_mapped_channel_never_fires_on_notices(tmp_path):
    base = _retriever(tmp_path, "notice", NOTICE)
    retriever = Retriever(base.index, base.embedder, query_map=_towards(base, len(base.index.chunks) - 1))
    hits = retriever.search(QUESTION, replace(PLAIN, mapped_weight=5.0))
    assert hits and all("mapped" not in h.retrievers for h in hits)
    ungated = retriever.search(QUESTION, replace(PLAIN, mapped_weight=5.0, expand_min_statute=0.0))
    assert "mapped" in ungated[0].retrievers


def test_the_mapped_channel_stays_off_inside_named_documents(tmp_path):
    from kb.config import SearchFilters

    base = _retriever(tmp_path, "law", LAW)
    row = next(i for i, c in enumerate(base.index.chunks) if c.label == "第三条")
    retriever = Retriever(base.index, base.embedder, query_map=_towards(base, row))
    doc_id = base.index.doc_order[0]
    hits = retriever.search(QUESTION, replace(PLAIN, mapped_weight=5.0, filters=SearchFilters(doc_ids=(doc_id,))))
    assert hits and all("mapped" not in h.retrievers for h in hits)


@NEEDS_LITE
def test_the_mapped_channel_is_the_same_on_milvus(tmp_path):
    retrievers = on_both_stores(tmp_path, {"law.txt": LAW})
    try:
        tops = {}
        local = retrievers["faiss"]  # Milvus keeps the vectors on its side: the map is made from the local ones
        query_map = _towards(local, next(i for i, c in enumerate(local.index.chunks) if c.label == "第三条"))
        for backend, base in retrievers.items():
            retriever = Retriever(base.index, base.embedder, query_map=query_map)
            hits = retriever.search(QUESTION, replace(PLAIN, mapped_weight=5.0))
            tops[backend] = (hits[0].chunk.label, "mapped" in hits[0].retrievers)
        assert tops["faiss"] == tops["milvus"] == ("第三条", True)
    finally:
        close(retrievers["milvus"])


def test_a_notice_the_plain_search_ranks_first_keeps_its_place_among_laws(tmp_path):
    # a mixed corpus: most of what the plain search finds are articles, but first comes the notice whose
    # words the question repeats; mapped towards an article, the question would lose it to that article
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    for name, text in {"婚姻法.txt": LAW, "学校法.txt": SCHOOL, "通知.txt": NOTICE}.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "mixed-index", BuildSettings(embedder="hashing"))
    base = open_retriever(tmp_path / "mixed-index")
    row = next(i for i, c in enumerate(base.index.chunks) if c.label == "第三条")
    retriever = Retriever(base.index, base.embedder, query_map=_towards(base, row))
    question, mapped = "孩子入学收不收赞助费", replace(PLAIN, mapped_weight=5.0)
    ranked = retriever._retrieve(question, mapped, None)
    assert retriever.statute_share(ranked, mapped) >= 0.5  # articles fill the plain search's first hits
    plain = retriever.search(question, PLAIN)
    assert "通知" in plain[0].title
    assert "通知" in retriever.search(question, mapped)[0].title
    ungated = retriever.search(question, replace(mapped, statute_first_margin=0.0))
    assert ungated[0].chunk.label == "第三条" and "mapped" in ungated[0].retrievers
