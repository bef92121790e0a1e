"""Follow-ups completed from the turn before (an entity swapped, 它 / 这个计划 / 那版 resolved), and
what a question names that an answer's basis must hold: places, organisations, years."""

import pytest

from kb.entities import (Entities, entities_of, missing, ordinals_named, organisations_named, other_ordinal, places_named,
                         sorted_out, years_asked)
from kb.followup import ask_of_other_people, ask_the_same_of, resolve_references, subject_of, swap_entities, thing_of
from kb.question import understand
from tests.test_answer_units import REGISTER

# --- what a question names ------------------------------------------------------------------------


@pytest.mark.parametrize("text, places", [
    ("那天津呢？", ("天津",)),
    ("杭州市职业教育校企合作促进条例是哪年施行的？", ("杭州",)),
    ("广东和江苏实施职业教育法的办法有什么不同？", ("广东", "江苏")),
    ("内蒙古的补贴标准是多少？", ("内蒙古",)),
    ("职业学校教育分为哪些？", ()),
    ("和平年代的职业教育方针是什么？", ()),  # 和平 is a word, not the place 和平县
    # cities jieba tags as other words too (烟台 n, 大连 d, 合肥 n), from kb/data/cities.txt
    ("那烟台有没有这样的条例？", ("烟台",)),
    ("大连和合肥的中职免学费标准一样吗？", ("大连", "合肥")),
    ("职业教育事关国家长治久安和人民幸福安康", ()),  # 长治, 安康: left out of the list as words
])
def test_places_are_read_from_a_gazetteer_of_cities_and_provinces(text, places):
    assert places_named(text) == places


def test_the_indexs_own_places_count_as_places():
    assert places_named("示例市的补贴是多少？", ("示例市",)) == ("示例",)


def test_organisations_are_named_as_told_and_the_longer_name_wins():
    assert organisations_named("1+X试点方案是国务院办公厅印发的吧？") == ("国务院办公厅",)
    assert organisations_named("人力资源社会保障部和教育部联合发文") == ("人社部", "教育部")


def test_years_asked_leave_out_the_year_a_question_is_set_at():
    assert years_asked("2020年时职业学校怎么设立？") == ()
    assert years_asked("北京2023年打算遴选多少个资源库？") == ("2023",)


def test_missing_names_what_the_basis_lacks_in_the_questions_words():
    named = entities_of("那人社部2021年在天津的规定呢？")
    assert named == Entities(("天津",), ("人社部",), ("2021",))
    # 人社部 is held under its full name; 天津 and the year are not
    assert missing(named, "北京市 人力资源社会保障部 2023年") == ("天津", "2021")
    assert missing(named, "天津市人力资源和社会保障部2021年通知") == ()


def test_ordinals_of_a_series_are_read_with_their_number_and_counter():
    assert ordinals_named("第二批、首届、第15届、第三轮") == (("第二批", 2, "批"), ("首届", 1, "届"), ("第15届", 15, "届"),
                                                         ("第三轮", 3, "轮"))
    assert ordinals_named("老师第一次任教有没有试用期？") == ()  # 第一次 says when, not which batch


def test_a_basis_about_another_of_the_series_lacks_the_one_asked():
    notice = "公布首批产教融合型城市建设试点名单，开封市、平顶山市、漯河市、周口市四地入选。"
    assert other_ordinal("河南省第二批产教融合型城市建设试点有哪些城市？", notice, lambda: notice) == ("第二批",)
    assert other_ordinal("河南首批产教融合型城市试点是哪几个市？", notice, lambda: notice) == ()
    assert other_ordinal("第一批试点有哪些？", notice, lambda: notice) == ()  # 第一批 is 首批
    # the document names the one asked elsewhere: not another one's basis
    assert other_ordinal("第二批有哪些城市？", notice, lambda: notice + "第二批将于明年遴选。") == ()
    # a basis naming no ordinal says nothing of which one it is about
    assert other_ordinal("第二批有哪些城市？", "开封市、平顶山市入选。", lambda: "开封市、平顶山市入选。") == ()

    def unread() -> str:
        raise AssertionError("the documents' whole text is read only when the basis names another one")

    assert other_ordinal("开封市入选了吗？", notice, unread) == ()
    assert other_ordinal("首批有哪些城市？", notice, unread) == ()


# --- follow-ups completed ---------------------------------------------------------------------------


@pytest.mark.parametrize("follow, before, completed", [
    ("那天津呢？", "北京2023年打算遴选多少个市级专业教学资源库？", "天津2023年打算遴选多少个市级专业教学资源库？"),
    ("那2024年的呢？", "北京2023年打算遴选多少个市级专业教学资源库？", "北京2024年打算遴选多少个市级专业教学资源库？"),
    ("那财政部呢？", "教育部哪年发的通知？", "财政部哪年发的通知？"),
    ("那烟台呢？", "青岛市职业教育条例是什么时候施行的？", "烟台市职业教育条例是什么时候施行的？"),
])
def test_a_follow_up_swaps_the_entity_it_names(follow, before, completed):
    assert swap_entities(follow, before)[0] == completed


def test_a_follow_up_naming_nothing_of_the_same_kind_swaps_nothing():
    assert swap_entities("那天津呢？", "职业学校教育分为哪些？") == ("", ())
    assert swap_entities("那北京呢？", "北京2023年打算遴选多少个市级专业教学资源库？") == ("", ())


def test_a_swap_says_what_it_put_in():
    assert swap_entities("那天津2024年的呢？", "北京2023年打算遴选多少个资源库？") == (
        "天津2024年打算遴选多少个资源库？", ("天津", "2024"))
    assert sorted_out(("天津", "人社部", "2024")) == Entities(("天津",), ("人社部",), ("2024",))


@pytest.mark.parametrize("follow, before, work, completed", [
    ("那它的实施条例是哪年出台的？", "职业教育法什么时候施行？", "职业教育法", "那职业教育法实施条例是哪年出台的？"),
    ("那1996年的那版是根据什么制定的？", "职业教育法现在是根据什么制定的？", "职业教育法",
     "那1996年的职业教育法是根据什么制定的？"),
    ("它最早是哪年通过的？", "教师法是什么时候施行的？", "教师法", "教师法最早是哪年通过的？"),
    ("那这个计划是从哪年开始实施的？", "新时代职业学校名师（名匠）名校长培养计划是谁发的？", "",
     "那新时代职业学校名师（名匠）名校长培养计划是从哪年开始实施的？"),
    ("它的目标时间节点是哪一年？", "国家轨道交通装备行业产教融合共同体是什么时候成立的？", "",
     "国家轨道交通装备行业产教融合共同体的目标时间节点是哪一年？"),
    ("那用人单位要对他们定期做什么？", "劳动法里说的未成年工是指多大的劳动者？", "劳动法", "那用人单位要对未成年工定期做什么？"),
    ("他们的工资由谁定？", "民办学校的老师和公办学校的老师法律地位一样吗？", "", "民办学校的老师的工资由谁定？"),
    ("他们要交材料吗？", "企业复工要做什么准备？", "", "他们要交材料吗？"),  # it names no people
])
def test_references_become_what_the_previous_question_was_about(follow, before, work, completed):
    assert resolve_references(follow, before, work) == completed


def test_words_holding_a_pronoun_character_or_a_descriptor_are_left_alone():
    assert resolve_references("其它学校呢？", "教师法是什么时候施行的？", "教师法") == "其它学校呢？"
    # 「名单那个通知」 names its own notice, not the previous question's
    kept = "那首批产教融合型企业名单那个通知的文号呢？"
    assert resolve_references(kept, "2020年关于做好1+X证书制度试点工作的通知文号是什么？") == kept


def test_the_subject_and_the_thing_of_a_previous_question():
    assert subject_of("艺考培训规范管理的通知是哪几个部门发的？") == "艺考培训规范管理的通知"
    assert subject_of("教师法是什么时候施行的？", "教师法") == "教师法"
    assert thing_of("那劳模工匠进校园行动打算用多长时间实现全覆盖？", "行动") == "劳模工匠进校园行动"
    assert thing_of("职业学校教育分为哪些？", "计划") == ""


class _Answered:
    def __init__(self, question, doc_id):
        self.question = question
        self.citations = (type("C", (), {"doc_id": doc_id})(),)


def test_understand_completes_a_swapped_year_of_the_previous_question():
    prev = _Answered("1996年职业教育法是从哪天开始施行的？", "law1996")
    q = understand("那2022年的呢？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.follow_up and q.text == "2022年职业教育法是从哪天开始施行的？"
    assert q.doc_ids == ("law2022",) and q.kind == "when"


def test_understand_resolves_it_to_the_law_the_previous_question_named():
    prev = _Answered("新职教法什么时候施行？", "law2022")
    q = understand("那它的实施条例是哪年出台的？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.text == "那职业教育法实施条例是哪年出台的？"


def test_it_is_the_document_the_previous_question_named_not_the_paper_that_answered_it():
    prev = _Answered("1+X证书制度试点方案是哪一年印发的？", "paper")
    q = understand("那它印发以后启动了什么工作？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.text == "那1+X证书制度试点方案印发以后启动了什么工作？" and q.doc_ids == ("paper",)
    # a question on the paper itself: 「它」 is the paper
    prev = _Answered("那篇讲1+X证书制度试点现状的论文是谁写的？", "paper")
    q = understand("那它的结语讲了什么？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.text.startswith("那1+X证书制度试点工作的现状与思考的结语")


def test_the_same_asked_of_another_thing_when_the_previous_answer_cited_a_work_the_question_did_not_name():
    prev = _Answered("专科教育的基本修业年限是几年？", "law2022")
    q = understand("那硕士呢？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.text == "硕士的基本修业年限是几年？" and q.doc_ids == ("law2022",)


def test_understand_resolves_this_thing_without_a_pronoun_word():
    prev = _Answered("劳模工匠进校园行动打算用多长时间实现全覆盖？", "news")
    q = understand("这个行动是哪两家发的通知？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.follow_up and q.text == "劳模工匠进校园行动是哪两家发的通知？" and q.doc_ids == ("news",)


# --- a term the documents the question names never hold ---------------------------------------------

def test_a_term_the_named_document_never_holds_is_a_signal():
    from kb.evidence import Named, read_signals
    from kb.types import Chunk, Hit

    text = "职业学校教师应当具备相应的教师资格。"
    hits = [Hit(Chunk("d#0", "d", "d.txt", (), 0, len(text), (), text), "T", "", 1.0, ("words",))]
    terms = {"教师资格": 3.0, "幼儿园": 6.0}
    law = Named(document=True, named_text="第一条 为了发展职业教育。" + text)
    assert read_signals(hits, terms, similarity=0.5, expects="", top_idf=6.0, names=law).doc_absent == 1.0
    held = Named(document=True, named_text=text + "幼儿园教师资格另行规定。")
    assert read_signals(hits, terms, similarity=0.5, expects="", top_idf=6.0, names=held).doc_absent == 0.0
    # naming no document, there is nothing to read it off
    assert read_signals(hits, terms, similarity=0.5, expects="", top_idf=6.0).doc_absent == 0.0


def test_the_named_documents_text_is_folded_once_per_retriever(tmp_path):
    from tests.conftest import index_rows

    retriever = index_rows(tmp_path, [{"id": "law", "title": "示例法", "text": "第一条 ＡＢＣ幼儿园教师。"},
                                      {"id": "other", "title": "别的", "text": "第一条 无关。"}])
    folded = retriever.folded_text(["law", "law"])
    assert "abc幼儿园" in folded and "无关" not in folded
    retriever.index.chunks.clear()  # a second question naming it reads the kept text, not the chunks
    assert retriever.folded_text(["law"]) == folded


def test_a_refusal_names_what_is_missing_and_keeps_the_related_list():
    from kb.answer import refusal
    from kb.prompts import NO_BASIS_REPLY, RELATED_HEADER
    from kb.types import Chunk, Hit

    hit = Hit(Chunk("b#0", "b", "b.txt", ("第一条",), 0, 4, (), "北京遴选"), "北京资源库遴选", "", 1.0, ("words",))
    answer = refusal("那天津呢？", [hit], ("天津", "2024"))
    lines = answer.text.split("\n")
    assert answer.refused and lines[0] == NO_BASIS_REPLY
    assert lines[1] == "知识库中没有关于“天津”、“2024年”的相关规定或报道。"
    assert lines[2] == RELATED_HEADER and answer.related == (hit,)
    assert refusal("火星签证？", []).text == NO_BASIS_REPLY


def test_a_related_passage_spanning_sections_is_pointed_at_where_it_stands():
    from kb.answer import refusal
    from kb.types import Chunk, Hit

    def related(path, text):
        hit = Hit(Chunk("p#0", "p", "p.md", path, 0, len(text), (), text), "1+X证书制度试点工作的现状与思考", "", 1.0,
                  ("words",))
        return refusal("问题？", [hit]).text.split("\n")[-1]

    # a range under one section: that section, not 「1. — 2.」
    assert related(("三、存在的主要问题", "1. — 2."), "资源不均衡。\n2.师资不足。") == \
        "- 《1+X证书制度试点工作的现状与思考》 三、存在的主要问题"
    # a range of top sections opening with its first heading: that section
    assert related(("一、证书试点情况 — 二、试点工作取得的主要成效",), "一、证书试点情况\n目前试点有序推进。\n二、试点工作取得的主要成效") == \
        "- 《1+X证书制度试点工作的现状与思考》 一、证书试点情况"
    assert related(("第十二条",), "每年5月的第二周为职业教育活动周。") == "- 《1+X证书制度试点工作的现状与思考》 第十二条"


@pytest.mark.parametrize("follow, before, completed", [
    ("那硕士呢？", "专科教育的基本修业年限是几年？", "硕士的基本修业年限是几年？"),
    ("那职业培训机构呢？", "职业学校的设立要符合哪些基本条件？", "职业培训机构的设立要符合哪些基本条件？"),
])
def test_that_x_asks_the_same_of_x(follow, before, completed):
    assert ask_the_same_of(follow.replace("呢", ""), follow, before) == completed


@pytest.mark.parametrize("follow, before, work, completed", [
    # the head of the subject read after the work the previous question names
    ("那硕士呢？", "高等教育法规定专科教育的修业年限是几年？", "高等教育法", "高等教育法规定硕士的修业年限是几年？"),
    # the word sharing a character with the thing
    ("每周呢？", "劳动法规定每天工作时间不超过几个小时？", "劳动法", "劳动法规定每周工作时间不超过几个小时？"),
    # the thing asked about: after the asking word, or before it
    ("那义务呢？", "教师法里老师享有哪些权利？", "教师法", "教师法里老师享有哪些义务？"),
    ("那报酬呢？", "职业教育法规定职业学校学生实习要签协议吗？", "职业教育法", "职业教育法规定职业学校学生实习要签报酬吗？"),
    ("要是收押金呢？", "职业中介机构扣押劳动者身份证怎么处罚？", "", "职业中介机构收押金劳动者身份证怎么处罚？"),
])
def test_that_x_takes_the_place_of_what_stands_for_it_in_the_previous_question(follow, before, work, completed):
    assert ask_the_same_of(follow.replace("呢", ""), follow, before, work) == completed


def test_that_x_completes_nothing_when_it_asks_more_or_nothing_stands_for_it():
    assert ask_the_same_of("那对残疾人？", "那对残疾人呢？", "就业促进法对农村劳动者进城就业有什么规定？", "就业促进法") == ""
    assert ask_the_same_of("那重庆的试点企业范围是什么？", "那重庆的试点企业范围是什么？", "“新八级工”的级别是哪八级？") == ""
    assert ask_the_same_of("那存在的问题？", "那存在的问题呢？", "1+X证书试点取得了哪些成效？") == ""  # no 的 to cut at


@pytest.mark.parametrize("question", ["学位分几种？", "高校教师职务分哪几级？", "高等学历教育分哪几种？"])
def test_how_many_kinds_is_answered_by_naming_them(question):
    assert understand(question, REGISTER).expects == ""


def test_a_count_is_still_a_figure():
    assert understand("职业学校教师每年培训几天？", REGISTER).expects == "number"


@pytest.mark.parametrize("asked, before, completed", [
    ("那学生呢？", "民办学校的老师和公办学校的老师法律地位一样吗？", "民办学校的学生和公办学校的学生法律地位一样吗？"),
    ("那老师呢？", "职业学校的学生实习有报酬吗？", "职业学校的老师实习有报酬吗？"),
    ("那天津呢？", "职业学校的学生实习有报酬吗？", ""),  # a place, not people
    ("那学生呢？", "证书有效期是多久？", ""),  # the previous question names no people
    ("学生有什么权利？", "教师有什么权利？", ""),  # a question of its own
    ("那对残疾人呢？", "用人单位招用妇女有什么限制？", "用人单位招用残疾人有什么限制？"),  # 对 is not part of them
])
def test_the_same_asked_of_other_people(asked, before, completed):
    assert ask_of_other_people(asked.removesuffix("呢？") + "？", asked, before) == completed


@pytest.mark.parametrize("previous, subject", [
    ("海南“技能自贸港”三年行动方案是哪年到哪年的？", "海南“技能自贸港”三年行动方案"),  # not cut at the 能 of 技能
    ("国家轨道交通装备行业产教融合共同体是在哪里成立的？", "国家轨道交通装备行业产教融合共同体"),
    ("涿州职教中心安置点接收了多少救灾物资？", "涿州职教中心安置点接收了"),  # not cut at the 中 of 中心
    ("专科教育的基本修业年限是几年？", "专科教育的基本修业年限"),
    ("中职学校是否可以收费？", "中职学校"),
])
def test_the_subject_ends_at_a_word_of_its_own_outside_quotes(previous, subject):
    assert subject_of(previous) == subject
    assert resolve_references("它有什么破格政策？", previous) == subject + "有什么破格政策？"


@pytest.mark.parametrize("previous, people", [
    ("就业促进法对残疾人就业有什么规定？", "残疾人"),
    ("劳动法里说的未成年工是指多大的劳动者？", "未成年工"),
    ("民办学校的老师和公办学校的老师法律地位一样吗？", "民办学校的老师"),
    ("个人可以举办职业学校吗？", ""),  # 个人 is anyone, not people a 他们 points at
])
def test_them_is_the_people_the_previous_question_names(previous, people):
    from kb.followup import people_of

    assert people_of(previous) == people


@pytest.mark.parametrize("question, missing", [
    ("违反了会怎么罚？", True),
    ("多久能办下来？", True),
    ("能不能延期？", True),
    ("证书有效期是多久？", False),
    ("职业学校教育分为哪些？", False),
    ("教师法第八条讲了啥？", False),
    ("2023年有什么变化？", False),
])
def test_a_question_naming_nothing_it_is_about(question, missing):
    from kb.question import subject_missing

    assert subject_missing(question) is missing


def test_a_question_naming_nothing_asks_of_the_previous_questions_subject():
    q = understand("违反了会怎么罚？", REGISTER, previous_question="用人单位能不能招不满十六岁的人？")
    assert q.follow_up and q.text.startswith("用人单位能不能招不满十六岁的人？")
    alone = understand("违反了会怎么罚？", REGISTER)
    assert not alone.follow_up and alone.text == "违反了会怎么罚？"
