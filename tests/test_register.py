"""The document register: types, relations, versions and status, and how answers use them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kb.answer import answer_question
from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import IngestError
from kb.intent import read_intent
from kb.metadata import document_type, extract_relations
from kb.pipeline import build_index, open_retriever
from kb.register import Register, read_sidecar
from kb.segment import clause_roles, defined_terms
from kb.types import DocMeta, DocRecord, Reference, Relation
from tests.sample_docs import AMEND, CORPUS, DOCX, HTML, LAW_2018, LAW_2021, MD, PDF, TXT

# ---------------------------------------------------------------- relations read off a text


def _kinds(text: str, title: str = "") -> list[tuple[str, str, str]]:
    return [(r.kind, r.target.title, r.target.doc_number) for r in extract_relations(text, title)]


def test_abolishes_names_the_document_and_keeps_the_sentence():
    text = "第十条　本办法自2021年9月1日起施行。2018年3月20日印发的《示例市职业教育促进办法》（示政发〔2018〕8号）同时废止。"
    (rel,) = extract_relations(text)
    assert (rel.kind, rel.target) == ("abolishes", Reference("示例市职业教育促进办法", "示政发〔2018〕8号"))
    assert rel.sentence == "2018年3月20日印发的《示例市职业教育促进办法》（示政发〔2018〕8号）同时废止。"
    assert text[rel.start:rel.end] == rel.sentence


def test_revises_by_sentence_and_by_title():
    text = "决定对《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）作如下修改：将第十三条修改为……"
    assert _kinds(text) == [("revises", "职业技能等级证书管理办法（试行）", "教职成厅〔2019〕3号")]
    titled = _kinds("现将《职业技能等级证书管理办法（试行）》有关条款调整如下。",
                    title="关于修改《职业技能等级证书管理办法（试行）》的通知")
    assert titled == [("revises", "职业技能等级证书管理办法（试行）", "")]


def test_a_laws_history_line_only_cites_the_amending_decision():
    text = "2018年12月29日第十三届全国人民代表大会常务委员会第七次会议《关于修改〈中华人民共和国劳动法〉等七部法律的决定》第二次修正"
    assert [k for k, _t, _n in _kinds(text)] == ["cites"]


def test_implements_by_basis_sentence_and_by_title():
    basis = "第一条　为了促进本市职业教育发展，根据《中华人民共和国职业教育法》等法律、法规，结合本市实际，制定本办法。"
    assert _kinds(basis) == [("implements", "中华人民共和国职业教育法", "")]
    by_title = _kinds("第一条　结合本市实际，制定本办法。", title="北京市实施《中华人民共和国职业教育法》办法")
    assert by_title == [("implements", "中华人民共和国职业教育法", "")]


def test_a_mere_mention_cites():
    text = "鼓励入选企业按照《关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案》（教职成〔2019〕6号）的要求参与。"
    assert _kinds(text) == [("cites", "关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案", "教职成〔2019〕6号")]


@pytest.mark.parametrize(("title", "issuer", "dates", "text", "fmt", "expected"), [
    ("中华人民共和国职业教育法", "全国人民代表大会常务委员会", (("通过", "1996-05-15"),), "", "md", "法律"),
    ("上海市职业教育条例", "上海市人民代表大会常务委员会", (("通过", "2004-05-20"),), "", "md", "地方性法规"),
    ("北京市实施《中华人民共和国职业教育法》办法", "北京市人民代表大会常务委员会", (("通过", "1997-09-05"),), "", "md",
     "地方性法规"),
    ("中华人民共和国民办教育促进法实施条例", "国务院", (("修订", "2021-04-07"),), "", "md", "行政法规"),
    ("职业技能等级证书管理办法（试行）", "教育部办公厅", (), "", "pdf", "办法"),
    ("关于做好1+X证书制度试点工作的通知", "教育部办公厅", (), "", "html", "通知"),
    ("1+X证书制度试点的政策脉络与实施评述", "", (), "摘要：本文梳理……关键词：1+X证书", "md", "论文"),
    ("2023-07-24 职业教育新闻", "", (), "2023-07-24 17:16:54，正文：当前……", "jsonl", "新闻"),
])
def test_document_type(title, issuer, dates, text, fmt, expected):
    assert document_type(title, issuer, dates, text, fmt) == expected


def test_clause_roles_and_defined_terms():
    definition = "本办法所称职业技能等级证书（以下简称证书），是指培训评价组织……出具的凭证。"
    assert clause_roles(definition) == ("definition",)
    assert clause_roles("培训评价组织不得以任何名义额外收取费用。") == ("obligation",)
    assert clause_roles("第十五条　本办法由教育部负责解释。") == ("obligation",)
    assert clause_roles("鼓励企业参与。") == ()
    assert defined_terms("本法所称职业教育，是指为了培养高素质技术技能人才……") == ("职业教育",)


# ---------------------------------------------------------------- the register over records


def _record(doc_id: str, title: str, *, number: str = "", dates=(), relations=(), doc_type="法律", status=""):
    meta = DocMeta(title=title, doc_number=number, dates=tuple(dates), relations=tuple(relations),
                   doc_type=doc_type, status=status, date=max((d for _k, d in dates), default=""))
    return DocRecord(doc_id, doc_id, "md", meta, "", 1)


def test_versions_of_one_work_are_linked_and_the_newest_is_current():
    old = _record("1996.md", "中华人民共和国职业教育法", dates=[("通过", "1996-05-15"), ("施行", "1996-09-01")])
    new = _record("2022.md", "中华人民共和国职业教育法", dates=[("通过", "1996-05-15"), ("修订", "2022-04-20"),
                                                           ("施行", "2022-05-01")])
    reg = Register([new, old], today="2026-11-28")
    assert reg.entries["1996.md"].versions == reg.entries["2022.md"].versions == ("1996.md", "2022.md")
    assert (reg.entries["1996.md"].status, reg.entries["1996.md"].superseded_by) == ("已修订", "2022.md")
    assert (reg.entries["2022.md"].status, reg.entries["2022.md"].current) == ("现行有效", "2022.md")
    assert reg.entries["1996.md"].current == "2022.md"
    assert reg.version_at("2022.md", "2020-12-31") == "1996.md"
    assert reg.version_at("1996.md", "2022-05-01") == "2022.md"
    assert reg.version_at("1996.md", "1990-01-01") == ""


def test_abolition_from_another_document_and_status_from_dates():
    target = _record("old.md", "甲市职业学校管理条例", dates=[("通过", "1996-08-11")], doc_type="地方性法规")
    stating = Relation("abolishes", Reference("甲市职业学校管理条例", ""), "《甲市职业学校管理条例》同时废止。", 10, 30)
    new = _record("new.md", "甲市职业教育条例", dates=[("通过", "2015-08-26"), ("施行", "2015-11-01")],
                  relations=[stating], doc_type="地方性法规")
    future = _record("future.md", "乙市条例", dates=[("施行", "2030-01-01")], doc_type="地方性法规")
    paper = _record("paper.md", "一篇论文", doc_type="论文")
    reg = Register([target, new, future, paper], today="2026-11-28")
    assert reg.entries["old.md"].status == "已废止"
    assert reg.entries["old.md"].superseded_by == "new.md"
    assert "同时废止" in reg.entries["old.md"].reason
    assert [link.source for link in reg.incoming["old.md"]] == ["new.md"]
    assert [link.target for link in reg.outgoing["new.md"]] == ["old.md"]
    assert reg.entries["new.md"].status == "现行有效"
    assert (reg.entries["future.md"].status, reg.entries["paper.md"].status) == ("未知", "未知")


def test_status_set_by_hand_wins():
    rec = _record("x.md", "某办法", dates=[("施行", "2020-01-01")], doc_type="办法", status="已废止")
    assert Register([rec]).entries["x.md"].status == "已废止"


# ---------------------------------------------------------------- the register of the sample corpus


@pytest.fixture(scope="module")
def register(sample_retriever):
    return sample_retriever.index.register


def test_sample_register(register):
    e = register.entries
    assert (e[LAW_2018].status, e[LAW_2018].superseded_by, e[LAW_2018].current) == ("已废止", LAW_2021, LAW_2021)
    assert e[LAW_2018].versions == e[LAW_2021].versions == (LAW_2018, LAW_2021)
    assert e[LAW_2021].status == "现行有效"
    # an amendment changes two clauses of the 办法: it stays in force, amended
    assert (e[PDF].status, e[PDF].amended_by) == ("现行有效", (AMEND,))
    assert {(link.kind, link.target) for link in register.outgoing[AMEND]} == {("revises", PDF), ("cites", "")}
    assert e[MD].doc_type == "论文" and e[MD].status == "未知"
    assert {e[d].doc_type for d in (DOCX, HTML, TXT, AMEND)} == {"通知"}
    implements = {(link.source, link.target) for links in register.outgoing.values() for link in links
                  if link.kind == "implements" and link.target}
    assert (PDF, DOCX) in implements and (HTML, DOCX) in implements


def test_sidecar_sets_what_the_text_does_not_say(sample_retriever):
    meta = sample_retriever.index.records[MD].meta
    assert (meta.issuer, meta.date, meta.overridden) == ("示例职业技术学院", "2021-06-01", ("date", "issuer"))


# ---------------------------------------------------------------- answers that use the register


SUBSIDY = "企业接收职业学校学生实习的补贴标准是每生每月多少元？"


def _top_doc(retriever, question: str) -> str:
    return retriever.search(question, SearchSettings(top_k=3))[0].chunk.doc_id


def test_in_force_version_answers_by_default(sample_retriever):
    assert _top_doc(sample_retriever, SUBSIDY) == LAW_2021
    answer = answer_question(sample_retriever, SUBSIDY)
    assert not answer.refused and "300元" in answer.text and "200元" not in answer.text
    assert {c.doc_id for c in answer.citations} == {LAW_2021}


@pytest.mark.parametrize("question", [
    "原来的办法规定企业接收职业学校学生实习的补贴标准是每生每月多少元？",
    "2020年时企业接收职业学校学生实习的补贴标准是每生每月多少元？",
])
def test_history_and_date_questions_use_the_old_version_and_say_so(sample_retriever, question):
    assert _top_doc(sample_retriever, question) == LAW_2018
    answer = answer_question(sample_retriever, question)
    assert "200元" in answer.text and "300元" not in answer.text
    assert {c.doc_id for c in answer.citations} == {LAW_2018}
    assert "该文件已废止，现行版本为《示例市职业教育促进办法》（示政发〔2021〕21号）" in answer.text


@pytest.mark.parametrize("form", ["示政发〔2018〕8号", "示政发[2018]8号", "示政发（2018）8号", "示政发(2018)8 号",
                                  "示政发【2018】8号", "示政发 〔2018〕 8号"])
def test_superseded_document_named_by_number_in_any_bracket_form_comes_first(sample_retriever, form):
    hits = sample_retriever.search(f"{form}规定的实习补贴标准是多少？", SearchSettings(top_k=3))
    assert hits[0].chunk.doc_id == LAW_2018 and "exact" in hits[0].retrievers
    assert hits[0].status == "已废止"


def test_definition_question_finds_the_defining_clause(sample_retriever):
    hits = sample_retriever.search("什么是职业技能等级证书？", SearchSettings(top_k=3))
    assert (hits[0].chunk.doc_id, hits[0].chunk.label) == (PDF, "第二条")
    assert "definition" in hits[0].chunk.roles


def test_which_document_question_leads_with_title_number_and_article(sample_retriever):
    answer = answer_question(sample_retriever, "哪个文件规定了证书有效期？")
    assert answer.text.startswith("依据是《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）第十二条")
    assert "第十二条已被" not in answer.text  # the amendment changes 第十一条 and 第十三条, not this one


def test_an_amended_article_is_pointed_out(sample_retriever):
    answer = answer_question(sample_retriever, "证书信息应当在多少个工作日内上传？")
    assert answer.citations[0].path[-1] == "第十三条"
    assert "注：[1] 所引的《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）第十三条已被" in answer.text
    assert "（教职成厅〔2021〕5号）修改" in answer.text


def test_document_cited_but_not_held_is_said_so_with_the_citing_sentence(sample_retriever):
    answer = answer_question(sample_retriever, "国发[2019]4号讲了什么？")
    assert answer.text.startswith("知识库中没有《国家职业教育改革实施方案》（国发〔2019〕4号）本身")
    assert {c.doc_id for c in answer.citations} == {AMEND, LAW_2021, DOCX, TXT}  # by 文号, and by its title
    quote = next(c.quote for c in answer.citations if c.doc_id == AMEND)
    assert "国发〔2019〕4号" in quote and f"“{quote}”" in answer.text


def test_comparison_of_two_named_documents_answers_side_by_side(sample_retriever):
    q = "《职业技能等级证书管理办法（试行）》和《关于做好1+X证书制度试点工作的通知》对证书颁发有什么规定？"
    answer = answer_question(sample_retriever, q)
    first, second = answer.text.index("【职业技能等级证书管理办法（试行）】"), answer.text.index("【关于做好1+X证书制度试点工作的通知】")
    assert first < second
    assert {c.doc_id for c in answer.citations} == {PDF, HTML}


def test_comparison_of_two_places(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for place, days in (("上海市", "三十"), ("青岛市", "六十")):
        (corpus / f"{place}.txt").write_text(
            f"{place}职业教育条例\n（2020年1月1日{place}人民代表大会常务委员会通过）\n"
            f"第一条　为了发展职业教育，制定本条例。\n第二条　学生顶岗实习的时间不少于{days}天。\n", encoding="utf-8")
    build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    retriever = open_retriever(tmp_path / "index")
    assert read_intent("上海和青岛对顶岗实习时间有什么规定？", retriever.places).compare == ("上海", "青岛")
    answer = answer_question(retriever, "上海和青岛对顶岗实习时间有什么规定？")
    assert answer.text.index("【上海】") < answer.text.index("三十天") < answer.text.index("【青岛】") < answer.text.index("六十天")


# ---------------------------------------------------------------- the sidecar file


def _copy_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def test_sidecar_status_changes_without_reembedding(tmp_path):
    corpus = _copy_corpus(tmp_path)
    build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    (corpus / "metadata.csv").write_text("文件,状态\nnotices/production_education_notice.txt,已废止\n", encoding="utf-8")
    report = build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    assert report.embedded_chunks == 0 and report.failures == []
    retriever = open_retriever(tmp_path / "index")
    entry = retriever.index.register.entries[TXT]
    assert (entry.status, entry.reason) == ("已废止", "由 metadata.csv 或文件头设定")
    # the paper's row is gone from the sidecar, and with it what the row set
    assert retriever.index.records[MD].meta.issuer == ""


@pytest.mark.parametrize(("csv", "reason"), [
    ("file,colour\na.txt,red\n", "unknown column(s) colour"),
    ("文件,状态\nnotices/production_education_notice.txt,作废\n", "line 2: status '作废' is not one of"),
    ("file,date\nnotices/production_education_notice.txt,soon\n", "line 2: date 'soon' is not a date"),
    ("status\n已废止\n", "needs a 'file' column"),
])
def test_bad_sidecar_is_reported_and_not_applied(tmp_path, csv, reason):
    corpus = _copy_corpus(tmp_path)
    (corpus / "metadata.csv").write_text(csv, encoding="utf-8")
    with pytest.raises(IngestError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_sidecar(corpus / "metadata.csv")
    report = build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    assert [(f.source, reason in f.reason) for f in report.failures] == [("metadata.csv", True)]
    assert report.documents == 8


def test_sidecar_row_for_a_missing_file_is_reported(tmp_path):
    corpus = _copy_corpus(tmp_path)
    (corpus / "metadata.csv").write_text("file,status\nnotices/gone.txt,已废止\n", encoding="utf-8")
    report = build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    assert [f.reason for f in report.failures] == ["row for 'notices/gone.txt': no such indexed file or document"]


def test_front_matter_sets_status_and_number(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: 某市实习管理办法\n文号: 某教发[2017]3号\nstatus: 已废止\n---\n"
                                 "# 某市实习管理办法\n\n第一条　学生实习应当签订协议。\n", encoding="utf-8")
    (corpus / "b.md").write_text("---\nstatus: 作废\n---\n# 另一个办法\n", encoding="utf-8")
    report = build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    assert [(f.source, "front matter: status '作废'" in f.reason) for f in report.failures] == [("b.md", True)]
    retriever = open_retriever(tmp_path / "index")
    record = retriever.index.records["a.md"]
    assert (record.meta.doc_number, record.meta.status) == ("某教发〔2017〕3号", "已废止")
    assert retriever.index.register.entries["a.md"].status == "已废止"


def test_filters_naming_a_superseded_document_are_not_second_guessed(sample_retriever):
    hits = sample_retriever.search(SUBSIDY, SearchSettings(top_k=2, filters=SearchFilters(doc_ids=(LAW_2018,))))
    assert {h.chunk.doc_id for h in hits} == {LAW_2018}


def test_docs_json_and_doc_show_relations_both_ways(sample_retriever, capsys):
    from kb.cli import main

    index = str(sample_retriever.index.folder)
    assert main(["docs", "--index", index, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    docs = {d["doc_id"]: d for d in listing["documents"]}
    assert docs[LAW_2018]["status"] == "已废止" and docs[LAW_2018]["cited_by"][0]["source"] == LAW_2021
    assert listing["summary"]["status"]["已废止"] == 1
    assert main(["doc", "示政发[2021]21号", "--index", index, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["target"]) for r in doc["relations"] if r["kind"] == "abolishes"] == [("abolishes", LAW_2018)]
    assert doc["versions"] == [LAW_2018, LAW_2021] and doc["current_version"] == LAW_2021
    assert [o["label"] for o in doc["outline"] if o["depth"] == 0][:2] == ["第一章 总则", "第二章 校企合作与书证融通"]
    assert main(["doc", "示政发〔2018〕8号", "--index", index]) == 0
    text = capsys.readouterr().out
    assert "状态: 已废止" in text and "版本:" in text and "← 现行" in text and "结构:" in text
