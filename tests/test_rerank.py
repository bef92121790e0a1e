"""The learned re-ranker: its file, and in a real search (on statutes only, off with rerank=False)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from kb.config import SearchFilters, SearchSettings
from kb.errors import KBError
from kb.pipeline import open_retriever
from kb.rerank import DEFAULT_RERANKER, FEATURES, Reranker, shipped_reranker
from kb.retrieve import Retriever
from tests.test_expand import LAW, SCHOOL
from tests.test_lawprior import NOTICE, NOTICE_2, PLAIN, QUESTION, _build  # noqa: F401

# weighs the length of a candidate only: the longest passage first
BY_LENGTH = np.array([10.0 if f == "length" else 0.0 for f in FEATURES])


def test_save_and_load_round_trip_and_bad_files_name_the_file(tmp_path):
    path = tmp_path / "rerank.json"
    Reranker("usem3/x", np.arange(len(FEATURES), dtype=float), 12).save(path)
    again = Reranker.load(path)
    assert (again.model, again.questions) == ("usem3/x", 12)
    np.testing.assert_allclose(again.weights, np.arange(len(FEATURES)))
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["weights"]["length"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KBError, match=r"rerank.json: not a re-ranker \(features"):
        Reranker.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(KBError, match="rerank.json: not a re-ranker"):
        Reranker.load(path)
    assert shipped_reranker("usem3/x", tmp_path / "absent.json") is None


def test_score_is_positive_and_in_order_of_the_weighted_sum():
    reranker = Reranker("m", np.array([1.0, -2.0] + [0.0] * (len(FEATURES) - 2)))
    x = np.zeros((3, len(FEATURES)))
    x[:, 0], x[:, 1] = [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]
    score = reranker.score(x)
    assert score.max() == pytest.approx(1.0) and (score > 0).all()
    assert np.argsort(-score).tolist() == [1, 0, 2]


def test_the_shipped_reranker_is_one_of_the_default_embedder_and_holds_only_weights():
    found = Reranker.load(DEFAULT_RERANKER)
    assert found.model.startswith("usem3/") and found.questions > 1000
    assert sorted(json.loads(DEFAULT_RERANKER.read_text(encoding="utf-8"))) == ["format", "model", "questions", "weights"]
    assert shipped_reranker("hashing-256") is None  # another embedder: no re-ranker


def test_the_reranker_orders_the_candidates_of_a_question_asked_of_statutes(tmp_path):
    _, folder = _build(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    base = open_retriever(folder)
    retriever = Retriever(base.index, base.embedder, reranker=Reranker(base.embedder.model, BY_LENGTH))
    everything = replace(PLAIN, top_k=len(base.index.chunks), rerank_min_statute=0.5)
    plain = retriever.search(QUESTION, replace(everything, rerank=False))
    fused = [h.chunk.chunk_id for h in plain]
    reranked = retriever.search(QUESTION, everything)
    lengths = [len(h.chunk.text) for h in reranked]
    assert lengths == sorted(lengths, reverse=True) and [h.chunk.chunk_id for h in reranked] != fused
    # the fused scores, handed out in the re-ranker's order
    assert [h.score for h in reranked] == pytest.approx([h.score for h in plain], abs=1e-6)
    # with fewer articles among the first hits than it asks for (the titles are none), the fused order
    assert [h.chunk.chunk_id for h in retriever.search(QUESTION, replace(everything, rerank_min_statute=1.0))] == fused
    # the same without a re-ranker for this embedder: the fused order
    assert [h.chunk.chunk_id for h in Retriever(base.index, base.embedder).search(QUESTION, everything)] == fused


def test_the_reranker_never_fires_on_notices_nor_inside_named_documents(tmp_path):
    _, folder = _build(tmp_path, {"通知.txt": NOTICE, "通知2.txt": NOTICE_2})
    base = open_retriever(folder)
    retriever = Retriever(base.index, base.embedder, reranker=Reranker(base.embedder.model, BY_LENGTH))
    everything = replace(PLAIN, top_k=len(base.index.chunks))

    def ranking(settings):
        return [h.chunk.chunk_id for h in retriever.search(QUESTION, settings)]

    assert ranking(everything) == ranking(replace(everything, rerank=False))  # no 第N条: not asked of statutes
    ungated = replace(everything, expand_min_statute=0.0, rerank_min_statute=0.0)
    assert ranking(ungated) != ranking(replace(ungated, rerank=False))
    inside = replace(ungated, filters=SearchFilters(doc_ids=tuple(base.index.doc_order)))
    assert ranking(inside) == ranking(replace(inside, rerank=False))
    assert ranking(replace(ungated, fusion="rrf")) == ranking(replace(ungated, fusion="rrf", rerank=False))
