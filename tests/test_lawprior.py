"""The law prior: title vectors written at indexing and kept through updates, an index without them,
the law map file, and the prior in a real search (on statutes only)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import ConfigError, DamagedIndexError, KBError
from kb.ondisk.segments import TITLES
from kb.pipeline import build_index, open_retriever
from kb.querymap import CLAUSES, LAW_TITLES, QueryMap, check_map, map_file
from kb.retrieve import Retriever
from tests.test_backends import NEEDS_LITE, close
from tests.test_expand import LAW, NOTICE, SCHOOL, on_both_stores

PLAIN = SearchSettings(top_k=3, dense_weight=0.0, expand_weight=0.0, law_weight=0.0, mapped_weight=0.0,
                       law_prior=0.0)
QUESTION = "离婚后孩子的抚养费谁出"  # 婚姻法 第二条 first, 学校法 第一条 (孩子) a close second
# another notice, so that a prior over notices would have two documents to choose between
NOTICE_2 = """示例市人社局关于做好孩子参保工作的通知

一、离婚家庭的孩子参加医疗保险，由直接抚养一方办理。
"""


def _build(tmp_path, files: dict[str, str], name: str = "index"):
    corpus = tmp_path / f"{name}-corpus"
    corpus.mkdir(exist_ok=True)
    for file, text in files.items():
        (corpus / file).write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / name, BuildSettings(embedder="hashing"))
    return corpus, tmp_path / name


def _towards_title(retriever: Retriever, title_word: str) -> QueryMap:
    """A law map that turns the question's vector into the title vector of the document whose title holds
    `title_word` (rank one)."""
    index = retriever.index
    doc = next(i for i, d in enumerate(index.doc_order) if title_word in index.records[d].meta.title)
    q = retriever.embedder.embed_query(QUESTION)
    target = index.contents.titles[doc]
    return QueryMap(retriever.embedder.model, np.outer(q, target).astype(np.float32) / float(q @ q), 1, LAW_TITLES)


def _titles_of(retriever: Retriever) -> np.ndarray:
    index = retriever.index
    return retriever.embedder.embed_documents([index.records[d].meta.title for d in index.doc_order])


def test_a_build_writes_every_documents_title_vector_and_an_update_keeps_them_in_document_order(tmp_path):
    corpus, folder = _build(tmp_path, {"婚姻法.txt": LAW})
    retriever = open_retriever(folder)
    np.testing.assert_allclose(np.vstack(retriever.index.contents.titles), _titles_of(retriever), atol=1e-6)
    (corpus / "学校法.txt").write_text(SCHOOL, encoding="utf-8")  # a second segment
    build_index(corpus, folder, BuildSettings(embedder="hashing"))
    retriever = open_retriever(folder)
    assert len(list(folder.glob(f"seg-*/{TITLES}"))) == 2
    assert [retriever.index.records[d].meta.title for d in retriever.index.doc_order] == [
        "中华人民共和国示例婚姻法", "中华人民共和国示例学校法"]
    np.testing.assert_allclose(np.vstack(retriever.index.contents.titles), _titles_of(retriever), atol=1e-6)


def test_the_law_prior_lifts_the_law_its_map_points_to(tmp_path):
    _, folder = _build(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    base = open_retriever(folder)
    retriever = Retriever(base.index, base.embedder, law_map=_towards_title(base, "学校法"))
    plain = retriever.search(QUESTION, PLAIN)
    lifted = retriever.search(QUESTION, replace(PLAIN, law_prior=0.5))
    assert [(h.title, h.chunk.label) for h in plain[:2]] == [("中华人民共和国示例婚姻法", "第二条"),
                                                            ("中华人民共和国示例学校法", "第一条")]
    assert [(h.title, h.chunk.label) for h in lifted[:2]] == [("中华人民共和国示例学校法", "第一条"),
                                                             ("中华人民共和国示例婚姻法", "第二条")]
    # the law the map points to gains the whole weight, the other law (min-max: 0) nothing; scaled back
    assert lifted[0].score == pytest.approx((plain[1].score + 0.5) / 1.5)
    assert lifted[1].score == pytest.approx(plain[0].score / 1.5)
    # pointed at the law the words already find, the prior keeps it first
    towards_marriage = Retriever(base.index, base.embedder, law_map=_towards_title(base, "婚姻法"))
    assert towards_marriage.search(QUESTION, replace(PLAIN, law_prior=0.5))[0].title == "中华人民共和国示例婚姻法"


def test_the_law_prior_never_fires_on_notices_nor_inside_named_documents(tmp_path):
    _, folder = _build(tmp_path, {"通知.txt": NOTICE, "通知2.txt": NOTICE_2})
    base = open_retriever(folder)
    retriever = Retriever(base.index, base.embedder, law_map=_towards_title(base, "人社局"))

    def ranking(settings):
        return [(h.chunk.chunk_id, round(h.score, 9)) for h in retriever.search(QUESTION, settings)]

    assert ranking(replace(PLAIN, law_prior=5.0)) == ranking(PLAIN)  # no 第N条: not asked of statutes
    ungated = replace(PLAIN, law_prior=5.0, expand_min_statute=0.0)
    assert ranking(ungated) != ranking(replace(ungated, law_prior=0.0))
    inside = SearchFilters(doc_ids=tuple(base.index.doc_order))
    assert ranking(replace(ungated, filters=inside)) == ranking(replace(ungated, law_prior=0.0, filters=inside))


def _as_before_title_vectors(folder) -> None:
    """Make an index look built before title vectors existed: no titles.npy, none in the manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name, info in manifest["segments"].items():
        (folder / name / TITLES).unlink()
        del info["files"][TITLES]
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_an_index_without_title_vectors_loads_searches_and_embeds_a_few_missing_ones(tmp_path):
    _, folder = _build(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    built = open_retriever(folder)
    law_map = _towards_title(built, "学校法")
    _as_before_title_vectors(folder)
    base = open_retriever(folder)
    assert base.index.contents.titles == [None, None]
    retriever = Retriever(base.index, base.embedder, law_map=law_map)
    np.testing.assert_allclose(retriever.law_prior.titles, np.vstack(built.index.contents.titles), atol=1e-6)
    assert retriever.search(QUESTION, replace(PLAIN, law_prior=0.5))[0].title == "中华人民共和国示例学校法"


def test_an_index_missing_many_title_vectors_searches_without_the_prior(tmp_path, monkeypatch):
    _, folder = _build(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    law_map = _towards_title(open_retriever(folder), "学校法")
    _as_before_title_vectors(folder)
    monkeypatch.setattr("kb.lawprior.LAZY_TITLES", 1)  # two missing: more than it embeds at a search
    base = open_retriever(folder)
    retriever = Retriever(base.index, base.embedder, law_map=law_map)
    assert retriever.law_prior is None
    with_prior = retriever.search(QUESTION, replace(PLAIN, law_prior=0.5))
    assert [h.chunk.chunk_id for h in with_prior] == [h.chunk.chunk_id for h in retriever.search(QUESTION, PLAIN)]
    assert with_prior[0].title == "中华人民共和国示例婚姻法"


def test_title_vectors_that_do_not_fit_their_segment_are_a_damaged_index(tmp_path):
    _, folder = _build(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    _as_before_title_vectors(folder)
    (segment,) = folder.glob("seg-*")
    np.save(segment / TITLES, np.zeros((1, 7), dtype=np.float32))  # one document of two, wrong size
    with pytest.raises(DamagedIndexError, match="title vectors of shape"):
        open_retriever(folder)


def test_map_files_of_another_target_or_not_maps_are_errors_naming_the_file(tmp_path):
    model = "usem3/x"
    path = map_file(model, tmp_path, LAW_TITLES)
    assert path.name == "usem3__x.law-titles.npz" and map_file(model, tmp_path).name == "usem3__x.npz"
    assert check_map(path, model, 4, LAW_TITLES) is None  # no file: no prior
    QueryMap(model, np.eye(4, dtype=np.float32), 3, CLAUSES).save(path)
    with pytest.raises(KBError, match=r"law-titles.npz: a map towards clauses, not towards law-titles"):
        check_map(path, model, 4, LAW_TITLES)
    QueryMap(model, np.eye(4, dtype=np.float32), 3, LAW_TITLES).save(path)
    assert check_map(path, model, 4, LAW_TITLES).target == LAW_TITLES
    with pytest.raises(KBError, match="4 dimensions"):
        check_map(path, model, 8, LAW_TITLES)
    path.write_bytes(b"not a map")
    with pytest.raises(KBError, match=r"usem3__x.law-titles.npz: not a query map"):
        check_map(path, model, 4, LAW_TITLES)


@pytest.mark.parametrize("value", [-0.1, 10.5])
def test_law_prior_is_checked(value):
    with pytest.raises(ConfigError, match="law_prior"):
        SearchSettings(law_prior=value)


@NEEDS_LITE
def test_the_law_prior_is_the_same_on_milvus(tmp_path):
    retrievers = on_both_stores(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    try:
        law_map = _towards_title(retrievers["faiss"], "学校法")
        tops = {}
        for backend, base in retrievers.items():
            assert all(v is not None for v in base.index.contents.titles)  # written by both builds
            retriever = Retriever(base.index, base.embedder, law_map=law_map)
            tops[backend] = [(h.title, h.chunk.label) for h in retriever.search(QUESTION, replace(PLAIN, law_prior=0.5))]
        assert tops["faiss"] == tops["milvus"] and tops["faiss"][0] == ("中华人民共和国示例学校法", "第一条")
    finally:
        close(retrievers["milvus"])
