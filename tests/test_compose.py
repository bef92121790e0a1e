"""What an answer quotes: a heading with the body it heads, the list where the answer stands,
two versions of a law side by side with what changed in words."""

import re

import pytest

from kb.answer import answer_question
from kb.compose import heading_body, list_items, sentence_spans
from kb.config import AskSettings
from tests.conftest import index_rows

NOTICE = ("一、延长行政许可期限。对许可证书到期的，有效期顺延至一级响应解除。"
          "二、减免质量检验检测服务收费。疫情防控期间，对各单位报检的体温计免除检定校准费用。对复工复产企业检验项目收费减免50%。"
          "三、优化审批服务。开通网上办理渠道。")


# a paragraph longer than a short one quoted whole (kb.compose.clause_span)
PAD = "各地市场监管部门要加强对食品生产经营企业的日常检查，督促企业落实主体责任，严格执行进货查验和索证索票制度，确保食品安全。" * 2


def _span_of(text: str, sentence: str) -> tuple[int, int]:
    return next(s for s in sentence_spans(text) if text[s[0]:s[1]] == sentence)


def test_a_heading_sentence_brings_the_body_it_heads():
    span = _span_of(NOTICE, "二、减免质量检验检测服务收费。")
    quoted = NOTICE[slice(*heading_body(NOTICE, span))]
    assert quoted == ("二、减免质量检验检测服务收费。疫情防控期间，对各单位报检的体温计免除检定校准费用。"
                      "对复工复产企业检验项目收费减免50%。")  # up to 三、, not beyond


def test_a_numeral_glued_to_its_heading_heads_a_body_when_its_successor_follows():
    text = "一加强人员管理。采用管控重点人员的方法。二加强疫情防控。每日消毒。"
    assert text[slice(*heading_body(text, _span_of(text, "一加强人员管理。")))] == "一加强人员管理。采用管控重点人员的方法。"
    lone = "一线医务人员感染的。当日认定工伤。"  # 一 opens a word here: nothing numbered 二 follows
    span = _span_of(lone, "一线医务人员感染的。")
    assert heading_body(lone, span) == span


@pytest.mark.parametrize("sentence", [
    "疫情防控期间，对各单位报检的体温计免除检定校准费用。",  # no marker: a statement, not a heading
    "一、延长行政许可期限，对许可证书到期的顺延。",  # a marker, but the sentence says something itself
])
def test_other_sentences_are_quoted_as_they_are(sentence):
    text = NOTICE.replace("一、延长行政许可期限。对许可证书到期的，有效期顺延至一级响应解除。", sentence)
    span = _span_of(text, sentence)
    assert heading_body(text, span) == span


def test_a_body_stops_at_its_limit_after_one_sentence():
    text = "二、减免收费。" + "对复工复产企业检验项目收费减免一半费用。" * 30 + "三、其他。"
    span = _span_of(text, "二、减免收费。")
    start, end = heading_body(text, span, limit=60)
    assert text[start:end] == "二、减免收费。" + "对复工复产企业检验项目收费减免一半费用。" * 2


def _assert_verbatim(answer, rows):
    texts = {r["id"]: r["text"] for r in rows}
    assert answer.citations
    for c in answer.citations:
        assert texts[c.doc_id][c.start:c.end] == c.quote
        assert f"[{c.n}]" in answer.text
    assert set(map(int, re.findall(r"\[(\d{1,3})\]", answer.text))) == {c.n for c in answer.citations}


def test_an_answer_under_a_matching_heading_quotes_its_body(tmp_path):
    notice = ("一、延长行政许可期限。对许可证书到期的，有效期顺延至一级响应解除。" + PAD + "二、减免质量检验检测服务收费。"
              "疫情防控期间，对报检的体温计免除检定校准费用。对复工复产企业的委托项目按半价办理。三、优化审批服务。开通网上办理渠道。" + PAD)
    rows = [{"id": "n1", "title": "市场监管委服务企业措施的通知", "text": notice},
            {"id": "n2", "title": "交通运输通告", "text": "各地做好客运场站消毒。加强乘客测温。"}]
    answer = answer_question(index_rows(tmp_path, rows), "哪些情况可以减免质量检验检测服务收费？",
                             AskSettings(min_confidence=0.0))
    assert "二、减免质量检验检测服务收费。疫情防控期间，对报检的体温计免除检定校准费用。对复工复产企业的委托项目按半价办理。" in answer.text
    _assert_verbatim(answer, rows)


def test_a_question_the_text_asks_itself_is_quoted_with_its_answer(tmp_path):
    rows = [{"id": "qa", "title": "返程防控问答",
             "text": "如何做好返程客流高峰期的疫情防控？做好交通运输工具和场站的消毒、通风。加强进出站乘客的测温。"
                     "快递怎么收？收件时戴好口罩。" + PAD}]
    answer = answer_question(index_rows(tmp_path, rows), "如何做好返程客流高峰期的疫情防控？", AskSettings(min_confidence=0.0))
    assert "做好交通运输工具和场站的消毒、通风。加强进出站乘客的测温。" in answer.text
    assert "快递" not in answer.text
    _assert_verbatim(answer, rows)


def test_a_title_line_ending_in_a_full_stop_is_no_statement():
    from kb.compose import is_statement
    title = "新疆因救治感染疫情的医护人员将认定为工伤"
    assert not is_statement(title + "。", title)
    assert is_statement("新疆医护人员因履行工作职责感染的，应认定为工伤。", title)


def test_two_quotes_of_one_paragraph_take_the_sentence_between(tmp_path):
    text = ("黑龙江省通知要求各地做好农民工错峰返城复工服务保障工作。各地要加强防疫宣传。"
            "黑龙江省依托微信公众平台引导农民工错峰返城复工。另据报道，全省天气晴好。" + PAD)
    rows = [{"id": "hl", "title": "黑龙江省人社厅消息", "text": text}]
    answer = answer_question(index_rows(tmp_path, rows), "黑龙江省是如何做好农民工错峰返城复工服务保障工作的？",
                             AskSettings(min_confidence=0.0))
    quotes = [c.quote for c in answer.citations]
    assert "黑龙江省通知要求各地做好农民工错峰返城复工服务保障工作。各地要加强防疫宣传。黑龙江省依托微信公众平台引导农民工错峰返城复工。" \
        in quotes, quotes
    _assert_verbatim(answer, rows)


def test_a_list_question_quotes_no_enumeration_the_answer_is_not_in(tmp_path):
    rows = [{"id": "prices", "title": "国家发改委保障生活物资供应",
             "text": "北京市发改委采取四项措施保障生活物资供应：一是建立应急监测机制。二是做好保供稳价工作。三是增加生产畅通物流。"},
            {"id": "travel", "title": "北京市交通委通告",
             "text": "为确保客流回升下的安全出行，北京市交通委组织公交、地铁、出租车做好运输保障，根据需要延长地铁运营时间。"
                     "市民出行请佩戴口罩。"}]
    answer = answer_question(index_rows(tmp_path, rows), "北京市采取了哪些措施确保安全出行？", AskSettings(min_confidence=0.0))
    assert answer.citations[0].doc_id == "travel" and "组织公交、地铁、出租车做好运输保障" in answer.citations[0].quote
    assert not any(c.quote.startswith("二是") for c in answer.citations)  # the price measures are not listed
    _assert_verbatim(answer, rows)


# --- two versions of a law ----------------------------------------------------------------------

from kb.types import Citation  # noqa: E402
from kb.versions import change_line, describe_changes, substance  # noqa: E402

OLD_SCHOOL = "职业学校的设立，必须符合下列基本条件：\n（一）有组织机构和章程；\n（二）有合格的教师；\n（三）有必备的办学资金。"
NEW_SCHOOL = ("职业学校的设立，应当符合下列基本条件：\n（一）有组织机构和章程；\n（二）有合格的教师和管理人员；\n"
              "（三）有必备的办学资金；\n（四）有与办学规模相适应的实习实训场所。")


def _cited(n: int, doc_id: str, article: str, quote: str) -> Citation:
    return Citation(n, doc_id, doc_id, "中华人民共和国职业教育法", "", (article,), (), 0, len(quote), quote)


def test_what_changed_is_said_by_item_and_phrase():
    changes = describe_changes(OLD_SCHOOL, NEW_SCHOOL)
    assert changes == ["「必须符合下列基本条件」改为「应当符合下列基本条件」（删去“必须”，增加“应当”）",
                       "「（二）有合格的教师」改为「（二）有合格的教师和管理人员」（增加“管理人员”）",
                       "新版增加了「（四）有与办学规模相适应的实习实训场所」"]


def test_numbering_dates_and_the_name_are_no_change():
    assert substance("本法自1996年9月1日起施行。") == substance("本法自2022年5月1日起施行。")
    line = change_line([_cited(3, "law1996", "第四十条", "本法自1996年9月1日起施行。"),
                        _cited(4, "law2022", "第六十九条", "本法自2022年5月1日起施行。")])
    assert line == "变化：内容未变（只有条号、日期或法律名称的写法不同）；条号由第四十条改为第六十九条。[3][4]"
    same = change_line([_cited(1, "law1996", "第五条", "国家鼓励企业举办职业学校。"),
                        _cited(2, "law2022", "第五条", "国家鼓励企业举办职业学校。")])
    assert same == "变化：内容未变。[1][2]"


def test_an_article_without_counterpart_is_said_to_be_new():
    assert change_line([_cited(5, "law2022", "第十二条", "每年5月的第二周为职业教育活动周。")], old_in_pair=False) == \
        "变化：新版新增的条文，旧版没有对应条文。[5]"


def _law_versions(tmp_path):
    rows = []
    for year, month, day, n, made, school, last in (
            (1996, 5, 15, "八", "通过", OLD_SCHOOL, "本法自1996年9月1日起施行。"),
            (2022, 4, 20, "十三", "修订", NEW_SCHOOL, "本法自2022年5月1日起施行。")):
        rows.append({"id": f"law{year}", "title": "中华人民共和国职业教育法",
                     "text": f"中华人民共和国职业教育法\n（{year}年{month}月{day}日第{n}届全国人民代表大会常务委员会会议{made}）\n"
                             f"第一条 为了发展职业教育，制定本法。\n第二条 国家鼓励企业举办职业学校。\n第三条 {school}\n"
                             f"第四条 {last}\n"})
    return rows, index_rows(tmp_path, rows)


def test_two_versions_quote_the_articles_asked_about_side_by_side_and_say_what_changed(tmp_path):
    rows, retriever = _law_versions(tmp_path)
    answer = answer_question(retriever, "1996年和2022年的职业教育法对设立职业学校的条件有什么不同？", AskSettings())
    assert answer.kind == "version"
    articles = [(c.doc_id, c.path[-1]) for c in answer.citations if c.path]
    assert articles == [("law1996", "第三条"), ("law2022", "第三条")]
    assert "（二）有合格的教师；" in answer.citations[2].quote and "（二）有合格的教师和管理人员；" in answer.citations[3].quote
    change = next(line for line in answer.text.splitlines() if line.startswith("变化："))
    assert "「（二）有合格的教师」改为「（二）有合格的教师和管理人员」" in change and change.endswith("[3][4]")
    assert "新版增加了「（四）有与办学规模相适应的实习实训场所」" in change
    _assert_verbatim(answer, rows)


def test_a_bare_what_is_different_skips_articles_that_changed_only_dates(tmp_path):
    rows, retriever = _law_versions(tmp_path)
    answer = answer_question(retriever, "1996年的职业教育法和2022年的有什么不同？", AskSettings())
    articles = {c.path[-1] for c in answer.citations if c.path}
    assert articles == {"第三条"}  # 第一条 and 第二条 are the same, 第四条 differs only by its dates
    assert "2022”" not in answer.text and "“5”" not in answer.text  # no diff of figures
    _assert_verbatim(answer, rows)


# --- an item by its place -------------------------------------------------

PAPER = ("二、试点工作取得的主要成效\n试点一年来，各地试点工作取得了明显成效，存在的问题也不少。\n一是类型特色更加鲜明。试点院校覆盖面广。\n二是质量稳步提升。证书通过率提高。\n"
         "三是社会培训规模不断扩大。已有50余家培训评价组织参与。\n四是校企合作更加深入。企业类型多样。\n"
         "三、存在的主要问题\n1.院校之间资源不均衡。部分院校尚未开展培训。\n2.标准建设滞后。标准研制尚处于探索阶段。\n")


@pytest.mark.parametrize("question, quote", [
    ("那篇1+X的文章里讲的第四个成效是什么？", "四是校企合作更加深入。企业类型多样。"),
    ("1+X试点存在的第二个问题是什么？", "2.标准建设滞后。标准研制尚处于探索阶段。"),
])
def test_an_item_asked_by_its_place_is_that_item(tmp_path, question, quote):
    rows = [{"id": "paper", "title": "1+X证书制度试点工作的现状与思考", "text": PAPER}]
    answer = answer_question(index_rows(tmp_path, rows), question, AskSettings(min_confidence=0.0))
    assert [c.quote for c in answer.citations] == [quote]
    _assert_verbatim(answer, rows)


# --- copies of one notice, sections inside a line ----------------------------------------------------

def test_a_sentence_of_another_copy_is_cited_but_not_repeated(tmp_path):
    text = ("经省政府同意，提供免费健康申报证明服务。各市县人民政府要组织乡镇将健康申报证明服务事宜告知外出人员。" + PAD)
    rows = [{"id": f"copy{n}", "title": "关于做好外出务工人员健康申报证明服务的通知", "text": text} for n in (1, 2)]
    answer = answer_question(index_rows(tmp_path, rows), "健康申报证明服务事宜如何告知外出人员？", AskSettings(min_confidence=0.0))
    assert {c.doc_id for c in answer.citations} == {"copy1", "copy2"}  # both sources cited
    assert answer.text.count("告知外出人员") == 1  # the sentence said once
    assert "（另见[2]）" in answer.text
    _assert_verbatim(answer, rows)


def test_a_sentence_in_a_one_line_notice_is_cited_under_its_inline_heading():
    from kb.compose import section_path
    offset = NOTICE.index("疫情防控期间")
    assert section_path(("一、 — 三、",), NOTICE, offset) == ("二、减免质量检验检测服务收费",)
    assert section_path(("一、 — 三、",), NOTICE, 3) == ("一、延长行政许可期限",)


def test_two_places_compared_say_how_their_rules_differ():
    from kb.versions import differences
    shanghai = _cited(1, "sh", "第十七条", "设立职业学校，应当具备下列条件：\n（一）有组织机构和章程；\n（二）有合格的教师；")
    qingdao = _cited(2, "qd", "第九条", "设立职业学校，应当具备下列条件：\n（一）有组织机构和章程；\n（二）有合格的教师和实训场所；")
    assert differences(("上海", shanghai), ("青岛", qingdao)) == [
        "异同：【上海】「（二）有合格的教师」，【青岛】「（二）有合格的教师和实训场所」。[1][2]"]
    unrelated = _cited(3, "qd", "第十六条", "鼓励职业学校通过兼并、托管等形式整合办学资源。")
    assert differences(("上海", shanghai), ("青岛", unrelated)) == []  # not about the same thing: nothing to set against


def test_a_comparison_of_two_places_ends_with_what_differs(tmp_path):
    rows = [{"id": "sh", "title": "上海市职业教育条例",
             "text": "上海市职业教育条例\n第十七条 设立职业学校，应当具备下列条件：\n（一）有组织机构和章程；\n（二）有合格的教师；\n"
                     "第十八条 本市鼓励企业参与职业教育。\n"},
            {"id": "qd", "title": "青岛市职业教育条例",
             "text": "青岛市职业教育条例\n第九条 设立职业学校，应当具备下列条件：\n（一）有组织机构和章程；\n（二）有合格的教师和实训场所；\n"
                     "第十条 本市鼓励行业组织参与职业教育。\n"}]
    answer = answer_question(index_rows(tmp_path, rows), "上海和青岛对设立职业学校的条件有什么不同？", AskSettings(min_confidence=0.0))
    assert answer.kind == "compare"
    last = answer.text.splitlines()[-1]
    assert last.startswith("异同：") and "【青岛】「（二）有合格的教师和实训场所」" in last
    _assert_verbatim(answer, rows)


def test_a_when_answer_leads_with_the_full_date_not_the_month_a_rule_is_about():
    from kb.compose import lead_fact
    quote = "关于进一步延长2020年2月份纳税申报期限有关事项的通知，2020年2月17日发布。"
    assert lead_fact("date", quote) == "2020年2月17日"
    assert lead_fact("date", "自2020年2月起免征。") == "2020年2月"  # no day: the month it is


def test_a_paragraph_where_the_text_lost_an_items_marker_is_that_item():
    text = ("四、相关思考和建议\n一是顶层设计仍需加强。要统筹推进。\n试点院校应针对证书标准进行分析。要加强教材建设。\n"
            "三是考核评价机制仍需完善。建议落实。\n四是应加强合作。共同推进。\n")
    assert [text[s:e] for s, e in list_items(text)] == [
        "一是顶层设计仍需加强。要统筹推进。", "试点院校应针对证书标准进行分析。要加强教材建设。", "三是考核评价机制仍需完善。建议落实。",
        "四是应加强合作。共同推进。"]
    # an item that runs on for another number of paragraphs than were lost stays whole
    two = text.replace("要统筹推进。\n", "要统筹推进。\n另有一段。\n")
    assert [two[s:e][:2] for s, e in list_items(two)] == ["一是", "三是", "四是"]


def test_a_list_question_on_one_detail_adds_the_sentence_of_a_long_item_holding_it(tmp_path):
    body = "要充分认识到试点工作的重要性和紧迫性，按照统筹推进的原则，构建政府主导、行业指导、社会参与、院校实施的工作机制。" * 2
    text = ("四、相关思考和建议\n"
            f"一是顶层设计仍需加强。{body}\n"
            f"二是课程标准对接仍需加强。{body}此外，要加大培训教材开发力度，及时将新技术纳入培训教材。\n"
            f"三是考核评价机制仍需完善。{body}\n")
    rows = [{"id": "paper", "title": "1+X证书制度试点工作的现状与思考", "text": text}]
    answer = answer_question(index_rows(tmp_path, rows), "那篇1+X文章对培训教材有什么建议？", AskSettings(min_confidence=0.0))
    assert [c.quote[:2] for c in answer.citations[:3]] == ["一是", "二是", "三是"]
    assert answer.text.splitlines()[-1].startswith("其中：") and "培训教材开发力度" in answer.citations[-1].quote
    _assert_verbatim(answer, rows)
