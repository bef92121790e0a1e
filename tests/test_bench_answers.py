"""bench/answers.py's own pieces: which half a question falls in, the gold-span check and the AUC of the
transfer report (the benchmark itself needs ../shared and is run by hand)."""

import numpy as np
import pytest

from bench.answers import auc, contains_gold, fact_right, fresh2_items, fresh3_items, fresh_items, markdown


def test_auc_is_the_chance_a_positive_outscores_a_negative():
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5, 0.9]), np.array([0.5])) == pytest.approx(0.75)  # a tie counts half
    assert np.isnan(auc(np.array([]), np.array([0.5])))


def test_the_gold_span_is_matched_without_spaces_and_by_its_first_20_characters():
    assert contains_gold("证书有效期为 三年，自颁证之日起计算。", "有效期为三年")
    assert contains_gold("甲" * 20 + "乙", "甲" * 20 + "丙丙")  # longer golds: their first 20 characters
    assert not contains_gold("有效期为两年", "有效期为三年") and not contains_gold("任何文字", "")


@pytest.mark.parametrize("items", [fresh_items, fresh2_items])
def test_the_untouched_set_is_all_report_and_the_earlier_ones_are_split(items):
    assert {i.half for i in fresh3_items()} == {"report"}
    halves = [i.half for i in items()]
    assert 0.3 < halves.count("fit") / len(halves) < 0.7


def test_a_leading_fact_is_right_when_it_stands_in_the_gold_span():
    assert fact_right("三年。[1]\n《示例法》第三条：证书有效期为三年。[1]", ("有效期为三年",))
    assert fact_right("二至三年。[1]\n…", ("三年",))  # the gold inside the fact counts too
    assert fact_right("11月。[1]\n…", ("教育部等五部门联合印发",)) is False
    assert fact_right("《示例法》第三条：证书有效期为三年。[1]", ("三年",)) is None  # no fact leads


def test_the_markdown_report_has_a_row_per_style_and_the_total_in_bold():
    row = {"answerable": 2, "unanswerable": 1, "contains_gold": 0.5, "cites_gold_doc": 1.0, "false_refusals": 0.0,
           "correct_refusals": None, "complete": None, "fact_right": 1.0, "p50_ms": 12.4, "p95_ms": 80.6}
    table = markdown({"teacher": {"formal": row, "list": row, "all": row}, "ncp": {"ncp": row, "all": row}},
                     ["teacher", "ncp"])
    lines = table.splitlines()
    assert lines[2] == "| teacher, formal | 2 / 1 | 0.500 | 1.000 | 0.000 | – | – | 1.000 | 12 / 81 |"
    assert lines[4].startswith("| **teacher, all** |")
    assert lines[5].startswith("| ncp, ncp |") and len(lines) == 6  # a set of one style: no total row
