"""Answers: extractive quotes cited to the clause, refusal without basis, the optional LLM path."""

import json
import re
import socket

import numpy as np
import pytest

from kb.answer import answer_question
from kb.config import AskSettings
from kb.config import BuildSettings
from kb.ingest import find_files, read_file
from kb.llm import LLMSettings
from kb.pipeline import build_index, open_retriever
from kb.prompts import FALLBACK_NOTE, NO_BASIS_REPLY
from tests.conftest import REPO, shared_path
from tests.fake_openai import Reply, serve

PDF = "rules/certificate_management_measures.pdf"
DOCX = "notices/1x_pilot_plan.docx"
QUESTIONS = ["1+X证书由谁颁发？", "证书有效期是多久？", "培训评价组织由谁遴选？", "哪个文件规定了考核站点的要求？",
             "试点院校学生考核要交费吗？", "产教融合型企业有什么激励？", "示例市职业教育促进办法规定的实习补贴是多少？",
             "教职成[2019]6号讲了什么？", "职业技能等级证书管理办法何时施行？", "如何查询证书？", "学分银行由谁建设？",
             "考试过程要录像吗？"]


@pytest.fixture(scope="module")
def retriever(sample_retriever):
    return sample_retriever


@pytest.fixture(scope="module")
def texts():
    root = REPO / "corpus"
    return {d.doc_id: d.text for path in find_files(root) for d in read_file(path, root)[0]}


def assert_well_cited(answer, texts):
    """Every [n] names a citation, every citation is named, every quote is verbatim at its offsets."""
    markers = {int(n) for n in re.findall(r"\[(\d{1,3})\]", answer.text)}
    assert markers == {c.n for c in answer.citations}
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.quote and texts[c.doc_id][c.start:c.end] == c.quote


def test_answer_quotes_the_clause(retriever, texts):
    answer = answer_question(retriever, "证书有效期是多久？")
    assert not answer.refused and answer.mode == "extractive"
    first = answer.citations[0]
    assert (first.doc_id, first.path[-1], first.pages) == (PDF, "第十二条", (2,))
    # the clause is short, so it is quoted whole; a how-long question leads with the fact
    assert first.quote.startswith("证书有效期为三年，自颁证之日起计算。有效期届满前，") and first.quote.endswith("等级和有效期。")
    lead, source = answer.text.split("\n")[:2]
    assert lead == "三年。[1]"
    assert source.startswith("《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）第十二条：证书有效期为三年")
    # 第十一条 only lists 有效期 among what a certificate shows: no figure, so it would pad the answer
    assert [c.path[-1] for c in answer.citations] == ["第十二条"]
    assert_well_cited(answer, texts)


def test_who_issues_the_certificate(retriever):
    answer = answer_question(retriever, "1+X证书由谁颁发？")
    assert answer.citations[0].quote.startswith("证书由培训评价组织颁发。")
    assert not any(c.quote.startswith("关键词") for c in answer.citations)


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_is_well_cited(retriever, texts, question):
    assert_well_cited(answer_question(retriever, question), texts)


def test_which_document_questions_lead_with_the_document(retriever):
    answer = answer_question(retriever, "哪个文件规定了考核站点的要求？")
    assert answer.text.startswith("依据是《关于做好1+X证书制度试点工作的通知》（教职成厅函〔2020〕2号）")


def test_named_document_overview(retriever, texts):
    answer = answer_question(retriever, "教职成（2019）6号讲了什么？")
    assert not answer.refused and {c.doc_id for c in answer.citations} == {DOCX}
    assert answer.text.startswith("《教育部国家发展改革委财政部市场监管总局关于印发")
    assert_well_cited(answer, texts)


@pytest.mark.parametrize("question", ["火星移民签证怎么办理", "足球世界杯冠军是谁？", "个人所得税专项附加扣除标准"])
def test_no_basis_is_refused_with_related_documents(retriever, question):
    answer = answer_question(retriever, question)
    assert answer.refused and answer.citations == ()
    assert answer.text.startswith(NO_BASIS_REPLY)
    assert answer.to_dict()["refused"] is True


def test_refusal_threshold_is_a_setting(retriever):
    assert not answer_question(retriever, "证书有效期是多久？").refused
    assert answer_question(retriever, "证书有效期是多久？", AskSettings(min_confidence=1.01)).refused


# --- the optional LLM answerer, against a real OpenAI-style server on 127.0.0.1 -------------------

def llm(server) -> LLMSettings:
    return LLMSettings(base_url=server.base_url, model="qwen2.5:7b", timeout=5)


def test_llm_answer_markers_renumbered_to_citations(retriever, texts):
    with serve() as server:
        server.reply(Reply("证书有效期为三年，自颁证之日起计算[2]。教职成[2019]6号另有规定[9]。"))
        answer = answer_question(retriever, "证书有效期是多久？", llm=llm(server))
        sent = server.received[0].body["messages"]
    assert answer.mode == "llm" and not answer.refused
    text, *notes = answer.text.split("\n")
    assert text == "证书有效期为三年，自颁证之日起计算[1]。教职成[2019]6号另有规定。"
    # passage [2] was 第十一条, which the sample amendment changes: the answer says so
    assert all(n.startswith("注：[1] 所引的") for n in notes)
    assert len(answer.citations) == 1
    assert_well_cited(answer, texts)
    assert sent[-1]["role"] == "user" and sent[-1]["content"].endswith("证书有效期是多久？")


def test_llm_refusal_is_a_refusal(retriever):
    with serve() as server:
        server.reply(Reply("无依据"))
        answer = answer_question(retriever, "证书有效期是多久？", llm=llm(server))
    assert answer.refused and answer.text.startswith(NO_BASIS_REPLY) and answer.mode == "llm"


def test_llm_answer_without_valid_citation_falls_back(retriever, texts):
    with serve() as server:
        server.reply(Reply("证书有效期为三年。"))
        answer = answer_question(retriever, "证书有效期是多久？", llm=llm(server))
    assert answer.mode.startswith("extractive") and answer.citations[0].path[-1] == "第十二条"
    assert_well_cited(answer, texts)


def test_unreachable_llm_falls_back_and_says_so(retriever, texts):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=2)
    answer = answer_question(retriever, "证书有效期是多久？", llm=settings)
    assert answer.mode == "extractive: LLM unavailable"
    assert answer.text.startswith(FALLBACK_NOTE.split("{")[0])
    assert_well_cited(answer, texts)


# --- the ask verb -----------------------------------------------------------------------------------

def test_ask_cli_json_and_batch(capsys, tmp_path, monkeypatch):
    from kb.cli import main

    monkeypatch.delenv("KB_LLM_BASE_URL", raising=False)
    index = str(tmp_path / "index")
    assert main(["index", str(REPO / "corpus"), "--index", index, "--embedder", "hashing", "--json"]) == 0
    capsys.readouterr()
    assert main(["ask", "证书有效期是多久？", "--index", index, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"question", "answer", "citations", "refused"} <= set(result) and result["refused"] is False
    assert result["citations"][0]["article"] == "第十二条"
    batch = tmp_path / "q.txt"
    batch.write_text("证书有效期是多久？\n火星移民签证怎么办理\n", encoding="utf-8")
    assert main(["ask", "--batch", str(batch), "--index", index]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["question"], x["refused"]) for x in lines] == [("证书有效期是多久？", False), ("火星移民签证怎么办理", True)]


def test_answers_on_the_real_law_corpus_are_well_cited(tmp_path):
    corpus = shared_path("corpus", "vocational-law")
    build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    retriever = open_retriever(tmp_path / "index")
    texts = {d.doc_id: d.text for p in find_files(corpus) for d in read_file(p, corpus)[0]}
    for question in ["职业教育活动周是哪一周？", "企业不履行职业教育义务会怎样？", "民办学校的举办者可以取得办学收益吗？",
                     "职业学校教师要有企业工作经历吗？", "教师的工资待遇有什么规定？", "高等学校的设立条件是什么？"]:
        assert_well_cited(answer_question(retriever, question), texts)


def test_stream_answer_yields_pieces_then_the_checked_answer(retriever, texts):
    from kb.answer import stream_answer

    with serve() as server:
        server.reply(Reply(["证书有效期", "为三年[2]", "。"]))
        items = list(stream_answer(retriever, "证书有效期是多久？", llm=llm(server)))
    assert items[:-1] == ["证书有效期", "为三年[2]", "。"]
    final = items[-1]
    assert final.text.split("\n")[0] == "证书有效期为三年[1]。" and final.mode == "llm"
    assert_well_cited(final, texts)


def test_stream_answer_without_llm_is_one_answer(retriever):
    from kb.answer import stream_answer

    [only] = list(stream_answer(retriever, "证书有效期是多久？"))
    assert only.citations[0].path[-1] == "第十二条"


def test_follow_up_is_asked_about_the_previous_answers_document(retriever):
    first = answer_question(retriever, "哪个文件规定了考核站点的要求？")
    assert first.citations[0].doc_id == "notices/pilot_work_notice.html"
    follow = answer_question(retriever, "那它是哪年发布的？", previous=first)
    assert follow.citations and {c.doc_id for c in follow.citations} == {"notices/pilot_work_notice.html"}
    assert follow.text.startswith("2020年1月20日")  # the notice's date, quoted from its signature line
    # a new subject is not tied to the previous answer
    other = answer_question(retriever, "证书有效期是多久？", previous=first)
    assert other.citations[0].path[-1] == "第十二条"


def test_statuses_are_judged_on_the_day_the_question_is_asked(retriever):
    """A server running past midnight notices a 施行 date that has arrived: the register is
    rebuilt for the day of the question, not kept from the day the index was loaded."""
    from datetime import date

    from kb.pipeline import ask

    new = "laws/vocational_education_measures_2021_gbk.txt"
    ask(retriever, "企业接收职业学校学生实习的补贴标准是每生每月多少元？", AskSettings(today="2021-01-01"))
    assert retriever.index.register.today == "2021-01-01"
    assert retriever.index.register.entries[new].status == "未知"  # its 施行 date, 2021-09-01, still to come
    now = ask(retriever, "企业接收职业学校学生实习的补贴标准是每生每月多少元？")
    assert retriever.index.register.today == date.today().isoformat()
    assert now.citations[0].doc_id == new and "300元" in now.text


def test_ask_takes_the_search_settings(retriever):
    """kb.pipeline.ask runs the search its AskSettings name: a document filter reaches retrieval."""
    from dataclasses import replace

    from kb.config import SearchFilters
    from kb.pipeline import ask

    only = AskSettings(search=replace(AskSettings().search, filters=SearchFilters(doc_ids=(PDF,))))
    answer = ask(retriever, "证书由谁颁发？", only)
    assert answer.citations and {c.doc_id for c in answer.citations} == {PDF}


def test_the_answer_stage_reuses_vectors_without_changing_them(retriever):
    texts = ["证书有效期为三年，自颁证之日起计算。", "证书由培训评价组织颁发。"]
    cold = retriever.sentence_vectors(texts + texts[:1])
    warm = retriever.sentence_vectors(texts)
    assert cold.shape == (3, retriever.embedder.dim)
    np.testing.assert_allclose(cold[:2], retriever.embedder.embed_documents(texts), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(warm, cold[:2])
    np.testing.assert_array_equal(cold[2], cold[0])
    assert retriever.sentence_vectors([]).shape == (0, retriever.embedder.dim)
    np.testing.assert_allclose(retriever.query_vector("证书有效期是多久？"),
                               retriever.embedder.embed_query("证书有效期是多久？"), rtol=1e-5, atol=1e-6)


def test_a_model_is_given_the_follow_up_completed(retriever):
    first = answer_question(retriever, "证书有效期是多久？")
    title = retriever.index.records[first.citations[0].doc_id].meta.title
    with serve() as server:
        server.reply(Reply("证书由培训评价组织颁发[1]。"))
        # never refusing: what is tested is what the model is given, not the evidence decision
        answer = answer_question(retriever, "那它由谁颁发？", AskSettings(min_confidence=0.0), llm=llm(server),
                                 previous=first)
        sent = server.received[0].body["messages"][-1]["content"]
    assert answer.understood == f"那{title}由谁颁发？"
    assert sent.endswith(answer.understood) and answer.mode == "llm" and answer.understood


@pytest.fixture(scope="module")
def measures(tmp_path_factory):
    """One local regulation whose second article lists three activities, indexed with the hashing embedder."""
    root = tmp_path_factory.mktemp("measures")
    (root / "corpus").mkdir()
    (root / "corpus" / "示例市职业学校管理办法.md").write_text(
        "# 示例市职业学校管理办法\n\n第一条 为了规范职业学校管理，制定本办法。\n\n"
        "第二条 职业学校在办学中可以开展下列活动：\n\n（一）依法自主设置专业；\n\n（二）自主选用专业课程教材；\n\n"
        "（三）实行弹性学习制度。\n\n第三条 本办法自2024年1月1日起施行。\n", encoding="utf-8")
    build_index(root / "corpus", root / "index", BuildSettings(embedder="hashing"))
    return open_retriever(root / "index")


def test_a_follow_up_asking_for_an_item_by_its_place_gets_that_item_of_the_enumeration_just_quoted(measures):
    from kb.pipeline import ask

    first = ask(measures, "示例市职业学校管理办法规定职业学校在办学中可以开展哪些活动？")
    assert "（二）自主选用专业课程教材" in first.text
    for follow in ("那第二项具体是啥？", "第2项呢？", "第二个是什么？"):
        answer = ask(measures, follow, previous=first)
        assert answer.text == "《示例市职业学校管理办法》第二条：（二）自主选用专业课程教材；[1]", follow
        assert [c.path[-1] for c in answer.citations] == ["第二条"]
    beyond = ask(measures, "第五项呢？", previous=first)
    assert beyond.refused and beyond.text.splitlines()[:2] == [NO_BASIS_REPLY, "《示例市职业学校管理办法》第二条只列了3项，没有第五项。"]
    # asking more than the place is a question of its own, not the item
    assert not ask(measures, "第二项和第三项有什么关系？", previous=first).text.startswith("《示例市职业学校管理办法》第二条：（二）")
