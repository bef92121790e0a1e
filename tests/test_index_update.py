"""Incremental updates against from-scratch builds: same rows, same scores, same hits; deleted
documents never surface; segments merge and compact; BM25 equals bm25s; only new files are written."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.ondisk import load_index, plan_merges, read_manifest
from kb.pipeline import build_index, open_retriever
from kb.terms import TermCounts
from kb.tokenize import ANALYZERS, QUERY_ANALYZERS
from tests.conftest import REPO

TXT = "notices/production_education_notice.txt"
HTML = "notices/pilot_work_notice.html"
PDF = "rules/certificate_management_measures.pdf"
ADDED = "\n\n七、补充说明\n试点单位名单每两年复核一次，复核联络人为珊瑚礁研究所的王珊瑚同志。\n"
QUESTIONS = ("证书有效期是多久？", "1+X证书由谁颁发？", "哪个文件规定了考核站点的要求？", "复核联络人王珊瑚",
             "教职成〔2019〕6号讲了什么？", "海藻养殖登记", "职业学校 校企合作")


def _settings(dense: str = "auto") -> BuildSettings:
    return BuildSettings(embedder="hashing", chunk_max_chars=600, chunk_min_chars=80, dense_backend=dense)


def _jsonl(folder: Path, name: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _change(corpus: Path) -> None:
    """One file changed, two added, one deleted."""
    with open(corpus / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    _jsonl(corpus / "extra", "policies.jsonl", [
        {"id": "kelp-2", "title": "海藻养殖管理办法", "text": "第一条 海藻养殖实行登记制度。\n第二条 养殖单位应当每年报告产量。"},
        {"id": "reef-1", "title": "珊瑚礁保护通知", "text": "各单位要加强珊瑚礁保护，禁止采挖珊瑚。"}])
    (corpus / "extra" / "note.md").write_text("# 校企合作说明\n\n职业学校应当与企业开展校企合作。\n", encoding="utf-8")
    (corpus / HTML).unlink()


def _same_index(updated: Path, fresh: Path) -> None:
    """Two indexes of one corpus hold the same rows and score every question the same.

    Exact dense search then finds the same rows; HNSW graphs built in different steps can differ in
    what they miss, so there both must find nearly all of the exact top 10.
    """
    a, b = open_retriever(updated), open_retriever(fresh)
    ia, ib = a.index, b.index
    assert [r.to_dict() for r in ia.contents.records] == [r.to_dict() for r in ib.contents.records]
    assert ia.chunks == ib.chunks  # same texts in the same rows
    np.testing.assert_array_equal(ia.contents.vectors, ib.contents.vectors)
    # every document's title vector, carried through merges and compactions (the law prior's)
    assert all(v is not None for v in ia.contents.titles) and len(ia.contents.titles) == len(ib.contents.titles)
    np.testing.assert_array_equal(np.vstack(ia.contents.titles), np.vstack(ib.contents.titles))
    assert ia.store.dense_kind == ib.store.dense_kind
    for question in QUESTIONS:
        for name, analyzer in QUERY_ANALYZERS.items():
            tokens = analyzer(question)
            np.testing.assert_array_equal(ia.store.lexical_scores(name, tokens), ib.store.lexical_scores(name, tokens))
            assert ia.store.idf(name, tokens) == ib.store.idf(name, tokens)
        qvec = a.embedder.embed_query(question)
        for allowed in (None, ia.chunk_doc % 2 == 0):
            rows_a, scores_a = ia.store.dense_search(qvec, 10, allowed)
            rows_b, scores_b = ib.store.dense_search(qvec, 10, allowed)
            if ia.store.dense_kind == "flat":
                assert rows_a.tolist() == rows_b.tolist()
                np.testing.assert_allclose(scores_a, scores_b, rtol=1e-6)
            else:
                exact = ia.contents.vectors @ qvec
                if allowed is not None:
                    exact[~allowed] = -np.inf
                best = set(np.argsort(-exact)[:10].tolist())
                assert len(best & set(rows_a.tolist())) >= 9 and len(best & set(rows_b.tolist())) >= 9
        for settings in (SearchSettings(top_k=8), SearchSettings(top_k=5, fusion="rrf"),
                         SearchSettings(filters=SearchFilters(doc_ids=(PDF, "kelp-2")))):
            hits_a, hits_b = a.search(question, settings), b.search(question, settings)
            if ia.store.dense_kind == "flat":
                assert [(h.chunk.chunk_id, round(h.score, 9)) for h in hits_a] == \
                       [(h.chunk.chunk_id, round(h.score, 9)) for h in hits_b]
            else:
                assert [h.chunk.chunk_id for h in hits_a[:3]] == [h.chunk.chunk_id for h in hits_b[:3]]


@pytest.fixture
def corpus(tmp_path) -> Path:
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    return tmp_path / "corpus"


@pytest.mark.parametrize("dense", ["flat", "hnsw"])
def test_update_equals_a_fresh_build_of_the_same_corpus(corpus, tmp_path, dense):
    index = tmp_path / "index"
    build_index(corpus, index, _settings(dense))
    _change(corpus)
    report = build_index(corpus, index, _settings(dense))
    assert report.embedded_chunks < report.chunks
    build_index(corpus, tmp_path / "fresh", _settings(dense))
    _same_index(index, tmp_path / "fresh")
    hits = open_retriever(index).search("复核联络人王珊瑚")
    assert hits[0].chunk.doc_id == TXT and "王珊瑚" in hits[0].chunk.text


def test_many_updates_equal_a_fresh_build(corpus, tmp_path):
    """Fifteen updates in a row (new segments, a merge, compactions) end where one build does."""
    index = tmp_path / "index"
    build_index(corpus, index, _settings())
    for i in range(9):  # nine one-row segments: the first eight of them are merged into one
        _jsonl(corpus / "extra", f"new{i}.jsonl", [{"id": f"new-{i}", "text": f"第{i}批 海藻养殖登记。"}])
        build_index(corpus, index, _settings())
    assert sorted(s.rows for s in read_manifest(index).segments.values())[:2] == [1, 8]
    for i in range(6):  # the changed file's old versions pile up until everything is compacted
        with open(corpus / TXT, "a", encoding="utf-8") as f:
            f.write(f"\n第{i + 10}条 第{i}次补充：复核联络人为王珊瑚。\n")
        build_index(corpus, index, _settings())
    manifest = read_manifest(index)
    stored = sum(s.rows for s in manifest.segments.values())
    assert stored - manifest.counts["chunks"] <= 0.3 * stored
    build_index(corpus, tmp_path / "fresh", _settings())
    _same_index(index, tmp_path / "fresh")


def test_deleted_documents_never_surface(corpus, tmp_path):
    index = tmp_path / "index"
    settings = _settings("hnsw")  # the graph still holds the deleted rows; searches must skip them
    build_index(corpus, index, settings)
    question = "哪个文件规定了考核站点的要求？"
    assert open_retriever(index).search(question)[0].chunk.doc_id == HTML
    (corpus / HTML).unlink()
    build_index(corpus, index, settings)
    manifest = read_manifest(index)
    assert sum(s.rows for s in manifest.segments.values()) > manifest.counts["chunks"]  # dead rows kept
    retriever = open_retriever(index)
    n = len(retriever.index.chunks)
    assert HTML not in retriever.index.records and all(c.doc_id != HTML for c in retriever.index.chunks)
    for q in QUESTIONS + (question, "考核站点"):
        hits = retriever.search(q, SearchSettings(top_k=n))
        assert HTML not in {h.chunk.doc_id for h in hits}
        rows, _ = retriever.index.store.dense_search(retriever.embedder.embed_query(q), n + 10, None)
        assert sorted(rows.tolist()) == list(range(n))  # every live row, each once, nothing else
        for name, analyzer in QUERY_ANALYZERS.items():
            assert len(retriever.index.store.lexical_scores(name, analyzer(q))) == n
    assert retriever.search(question, SearchSettings(filters=SearchFilters(doc_ids=(HTML,)))) == []


def test_deleting_a_third_of_the_rows_compacts_to_one_segment(corpus, tmp_path):
    index = tmp_path / "index"
    build_index(corpus, index, _settings("hnsw"))
    before = read_manifest(index)
    chunks = {d: e.chunks for d, e in before.documents.items()}
    removed, total = [], sum(chunks.values())
    for doc_id in sorted(chunks, key=chunks.get, reverse=True):  # the biggest documents first
        if sum(chunks[d] for d in removed) > 0.3 * total:
            break
        removed.append(doc_id)
        (corpus / doc_id).unlink()
    build_index(corpus, index, _settings("hnsw"))
    manifest = read_manifest(index)
    assert [info.rows for info in manifest.segments.values()] == [manifest.counts["chunks"]]
    assert manifest.dense.rows == manifest.counts["chunks"]  # the graph was rebuilt too
    assert manifest.dense.files != before.dense.files
    assert sorted(p.name for p in index.iterdir()) == sorted(["manifest.json", *manifest.segments,
                                                             *manifest.dense.files])
    build_index(corpus, tmp_path / "fresh", _settings("hnsw"))
    _same_index(index, tmp_path / "fresh")


def test_an_update_writes_only_new_files(corpus, tmp_path):
    index = tmp_path / "index"
    build_index(corpus, index, _settings())
    before = {p.relative_to(index): (p.stat().st_ino, p.stat().st_mtime_ns) for p in index.rglob("*") if p.is_file()}
    with open(corpus / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    calls = []
    report = build_index(corpus, index, _settings(), progress=lambda *call: calls.append(call))
    after = {p.relative_to(index): (p.stat().st_ino, p.stat().st_mtime_ns) for p in index.rglob("*") if p.is_file()}
    changed = {p for p in after if before.get(p) != after[p]}
    new_segment = set(read_manifest(index).segments) - {"seg-000001"}
    assert {p.parts[0] for p in changed} == {"manifest.json", *new_segment}
    assert all(before[p] == after[p] for p in before if p.parts[0] == "seg-000001")  # untouched, not rewritten
    assert {c[2] for c in calls if c[0] == "tokenize"} == {report.embedded_chunks}  # the changed chunks only


def test_changed_analyzers_recount_terms_but_keep_vectors(corpus, tmp_path):
    index = tmp_path / "index"
    first = build_index(corpus, index, _settings())
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    manifest["analyzer"] = "an older jieba"
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    calls = []
    again = build_index(corpus, index, _settings(), progress=lambda *call: calls.append(call))
    assert (again.embedded_chunks, again.reused_documents) == (0, first.documents)
    assert ("tokenize", 0, first.chunks, "chars") in calls
    assert len(read_manifest(index).segments) == 1
    build_index(corpus, tmp_path / "fresh", _settings())
    _same_index(index, tmp_path / "fresh")


def test_growing_past_the_exact_search_limit_switches_to_a_graph_then_appends(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    settings = BuildSettings(embedder="hashing", flat_max_vectors=100, chunk_max_chars=50, chunk_min_chars=0)
    _jsonl(corpus, "a.jsonl", [{"id": f"a{i}", "text": f"第{i}号 海藻养殖登记办法。"} for i in range(60)])
    build_index(corpus, index, settings)
    assert read_manifest(index).dense is None  # 60 rows: exact search
    _jsonl(corpus, "b.jsonl", [{"id": f"b{i}", "text": f"第{i}号 珊瑚礁保护通知。"} for i in range(60)])
    build_index(corpus, index, settings)
    graph = read_manifest(index).dense
    assert graph.rows == graph.covers == 120
    _jsonl(corpus, "c.jsonl", [{"id": f"c{i}", "text": f"第{i}号 候鸟迁徙保护公告。"} for i in range(30)])
    build_index(corpus, index, settings)
    assert read_manifest(index).dense == graph  # 30 new rows wait in the exact tail; the graph is not rewritten
    retriever = open_retriever(index)
    assert len(retriever.index.store.tail) == 30
    assert retriever.search("第7号 候鸟迁徙保护公告")[0].chunk.doc_id == "c7"
    rows, _ = retriever.index.store.dense_search(retriever.embedder.embed_query("候鸟"), 1000, None)
    assert sorted(rows.tolist()) == list(range(150))
    # past 1,024 waiting rows they are appended to the graph: a new graph file, nothing rebuilt
    articles = "".join(f"第{i}条 第{i}号候鸟保护站。\n" for i in range(1, 1101))
    _jsonl(corpus, "d.jsonl", [{"id": "d", "title": "候鸟保护站名录", "text": articles}])
    build_index(corpus, index, settings)
    manifest = read_manifest(index)
    assert manifest.dense.files != graph.files
    assert manifest.dense.rows == manifest.dense.covers == manifest.counts["chunks"] > 1150
    retriever = open_retriever(index)
    assert len(retriever.index.store.tail) == 0
    assert "第1042号候鸟保护站" in retriever.search("第1042号候鸟保护站")[0].chunk.text


# ---------------------------------------------------------------- the pieces


def test_merge_policy():
    # eight segments of one size class become one; a bigger one is left alone
    small = {f"s{i}": (40, 40) for i in range(8)}
    assert plan_merges({"base": (5000, 5000), **small}) == list(small)
    assert plan_merges({"base": (5000, 5000), **dict(list(small.items())[:7])}) == []
    # more than 30% of the stored rows dead: everything into one
    assert plan_merges({"base": (1000, 690), "s1": (10, 10)}) == ["base", "s1"]
    assert plan_merges({"base": (1000, 710), "s1": (10, 10)}) == []
    assert plan_merges({}) == []


def test_term_counts_take_and_concat_keep_every_count():
    a = TermCounts.from_tokens([["甲", "乙", "甲"], [], ["丙"]])
    b = TermCounts.from_tokens([["乙", "丁"], ["甲"]])
    both = TermCounts.concat([a, b])
    assert both.bags() == [["甲", "甲", "乙"], [], ["丙"], ["乙", "丁"], ["甲"]]
    assert both.lengths.tolist() == [3, 0, 1, 2, 1]
    picked = both.take(np.array([4, 0]))
    assert sorted(picked.vocab) == ["乙", "甲"]  # 丙 and 丁 lost their rows
    assert picked.bags() == [["甲"], ["甲", "甲", "乙"]]


def _hand_bm25(docs: list[list[str]], query: list[str]) -> list[float]:
    """BM25 written out: Lucene's idf and term weight, k1 = 1.5, b = 0.75."""
    n, avg = len(docs), sum(map(len, docs)) / len(docs)
    out = []
    for doc in docs:
        score = 0.0
        for t in query:
            df = sum(t in d for d in docs)
            if df:
                tf = doc.count(t)
                score += math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf / (tf + 1.5 * (0.25 + 0.75 * len(doc) / avg))
        out.append(score)
    return out


def test_bm25_matches_a_hand_computation_and_bm25s(corpus, tmp_path):
    docs = [["职业", "教育", "职业"], ["教育", "培训"], ["证书", "有效期", "三年", "证书"], []]
    rows = TermCounts.from_tokens(docs)
    from kb.store.faiss_bm25 import BM25

    bm25 = BM25([(rows, np.arange(len(docs)))], rows.lengths.astype(np.float64))
    for query in (["职业"], ["证书", "教育", "证书"], ["没有"], []):
        np.testing.assert_allclose(bm25.scores(query), _hand_bm25(docs, query), rtol=1e-6)

    import bm25s  # in requirements.txt: missing is an install error, not a skip
    index = tmp_path / "index"
    build_index(corpus, index, _settings())
    loaded = load_index(index)
    from kb.pipeline import index_text

    titles = {r.doc_id: r.meta.title for r in loaded.contents.records}
    for name, analyzer in ANALYZERS.items():
        reference = bm25s.BM25()
        reference.index([analyzer(index_text(titles[c.doc_id], c)) for c in loaded.chunks], show_progress=False)
        for question in QUESTIONS:
            tokens = [t for t in QUERY_ANALYZERS[name](question) if t in reference.vocab_dict]
            expected = reference.get_scores(tokens) if tokens else np.zeros(len(loaded.chunks))
            np.testing.assert_allclose(loaded.store.lexical_scores(name, tokens), expected, rtol=1e-4, atol=1e-5)
