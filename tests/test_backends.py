"""The same routine over every index backend: FAISS + BM25 files, and Milvus (Milvus Lite, a .db file).

Build the sample corpus, find documents, look one up by 文号, filter, update a changed and a removed
file incrementally, and reopen after a restart; then what only the Milvus backend has (its filter
expressions, its errors, the rows it is sent).
"""

from __future__ import annotations

import importlib.util
import json
import math
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


def milvus(uri: str, **settings) -> BuildSettings:
    from kb.store.milvus import MilvusOptions

    return BuildSettings(store="milvus", store_options=MilvusOptions(uri=uri), **settings)


def settings_for(backend: str, root: Path) -> BuildSettings:
    if backend == "milvus":
        return milvus(str(root / "milvus.db"), embedder="hashing")
    return BuildSettings(embedder="hashing")


def close(retriever) -> None:
    """Let go of the index as a stopping process would (a Milvus Lite file serves one process)."""
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

        release_uri(settings.store_options.uri)


def _docs(hits) -> set[str]:
    return {h.chunk.doc_id for h in hits}


# ---------------------------------------------------------------- the routine, over every backend


def test_manifest_names_the_backend(built):
    backend, _, index, retriever = built
    assert json.loads((index / "manifest.json").read_text(encoding="utf-8"))["settings"]["store"] == backend
    assert type(retriever.index.store).__module__.endswith({"faiss": "faiss_bm25", "milvus": "milvus"}[backend])


def test_only_a_local_store_copies_the_vectors_into_the_process(built):
    backend, _, _, retriever = built
    retriever.search("证书有效期是多久？", SearchSettings(top_k=3))
    # Milvus holds the vectors and searches them itself: gathering a local copy would cost the RAM
    # of the whole matrix in every app server
    assert ("vectors" in vars(retriever.index.contents)) == (backend == "faiss")


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
        _assert_same_lists(retrievers, question)
    # idf by hand from each chunk's own tokens: log((n + 1) / (df + 0.5)), an unknown word's df 0
    from kb.pipeline import index_text
    from kb.tokenize import word_tokens

    index = retrievers["faiss"].index
    bags = [set(word_tokens(index_text(index.records[c.doc_id].meta.title, c))) for c in index.chunks]
    terms = ["证书", "有效期", "培训评价组织", "珊瑚礁"]
    expected = {t: math.log((len(bags) + 1) / (sum(t in b for b in bags) + 0.5)) for t in terms}
    assert expected["证书"] < expected["培训评价组织"] < expected["珊瑚礁"]
    for backend, retriever in retrievers.items():
        assert retriever.index.store.idf("words", terms) == pytest.approx(expected), backend
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


def _plan(retriever, question: str):
    from kb.store import SearchPlan
    from kb.tokenize import QUERY_ANALYZERS

    return SearchPlan({name: analyzer(question) for name, analyzer in QUERY_ANALYZERS.items()},
                      retriever.embedder.embed_query(question), 100)


def _assert_same_lists(retrievers: dict, question: str) -> None:
    """Both stores' lists for one question: the same rows with the same raw scores on every channel."""
    plan = _plan(retrievers["faiss"], question)
    lists = {b: r.index.store.search(plan) for b, r in retrievers.items()}
    assert set(lists["milvus"]) == set(lists["faiss"]) == {"words", "chars", "dense"}
    for channel, ranked in lists["faiss"].items():
        other = lists["milvus"][channel]
        assert len(ranked.rows), (question, channel)
        assert dict(zip(other.rows.tolist(), other.scores.tolist())) == pytest.approx(
            dict(zip(ranked.rows.tolist(), ranked.scores.tolist())), rel=1e-4), (question, channel)


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
        # and each store's own lists: the same rows with the same raw scores, BM25 and inner product alike
        for question in VARIANT_QUESTIONS:
            _assert_same_lists(retrievers, question)
        # the three variants score exactly alike on the word channel, on both backends
        for backend, retriever in retrievers.items():
            scores = {h.chunk.doc_id: h.score for h in retriever.search("1+X证书", CHANNELS["words"])}
            assert scores["upper.txt"] == pytest.approx(scores["lower.txt"]) == pytest.approx(
                scores["fullwidth.txt"]), backend
    finally:
        close(retrievers["milvus"])


# ---------------------------------------------------------------- Milvus only


def test_milvus_filters_by_the_documents_the_shared_filters_allow():
    from kb.store.milvus import _doc_filter

    assert _doc_filter(["a.txt", "b.txt"], []) == ""  # nothing excluded: no filter
    assert _doc_filter(["a.txt"], ["b.txt", 'c"d.txt']) == 'doc_id in ["a.txt"]'
    assert _doc_filter(["a.txt", "b.txt"], ['c"d.txt']) == 'not (doc_id in ["c\\"d.txt"])'


def test_tokens_reach_milvus_as_terms_its_analyzer_keeps_whole():
    from kb.store.milvus import terms

    assert terms(["证书", "x证书", "2019年", "1+x", "2.5"]) == "证书 x证书 2019年 Q312b78 Q322e35"


@pytest.mark.parametrize("uri", ["", "index", "ftp://host/x", "milvus.sqlite"])
def test_a_milvus_uri_that_is_neither_a_lite_file_nor_a_server_is_refused(uri):
    with pytest.raises(ConfigError, match="milvus-uri|\\.db"):
        milvus(uri)


def test_a_backend_is_one_registry_line_for_settings_cli_build_and_load(tmp_path, monkeypatch):
    from kb.cli import build_parser
    from kb.store import STORES, Store, store_class

    monkeypatch.setitem(STORES, "toy", "kb.store.faiss_bm25:FaissBM25Store")  # a backend under a new name
    assert issubclass(store_class("toy"), Store)
    index = build_parser().parse_args(["index", "corpus", "--backend", "toy"])
    assert index.backend == "toy"
    build_index(CORPUS / "notices", tmp_path / "index", BuildSettings(embedder="hashing", store="toy"))
    assert json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))["settings"]["store"] == "toy"
    assert open_retriever(tmp_path / "index").search("考核站点", SearchSettings(top_k=1))[0].chunk.doc_id == Path(HTML).name


def test_backend_options_nest_under_its_name_and_old_manifests_still_read(tmp_path):
    from kb.store.milvus import MilvusOptions

    settings = milvus(str(tmp_path / "m.db"), embedder="hashing")
    saved = settings.to_dict()
    assert saved["milvus"] == {"uri": str(tmp_path / "m.db"), "collection": ""} and "store_options" not in saved
    assert BuildSettings.from_dict(saved) == settings
    flat = {k: v for k, v in saved.items() if k != "milvus"} | {"milvus_uri": str(tmp_path / "m.db"),
                                                                  "milvus_collection": "c"}  # before nesting
    assert BuildSettings.from_dict(flat).store_options == MilvusOptions(str(tmp_path / "m.db"), "c")
    old_faiss = {"embedder": "hashing", "store": "faiss", "milvus_uri": "", "milvus_collection": ""}
    assert BuildSettings.from_dict(old_faiss) == BuildSettings(embedder="hashing")
    # a rerun's flags change only what they name; a backend's flags need that backend
    rerun = BuildSettings.from_env(base=settings, store_flags={"milvus": {"uri": None, "collection": "c2"}})
    assert rerun.store_options == MilvusOptions(str(tmp_path / "m.db"), "c2")
    with pytest.raises(ConfigError, match="--milvus-uri: only for --backend milvus"):
        BuildSettings.from_env(store_flags={"milvus": {"uri": str(tmp_path / "m.db")}})
    assert BuildSettings.from_env(base=settings, store="faiss").store_options == BuildSettings().store_options


def test_unknown_backend_lists_the_valid_ones():
    from kb.store import store_class

    with pytest.raises(ConfigError, match="faiss, milvus"):
        BuildSettings(store="elastic")
    with pytest.raises(ValueError, match="faiss, milvus"):
        store_class("elastic")


@NEEDS_LITE
def test_unreachable_server_names_the_uri(tmp_path):
    settings = milvus("http://127.0.0.1:9", embedder="hashing")
    with pytest.raises(BadIndexError, match="http://127.0.0.1:9"):
        build_index(CORPUS / "papers", tmp_path / "index", settings)


@NEEDS_LITE
def test_lite_file_inside_the_index_folder_is_refused(tmp_path):
    settings = milvus(str(tmp_path / "index" / "m.db"), embedder="hashing")
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
    assert (manifest["settings"]["store"], manifest["settings"]["milvus"]["uri"]) == ("milvus", str(db))
    capsys.readouterr()
    assert main(["search", "证书有效期", "--index", str(tmp_path / "index"), "--json", "--top-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc_id"] == "certificate_management_measures.pdf"
    release(milvus(str(db)))


@NEEDS_LITE
def test_an_update_reads_only_the_segments_of_changed_documents(tmp_path):
    """Milvus is sent the changed document's rows from the new segment; the old segment is not read."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = settings_for("milvus", tmp_path)
    build_index(tmp_path / "corpus", tmp_path / "index", settings)
    (old,) = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))["segments"]
    (tmp_path / "index" / old / "vectors.npy").write_bytes(b"not read")  # reading it would fail the build
    with open(tmp_path / "corpus" / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    report = build_index(tmp_path / "corpus", tmp_path / "index", settings)
    assert report.embedded_chunks > 0
    state = json.loads((tmp_path / "index" / "milvus.json").read_text(encoding="utf-8"))["last_build"]
    assert state["upserted"] == report.embedded_chunks and state["kept"] == report.chunks - report.embedded_chunks
    release(settings)


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
