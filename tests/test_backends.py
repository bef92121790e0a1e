"""The same routine over every index backend: FAISS + BM25 files, and Milvus (Milvus Lite, a .db file).

Build the sample corpus, find documents, look one up by 文号, filter, update a changed and a removed
file incrementally, and reopen after a restart; then what only the Milvus backend has (its filter
expressions, its errors, the rows it is sent).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import BadIndexError, ConfigError
from kb.pipeline import ask, build_index, open_retriever

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
PDF = "rules/certificate_management_measures.pdf"
DOCX = "notices/1x_pilot_plan.docx"
HTML = "notices/pilot_work_notice.html"
TXT = "notices/production_education_notice.txt"
ADDED = "\n\n七、补充说明\n试点单位名单每两年复核一次，复核联络人为珊瑚礁研究所的王珊瑚同志。\n"
QUESTIONS = ("证书有效期是多久？", "1+X证书由谁颁发？", "产教融合型企业有哪些支持政策？", "哪个文件规定了考核站点的要求？",
             "培训评价组织的职责")

HAS_LITE = importlib.util.find_spec("pymilvus") is not None and importlib.util.find_spec("milvus_lite") is not None
NEEDS_LITE = pytest.mark.skipif(not HAS_LITE, reason="milvus-lite cannot be imported: "
                                                     "pip install pymilvus==3.0.2 milvus-lite==3.2.2")
BACKENDS = ["faiss", pytest.param("milvus", marks=NEEDS_LITE)]


def settings_for(backend: str, root: Path) -> BuildSettings:
    if backend == "milvus":
        return BuildSettings(embedder="hashing", store="milvus", milvus_uri=str(root / "milvus.db"))
    return BuildSettings(embedder="hashing")


def close(retriever) -> None:
    """Let go of the index as a stopping process would (a Milvus Lite file serves one process)."""
    if hasattr(retriever.index.store, "close"):
        retriever.index.store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def built(request, tmp_path_factory):
    """corpus/ copied and indexed once per backend: (backend, corpus, index, retriever)."""
    root = tmp_path_factory.mktemp(request.param)
    shutil.copytree(CORPUS, root / "corpus")
    build_index(root / "corpus", root / "index", settings_for(request.param, root))
    retriever = open_retriever(root / "index")
    yield request.param, root / "corpus", root / "index", retriever
    close(retriever)


@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path):
    """A private copy of corpus/ and an index of it for a test that changes them."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = settings_for(request.param, tmp_path)
    build_index(tmp_path / "corpus", tmp_path / "index", settings)
    yield request.param, tmp_path / "corpus", tmp_path / "index", settings
    release(settings)


def release(settings: BuildSettings) -> None:
    """Stop this process's Milvus Lite engine for the index, as a process that exits does."""
    if settings.store == "milvus":
        from kb.store.milvus import release as release_uri

        release_uri(settings.milvus_uri)


def _docs(hits) -> set[str]:
    return {h.chunk.doc_id for h in hits}


# ---------------------------------------------------------------- the routine, over every backend


def test_manifest_names_the_backend(built):
    backend, _, index, retriever = built
    assert json.loads((index / "manifest.json").read_text(encoding="utf-8"))["settings"]["store"] == backend
    assert type(retriever.index.store).__module__.endswith({"faiss": "faiss_bm25", "milvus": "milvus"}[backend])


def test_search_finds_the_clause_that_answers(built):
    hits = built[3].search("证书有效期是多久？", SearchSettings(top_k=3))
    assert hits[0].chunk.doc_id == PDF
    assert hits[0].chunk.label == "第十二条"
    assert "证书有效期为三年" in hits[0].chunk.text
    assert built[3].search("产教融合型企业名单", SearchSettings(top_k=3))[0].chunk.doc_id == TXT


@pytest.mark.parametrize("question", ["教职成[2019]6号讲了什么？", "教职成（2019）6 号", "教职成〔2019〕6"])
def test_doc_number_lookup_in_any_bracket_form(built, question):
    hits = built[3].search(question, SearchSettings(top_k=5))
    assert hits and all(h.doc_number == "教职成〔2019〕6号" for h in hits)
    assert all(h.retrievers[0] == "exact" for h in hits)
    assert hits[0].chunk.start == 0  # a document named alone reads from its beginning


def test_doc_filter_by_id_or_doc_number(built):
    retriever = built[3]
    every = SearchSettings(top_k=100)
    assert _docs(retriever.search("证书有效期是多久？", SearchSettings(top_k=100, filters=SearchFilters(doc_ids=(HTML,))))) \
        == {HTML}
    by_number = retriever.search("证书", SearchSettings(top_k=100, filters=SearchFilters(doc_ids=("教职成[2019]6号",))))
    assert _docs(by_number) == {DOCX}
    assert len(by_number) == retriever.index.records[DOCX].n_chunks  # every chunk is a dense candidate
    assert retriever.search("证书", SearchSettings(filters=SearchFilters(doc_ids=("no/such.txt",)))) == []
    assert len(retriever.search("证书", every)) == len(retriever.index.chunks)


@pytest.mark.parametrize(("issuers", "date_from", "date_to"), [
    (("教育部办公厅",), "", ""),
    ((), "2019-01-01", "2019-12-31"),
    ((), "2020-01-16", ""),
    ((), "", "2019-01-01"),
    (("教育部", "人民政府"), "2019-12-10", "2021-12-31"),
])
def test_issuer_and_date_filters_keep_exactly_the_matching_documents(built, issuers, date_from, date_to):
    retriever = built[3]
    records = retriever.index.records
    expected = {d for d, r in records.items()
                if (not issuers or any(x in r.meta.issuer for x in issuers))
                and (not (date_from or date_to) or (r.meta.date and (not date_from or r.meta.date >= date_from)
                                                    and (not date_to or r.meta.date <= date_to)))}
    assert expected and expected != set(records)  # the cases mean something on this corpus
    filters = SearchFilters(issuers=issuers, date_from=date_from, date_to=date_to)
    hits = retriever.search("证书有效期是多久？", SearchSettings(top_k=100, filters=filters))
    assert _docs(hits) == expected


def test_rrf_fusion_finds_the_clause_too(built):
    hits = built[3].search("证书有效期是多久？", SearchSettings(top_k=3, fusion="rrf"))
    assert hits[0].chunk.doc_id == PDF


def test_answers_cite_the_clause(built):
    answer = ask(built[3], "证书有效期是多久？", use_llm=False)
    assert not answer.refused
    assert answer.citations[0].doc_id == PDF
    assert "三年" in answer.text


def test_changed_and_removed_files_are_reflected(fresh):
    backend, corpus, index, settings = fresh
    with open(corpus / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    (corpus / HTML).unlink()
    report = build_index(corpus, index, settings)
    retriever = open_retriever(index)
    n_txt = retriever.index.records[TXT].n_chunks
    assert report.embedded_chunks == n_txt  # only the changed document was embedded again
    top = retriever.search("复核联络人王珊瑚", SearchSettings(top_k=3))[0]
    assert top.chunk.doc_id == TXT and "王珊瑚" in top.chunk.text
    for question in QUESTIONS:
        for fusion in ("weighted", "rrf"):
            assert HTML not in _docs(retriever.search(question, SearchSettings(top_k=100, fusion=fusion)))
    assert retriever.search("考核站点", SearchSettings(filters=SearchFilters(doc_ids=(HTML,)))) == []
    if backend == "milvus":
        store = retriever.index.store
        assert store.sent == {"upserted": n_txt, "deleted": store.sent["deleted"], "kept": store.n - n_txt}
        held = store.client.query(store.collection, filter='chunk_id != ""', output_fields=["doc_id"], limit=1000)
        assert sorted(r["chunk_id"] for r in held) == sorted(c.chunk_id for c in retriever.index.chunks)
    close(retriever)


def test_unchanged_corpus_sends_nothing(fresh):
    _, corpus, index, settings = fresh
    report = build_index(corpus, index, settings)
    assert report.embedded_chunks == 0
    assert report.reused_documents == report.documents


def test_reopened_after_a_restart(fresh):
    """A new process (the CLI) finds the index as the build left it."""
    _, _, index, settings = fresh
    release(settings)  # the build ran in this process
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "kb", "search", "证书有效期是多久？", "--index", str(index), "--json",
                          "--top-k", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["hits"][0]["doc_id"] == PDF


# ---------------------------------------------------------------- both backends agree


@NEEDS_LITE
def test_backends_rank_the_same_top_documents_and_weigh_words_alike(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    retrievers = {}
    for backend in ("faiss", "milvus"):
        build_index(tmp_path / "corpus", tmp_path / backend, settings_for(backend, tmp_path))
        retrievers[backend] = open_retriever(tmp_path / backend)
    for question in QUESTIONS:
        tops = {b: [h.chunk.doc_id for h in r.search(question, SearchSettings(top_k=1))] for b, r in retrievers.items()}
        assert tops["faiss"] == tops["milvus"], question
    terms = ["证书", "有效期", "培训评价组织", "珊瑚礁"]
    assert retrievers["faiss"].index.store.idf("words", terms) == pytest.approx(
        retrievers["milvus"].index.store.idf("words", terms))
    close(retrievers["milvus"])


# Rows that differ only in case and width: PolicyKB folds both (kb.tokenize.normalize), so every backend
# must score them alike, and rank them as the local BM25 does.
VARIANTS = {
    "upper.txt": "关于1+X证书制度试点的通知\n1+X证书制度试点由培训评价组织实施，证书有效期为三年。\n",
    "lower.txt": "关于1+x证书制度试点的通知\n1+x证书制度试点由培训评价组织实施，证书有效期为三年。\n",
    "fullwidth.txt": "关于１＋Ｘ证书制度试点的通知\n１＋Ｘ证书制度试点由培训评价组织实施，证书有效期为三年。\n",
    "measures.txt": "职业技能等级证书管理办法\n职业技能等级证书由培训评价组织颁发，1+X证书与学历证书互通，"
                    "ABC等级考核每年两次，考核站点由省级教育行政部门备案。\n",
    "enterprise.txt": "产教融合型企业建设培育办法\n对产教融合型企业给予组合式激励，按规定落实教育费附加抵免政策，"
                      "校企合作开展现代学徒制培养。\n",
}
VARIANT_QUESTIONS = ("1+X证书", "１＋ｘ证书有效期", "培训评价组织颁发证书", "abc等级考核", "产教融合型企业的激励")
# one channel at a time: weighted fusion with all the weight on it
CHANNELS = {"words": SearchSettings(top_k=100, dense_weight=0.0, word_weight=1.0),
            "chars": SearchSettings(top_k=100, dense_weight=0.0, word_weight=0.0),
            "dense": SearchSettings(top_k=100, dense_weight=1.0)}


def _ranking(retriever, question: str, settings: SearchSettings) -> list[tuple[float, str]]:
    """The chunks the channel scores, best first; equal scores (the variants) in chunk-id order."""
    hits = [(round(h.score, 4), h.chunk.chunk_id) for h in retriever.search(question, settings) if h.score > 0]
    return sorted(hits, key=lambda x: (-x[0], x[1]))


@NEEDS_LITE
def test_each_channel_ranks_alike_on_both_backends_through_case_and_width(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in VARIANTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    retrievers = {}
    for backend in ("faiss", "milvus"):
        build_index(corpus, tmp_path / backend, settings_for(backend, tmp_path))
        retrievers[backend] = open_retriever(tmp_path / backend)
    try:
        for question in VARIANT_QUESTIONS:
            for channel, settings in CHANNELS.items():
                faiss, milvus = (_ranking(retrievers[b], question, settings) for b in ("faiss", "milvus"))
                assert faiss, (question, channel)  # each question finds something on each channel
                assert milvus == faiss, (question, channel)
        # the three variants score exactly alike on the word channel, on both backends
        for backend, retriever in retrievers.items():
            scores = {h.chunk.doc_id: h.score for h in retriever.search("1+X证书", CHANNELS["words"])}
            assert scores["upper.txt"] == pytest.approx(scores["lower.txt"]) == pytest.approx(
                scores["fullwidth.txt"]), backend
    finally:
        close(retrievers["milvus"])


# ---------------------------------------------------------------- Milvus only


def test_filter_expression_mirrors_search_filters():
    from kb.store.milvus import filter_expression

    assert filter_expression(SearchFilters()) == ""
    assert filter_expression(SearchFilters(doc_ids=("a.txt", "教职成[2019]6号"))) == (
        '(doc_id in ["a.txt", "教职成[2019]6号", "教职成〔2019〕6号"] or '
        'doc_number in ["a.txt", "教职成[2019]6号", "教职成〔2019〕6号"])')
    assert filter_expression(SearchFilters(issuers=("教育部", 'a"b'), date_from="2019-01-01", date_to="2020-12-31")) == (
        '(issuer like "%教育部%" or issuer like "%a\\"b%") and date != "" and date >= "2019-01-01" '
        'and date <= "2020-12-31"')


@pytest.mark.parametrize("uri", ["", "index", "ftp://host/x", "milvus.sqlite"])
def test_a_milvus_uri_that_is_neither_a_lite_file_nor_a_server_is_refused(uri):
    with pytest.raises(ConfigError, match="milvus-uri|\\.db"):
        BuildSettings(store="milvus", milvus_uri=uri)


def test_unknown_backend_lists_the_valid_ones():
    from kb.store import store_class

    with pytest.raises(ConfigError, match="faiss, milvus"):
        BuildSettings(store="elastic")
    with pytest.raises(ValueError, match="faiss, milvus"):
        store_class("elastic")


@NEEDS_LITE
def test_unreachable_server_names_the_uri(tmp_path):
    settings = BuildSettings(embedder="hashing", store="milvus", milvus_uri="http://127.0.0.1:9")
    with pytest.raises(BadIndexError, match="http://127.0.0.1:9"):
        build_index(CORPUS / "papers", tmp_path / "index", settings)


@NEEDS_LITE
def test_lite_file_inside_the_index_folder_is_refused(tmp_path):
    settings = BuildSettings(embedder="hashing", store="milvus", milvus_uri=str(tmp_path / "index" / "m.db"))
    with pytest.raises(ConfigError, match="inside the index folder"):
        build_index(CORPUS / "papers", tmp_path / "index", settings)


@NEEDS_LITE
def test_missing_lite_file_names_the_file_and_the_command(tmp_path):
    settings = settings_for("milvus", tmp_path)
    build_index(CORPUS / "papers", tmp_path / "index", settings)
    close(open_retriever(tmp_path / "index"))
    shutil.rmtree(tmp_path / "milvus.db")
    with pytest.raises(BadIndexError, match="milvus.db is missing.*--backend milvus"):
        open_retriever(tmp_path / "index")


def test_missing_pymilvus_prints_the_install_command(monkeypatch):
    from kb.store import milvus

    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if not installed
    with pytest.raises(ConfigError, match="pip install pymilvus"):
        milvus.connect("http://127.0.0.1:19530")


@NEEDS_LITE
def test_cli_index_stores_the_backend_and_a_rerun_keeps_it(tmp_path, capsys):
    from kb.cli import main

    shutil.copytree(CORPUS / "rules", tmp_path / "corpus")
    db = tmp_path / "m.db"
    assert main(["index", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"), "--embedder", "hashing",
                 "--backend", "milvus", "--milvus-uri", str(db), "--json"]) == 0
    assert main(["index", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"), "--json"]) == 0
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["settings"]["store"], manifest["settings"]["milvus_uri"]) == ("milvus", str(db))
    capsys.readouterr()
    assert main(["search", "证书有效期", "--index", str(tmp_path / "index"), "--json", "--top-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc_id"] == "certificate_management_measures.pdf"
    release(BuildSettings(store="milvus", milvus_uri=str(db)))


@NEEDS_LITE
def test_switching_to_hnsw_keeps_the_rows(tmp_path):
    settings = settings_for("milvus", tmp_path)
    build_index(CORPUS / "rules", tmp_path / "index", settings)
    from dataclasses import replace

    build_index(CORPUS / "rules", tmp_path / "index", replace(settings, dense_backend="hnsw"))
    retriever = open_retriever(tmp_path / "index")
    store = retriever.index.store
    assert store.client.describe_index(store.collection, "dense")["index_type"] == "HNSW"
    assert store.sent["upserted"] == 0
    assert retriever.search("证书有效期是多久？", SearchSettings(top_k=1))[0].chunk.label == "第十二条"
    close(retriever)
