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
