"""Hostile input on the command line (issue 14, items 4, 10, 11): every bad argument, batch file or
eval line gets a one-line error naming it, exit code 2, and never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb import validate
from kb.cli import main
from kb.config import BuildSettings
from kb.errors import InputError
from kb.pipeline import build_index
from tests.conftest import REPO

PDF = "rules/certificate_management_measures.pdf"


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("hostile-input") / "index"
    build_index(REPO / "corpus", folder, BuildSettings(embedder="hashing"))
    return str(folder)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys, *argv: str) -> str:
    """The error line of a command that must fail cleanly."""
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "", (code, out, err)
    assert "Traceback" not in err
    last = err.splitlines(keepends=True)[-1]  # after "loading index ..." when the index was opened
    assert last.startswith("error: ")
    return last


# --- item 4: a question length cap -----------------------------------------------------------


@pytest.mark.parametrize("verb", ["search", "ask"])
def test_an_overlong_question_is_refused_before_searching(capsys, index, verb):
    err = _refused(capsys, verb, "证" * 100_000, "--index", index)
    assert err == f"error: question is 100000 characters long; the limit is {validate.MAX_QUESTION_CHARS}\n"


def test_a_question_at_the_cap_is_answered(capsys, index):
    question = ("证书有效期是多久？" * 200)[: validate.MAX_QUESTION_CHARS]
    code, out, _ = _run(capsys, "search", question, "--index", index, "--json", "--top-k", "1")
    assert code == 0 and json.loads(out)["hits"][0]["doc_id"] == PDF


def test_an_overlong_batch_line_names_its_line(capsys, index, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text("证书有效期是多久？\n" + "问" * 5000 + "\n", encoding="utf-8")
    err = _refused(capsys, "ask", "--batch", str(batch), "--index", index)
    assert err == f"error: {batch}:2: question is 5000 characters long; the limit is 1000\n"


# --- item 10: undecodable arguments, bad batch files and eval lines ---------------------------


def test_an_argument_that_is_not_utf8_is_refused(capsys, index):
    # what Python hands a program for argv bytes that are not UTF-8
    question = os.fsdecode(b"\xff\xfe\xe8\xaf\x81\xe4\xb9\xa6")
    assert "\udcff" in question
    assert _refused(capsys, "search", question, "--index", index) == "error: question is not valid UTF-8 text\n"
    assert _refused(capsys, "search", "证书", "--issuer", question, "--index", index) == \
        "error: --issuer is not valid UTF-8 text\n"


@pytest.mark.parametrize("kind", ["missing", "folder", "binary"])
@pytest.mark.parametrize("verb", ["search", "ask"])
def test_a_bad_batch_file_is_named(capsys, index, tmp_path, kind, verb):
    path = tmp_path / "questions.txt"
    if kind == "folder":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 64)
    reason = {"missing": "no such file", "folder": "is a folder, not a file of questions",
              "binary": "not UTF-8 text (byte 0); give one question per line"}[kind]
    assert _refused(capsys, verb, "--batch", str(path), "--index", index) == f"error: {path}: {reason}\n"


@pytest.mark.parametrize("line, reason", [
    ("[1, 2]", "a JSON object is needed, not list"),
    ('{"question": 12345, "gold_doc": "x"}', "question must be text, got int"),
    ("null", "a JSON object is needed, not NoneType"),
    ('{"question": "  ", "gold_doc": "x"}', "empty question"),
    ('{"question": "证书", "gold_articles": [1]}', "'int' object is not subscriptable"),
])
def test_a_malformed_eval_line_is_named(capsys, index, tmp_path, line, reason):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "证书有效期是多久？", "gold_doc": PDF}, ensure_ascii=False) + "\n" + line + "\n",
                  encoding="utf-8")
    err = _refused(capsys, "eval", str(qa), "--index", index)
    assert err == f"error: {qa}:2: not a QA line with question and gold_doc or gold_articles ({reason})\n"


def test_a_batch_json_line_whose_question_is_not_text_is_named(capsys, index, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": ["a"]}\n', encoding="utf-8")
    assert _refused(capsys, "search", "--batch", str(batch), "--index", index) == \
        f"error: {batch}:1: question must be text, got list\n"


# --- item 11: malformed filters and documents that do not exist --------------------------------


@pytest.mark.parametrize("value", ["2020-13-45", "2019/01/01", "2020-02-30", "20200101", "２０２０-01-01"])
@pytest.mark.parametrize("flag", ["--date-from", "--date-to"])
def test_a_malformed_date_is_refused(capsys, index, flag, value):
    err = _refused(capsys, "search", "证书", flag, value, "--index", index)
    assert err == f"error: {flag} {value!r} is not a date: use YYYY-MM-DD, e.g. 2020-01-01\n"


def test_a_real_date_still_filters(capsys, index):
    code, out, _ = _run(capsys, "search", "考核站点", "--date-from", "2020-01-01", "--date-to", "2020-12-31",
                        "--index", index, "--json")
    assert code == 0 and {h["doc_id"] for h in json.loads(out)["hits"]} == {"notices/pilot_work_notice.html",
                                                                      "notices/production_education_notice.txt"}


@pytest.mark.parametrize("verb", ["search", "ask"])
def test_a_document_that_does_not_exist_is_named(capsys, index, verb):
    err = _refused(capsys, verb, "证书有效期是多久？", "--doc", "nonexistent.pdf", "--index", index)
    assert err == (f"error: no document 'nonexistent.pdf' in {index}: give a doc_id from `python -m kb docs` "
                   "or a 文号\n")


def test_a_document_named_by_id_or_doc_number_is_found(capsys, index):
    for name in (PDF, "教职成厅[2019]3号"):
        code, out, _ = _run(capsys, "search", "证书有效期", "--doc", name, "--index", index, "--json")
        assert code == 0 and {h["doc_id"] for h in json.loads(out)["hits"]} == {PDF}


# --- the validators themselves ------------------------------------------------------------------


@pytest.mark.parametrize("value, message", [
    (12345.5, "top_k must be a whole number, got 12345.5"), (0, "top_k must be between 1 and 100, got 0"),
    (True, "top_k must be a whole number, got True"), ("5", "top_k must be a whole number, got '5'"),
    (float("inf"), "top_k must be a whole number, got inf"), (101, "top_k must be between 1 and 100, got 101"),
])
def test_top_k_is_checked(value, message):
    with pytest.raises(InputError) as caught:
        validate.top_k(value)
    assert str(caught.value) == message and caught.value.zh
    assert validate.top_k(5.0) == 5


def test_question_validation_says_it_in_chinese_too():
    with pytest.raises(InputError) as caught:
        validate.question("问" * 1001)
    assert caught.value.zh == "问题太长（1001 字），请控制在 1000 字以内。"
    with pytest.raises(InputError) as caught:
        validate.question({"question": "x"})
    assert caught.value.zh == "问题必须是文字。"
    assert validate.question("  证书有效期是多久？ ") == "证书有效期是多久？"
