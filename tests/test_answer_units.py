"""The answer stage's pure functions on small hand-written texts: reading a question, the evidence
model, statements and sections, list items, version alignment and the facts a short answer leads with."""

import numpy as np
import pytest

from kb.compose import (align, changed_words, clause_span, is_statement, lead_fact, list_items, section_path,
                        section_spans, with_items)
from kb.evidence import (FEATURES, EvidenceModel, Named, Signals, arabic, cautious_operating_point, figures_asked, fit,
                         operating_point, read_signals)
from kb.question import kind_of, list_topic, spell_out, strip_filler, understand, unheld_document
from kb.types import Chunk, Hit

# --- reading the question -------------------------------------------------------------------------


@pytest.mark.parametrize("asked, stripped", [
    ("老师您好，请问职业学校教育分为哪些呀？", "职业学校教育分为哪些？"),
    ("我想问一下证书有效期是多久来着？", "证书有效期是多久？"),
    ("麻烦帮我查一下教师节是哪天，谢谢！", "教师节是哪天！"),
    ("职业学校教育分为哪些？", "职业学校教育分为哪些？"),
])
def test_filler_and_politeness_are_stripped(asked, stripped):
    assert strip_filler(asked) == stripped


def test_a_question_of_filler_only_is_kept_as_asked():
    assert strip_filler("您好") == "您好"


@pytest.mark.parametrize("question, kind", [
    ("现行职业教育法从什么时候开始施行？", "when"),
    ("教师法是哪年通过的？", "when"),
    ("1+X证书制度试点方案是哪个文件？", "which_doc"),
    ("教师节规定在第几条？", "which_doc"),
    ("1+X证书试点存在哪些问题？", "list"),
    ("校长在调研会上提了哪些对策建议？", "list"),
    ("国务院那个吸引外资的意见有哪些主要特点？", "list"),
    ("对1+X证书试点有哪些建议？", "list"),
    ("1996年的职业教育法和2022年的有什么不同？", "version"),
    ("上海和青岛对顶岗实习时间的规定有什么区别？", "compare"),
    ("什么是职业教育？", "definition"),
    ("实习补贴每月多少元？", "how_many"),
    ("证书由谁颁发？", "who"),
    ("民办学校可以取得办学收益吗？", "can_i"),
    ("职业学校是否要开展职业指导？", "yes_no"),
    ("职业教育的方针", "what"),
])
def test_kind_of_question(question, kind):
    assert kind_of(question) == kind


def test_a_decree_number_is_not_a_date():
    assert kind_of("那这个实施条例是国务院第几号令修订的？") != "when"
    assert kind_of("活动周是几月几号？") == "when"


def test_of_two_list_topics_the_one_asked_for_comes_last():
    assert list_topic("那对这些问题作者给了什么建议？") == "建议"
    assert list_topic("这些建议针对哪些问题？") == "问题"


def test_list_topic_names_the_section_wanted():
    assert (list_topic("有哪些问题？"), list_topic("有哪些建议？"), list_topic("取得了哪些成效"), list_topic("分为哪些")) == (
        "问题", "建议", "成效", "")


def test_law_nicknames_are_spelled_out():
    assert spell_out("新职教法规定了什么") == "职业教育法规定了什么"
    assert spell_out("高教法和民促法") == "高等教育法和民办教育促进法"


class _Entry:
    def __init__(self, doc_id, versions, status, date, doc_type="法律", current=""):
        self.doc_id, self.versions, self.status, self.version_date = doc_id, versions, status, date
        self.doc_type, self.current = doc_type, current

    @property
    def superseded(self):
        return self.status == "已修订"


class _Meta:
    def __init__(self, title):
        self.title, self.dates, self.issuer, self.doc_number = title, (), "", ""


class _Record:
    def __init__(self, title):
        self.meta = _Meta(title)


class _Register:
    """The part of kb.register.Register that reading a question uses: two versions of one law, a
    paper, and a law whose title holds the other's (北京市实施职业教育法办法)."""

    def __init__(self):
        laws = ("law1996", "law2022")
        self.entries = {
            "law1996": _Entry("law1996", laws, "已修订", "1996-05-15", current="law2022"),
            "law2022": _Entry("law2022", laws, "现行有效", "2022-04-20", current="law2022"),
            "beijing": _Entry("beijing", ("beijing",), "现行有效", "2000-01-01"),
            "paper": _Entry("paper", ("paper",), "未知", "2021-01-01", doc_type="论文"),
        }
        self.records = {"law1996": _Record("中华人民共和国职业教育法"), "law2022": _Record("中华人民共和国职业教育法"),
                        "beijing": _Record("北京市实施中华人民共和国职业教育法办法"),
                        "paper": _Record("1+X证书制度试点工作的现状与思考")}
        self.works = {"职业教育法": list(laws), "北京市实施职业教育法办法": ["beijing"]}

    def version_at(self, doc_id, when):
        return "law1996" if when < "2022-05-01" else "law2022"


REGISTER = _Register()


def test_a_law_named_without_a_year_is_its_version_in_force():
    q = understand("职业教育法规定职业学校教育分为哪几类？", REGISTER)
    assert q.doc_ids == ("law2022",) and q.kind == "list"


@pytest.mark.parametrize("question", ["设立职业学校的条件，新旧法在教师方面有什么不同？", "新旧职业教育法对职业学校教育的规定有何不同？"])
def test_new_and_old_together_name_both_versions(question):
    q = understand(question, REGISTER)
    assert q.versions == ("law1996", "law2022") and q.kind == "version"


def test_a_new_teacher_is_no_new_version():
    assert understand("职业教育法对没有企业经历的新老师有什么要求？", REGISTER).versions == ()


@pytest.mark.parametrize("question, article", [
    ("职业教育法是根据什么制定的？", "第一条"), ("职业教育法的立法目的是什么？", "第一条"),
    ("职业教育法依据哪部法律制定？", "第一条"), ("职业教育法第十五条规定了什么？", "第十五条"),
    ("职业学校是根据什么设立的？", ""),  # no law named: nothing to read the first article of
])
def test_a_laws_basis_is_asked_of_its_first_article(question, article):
    assert understand(question, REGISTER).article == article


@pytest.mark.parametrize("question", ["1996年的职业教育法怎么规定职业学校教育的？", "旧职教法怎么规定职业学校教育的？",
                                      "老职业教育法里实行哪几种证书制度？", "旧的职业教育法怎么规定职业学校教育的？",
                                      "原职业教育法对职业学校教育是怎么说的？"])
def test_a_year_or_old_law_names_the_superseded_version(question):
    assert understand(question, REGISTER).doc_ids == ("law1996",)


@pytest.mark.parametrize("question", ["老师们想问职业教育法怎么规定职业学校教育的？", "职业教育法对老年人培训有什么规定？"])
def test_old_in_other_words_is_not_the_old_version(question):
    assert understand(question, REGISTER).doc_ids == ("law2022",)


def test_new_law_nickname_is_the_version_in_force():
    assert understand("新职教法怎么规定职业学校教育的？", REGISTER).doc_ids == ("law2022",)


def test_a_longer_title_holding_the_name_is_that_other_work():
    assert understand("北京市实施职业教育法办法规定了什么？", REGISTER).doc_ids == ("beijing",)


def test_two_years_of_one_law_is_a_version_question():
    q = understand("1996年的职业教育法和2022年的有什么不同？", REGISTER)
    assert q.kind == "version" and set(q.versions) == {"law1996", "law2022"}


def test_the_paper_about_a_topic_is_found_by_its_title():
    q = understand("那篇讲1+X证书试点的文章里说存在哪些问题？", REGISTER)
    assert q.doc_ids == ("paper",) and q.kind == "list" and q.list_topic == "问题"
    assert "文章" not in q.text


class _Previous:
    question = "教师法规定教师节是哪天？"

    def __init__(self, doc_id):
        self.citations = (type("C", (), {"doc_id": doc_id})(),)


def test_it_is_the_previous_answers_document():
    q = understand("那它是哪年通过的？", REGISTER, previous=_Previous("teachers_law"))
    assert q.doc_ids == ("teachers_law",) and q.follow_up and q.kind == "when" and q.expects == "date"


def test_a_follow_up_with_only_a_year_takes_the_previous_subject_and_that_version():
    prev = _Previous("law2022")
    prev.question = "现行职业教育法从什么时候开始施行？"
    q = understand("那1996年的版本呢？", REGISTER, previous=prev, previous_question=prev.question)
    assert q.doc_ids == ("law1996",) and "施行" in q.text and q.kind == "when"


# --- the evidence model ---------------------------------------------------------------------------

def _hit(text: str, score: float, retrievers=("chars", "words"), label=""):
    chunk = Chunk("d#0", "d", "d.txt", (label,) if label else (), 0, len(text), (), text)
    return Hit(chunk, "T", "", score, retrievers)


def test_signals_read_coverage_missing_terms_and_expected_type():
    hits = [_hit("本法自2022年5月1日起施行。", 1.0), _hit("职业学校教育分为中等、高等。", 0.5)]
    s = read_signals(hits, {"施行": 2.0, "天津": 6.0}, similarity=0.4, expects="date", years=("2030",),
                     dates=("2022-04-20",), named=False)
    assert s.coverage == pytest.approx(0.25) and s.missing == pytest.approx(0.75)
    assert (s.expected_found, s.expected_missing, s.absent_year) == (1.0, 0.0, 1.0)
    assert s.margin == pytest.approx(0.5) and s.agree == pytest.approx(2 / 3)
    assert len(s.vector()) == len(FEATURES)


@pytest.mark.parametrize("question, bound", [
    ("青岛规定顶岗实习学生的报酬最低是多少？", True), ("实习补贴最高能拿多少钱？", True),
    ("每天至少要实习几个小时？", True), ("顶岗实习学生的报酬是多少？", False), ("报酬最低的是哪个岗位？", False),
])
def test_a_bound_set_by_reference_is_the_amount_a_bound_question_asks_for(question, bound):
    from kb.evidence import BOUND_ASKED

    assert (BOUND_ASKED.search(question) is not None) == bound
    text = "顶岗实习学生实习报酬不得低于当地职工最低工资标准。"
    s = read_signals([_hit(text, 1.0)], {"报酬": 2.0}, similarity=0.5, expects="money", best_text=text,
                     names=Named(bound=bound))
    assert (s.expected_found, s.expected_missing, s.expected_in_best) == ((1.0, 0.0, 1.0) if bound else (0.0, 1.0, 0.0))
    # a bound question answered by a clause setting none is still missing its amount
    other = read_signals([_hit("实习报酬应当按月发放。", 1.0)], {"报酬": 2.0}, similarity=0.5, expects="money",
                         names=Named(bound=True))
    assert other.expected_missing == 1.0


@pytest.mark.parametrize("question, texts, held", [
    ("重庆新八级试点首批有多少家企业参与？", ["由学徒工、初级工构成八级序列，2023年7月18日印发。"], False),
    ("重庆新八级试点首批有多少家企业参与？", ["首批120家企业参与试点。"], True),
    ("顶岗实习一般为多长时间？", ["禁止安排一年级学生顶岗实习。"], False),  # 一年级 is no span of time
    ("顶岗实习一般为多长时间？", ["顶岗实习一般为6个月。"], True),
    ("免税政策的实行期间是多久？", ["自2020年1月1日至3月31日，实行更优惠的进口税收政策。"], True),
    ("几个部门联合印发的？", ["教育部等五部门联合印发。"], True),
    ("成都24个重点片区一共有多少个学校？", ["提升24个重点片区中小学发展水平。"], False),  # its own figure
    ("那申报截止是哪天？", ["2023年申报工作启动。"], False),
    ("教师节是哪天？", ["每年九月十日为教师节。"], True),
    ("职业学校教育分为哪几类？", ["分为中等、高等。"], None),  # the kinds are asked, not a figure
    ("学位分几种？", ["学位分为学士、硕士和博士。"], None),
    ("证书由谁颁发？", ["由培训评价组织颁发。"], None),
])
def test_counts_held_looks_for_a_figure_in_the_unit_asked(question, texts, held):
    from kb.compose import counts_held

    assert counts_held(question, texts) is held


def test_a_count_in_no_passage_marks_the_evidence_as_absent():
    hits = [_hit("重庆印发通知，全面启动新八级制度试点工作。", 1.0)]
    absent = read_signals(hits, {"新八级": 5.0}, similarity=0.5, expects="number", counts_held=False)
    held = read_signals(hits, {"新八级": 5.0}, similarity=0.5, expects="number", counts_held=True)
    none = read_signals(hits, {"新八级": 5.0}, similarity=0.5, expects="number")
    assert (absent.count_absent, held.count_absent, none.count_absent) == (1.0, 0.0, 0.0)
    assert read_signals([], {"新八级": 5.0}, similarity=0.0, expects="number", counts_held=False).count_absent == 1.0


def test_no_passages_means_no_evidence():
    s = read_signals([], {"证书": 1.0}, similarity=0.0, expects="", years=(), dates=(), named=False,
                     unseen=frozenset({"证书"}))
    assert s.coverage == 0.0 and s.missing == 1.0 and s.unknown == 1.0


def test_logistic_regression_separates_and_is_calibrated_on_its_data():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0.8, 0.1, (50, 2)), rng.normal(0.2, 0.1, (50, 2))])
    y = np.array([1] * 50 + [0] * 50)
    w, b, mean, scale = fit(x, y)
    assert w[0] > 0 and w[1] > 0
    z = (x - mean) / scale @ w + b
    p = 1 / (1 + np.exp(-z))
    assert ((p > 0.5) == y).mean() == 1.0
    assert abs(p.mean() - y.mean()) < 0.02  # a fitted LR's mean prediction matches the base rate


def test_operating_point_keeps_false_refusals_within_the_bound():
    answerable = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.3, 0.95, 0.85, 0.75, 0.65, 0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7,
                           0.6, 0.9, 0.8])
    unanswerable = np.array([0.1, 0.2, 0.4, 0.5, 0.58])
    t = operating_point(answerable, unanswerable, max_false_refusals=0.05)
    assert np.mean(answerable < t) <= 0.05  # only the 0.3 one: refusing 0.55 too would be two of 20
    assert 0.5 < t <= 0.55 and np.mean(unanswerable < t) == 0.8


def test_the_cautious_operating_point_holds_the_bound_on_resamples_too():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.beta(5, 1.5, 300), rng.beta(1.5, 3, 60)])  # answerable high, unanswerable low
    answerable = np.arange(360) < 300
    groups = np.arange(360) % 2
    plain = min(operating_point(p[answerable & (groups == g)], p[~answerable], 0.05) for g in (0, 1))
    cautious = cautious_operating_point(p, answerable, groups, 0.05, confidence=0.8, resamples=100)
    assert cautious <= plain  # never bolder than the sample's own point
    assert cautious == cautious_operating_point(p, answerable, groups, 0.05, confidence=0.8, resamples=100)
    # on new questions from the same source it keeps false refusals under the bound more often
    new = rng.beta(5, 1.5, (200, 300))
    assert np.mean(np.mean(new < cautious, axis=1) <= 0.05) >= np.mean(np.mean(new < plain, axis=1) <= 0.05)
    assert np.mean(np.mean(new < cautious, axis=1) <= 0.05) >= 0.7


def test_model_round_trips_and_rejects_other_features():
    n = len(FEATURES)
    model = EvidenceModel(tuple([1.0] + [0.0] * (n - 1)), 0.0, tuple([0.5] * n), tuple([1.0] * n), 0.5)
    assert EvidenceModel.from_dict(model.to_dict()) == model
    high = Signals(*([1.0] + [0.0] * (n - 1)))
    assert model.probability(high) > 0.6
    bad = model.to_dict() | {"features": ["coverage"]}
    with pytest.raises(Exception, match="refit"):
        EvidenceModel.from_dict(bad)


# --- statements, clauses and sections -------------------------------------------------------------

@pytest.mark.parametrize("line, says", [
    ("# 中华人民共和国职业教育法", False),
    ("中华人民共和国职业教育法", False),
    ("三、存在的主要问题", False),
    ("1993年10月31日第八届全国人民代表大会常务委员会第四次会议通过", True),
    ("职业学校教育分为中等职业学校教育、高等职业学校教育。", True),
    ("一是试点工作的顶层设计仍需加强。", True),
])
def test_statements_are_never_headings_or_titles(line, says):
    assert is_statement(line, "中华人民共和国职业教育法") is says


def test_a_short_paragraph_is_quoted_whole():
    text = "第十五条 职业学校教育分为中等职业学校教育、高等职业学校教育。中等职业学校教育由中职学校实施。\n下一段。"
    assert text[slice(*clause_span(text, (32, 46)))] == "职业学校教育分为中等职业学校教育、高等职业学校教育。中等职业学校教育由中职学校实施。"


PAPER = ("一、证书试点情况\n2020年1月，教育部发布通知。\n二、试点工作取得的主要成效\n一是类型特色更加鲜明。\n二是质量稳步提升。\n"
         "三、存在的主要问题\n1.院校之间资源不均衡。主要表现为：\n1.部分院校尚未开展；2.部分院校尚未开设课程。\n"
         "2.标准建设滞后。\n3.两张皮现象严重。主要表现为：1.内容脱节；2.课程脱节。\n四、相关思考和建议\n一是顶层设计仍需加强。\n"
         "三是考核评价机制仍需完善。\n")


def test_a_sentence_is_cited_under_the_section_it_stands_in():
    path = ("一、证书试点情况 — 二、试点工作取得的主要成效",)
    assert section_path(path, PAPER, PAPER.index("二是质量")) == ("二、试点工作取得的主要成效",)
    assert section_path(path, PAPER, PAPER.index("2020年")) == ("一、证书试点情况",)
    inner = ("三、存在的主要问题", "1. — 2.")
    assert section_path(inner, PAPER, PAPER.index("2.标准")) == ("三、存在的主要问题", "2.标准建设滞后")
    # an inner list item after 主要表现为： is not a section
    assert section_path(inner, PAPER, PAPER.index("2.部分院校")) == ("三、存在的主要问题", "1.院校之间资源不均衡")
    assert section_path(("第十五条",), PAPER, 5) == ("第十五条",)


def test_sections_by_heading_and_all_their_items():
    sections = dict(section_spans(PAPER))
    assert list(sections) == ["一、证书试点情况", "二、试点工作取得的主要成效", "三、存在的主要问题", "四、相关思考和建议"]
    problems = [PAPER[s:e] for s, e in list_items(PAPER, *sections["三、存在的主要问题"])]
    assert [p.split("。")[0] for p in problems] == ["1.院校之间资源不均衡", "2.标准建设滞后", "3.两张皮现象严重"]
    advice = [PAPER[s:e] for s, e in list_items(PAPER, *sections["四、相关思考和建议"])]
    assert advice == ["一是顶层设计仍需加强。", "三是考核评价机制仍需完善。"]  # the text itself skips 二是


def test_items_of_an_article():
    text = "第七条 教师享有下列权利:\n\n（一）进行教育教学活动；\n\n（二）从事科学研究；\n\n（三）参加进修。"
    assert [text[s:e] for s, e in list_items(text)] == ["（一）进行教育教学活动；", "（二）从事科学研究；", "（三）参加进修。"]


def test_one_marker_is_no_list():
    assert list_items("第一条 为了发展职业教育，制定本法。") == []


# --- versions and facts ---------------------------------------------------------------------------

def test_articles_of_two_versions_align_by_content():
    old = ["为了实施科教兴国战略，发展职业教育，制定本法。", "职业学校教育分为初等、中等、高等职业学校教育。", "本法自1996年9月1日起施行。"]
    new = ["为了推动职业教育高质量发展，制定本法。", "本法自2022年5月1日起施行。", "国家建立健全职业教育体系。",
           "职业学校教育分为中等职业学校教育、高等职业学校教育。"]
    pairs = [(i, j) for i, j, _s in align(old, new)]
    assert pairs == [(0, 0), (2, 1), (1, 3)]


def test_what_changed_between_two_clauses():
    removed, added = changed_words("职业学校教育分为初等、中等、高等职业学校教育。", "职业学校教育分为中等职业学校教育、高等职业学校教育。")
    assert removed == ["初等"] and added == []


@pytest.mark.parametrize("expects, quote, fact", [
    ("date", "本法自2022年5月1日起施行。", "2022年5月1日"),
    ("number", "市财政按照每生每月300元的标准给予企业实习补贴。", "每生每月300元"),
    ("number", "证书有效期为三年，自颁证之日起计算。", "三年"),
    ("date", "职业学校教育分为中等、高等。", ""),
    ("number", "到2025年，全省新增技能人才30万人。", "30万人"),  # the figure, not the year it is set for
    ("number", "本法自2022年5月1日起施行。", ""),
    ("money", "对重点企业招人给予最高9万元补助，推荐50人以上的。", "最高9万元"),
])
def test_short_answers_lead_with_the_fact(expects, quote, fact):
    assert lead_fact(expects, quote) == fact


def test_a_clause_line_names_its_section_once(sample_retriever):
    from kb.answer import _lines_by_clause
    from kb.types import Citation

    doc = "rules/certificate_management_measures.pdf"

    def cite(n, path, quote):
        return Citation(n, doc, doc, "t", "", path, (2,), 0, len(quote), quote)

    text = _lines_by_clause([cite(1, ("第三章", "第十二条"), "证书有效期为三年。"),
                             cite(2, ("（一）明确证书性质",), "（一）明确证书性质。证书分为三级。")],
                            sample_retriever.index)
    first, second = text.split("\n")
    assert first.endswith("第十二条：证书有效期为三年。[1]")
    assert second.endswith("：（一）明确证书性质。证书分为三级。[2]") and second.count("明确证书性质") == 1


def test_a_follow_up_of_a_refused_question_still_takes_its_subject():
    class Refused:
        question = "现行职业教育法从什么时候开始施行？"
        citations = ()

    q = understand("那1996年的版本呢？", REGISTER, previous=Refused(), previous_question=Refused.question)
    assert q.follow_up and "施行" in q.text and q.doc_ids == ("law1996",)


def test_a_pronoun_for_the_previous_topic_takes_the_previous_question():
    prev = _Previous("law2022")
    prev.question = "职业学校招生能收跟录取挂钩的钱吗？"
    q = understand("那新职教法是第几条规定的这个？", REGISTER, previous=prev, previous_question=prev.question)
    assert "录取挂钩" in q.text and q.kind == "which_doc"


# --- what a question names that the index may not hold --------------------------------------------

def test_a_year_asked_as_that_version_is_absent_when_no_version_was_made_then():
    assert understand("2018年那版职业教育法是哪天开始施行的？", REGISTER).absent == "2018"
    assert understand("1996年那版职业教育法是哪天开始施行的？", REGISTER).absent == ""


def test_a_place_of_no_document_is_absent_even_inside_a_named_law():
    assert understand("江苏省实施职业教育法办法什么时候开始施行？", REGISTER).absent == "江苏"
    assert understand("北京市实施职业教育法办法什么时候开始施行？", REGISTER).absent == ""


@pytest.mark.parametrize("question, name", [
    ("教师法实施细则对教师资格认定有哪些规定？", "教师法实施细则"),
    ("中华人民共和国职业培训法是哪年通过的？", "职业培训法"),
    ("职业教育法实施条例是什么时候出台的？", "职业教育法实施条例"),
    ("国发〔2019〕4号里是怎么说1+X的？", "国发〔2019〕4号"),
    ("职业教育法对幼儿园教师资格有什么规定？", ""),
    ("北京实施职业教育法办法什么时候施行？", ""),  # shortened: 市 and 中华人民共和国 left out
    ("山东省实施《职业教育法》办法是哪年通过的？", "山东省实施职业教育法办法"),  # the law's title in brackets
    ("北京市实施《中华人民共和国职业教育法》办法什么时候施行？", ""),
    ("有什么好的教学方法？", ""),
    ("1996年职业教育法在企业不实施职业教育的处理上有什么规定？", ""),  # a year before a held work's name
    ("1996年版职业教育法规定的职业培训有哪些种类？", ""),
    ("旧法的法律责任只提到违反职业教育法吗？", ""),  # words running up to a held work's name
])
def test_documents_the_index_does_not_hold(question, name):
    assert unheld_document(REGISTER, question) == name


@pytest.mark.parametrize("question", ["北京市实施《职业教育法》办法是哪年通过的？",
                                      "北京市实施《中华人民共和国职业教育法》办法什么时候施行？"])
def test_a_law_bracketed_inside_a_name_is_that_other_work(question):
    assert understand(question, REGISTER).doc_ids == ("beijing",)


def test_a_local_measure_of_a_held_law_is_not_that_law():
    assert understand("山东省实施《职业教育法》办法是哪年通过的？", REGISTER).absent == "山东省实施职业教育法办法"


@pytest.mark.parametrize("question, basis, about, gone", [
    ("陕西中等职业教育免学费以后每生每年补助多少？", "每生每年2000元", ("山西中等职业教育免学费全覆盖",), ("陕西",)),
    ("江西省技能自贸港方案新增多少技能人才？", "新增技能人才15万人", ("记者16日从海南省新闻办公室获悉", "北京职教新闻"),
     ("江西",)),
    # a local notice leaves its own place unsaid and names others in its text: no sign
    ("天津市哪些情况可以减免检验检测收费？", "对支援湖北的企业减免检验检测收费", ("市市场监管委印发 市场监管委",), ()),
    # a digest naming no province beside another province's notice holds what applies everywhere
    ("山西省可享受免征增值税的公共交通运输服务包括哪些？", "公共交通运输服务免征增值税",
     ("疫情防控期间税费优惠政策汇编", "国家税务总局山东省税务局通知公告"), ()),
    ("江西省对小区居民是怎样管理的？", "江西省 各小区实行封闭管理", ("湖南省交界地区防控通知",), ()),  # named
    ("职业学校教育分为哪几类？", "职业学校教育分为中等、高等", ("山西省职业教育条例",), ()),  # no province asked
])
def test_a_basis_about_another_province(question, basis, about, gone):
    from kb.entities import other_province

    indexed = (*about, "北京市职业教育条例")
    assert other_province(question, basis, about, indexed) == gone
    # where the index holds the province's own documents, another's notice may restate what applies
    assert other_province(question, basis, about, (*indexed, "陕西省 江西省人民政府 通知")) == ()


@pytest.mark.parametrize("question, about, indexed, gone", [
    ("财政部办公厅印发的名师名校长培养计划每年遴选多少人？", ("记者从教育部获悉，教育部办公厅近日印发",), (), ("财政部",)),
    # the index holds 财政部's own documents: another body's report may restate what it issued
    ("财政部办公厅印发的名师名校长培养计划每年遴选多少人？", ("记者从教育部获悉",), ("财政部关于…的通知",), ()),
    ("财政部办公厅印发的名师名校长培养计划每年遴选多少人？", ("名师名校长培养计划综述",), (), ()),  # names no body
    ("国务院办公厅印发的方案提出了什么？", ("国务院关于印发…方案的通知",), (), ()),  # the same body, not another
])
def test_a_basis_issued_by_another_national_body(question, about, indexed, gone):
    from kb.entities import other_body

    assert other_body(question, "每年遴选100人", about, indexed) == gone


def test_figures_are_compared_in_arabic_digits():
    assert arabic("未满十六周岁的，二十人，三百五十元，二〇一九年") == "未满16周岁的，20人，350元，2019年"
    assert figures_asked("企业能招不满16岁的学生吗？") == ("16",)
    assert figures_asked("试点方案是教育部等六部门联合印发的吗？") == ("6",)
    # years and article numbers are checked elsewhere (absent_year, the article asked about)
    assert figures_asked("2019年的方案第十条怎么写？") == ()


def test_signals_see_a_figure_and_a_document_the_passages_lack():
    hits = [_hit("禁止用人单位招用未满十六周岁的未成年人。", 1.0)]
    held = read_signals(hits, {"招用": 3.0}, similarity=0.5, expects="", top_idf=6.0,
                        names=Named(numbers=("16", "2018")), sources=("2018年劳动条例",))
    assert (held.number_absent, held.name_absent) == (0.0, 0.0)  # 16 as 十六, 2018 in the title
    swapped = read_signals(hits, {"招用": 3.0, "天津": 6.0}, similarity=0.5, expects="", top_idf=6.0,
                           names=Named(numbers=("18",), absent_document=True), unseen=frozenset({"天津"}))
    assert (swapped.number_absent, swapped.name_absent) == (1.0, 1.0)
    assert swapped.rare_absent == pytest.approx(1.0) and held.rare_absent == 0.0
    assert swapped.rare_seen == 0.0  # 天津 is in no indexed passage: unknown, not a swapped entity


def test_a_lead_in_brings_the_items_it_announces():
    text = "第三十四条 设立应当符合下列条件：\n\n（一）有章程；\n\n（二）有经费。\n\n设立按国家规定执行。"
    start = text.index("设立")
    end = text.index("：") + 1
    a, b = with_items(text, (start, end))
    assert text[a:b].endswith("（二）有经费。") and "按国家规定" not in text[a:b]
    sentence = (text.index("设立按"), len(text))
    assert with_items(text, sentence) == sentence  # no colon: nothing more


def test_a_school_year_is_no_span_of_time():
    quote = "学生顶岗实习工作时间应当遵守劳动法律、法规规定。禁止安排一年级学生顶岗实习。"
    assert lead_fact("number", quote, "学生顶岗实习一般为多长时间？") == ""  # 一年级 is not 一年
    assert lead_fact("number", "顶岗实习一般为一年。", "学生顶岗实习一般为多长时间？") == "一年"


@pytest.mark.parametrize("question, fact", [
    ("加班每个月最多能加多少小时？", "三十六小时"),
    ("一般每天最多加班多少小时？", "一小时"),
    ("最多加班多少小时？", "一小时"),  # nothing says which: the first figure
])
def test_of_several_figures_the_one_the_question_is_after_leads(question, fact):
    quote = ("用人单位可以延长工作时间，一般每日不得超过一小时；因特殊原因需要延长工作时间的，"
             "每日不得超过三小时，但是每月不得超过三十六小时。")
    assert lead_fact("number", quote, question) == fact


# --- choosing sentences ---------------------------------------------------------------------------


class _NoMeaning:
    """A retriever whose vectors say nothing: sentences are scored by their words alone."""

    def query_vector(self, question):
        return np.ones(4) / 2

    def sentence_vectors(self, texts):
        return np.zeros((len(texts), 4))


def _scored(text: str, terms: dict) -> dict[str, float]:
    from kb.sentences import candidates, sentence_text

    sentences, _meaning, _best = candidates(_NoMeaning(), [_hit(text, 1.0)], terms, "问题")
    return {sentence_text(s): s.score for s in sentences}


def test_the_sentence_after_one_restating_the_question_shares_its_score():
    restating, answer = "市财政局拨付资金1240万元支持特殊群体防控。", "重点保障困难群众和老年人配置测温物资。"
    terms = {"拨付": 2.0, "1240": 3.0, "特殊群体": 2.0}
    scored = _scored(restating + answer, terms)
    # it repeats no word of the question, yet it goes on with what the one before says
    assert scored[answer] == pytest.approx(0.5 * scored[restating]) and scored[answer] > 0
    # but only within its paragraph, and never passed on to the sentence after it
    scored = _scored(restating + "\n" + answer, terms)
    assert answer not in scored
    scored = _scored(restating + answer + "另行通知。", terms)
    assert "另行通知。" not in scored


def test_a_short_lead_in_is_followed_by_the_next_sentence_of_its_paragraph():
    from kb.sentences import Sentence, sentence_text, with_next
    terms = {"双定户": 5.8, "定额": 3.8, "调整": 2.1}
    text = ("在“21条”中，我省税务部门合理调整了个体双定户纳税定额。即对受疫情影响的个体双定户，月核定经营额超过10万元的"
            "统一调整至10万元以下。\n另一段说的是别的事。")
    hit = _hit(text, 1.0)
    lead = Sentence(0, hit, 0, text.index("即"), 0.9)
    chosen = with_next([lead], terms)
    assert [sentence_text(s) for s in chosen][1].startswith("即对受疫情影响的个体双定户")
    # never over a paragraph break, never twice, and a long sentence stands alone
    second = Sentence(0, hit, text.index("即"), text.index("\n"), 0.8)
    assert with_next([second], terms) == [second]
    assert with_next([lead, second], terms) == [lead, second]
    long_text = "甲" * 130 + "。乙方应当按期完成。"
    long_lead = Sentence(0, _hit(long_text, 1.0), 0, 131, 0.9)
    assert with_next([long_lead], terms) == [long_lead]
    # a next sentence on something else is no continuation
    other = "我省税务部门合理调整了个体双定户纳税定额。各地市场监管部门要加强对食品企业的日常检查。"
    alone = Sentence(0, _hit(other, 1.0), 0, other.index("各"), 0.9)
    assert with_next([alone], terms) == [alone]


@pytest.mark.parametrize("text, held", [
    ("2021年全国职业院校技能大赛", True), ("2021年度", True), ("发布日期 2021-05-01", True), ("2020-2021学年", True),
    ("2021.5", True), ("教职成〔2021〕6号", True),
    ("2021级烹饪班学生", False), ("2021届毕业生", False), ("共12021人参加", False), ("编号2021", False)])
def test_a_year_is_held_only_where_it_is_written_as_a_year(text, held):
    from kb.entities import holds_year, missing, sorted_out
    assert holds_year("2021", text) is held
    assert missing(sorted_out(("2021",)), text) == (() if held else ("2021",))


@pytest.mark.parametrize("question, fact", [("硕士的基本修业年限是几年？", "二至三年"), ("本科要读几年？", "四至五年"),
                                            ("博士研究生教育的基本修业年限是几年？", "三至四年")])
def test_the_figure_leading_a_short_answer_is_the_one_of_the_clause_asked_about(question, fact):
    quote = ("专科教育的基本修业年限为二至三年，本科教育的基本修业年限为四至五年，硕士研究生教育的基本修业年限为二至三年，"
             "博士研究生教育的基本修业年限为三至四年。")
    assert lead_fact("number", quote, question) == fact
    assert lead_fact("number", "每次不少于3-5天。", "每次多少天？") == "不少于3-5天"


@pytest.mark.parametrize("expects, quote, question, fact", [
    # the unit asked: 几个部门 is 五部门, not the month of the date before it
    ("number", "2019年 11月，教育部等五部门联合印发试点方案。", "试点方案是几个部门一起发的？", "五部门"),
    ("number", "方案推出18条工作举措，覆盖率提高31%。", "方案推出了多少条举措？", "18条"),
    # a part of a date is no figure: 为期三年, not the 27日 of 1月27日
    ("number", "1月 27日，计划启动，进行为期三年的集中培养。", "集中培养多长时间？", "三年"),
    # a figure the question names is what it asks about
    ("number", "第九届大赛共吸引36.8万个项目参赛。", "第九届大赛吸引了多少个项目参赛？", "36.8万个"),
    # of figures in one sentence, the one its nearest words name
    ("money", "具体补贴标准为初级（五级）1000元、中级（四级）1500元、高级（三级）2000元。", "中级证书补多少钱？", "1500元"),
    # no figure in the unit asked: none leads
    ("number", "试点于2019年启动，覆盖率提高31%。", "有多少家企业参与？", ""),
])
def test_the_fact_leading_a_short_answer_counts_in_the_unit_asked(expects, quote, question, fact):
    assert lead_fact(expects, quote, question) == fact


def test_which_several_is_no_count_and_how_much_funding_is_money():
    assert kind_of("艺考培训规范管理的通知是哪几个部门发的？") == "who"
    assert kind_of("河南首批产教融合型城市试点是哪几个市？") != "how_many"
    assert understand("每个培养对象给多少经费？", REGISTER).expects == "money"


def test_words_that_only_ask_are_no_terms():
    from kb.sentences import question_terms
    assert question_terms("旧法和新法对职业培训的种类规定有何不同？") == {"培训", "种类", "职业", "职业培训"}
    assert question_terms("哪家单位负责？") == {"单位", "负责"}
    # an A-not-A question (要不要, 需不需要) asks yes or no: its 不要 is no term, its A stays
    assert question_terms("学生去应聘要不要交钱？") == {"学生", "应聘", "交钱"}
    assert question_terms("企业需不需要给实习生买保险？") == {"企业", "实习", "实习生", "保险"}


@pytest.mark.parametrize("expects, quote, question, fact", [
    ("number", "公办职业学校教职工编制总额中的百分之二十可以用于聘用专业兼职教师。", "编制里有多少可以拿来聘兼职老师？", "百分之二十"),
    ("number", "广东生态工程职业学院共获得了69项奖项，第十一届大赛再创佳绩。", "一共拿了多少个奖？", "69项"),  # 个: any count
    ("number", "全市17家口罩企业投产后，日产能达到400万只。", "上海市口罩企业投产后产能有多少？", "400万只"),  # what it counts
    # a date asked about may share a figure with the question's own words
    ("date", "天津市税务局2020年2月17日发布通知。", "什么时间发布的《关于延长2020年2月份申报期限的通知》？", "2020年2月17日"),
])
def test_the_leading_fact_is_the_figure_of_what_the_question_counts(expects, quote, question, fact):
    assert lead_fact(expects, quote, question) == fact


@pytest.mark.parametrize("question, thing", [
    ("教师法规定教师有哪些义务？", "义务"),
    ("设立职业中介机构要具备哪些条件？", "条件"),
    ("上海职业教育条例规定举办职业学校要交哪些材料？", "材料"),
    ("证书有效期是多久？", ""),
])
def test_the_thing_a_list_question_asks_for_follows_its_asking_word(question, thing):
    from kb.lists import asked_thing

    assert asked_thing(question) == thing


def test_an_announcing_clause_outside_a_named_law_must_hold_the_question_s_words():
    # asked of no law: 第二十二条 announces the board's powers on a line holding most of the question's
    # words; the principal's 下列职权 holds too few of them to be put first
    from types import SimpleNamespace

    from kb.lists import announcing_rows

    texts = ["第二十二条 学校理事会或者董事会行使下列职权：\n（一）聘任和解聘校长；",
             "第二十五条 民办学校校长负责学校的教育教学和行政管理工作，行使下列职权：\n（一）执行学校理事会的决定；"]
    chunks = [Chunk(f"d#{i}", "d", "d.txt", (), 0, len(t), (), t) for i, t in enumerate(texts)]
    index = SimpleNamespace(chunks=chunks, doc_rows={"d": [0, 1]})
    terms = {"民办学校": 1.0, "理事会": 2.0, "董事会": 2.0, "职权": 1.5}
    question = "民办学校理事会或者董事会有哪些职权？"
    assert announcing_rows(index, ("d",), question, terms) == [0, 1]
    assert announcing_rows(index, ("d",), question, terms, least=0.5) == [0]
    assert announcing_rows(index, ("d",), question, terms, least=0.95) == []


@pytest.mark.parametrize("question, rows", [
    ("高等学历教育分哪几种？", [1]),  # 第二十条 says 高等学历教育 too, but divides nothing
    ("职业学校教育分为哪些？", [3]),  # 高等职业学校教育包括… does not divide 职业学校教育
    ("我想问一下，职业学校教育分成哪些类型？", [3]),
    ("请问高等学历教育一般分为哪几类？", [1]),
    ("职业学校教育有哪些要求？", []),  # not a question on its kinds
    ("学位分几种？", []),  # too short a name to look for alone
])
def test_a_question_on_kinds_finds_the_sentence_dividing_the_thing_it_names(question, rows):
    from types import SimpleNamespace

    from kb.lists import dividing_rows

    texts = ["第二十条 接受高等学历教育的学生，由所在高等学校发给相应的学历证书、学位证书。",
             "第十六条 高等学历教育分为专科教育、本科教育和研究生教育。",
             "第十三条 高等职业学校教育包括专科、本科和研究生层次教育。",
             "第十五条 职业学校教育分为中等职业学校教育、高等职业学校教育。"]
    chunks = [Chunk(f"d#{i}", "d", "d.txt", (), 0, len(t), (), t) for i, t in enumerate(texts)]
    index = SimpleNamespace(chunks=chunks, doc_rows={"d": [0, 1, 2, 3]})
    assert dividing_rows(index, ("d",), question) == rows


def test_sentences_dividing_the_thing_alike_keep_the_order_retrieval_found_them_in():
    from types import SimpleNamespace

    from kb.lists import dividing_rows

    texts = ["第三十一条 职业培训包括从业前培训、转业培训。", "第十六条 职业培训包括就业前培训、在职培训。"]
    chunks = [Chunk(f"d#{i}", "d", "d.txt", (), 0, len(t), (), t) for i, t in enumerate(texts)]
    index = SimpleNamespace(chunks=chunks, doc_rows={"d": [0, 1]})
    assert dividing_rows(index, ("d",), "职业培训分哪几类？") == [0, 1]
    assert dividing_rows(index, ("d",), "职业培训分哪几类？", ranked=("d#1", "d#0")) == [1, 0]


def _law_hits(articles):
    from types import SimpleNamespace

    chunks = [Chunk(f"l#{i}", "l", "l.md", path, 0, len(t), (), t) for i, (path, t) in enumerate(articles)]
    index = SimpleNamespace(records={"l": SimpleNamespace(meta=SimpleNamespace(title="中华人民共和国劳动法"))})
    return index, [Hit(c, "中华人民共和国劳动法", "", 1.0 - i / 10, ("words",)) for i, c in enumerate(chunks)]


def test_inside_a_named_law_the_chapter_whose_heading_holds_the_question_s_words_comes_first():
    from kb.answer import _heading_first

    index, hits = _law_hits([(("第三章 劳动合同和集体合同", "第二十五条"), "第二十五条 劳动者有下列情形之一的，用人单位可以解除劳动合同："),
                             (("第三章 劳动合同和集体合同", "第三十条"), "第三十条 用人单位解除劳动合同，工会认为不适当的，有权提出意见。"),
                             (("第八章 职业培训", "第六十八条"), "第六十八条 用人单位应当建立职业培训制度。")])
    terms = {"用人单位": 1.0, "职业培训": 3.0, "要求": 1.0}
    assert [h.chunk.path[-1] for h in _heading_first(index, hits, terms)] == ["第六十八条", "第二十五条", "第三十条"]
    # a word the leading passage holds names no chapter; nor does one of the law's title
    assert _heading_first(index, hits, {"用人单位": 1.0, "劳动合同": 2.0}) == hits
    assert _heading_first(index, hits, {"劳动": 2.0, "集体合同": 0.0}) == hits


def test_clauses_of_two_documents_announcing_the_list_alike_leave_the_choice_to_retrieval():
    # 上海's 第三十六条 and 职业教育法's 第三十四条 both announce 下列条件: neither is put first
    from types import SimpleNamespace

    from kb.lists import announcing_rows

    texts = ["第三十六条 设立职业培训机构，应当具备下列条件：\n（一）有组织机构和管理制度；",
             "第三十四条 设立职业培训机构，应当符合下列条件：\n（一）有组织机构和管理制度；"]
    chunks = [Chunk(f"{d}#0", d, f"{d}.md", (), 0, len(t), (), t) for d, t in zip("ab", texts)]
    index = SimpleNamespace(chunks=chunks, doc_rows={"a": [0], "b": [1]})
    terms = {"职业培训机构": 2.0, "设立": 1.0, "条件": 1.0}
    question = "职业培训机构的设立要满足哪些条件？"
    assert announcing_rows(index, ("a", "b"), question, terms) == [0, 1]
    assert announcing_rows(index, ("a", "b"), question, terms, sole=True) == []
    assert announcing_rows(index, ("a",), question, terms, sole=True) == [0]
