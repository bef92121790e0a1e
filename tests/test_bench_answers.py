"""bench/answers.py's own pieces: which half a question falls in, the gold-span check and the AUC of the
transfer report (the benchmark itself needs ../shared and is run by hand)."""

import numpy as np
import pytest

from bench.answers import auc, contains_gold, fact_right, fresh2_items, fresh_items


def test_auc_is_the_chance_a_positive_outscores_a_negative():
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5, 0.9]), np.array([0.5])) == pytest.approx(0.75)  # a tie counts half
    assert np.isnan(auc(np.array([]), np.array([0.5])))


def test_the_gold_span_is_matched_without_spaces_and_by_its_first_20_characters():
    assert contains_gold("证书有效期为 三年，自颁证之日起计算。", "有效期为三年")
    assert contains_gold("甲" * 20 + "乙", "甲" * 20 + "丙丙")  # longer golds: their first 20 characters
    assert not contains_gold("有效期为两年", "有效期为三年") and not contains_gold("任何文字", "")


def test_the_untouched_set_is_all_report_and_the_fresh_set_is_split():
    assert {i.half for i in fresh2_items()} == {"report"}
    halves = [i.half for i in fresh_items()]
    assert 0.3 < halves.count("fit") / len(halves) < 0.7


def test_a_leading_fact_is_right_when_it_stands_in_the_gold_span():
    assert fact_right("三年。[1]\n《示例法》第三条：证书有效期为三年。[1]", ("有效期为三年",))
    assert fact_right("二至三年。[1]\n…", ("三年",))  # the gold inside the fact counts too
    assert fact_right("11月。[1]\n…", ("教育部等五部门联合印发",)) is False
    assert fact_right("《示例法》第三条：证书有效期为三年。[1]", ("三年",)) is None  # no fact leads
