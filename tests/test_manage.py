"""Keeping the knowledge base (kb/manage.py and its CLI verbs), taking answers away (kb/export.py),
feedback (kb/feedback.py), derived examples (kb/examples.py) and the PDF page view (kb/pageview.py)."""

import json
import shutil

import pytest

from kb.answer import answer_question
from kb.config import AskSettings
from kb.cli import main
from kb.config import BuildSettings
from kb.errors import KBError
from kb.evaluate import evaluate, read_qa
from kb.examples import candidates, derive_examples
from kb.export import to_markdown, write_docx
from kb.feedback import LOG, record
from kb.manage import remove_document, replace_document, set_metadata
from kb.pageview import render_quote
from kb.pipeline import build_index, open_retriever
from tests.conftest import REPO, shared_path

PDF = "rules/certificate_management_measures.pdf"
REVIEW = "papers/1x_pilot_review.md"
NEWS = [{"id": "n1", "text": "2023-08-01 10:00，正文：职业院校技能大赛在天津举行。"},
        {"id": "n2", "text": "2023-08-02 11:00，正文：产教融合共同体在济南成立。"}]


@pytest.fixture()
def kb(tmp_path):
    """A writable copy of corpus/ plus a two-item news JSONL, indexed with the hashing embedder."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "news.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in NEWS),
                                       encoding="utf-8")
    build_index(corpus, index, BuildSettings(embedder="hashing"))
    return corpus, index


def _docs(index, capsys) -> dict:
    capsys.readouterr()
    assert main(["docs", "--index", str(index), "--json"]) == 0
    return {d["doc_id"]: d for d in json.loads(capsys.readouterr().out)["documents"]}


def test_remove_a_file_and_one_jsonl_record(kb, capsys):
    corpus, index = kb
    report = remove_document(corpus, index, "n1")
    assert report.documents == 9 and report.embedded_chunks == 0
    assert [json.loads(line)["id"] for line in (corpus / "news.jsonl").read_text(encoding="utf-8").splitlines()] == ["n2"]
    remove_document(corpus, index, PDF)
    assert not (corpus / PDF).exists()
    docs = _docs(index, capsys)
    assert "n1" not in docs and PDF not in docs and "n2" in docs
    hits = open_retriever(index).search("证书有效期为三年")
    assert all(h.chunk.doc_id != PDF for h in hits)


def test_remove_an_unknown_document_names_it(kb):
    corpus, index = kb
    with pytest.raises(KBError, match="no document 'nope'"):
        remove_document(corpus, index, "nope")


def test_replace_marks_the_old_version_revised_and_links_the_new(kb, tmp_path, capsys):
    corpus, index = kb
    new = tmp_path / "review-2024.md"
    new.write_text("# 1+X证书制度试点的政策脉络与实施评述（2024年修订）\n\n试点院校应当每年报告证书考核情况。\n",
                   encoding="utf-8")
    new_source, _report = replace_document(corpus, index, REVIEW, new)
    assert new_source == "papers/review-2024.md" and (corpus / new_source).is_file()
    docs = _docs(index, capsys)
    assert docs[REVIEW]["status"] == "已修订" and docs[REVIEW]["superseded_by"] == new_source
    assert "已被 《1+X证书制度试点的政策脉络与实施评述（2024年修订）》" in docs[REVIEW]["status_reason"]
    # the existing metadata.csv row (issuer, date) is kept alongside the new fields
    assert docs[REVIEW]["issuer"] == "示例职业技术学院"


def test_a_replacement_that_cannot_be_read_is_undone(kb, tmp_path, capsys):
    corpus, index = kb
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(KBError, match="papers/broken.pdf"):
        replace_document(corpus, index, REVIEW, broken)
    assert not (corpus / "papers" / "broken.pdf").exists()
    assert _docs(index, capsys)[REVIEW]["status"] != "已修订"


def test_set_meta_writes_the_sidecar_the_cli_reads(kb, capsys):
    corpus, index = kb
    assert main(["set-meta", PDF, "--corpus", str(corpus), "--index", str(index), "--status", "已废止",
                 "--doc-number", "教职成厅[2019]3号", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fields"] == {"doc_number": "教职成厅[2019]3号", "status": "已废止"} and out["embedded_chunks"] == 0
    doc = _docs(index, capsys)[PDF]
    assert (doc["status"], doc["doc_number"]) == ("已废止", "教职成厅〔2019〕3号")
    rows = (corpus / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "file,title,doc_number,issuer,date,doc_type,status,effective,abolished,replaced_by"
    assert f"{PDF},,教职成厅〔2019〕3号,,,,已废止,,," in rows
    # an empty value clears a correction: the status is derived from the text again
    set_metadata(corpus, index, PDF, {"status": ""})
    assert _docs(index, capsys)[PDF]["status"] == "现行有效"


@pytest.mark.parametrize("flags, message", [(["--status", "有效"], "status '有效' is not one of"),
                                            (["--date", "明天"], "date '明天' is not a date"),
                                            ([], "give at least one field")])
def test_set_meta_rejects_bad_values(kb, capsys, flags, message):
    corpus, index = kb
    assert main(["set-meta", PDF, "--corpus", str(corpus), "--index", str(index), *flags]) == 2
    assert message in capsys.readouterr().err


def test_cli_remove(kb, capsys):
    corpus, index = kb
    assert main(["remove", "n2", "--corpus", str(corpus), "--index", str(index)]) == 0
    assert capsys.readouterr().out.startswith("removed n2; index now holds 9 documents")


# --- take-away and feedback --------------------------------------------------------------------

def test_markdown_and_docx_carry_the_numbered_sources(sample_retriever, tmp_path):
    from docx import Document

    answer = answer_question(sample_retriever, "证书有效期是多久？", AskSettings())
    markdown = to_markdown(answer, lambda c: sample_retriever.index.register.name(c.doc_id))
    lines = answer.text.split("\n")
    assert markdown.startswith("**问题：**证书有效期是多久？\n\n" + "\n\n".join(lines) + "\n\n**来源**\n\n[1] ")
    assert ("\n\n[1] 《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号） · 第三章 证书颁发与管理 > 第十二条 · "
            f"第 2 页 · {PDF}\n> 证书有效期为三年，自颁证之日起计算。有效期届满前，") in markdown  # the clause whole
    path = write_docx(answer, tmp_path / "a.docx")
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "证书有效期是多久？" and texts[1] == answer.text.split("\n")[0]
    assert [r.text for r in doc.paragraphs[1].runs if r.font.superscript][0] == "[1]"
    assert len([t for t in texts if t.startswith("[")]) == len(answer.citations)


def test_feedback_log_is_a_qa_file_kb_eval_reads(sample_retriever, tmp_path):
    good = answer_question(sample_retriever, "证书有效期是多久？", AskSettings())
    bad = answer_question(sample_retriever, "1+X证书由谁颁发？", AskSettings())
    record(tmp_path, good, "有用")
    record(tmp_path, bad, "没用")
    with pytest.raises(ValueError, match="有用/没用"):
        record(tmp_path, good, "很好")
    items = read_qa(tmp_path / LOG)
    assert [(i.question, i.gold_doc) for i in items] == [("证书有效期是多久？", PDF), ("1+X证书由谁颁发？", "")]
    assert items[0].answer.startswith("证书有效期为三年，自颁证之日起计算。有效期届满前")  # the cited clause whole
    result = evaluate(sample_retriever, items)
    assert result["recall@1"] == 1.0 and result["answer_recall@5"] == 1.0 and result["questions"] == 2


def test_kb_eval_reads_the_feedback_log(sample_retriever, capsys):
    index = sample_retriever.index.folder
    log = index / LOG
    try:
        record(index, answer_question(sample_retriever, "证书有效期是多久？", AskSettings()), "有用")
        capsys.readouterr()
        assert main(["eval", str(log), "--index", str(index), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
    finally:
        log.unlink()  # the index is shared with other tests
    assert (result["questions"], result["recall@1"], result["answer_recall@5"]) == (1, 1.0, 1.0)


# --- derived examples ----------------------------------------------------------------------------

def _answered_from_their_documents(retriever, examples):
    sources = {e.question: e.doc_id for e in candidates(retriever.index)}
    for question in examples:
        answer = answer_question(retriever, question, AskSettings())
        assert not answer.refused, question
        assert sources[question] in {c.doc_id for c in answer.citations}, question


def test_examples_of_the_sample_corpus(sample_retriever):
    examples = derive_examples(sample_retriever)
    assert examples == ["证书有效期是多久？", "职业学校应当做什么？", "教职成〔2019〕6号讲了什么？", "培训评价组织应当做什么？"]
    _answered_from_their_documents(sample_retriever, examples)


@pytest.fixture(scope="module")
def shared_retriever(tmp_path_factory):
    index = tmp_path_factory.mktemp("shared") / "index"
    build_index(shared_path("corpus"), index, BuildSettings(embedder="hashing"))
    return open_retriever(index)


def test_examples_of_the_shared_corpus(shared_retriever):
    examples = derive_examples(shared_retriever)
    assert len(examples) == 4 and len(set(examples)) == 4
    assert not any(e.startswith(("什么是的", "什么是本")) for e in examples)
    _answered_from_their_documents(shared_retriever, examples)


# --- the PDF page view ---------------------------------------------------------------------------

def test_page_view_marks_the_quote_on_its_page():
    view = render_quote(REPO / "corpus" / PDF, (2,), "证书有效期为三年，自颁证之日起计算。")
    assert view.pages == (2,) and view.marked_chars == 18
    assert _yellow(view.image) > 1000


def _yellow(image) -> int:
    return sum(1 for r, g, b in image.getdata() if r > 240 and 215 < g < 245 and 110 < b < 175)


def test_page_view_follows_a_quote_onto_the_next_page():
    # 第七条 runs from the foot of page 1 ("…负责。职业技能") onto page 2 ("等级标准应当…"), whose running
    # head also says 职业技能等级…: the quote's start belongs to page 1 all the same
    quote = "并对考核结果和证书质量负责。职业技能等级标准应当对接国家职业标准"
    view = render_quote(REPO / "corpus" / PDF, (1, 2), quote)
    assert view.pages == (1, 2) and view.marked_chars == len(quote)
    half = view.image.height // 2
    assert _yellow(view.image.crop((0, 0, view.image.width, half))) > 300
    assert _yellow(view.image.crop((0, half, view.image.width, view.image.height))) > 300


def test_page_view_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(KBError, match="missing.pdf"):
        render_quote(tmp_path / "missing.pdf", (1,), "x")


def test_cli_replace(kb, tmp_path, capsys):
    corpus, index = kb
    new = tmp_path / "review-2024.md"
    new.write_text("# 试点评述（2024年版）\n\n试点院校应当每年报告证书考核情况。\n", encoding="utf-8")
    assert main(["replace", REVIEW, str(new), "--corpus", str(corpus), "--index", str(index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["new_source"] == "papers/review-2024.md" and out["documents"] == 11
    assert main(["replace", REVIEW, str(tmp_path / "missing.md"), "--corpus", str(corpus), "--index", str(index)]) == 2
    assert "missing.md: no such file" in capsys.readouterr().err
