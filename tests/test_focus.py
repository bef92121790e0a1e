"""What a question asks about (kb.focus): the words an answering passage must hold."""

import pytest

from kb.focus import focus_absent, focus_words


@pytest.mark.parametrize("question, expected", [
    ("今年职业教育活动周的主题是什么？", ("主题",)),  # X是什么: the word before
    ("评职称的话，职业院校老师需要发几篇论文？", ("论文",)),  # 几篇X: the noun after the counter
    ("职业学校教师五年一周期的全员培训是多少学时？", ("学时",)),
    ("写1+X那篇文章的作者是什么职称？", ("职称",)),
    ("教师法规定的班主任津贴是多少钱？", ("津贴",)),
    ("那职业教育活动周期间学校要不要放假？", ("放假",)),  # 要不要X
    ("我们学校想申请认定，要交哪些申报材料？", ("申报材料",)),
    ("四川省电子税务局网址是多少？", ("税务局",)),  # a URL answers 网址 without the word
    ("北京市发布的防控指引适用范围是什么？", ()),  # 适用于… answers it
])
def test_the_word_at_the_asking_word_is_the_focus(question, expected):
    assert focus_words(question) == expected


def test_what_a_rule_is_asked_about_is_every_word_after_dui():
    assert focus_words("高等教育法对博士生导师资格是怎么规定的？") == ("博士生", "导师", "资格")
    assert set(focus_words("职业教育法对幼儿园教师资格有什么规定？")) >= {"幼儿园"}


@pytest.mark.parametrize("question", ["教师法是什么时候施行的？", "职业教育法第十五条规定了什么？", "第十二条",
                                      "那篇1+X的论文作者是谁？"])
def test_asking_only_for_a_date_article_or_person_has_no_noun_focus(question):
    # what a when-question wants is a date (kb.evidence's expected answer type), not a word
    assert not set(focus_words(question)) - {"职业教育法"}


def test_generic_asking_words_are_not_the_focus():
    # 要求, 规定 say how it asks, not what about
    assert focus_words("上海市职业教育条例对企业有哪些具体要求？") == ("企业",)
    assert focus_words("有哪些规定？") == ()


def test_focus_absent_is_the_share_the_text_lacks():
    assert focus_absent(("幼儿园", "资格"), "取得教师资格的，可以聘任") == 0.5
    assert focus_absent(("主题",), "活动周的主题是技能成才") == 0.0
    assert focus_absent((), "anything") == 0.0
    assert focus_absent(("职校", "老师"), "接纳职业学校教师实践") == 0.0  # the documents' words for the same thing


def _hit(text: str):
    from kb.types import Chunk, Hit
    return Hit(Chunk("d#0", "d", "d.txt", (), 0, len(text), (), text), "T", "", 1.0, ("words",))


def test_the_evidence_signals_read_the_focus_off_the_passages_and_the_sentence_leading_the_answer():
    from kb.evidence import read_signals
    hits = [_hit("每年5月的第二周为职业教育活动周。"), _hit("活动周的主题由教育部确定。")]
    s = read_signals(hits, {"职业教育": 2.0, "活动周": 5.0, "主题": 3.0}, similarity=0.5, expects="",
                     best_text="每年5月的第二周为职业教育活动周。", focus=("主题",))
    assert (s.focus_absent, s.focus_absent_best) == (0.0, 1.0)  # held by a passage, not by the lead sentence
    s = read_signals(hits[:1], {"活动周": 5.0, "放假": 4.0}, similarity=0.5, expects="",
                     best_text="每年5月的第二周为职业教育活动周。", focus=("放假",))
    assert (s.focus_absent, s.focus_absent_best) == (1.0, 1.0)


def test_an_unindexed_word_naming_a_thing_is_an_unknown_topic_but_talk_is_not():
    from kb.evidence import read_signals
    from kb.focus import is_topical
    assert is_topical("碳排放") and is_topical("配额") and not is_topical("来着") and not is_topical("大概")
    hits = [_hit("加强活禽交易市场分类管理。")]
    s = read_signals(hits, {"碳排放": 6.0, "交易": 2.0, "来着": 6.0}, similarity=0.4, expects="",
                     unseen=frozenset({"碳排放", "来着"}))
    assert s.unknown == pytest.approx(12 / 14) and s.unknown_topic == pytest.approx(6 / 14)


def test_a_named_document_that_never_says_the_focus_word_is_no_basis():
    from kb.evidence import Named, read_signals
    hits = [_hit("取得教师资格的，可以根据其技术职称聘任为相应的教师职务。")]
    named = Named(document=True, named_text="职业学校 教师资格 技术职称 企业 实习")
    s = read_signals(hits, {"幼儿园": 8.0, "教师资格": 4.0}, similarity=0.6, expects="", names=named,
                     focus=("幼儿园", "教师资格"))
    assert s.focus_doc_absent == pytest.approx(8 / 12)
    unnamed = read_signals(hits, {"幼儿园": 8.0}, similarity=0.6, expects="", focus=("幼儿园",))
    assert unnamed.focus_doc_absent == 0.0  # it names no document: nothing to read it off
