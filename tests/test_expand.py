"""Lay-to-statute term translation: fitting on hand-made pairs, expansion, the table file, the weighted
channel on both stores, the expansion's gate and law-level aggregation in a real search."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from kb.config import BuildSettings, SearchSettings
from kb.errors import ConfigError, KBError
from kb.expand import DEFAULT_TABLE, TermTranslation, fit_translation, is_statute_word
from kb.pipeline import build_index, open_retriever
from kb.retrieve import Retriever
from kb.store import SearchPlan
from tests.test_backends import NEEDS_LITE, close, milvus

# three divorce questions whose gold clauses speak of 婚姻 and 抚养; 应当 is in every clause of the corpus
PAIRS = [
    (["离婚", "孩子"], ["婚姻", "抚养", "子女", "应当"]),
    (["离婚", "孩子", "归"], ["婚姻", "抚养", "应当"]),
    (["离婚", "房子"], ["婚姻", "财产", "应当"]),
    (["老板", "工资"], ["用人单位", "劳动报酬", "应当"]),
]
BACKGROUND = {"婚姻": 0.01, "抚养": 0.005, "子女": 0.02, "应当": 0.6, "财产": 0.05, "用人单位": 0.02,
              "劳动报酬": 0.004}


def _fit(**options) -> TermTranslation:
    return fit_translation(PAIRS, lambda t: BACKGROUND.get(t, 0.0), **options)


def test_fit_learns_shared_statute_words_and_drops_ubiquitous_and_rare_ones():
    table = _fit()
    assert table.pairs == 4
    # 婚姻 follows 离婚 in all three pairs, 抚养 in two; 应当 (everywhere) and 子女/财产 (one pair) do not count
    assert [t for t, _ in table.table["离婚"]] == ["婚姻", "抚养"]
    weight = dict(table.table["离婚"])
    assert weight["婚姻"] == pytest.approx(3 / 4 * math.log(3 / 4 / 0.01))
    assert weight["抚养"] == pytest.approx(2 / 4 * math.log(2 / 4 / 0.005))
    assert [t for t, _ in table.table["孩子"]] == ["抚养", "婚姻"]
    assert "老板" not in table.table  # one pair only: below min_pairs


def test_min_pairs_and_lift_thresholds():
    assert [t for t, _ in _fit(min_pairs=1).table["老板"]] == ["劳动报酬", "用人单位"]
    assert "应当" not in dict(_fit(min_pairs=1, min_lift=1.0).table["老板"])  # lift 0.5/0.6 < 1
    assert "应当" in dict(_fit(min_pairs=1, min_lift=0.5).table["老板"])


def test_expand_averages_over_question_words_and_leaves_out_what_is_asked():
    table = TermTranslation({"离婚": (("婚姻", 2.0), ("抚养", 1.0)), "孩子": (("抚养", 3.0), ("离婚", 1.0))})
    assert table.expand(["离婚", "孩子", "孩子", "未知"]) == {"抚养": (1.0 + 3.0) / 3, "婚姻": 2.0 / 3}
    assert table.expand(["离婚"], per_word=1) == {"婚姻": 2.0}
    assert table.expand([]) == {}


def test_coverage_is_the_share_of_distinct_question_words_the_table_knows():
    table = TermTranslation({"离婚": (("婚姻", 1.0),), "孩子": (("抚养", 1.0),)})
    assert table.coverage(["离婚", "孩子", "孩子", "学校"]) == pytest.approx(2 / 3)
    assert table.coverage([]) == 0.0


@pytest.mark.parametrize("term, ok", [("婚姻", True), ("民法典", True), ("一千", False), ("第一千", False),
                                      ("千一", False), ("第三分", False), ("编", False), ("第十九章", False)])
def test_numbers_and_single_characters_are_no_targets(term, ok):
    assert is_statute_word(term) is ok


def test_save_and_load_round_trip(tmp_path):
    table = _fit()
    path = tmp_path / "table.json"
    table.save(path)
    again = TermTranslation.load(path)
    assert again.pairs == table.pairs
    assert {w: [t for t, _ in ts] for w, ts in again.table.items()} == {w: [t for t, _ in ts] for w, ts in table.table.items()}
    assert again.table["离婚"][0][1] == pytest.approx(table.table["离婚"][0][1], abs=1e-4)


@pytest.mark.parametrize("content", ["not json", '{"format": "other", "table": {}}',
                                     '{"format": "policykb-term-translation-1"}',
                                     '{"format": "policykb-term-translation-1", "table": {"离婚": [["婚姻"]]}}'])
def test_bad_table_file_names_the_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KBError, match="bad.json"):
        TermTranslation.load(path)


def test_the_shipped_table_knows_lay_legal_words_and_holds_no_questions():
    import json

    table = TermTranslation.load(DEFAULT_TABLE)
    assert table.pairs > 1000
    assert "民法典" in dict(table.table["离婚"])  # a lay word leads to the law that speaks of it
    assert {"继承人", "法定继承"} <= set(dict(table.table["遗产"]))  # 遗产 asks for the heirs' clauses
    # word pairs and weights only: no key beyond the format, the pair count and the table
    assert set(json.loads(DEFAULT_TABLE.read_text(encoding="utf-8"))) == {"format", "pairs", "table"}


@pytest.mark.parametrize("field, value", [("expand_weight", 10.5), ("expand_weight", -0.1), ("law_weight", -1.0),
                                          ("expand_per_word", 0), ("expand_min_coverage", 1.5),
                                          ("expand_min_strength", -0.5), ("law_passages", 0)])
def test_expand_settings_are_checked(field, value):
    with pytest.raises(ConfigError, match=field):
        SearchSettings(**{field: value})


# ---------------------------------------------------------------- in a real search

# only lexical channels and no learned ones, so that each test turns on only what it checks
PLAIN = SearchSettings(top_k=3, dense_weight=0.0, expand_weight=0.0, expand_min_strength=0.0, law_weight=0.0,
                       mapped_weight=0.0)

LAW = """中华人民共和国示例婚姻法

第一条 夫妻双方自愿解除婚姻关系的，应当订立书面协议。

第二条 父母对子女有抚养教育的义务，解除婚姻关系后仍应负担抚养费。

第三条 用人单位应当按时足额支付劳动报酬。
"""
# another law, for law-level aggregation: its one article matches 孩子 loosely
SCHOOL = """中华人民共和国示例学校法

第一条 学校应当保护在校孩子的安全。

第二条 学校收取费用应当公示。
"""


@pytest.fixture(scope="module")
def law_retriever(tmp_path_factory) -> Retriever:
    corpus = tmp_path_factory.mktemp("law")
    (corpus / "婚姻法.txt").write_text(LAW, encoding="utf-8")
    (corpus / "学校法.txt").write_text(SCHOOL, encoding="utf-8")
    index = tmp_path_factory.mktemp("law-index")
    build_index(corpus, index, BuildSettings(embedder="hashing"))
    return open_retriever(index)


TABLE = TermTranslation({"孩子": (("抚养费", 1.0), ("子女", 0.5)), "离婚": (("婚姻", 1.0),)})


def test_expansion_reaches_the_clause_the_question_never_names(law_retriever):
    question = "离婚了孩子谁管"  # the law says 子女, 抚养费 and 婚姻, never 离婚 or 孩子
    expanded = Retriever(law_retriever.index, law_retriever.embedder, TABLE)
    plain = expanded.search(question, PLAIN)
    hits = expanded.search(question, replace(PLAIN, expand_weight=2.0, expand_min_coverage=0.0))
    assert (plain[0].title, plain[0].chunk.label) == ("中华人民共和国示例学校法", "第一条")  # 孩子
    assert (hits[0].title, hits[0].chunk.label) == ("中华人民共和国示例婚姻法", "第二条")
    assert "expand" in hits[0].retrievers
    assert all("expand" not in h.retrievers for h in plain)


def test_a_question_the_table_barely_knows_is_not_expanded(law_retriever):
    retriever = Retriever(law_retriever.index, law_retriever.embedder, TABLE)
    question = "学校孩子谁管"  # words 学校 孩子 管: the table knows one in three
    on = replace(PLAIN, expand_weight=0.5)
    assert retriever.expansion(question, replace(on, expand_min_coverage=0.3)) == {
        "expand": ("words", {"抚养费": 1.0 / 3, "子女": 0.5 / 3})}
    assert retriever.expansion(question, replace(on, expand_min_coverage=0.5)) == {}
    assert retriever.expansion(question, PLAIN) == {}  # weight 0: off
    # nor one whose strongest statute word is weak: 抚养费 weighs 1/3 here
    assert retriever.expansion(question, replace(on, expand_min_coverage=0.3, expand_min_strength=0.34)) == {}
    assert retriever.expansion(question, replace(on, expand_min_coverage=0.3, expand_min_strength=0.33))
    hits = retriever.search(question, replace(on, expand_min_coverage=0.5))
    assert all("expand" not in h.retrievers for h in hits)


def test_law_weight_lifts_the_articles_of_the_best_law(law_retriever):
    retriever = Retriever(law_retriever.index, law_retriever.embedder, TABLE)
    question = "抚养费 学校 婚姻"
    plain = [(h.title[-5:], h.chunk.label) for h in retriever.search(question, PLAIN)]
    lifted = [(h.title[-5:], h.chunk.label) for h in retriever.search(question, replace(PLAIN, law_weight=1.0))]
    assert plain[0] == ("示例婚姻法", "第二条")
    # the marriage law's best article scores highest, so its other articles rise above the school law's
    assert lifted[0] == ("示例婚姻法", "第二条")
    assert [law for law, _ in lifted[:2]] == ["示例婚姻法", "示例婚姻法"]
    assert plain[1][0] == "示例学校法"


def test_weighted_bm25_is_the_plain_score_times_the_weight(law_retriever):
    bm25 = law_retriever.index.store.lexical["words"]
    twice = bm25.scores(["抚养费", "抚养费"])
    assert twice.max() > 0
    np.testing.assert_allclose(bm25.weighted_scores({"抚养费": 2.0}), twice, rtol=1e-6)
    np.testing.assert_allclose(bm25.weighted_scores({"抚养费": 0.5, "用人单位": 1.0}),
                               0.25 * twice + bm25.scores(["用人单位"]), rtol=1e-6)
    assert not bm25.weighted_scores({"没有的词": 1.0}).any()


# ---------------------------------------------------------------- the weighted channel on both stores


def _weighted_plan(retriever, terms: dict[str, float], **options) -> SearchPlan:
    return SearchPlan({"words": ["学校"]}, retriever.embedder.embed_query("学校"), 10,
                      weighted={"expand": ("words", terms)}, **options)


def on_both_stores(tmp_path, files: dict[str, str]) -> dict[str, Retriever]:
    """These files indexed with the hashing embedder by the FAISS store and by Milvus Lite."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    retrievers = {}
    for backend, settings in (("faiss", BuildSettings(embedder="hashing")),
                              ("milvus", milvus(str(tmp_path / "milvus.db"), embedder="hashing"))):
        build_index(corpus, tmp_path / backend, settings)
        retrievers[backend] = open_retriever(tmp_path / backend)
    return retrievers


@NEEDS_LITE
def test_milvus_scores_weighted_terms_from_the_local_counts_as_faiss_does(tmp_path):
    retrievers = on_both_stores(tmp_path, {"婚姻法.txt": LAW, "学校法.txt": SCHOOL})
    try:
        terms = {"抚养费": 1.0, "子女": 0.5}
        lists = {b: r.index.store.search(_weighted_plan(r, terms)) for b, r in retrievers.items()}
        for backend, ranked in lists.items():
            assert "expand" in ranked, backend
        faiss, other = lists["faiss"]["expand"], lists["milvus"]["expand"]
        assert other.rows.tolist() == faiss.rows.tolist() and len(faiss.rows) == 1
        np.testing.assert_allclose(other.scores, faiss.scores, rtol=1e-6)
        # Milvus fusing the server's channels itself still returns the weighted channel beside "hybrid"
        hybrid = retrievers["milvus"].index.store.search(_weighted_plan(retrievers["milvus"], terms, rrf_k=60))
        assert set(hybrid) == {"hybrid", "expand"}
        # the filters hold on it: no allowed row, nothing found
        none = np.zeros(len(retrievers["milvus"].index.chunks), dtype=bool)
        only = np.isin(np.arange(len(none)), faiss.rows, invert=True)
        assert not len(retrievers["milvus"].index.store.search(_weighted_plan(retrievers["milvus"], terms,
                                                                             allowed=only))["expand"].rows)
        assert "expand" not in retrievers["milvus"].index.store.search(
            _weighted_plan(retrievers["milvus"], terms, allowed=none))
        # only the words' counts are kept beside Milvus: another analyzer is refused, not dropped silently
        with pytest.raises(ValueError, match="chars"):
            retrievers["milvus"].index.store.search(replace(_weighted_plan(retrievers["milvus"], terms),
                                                            weighted={"expand": ("chars", terms)}))
        # and the search with the expansion gives the same top article on both
        settings = replace(PLAIN, expand_weight=2.0, expand_min_coverage=0.0)
        tops = {b: [(h.title, h.chunk.label) for h in Retriever(r.index, r.embedder, TABLE).search("离婚了孩子谁管", settings)]
                for b, r in retrievers.items()}
        assert tops["faiss"][0] == tops["milvus"][0] == ("中华人民共和国示例婚姻法", "第二条")
    finally:
        close(retrievers["milvus"])


def test_law_scores_sum_each_documents_best_passages_over_the_best_documents():
    from kb.retrieve import law_scores

    docs = np.array([0, 1, 0, 2, 1, 0])
    fused = np.array([0.9, 0.5, 0.8, 0.1, 0.4, 0.7])
    # two best passages: document 0 holds 0.9 + 0.8, document 1 0.5 + 0.4, document 2 0.1
    np.testing.assert_allclose(law_scores(docs, fused, 2), np.array([1.7, 0.9, 1.7, 0.1, 0.9, 1.7]) / 1.7)
    np.testing.assert_allclose(law_scores(docs, fused, 1), np.array([0.9, 0.5, 0.9, 0.1, 0.5, 0.9]) / 0.9)
    assert not law_scores(docs, np.zeros(6), 3).any()


# ---------------------------------------------------------------- the statute gate

# a notice that speaks of children and schools as the laws do, but in sections (一、二、), not articles
NOTICE = """示例市教育局关于做好孩子入学工作的通知

一、离婚家庭的子女入学，凭抚养费协议由孩子户籍所在地学校接收。

二、各学校应当公示收费项目，孩子入学不收取赞助费。
"""


@pytest.mark.parametrize("label, ok", [("第二条", True), ("第一千零七十九条", True), ("第15条", True),
                                       ("一、", False), ("1.", False), ("第二章", False), ("", False)])
def test_only_numbered_articles_are_statute_articles(label, ok):
    from kb.retrieve import is_article

    assert is_article(label) is ok


@pytest.fixture(scope="module")
def notice_retriever(tmp_path_factory) -> Retriever:
    corpus = tmp_path_factory.mktemp("notices")
    (corpus / "通知.txt").write_text(NOTICE, encoding="utf-8")
    index = tmp_path_factory.mktemp("notice-index")
    build_index(corpus, index, BuildSettings(embedder="hashing"))
    return Retriever(open_retriever(index).index, open_retriever(index).embedder, TABLE)


GATED = replace(PLAIN, expand_weight=2.0, expand_min_coverage=0.0, expand_min_statute=0.5)


def test_the_expansion_fires_on_statutes(law_retriever):
    retriever = Retriever(law_retriever.index, law_retriever.embedder, TABLE)
    question = "离婚了孩子谁管"
    ranked = retriever._retrieve(question, GATED, None)
    # the dense channel (hashing) returns every chunk: five articles and the two laws' title lines
    assert "expand" in ranked and retriever.statute_share(ranked, GATED) == pytest.approx(5 / 7)
    hits = retriever.search(question, GATED)
    assert (hits[0].title, hits[0].chunk.label) == ("中华人民共和国示例婚姻法", "第二条")
    assert "expand" in hits[0].retrievers


def test_the_expansion_never_fires_on_notices(notice_retriever):
    question = "离婚了孩子谁管"
    ranked = notice_retriever._retrieve(question, GATED, None)
    assert "expand" in ranked  # the table speaks to the question ...
    assert notice_retriever.statute_share(ranked, GATED) == 0.0  # ... but what it finds are no articles
    assert all("expand" not in h.retrievers for h in notice_retriever.search(question, GATED))
    # without the gate the same search takes the expansion in
    ungated = notice_retriever.search(question, replace(GATED, expand_min_statute=0.0))
    assert any("expand" in h.retrievers for h in ungated)


def test_the_statute_gate_reads_the_plain_ranking_of_a_mixed_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "婚姻法.txt").write_text(LAW, encoding="utf-8")
    (corpus / "通知.txt").write_text(NOTICE, encoding="utf-8")
    build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    base = open_retriever(tmp_path / "index")
    retriever = Retriever(base.index, base.embedder, TABLE)
    one = replace(GATED, expand_statute_depth=1)
    # 入学 and 赞助费 are the notice's words: its section comes first, so the question is not of statutes
    notice = retriever._retrieve("孩子入学赞助费", one, None)
    assert retriever.statute_share(notice, one) == 0.0
    law = retriever._retrieve("孩子抚养教育的义务", one, None)
    assert retriever.statute_share(law, one) == 1.0


@pytest.mark.parametrize("field, value", [("expand_min_statute", 1.5), ("expand_min_statute", -0.1),
                                          ("expand_statute_depth", 0), ("statute_first_margin", 1.5),
                                          ("statute_first_margin", -0.1)])
def test_statute_gate_settings_are_checked(field, value):
    with pytest.raises(ConfigError, match=field):
        SearchSettings(**{field: value})


def test_ibm1_refit_credits_each_statute_word_to_the_question_word_that_predicts_it_best():
    from kb.expand import refit_ibm1

    # co-occurrence alone gives 孩子 婚姻 and 离婚 抚养; EM learns that 离婚 alone brings 婚姻 and 孩子
    # alone brings 抚养, so the shared question explains each by the other word
    table = TermTranslation({"离婚": (("婚姻", 2.0), ("抚养", 1.0)), "孩子": (("抚养", 3.0), ("婚姻", 1.0))}, 3)
    pairs = [(["离婚", "孩子"], ["婚姻", "抚养", "应当"]), (["离婚"], ["婚姻", "财产"]), (["孩子"], ["抚养"])]
    refit = refit_ibm1(table, pairs, lambda s: 0.01, iterations=10)
    assert [t for t, _ in refit.table["离婚"]] == ["婚姻", "抚养"] and [t for t, _ in refit.table["孩子"]] == ["抚养", "婚姻"]
    assert dict(refit.table["离婚"])["婚姻"] > 0.99 and dict(refit.table["孩子"])["抚养"] > 0.99
    assert sum(x for _, x in refit.table["离婚"]) == pytest.approx(1.0)
    assert refit.pairs == 3 and set(refit.table) == set(table.table)  # the same words: the same coverage
    # no iteration: the start, normalised
    assert dict(refit_ibm1(table, pairs, lambda s: 0.01, iterations=0).table["离婚"]) == pytest.approx(
        {"婚姻": 2 / 3, "抚养": 1 / 3})
