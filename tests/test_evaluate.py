"""Retrieval metrics: hand-computed values on hand-made hits."""

import pytest

from kb.errors import KBError
from kb.evaluate import (answer_found, clause_found, clause_reciprocal_rank, doc_ranking, read_qa, recall_at,
                         reciprocal_rank)
from kb.types import Chunk, Hit


def hit(doc_id: str, text: str = "", label: str = "", title: str = "") -> Hit:
    chunk = Chunk(f"{doc_id}#0", doc_id, doc_id, (label,) if label else (), 0, len(text), (), text)
    return Hit(chunk, title, "", 1.0, ("chars",))


def test_doc_ranking_keeps_first_appearance():
    assert doc_ranking([hit("a"), hit("b"), hit("a"), hit("c")]) == ["a", "b", "c"]


def test_recall_and_reciprocal_rank():
    ranking = ["a", "b", "c"]
    assert (recall_at(ranking, "b", 1), recall_at(ranking, "b", 2)) == (0.0, 1.0)
    assert reciprocal_rank(ranking, "c") == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, "z") == 0.0
    assert reciprocal_rank(["x"] * 10 + ["a"], "a") == 0.0  # beyond @10


def test_answer_found_ignores_whitespace_and_depth():
    hits = [hit("a", "无关"), hit("b", "按照不超过实际缴纳\n场租费用50%的标准")]
    assert answer_found(hits, "实际缴纳场租费用50%", k=2) == 1.0
    assert answer_found(hits, "实际缴纳场租费用50%", k=1) == 0.0
    assert answer_found(hits, "", k=2) == 0.0


def test_clause_found_matches_law_names_loosely():
    hits = [hit("x", label="第一条", title="中华人民共和国教育法"), hit("y", label="第四十三条", title="中华人民共和国教育法")]
    assert clause_found(hits, (("教育法", "第四十三条"),), 2) == 1.0
    assert clause_found(hits, (("教育法", "第四十三条"),), 1) == 0.0
    assert clause_found(hits, (("教师法", "第一条"),), 2) == 0.0


def test_clause_reciprocal_rank_is_the_first_gold_article():
    hits = [hit(str(i), label=f"第{i}条", title="中华人民共和国教育法") for i in range(12)]
    assert clause_reciprocal_rank(hits, (("教育法", "第3条"), ("教育法", "第1条"))) == pytest.approx(1 / 2)
    assert clause_reciprocal_rank(hits, (("教育法", "第10条"),)) == 0.0  # rank 11: beyond @10
    assert clause_reciprocal_rank(hits, (("教师法", "第1条"),)) == 0.0


def test_read_qa_names_the_bad_line(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "q", "gold_doc": 7}\n{"question": "only"}\n', encoding="utf-8")
    with pytest.raises(KBError, match=r"qa.jsonl:2: .*no gold_doc and no gold_articles"):
        read_qa(path)
    path.write_text('{"question": "q", "gold_doc": 7}\n', encoding="utf-8")
    assert read_qa(path)[0].gold_doc == "7"
