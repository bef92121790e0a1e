"""Unit tests for kb.metadata: 文号 normalisation, references, dates, issuer and titles."""

from pathlib import Path

import pytest

from kb.metadata import (
    extract_metadata,
    extract_references,
    find_doc_numbers,
    normalize_doc_number,
    normalize_title,
    parse_date,
)
from kb.types import Document, Reference

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _doc(text: str, title_hint: str = "") -> Document:
    return Document(doc_id="t", source="t.txt", text=text, format="txt", title_hint=title_hint)


# --- normalize_doc_number ---------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "教职成〔2019〕6号",
    "教职成[2019]6号",
    "教职成（2019）6 号",
    "教职成〔2019〕6",
    "教职成【2019】6号",
    "教职成 (2019) 6号",
    "教职成［２０１９］６号",
    "教职成〔2019〕06号",
    "教职成 〔2019〕 6 号",
    "教职成﹝2019﹞6号",
    "教职成〈2019〉6号",
    "教职成{2019}6号",
    "教职成(2019)6号",
    "教职成〔2019〕第6号",
    "教职成〔二〇一九〕6号",
    "（教职成〔2019〕6号）",
    "《教职成〔2019〕6号》",
    " 教职成\u3000〔2019〕6号\n",
])
def test_bracket_variants_share_one_key(raw: str) -> None:
    assert normalize_doc_number(raw) == "教职成〔2019〕6号"


@pytest.mark.parametrize("raw, canonical", [
    ("国发〔2019〕4号", "国发〔2019〕4号"),
    ("教职成厅函〔2020〕2号", "教职成厅函〔2020〕2号"),
    ("人社部发〔2019〕129号", "人社部发〔2019〕129号"),
    ("财教[2019]258号", "财教〔2019〕258号"),
    ("发改社会（2019）1558号", "发改社会〔2019〕1558号"),
    ("国办发〔2019〕24号", "国办发〔2019〕24号"),
    ("教发厅函〔2021〕1号", "教发厅函〔2021〕1号"),
    ("京教职成〔2020〕3号", "京教职成〔2020〕3号"),
    ("鲁政办字〔2019〕181号", "鲁政办字〔2019〕181号"),
    ("中发〔2021〕43号", "中发〔2021〕43号"),
    ("厅字〔2021〕30号", "厅字〔2021〕30号"),
    ("国卫基层家医便函〔2020〕2号", "国卫基层家医便函〔2020〕2号"),
    ("人社厅明电[2020] 7号", "人社厅明电〔2020〕7号"),
    ("财办建﹝2019﹞69号", "财办建〔2019〕69号"),
    ("国务院令第741号", "国务院令第741号"),
    ("国务院令741号", "国务院令第741号"),
    ("国务院令 第 741 号", "国务院令第741号"),
    ("中华人民共和国国务院令第741号", "国务院令第741号"),
    ("教育部令第50号", "教育部令第50号"),
    ("财政部 税务总局公告2020年第8号", "财政部税务总局公告2020年第8号"),
    ("财政部、税务总局公告2020年第8号", "财政部税务总局公告2020年第8号"),
    ("海关总署公告（2020年第17号）", "海关总署公告2020年第17号"),
])
def test_canonical_forms(raw: str, canonical: str) -> None:
    assert normalize_doc_number(raw) == canonical


@pytest.mark.parametrize("raw", [
    "", "〔2019〕", "（2019）6号", "（2019）年", "第十二条", "（0632）3456789", "1+X",
    "2019年4月4日", "教职成2019 6号", "教职成〔2019〕", "印发教职成〔2019〕6号", "国务院令",
    "令第5号", "教职成〔1776〕6号", "关于做好1+X证书制度试点工作的通知",
])
def test_not_a_doc_number(raw: str) -> None:
    assert normalize_doc_number(raw) is None


# --- find_doc_numbers -------------------------------------------------------------------------

def _found(text: str) -> list[tuple[str, str]]:
    return [(text[start:end], canon) for start, end, canon in find_doc_numbers(text)]


def test_find_in_questions() -> None:
    assert find_doc_numbers("教职成[2019]6号讲了什么？") == [(0, 11, "教职成〔2019〕6号")]
    assert find_doc_numbers("教职成〔2019〕6号文件") == [(0, 11, "教职成〔2019〕6号")]
    assert find_doc_numbers("请问教职成〔2019〕6号和国发〔2019〕4号有什么区别") == [
        (2, 13, "教职成〔2019〕6号"), (14, 24, "国发〔2019〕4号")]


@pytest.mark.parametrize("text, expected", [
    ("教育部印发了教职成〔2019〕6号", [("教职成〔2019〕6号", "教职成〔2019〕6号")]),
    ("根据国发〔2019〕4号精神", [("国发〔2019〕4号", "国发〔2019〕4号")]),
    ("按照人社部发〔2019〕129号的要求", [("人社部发〔2019〕129号", "人社部发〔2019〕129号")]),
    ("依据财教（2019）258号及发改社会〔2019〕1558号",
     [("财教（2019）258号", "财教〔2019〕258号"), ("发改社会〔2019〕1558号", "发改社会〔2019〕1558号")]),
    ("按洪新冠指交发〔2020〕15号文件精神审批", [("洪新冠指交发〔2020〕15号", "洪新冠指交发〔2020〕15号")]),
    ("北京市教育委员会京教职成〔2020〕3号", [("京教职成〔2020〕3号", "京教职成〔2020〕3号")]),
    ("天津市卫健委津卫医政【2020】100号", [("津卫医政【2020】100号", "津卫医政〔2020〕100号")]),
    ("《通知》（教\n\n职成〔2020〕1号），确定了", [("教\n\n职成〔2020〕1号", "教职成〔2020〕1号")]),
    ("2004年3月5日 中华人民共和国国务院令第399号公布",
     [("中华人民共和国国务院令第399号", "国务院令第399号")]),
    ("的公告 财政部 税务总局公告2020年第8号 为进一步",
     [("财政部 税务总局公告2020年第8号", "财政部税务总局公告2020年第8号")]),
    ("在（2019）年，电话（0632）3456789，1+X证书，第十二条", []),
    ("教职成〔2019〕6条", []),
    ("依照本令第3条规定执行，违反命令第2款的", []),
    ("（国务院令第741）", [("国务院令第741", "国务院令第741号")]),
])
def test_find_in_sentences(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


# --- titles and references --------------------------------------------------------------------

def test_normalize_title_ignores_quotes_spaces_and_punctuation() -> None:
    key = normalize_title("关于做好1+X证书制度试点工作的通知")
    assert normalize_title("《关于做好 1+X 证书制度试点工作的通知》") == key
    assert normalize_title("“关于做好１＋Ｘ证书制度试点工作的通知”") == key
    assert normalize_title("关于印发〈国家职业教育改革实施方案〉的通知") == \
        normalize_title("关于印发《国家职业教育改革实施方案》的通知")


PAPER = (
    " 1+X 证书制度试点工作的现状与思考\n\n闫玉\n\n枣庄职业学院 山东 枣庄 277800\n\n"
    "[摘 要]2019年 11月，教育部等五部门联合印发《关于在院校实施“学历证书+若干职业技能等级证\n\n"
    "书”制度试点方案》（教职成〔2019〕10号）（以下简称《试点方案》），启动了 1+X证书制度试点工\n\n"
    "作。\n 一、证书试点情况\n\n2020年 1月，教育部联合财政部、国家\n\n发展改革委发布《关于公布首批产教融合型\n\n"
    "企业和产教融合建设试点单位的通知》（教\n\n职成〔2020〕1号），同时印发\n\n《关于做好 1+X证书制度试点工作的通\n\n"
    "知》（教职成厅〔2020〕2号），确定了实施方案。《试\n\n点方案》提出，见《中国职业技术教育》杂志。"
    "依据教职成〔2019〕10号和《中华人民共和国职业教育法》开展试点。\n"
)


def test_references_from_a_paper_paragraph() -> None:
    assert extract_references(PAPER) == (
        Reference("关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案", "教职成〔2019〕10号"),
        Reference("关于公布首批产教融合型企业和产教融合建设试点单位的通知", "教职成〔2020〕1号"),
        Reference("关于做好1+X证书制度试点工作的通知", "教职成厅〔2020〕2号"),
        Reference("中华人民共和国职业教育法", ""),
    )


def test_references_fill_in_the_missing_half() -> None:
    text = "按照国发〔2019〕4号要求，落实《国家职业教育改革实施方案》（国发〔2019〕4号）。"
    assert extract_references(text) == (Reference("国家职业教育改革实施方案", "国发〔2019〕4号"),)


# --- dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, iso", [
    ("2019年4月4日", "2019-04-04"),
    ("2020 年 2 月 29 日", "2020-02-29"),
    ("２０１９年１２月３１日", "2019-12-31"),
    ("二〇一九年四月四日", "2019-04-04"),
    ("二○一九年十二月三十一日", "2019-12-31"),
    ("二〇二〇年二月二十九日", "2020-02-29"),
    ("二〇二一年十月十日", "2021-10-10"),
    ("2019年2月30日", None),
    ("2月17日", None),
])
def test_parse_date(raw: str, iso: str | None) -> None:
    assert parse_date(raw) == iso


# --- extract_metadata -------------------------------------------------------------------------

NOTICE = """教育部办公厅文件

教职成厅函〔2020〕2号

关于做好2020年职业院校
招生工作的通知

各省、自治区、直辖市教育厅（教委）：
根据《国家职业教育改革实施方案》（国发〔2019〕4号）和《关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案》（教职成〔2019〕6号），现将有关事项通知如下。
一、严格执行教职成〔2019〕6号文件要求，做好招生工作。

附件：招生计划表

教育部办公厅
2020年3月2日
"""


def test_notice_with_letterhead() -> None:
    meta = extract_metadata(_doc(NOTICE))
    assert meta.title == "关于做好2020年职业院校招生工作的通知"
    assert meta.doc_number == "教职成厅函〔2020〕2号"
    assert meta.issuer == "教育部办公厅"
    assert meta.date == "2020-03-02"
    assert meta.dates == (("成文", "2020-03-02"),)
    assert meta.references == (
        Reference("国家职业教育改革实施方案", "国发〔2019〕4号"),
        Reference("关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案", "教职成〔2019〕6号"),
    )


JOINT = """关于印发《职业学校校企合作促进办法》的通知
教职成〔2018〕1号

各省、自治区、直辖市教育厅（教委）：
现将《职业学校校企合作促进办法》印发给你们，请遵照执行。本办法自2018年3月1日起施行。

教育部 国家发展改革委 工业和信息化部 财政部
人力资源社会保障部 国家税务总局
二〇一八年二月五日
"""


def test_joint_notice_signature_and_chinese_date() -> None:
    meta = extract_metadata(_doc(JOINT))
    assert meta.title == "关于印发《职业学校校企合作促进办法》的通知"
    assert meta.doc_number == "教职成〔2018〕1号"
    assert meta.issuer == "教育部 国家发展改革委 工业和信息化部 财政部 人力资源社会保障部 国家税务总局"
    assert meta.date == "2018-02-05"
    assert meta.dates == (("施行", "2018-03-01"), ("成文", "2018-02-05"))
    assert meta.references == (Reference("职业学校校企合作促进办法", ""),)


def test_issuer_from_doc_number_when_nothing_else() -> None:
    meta = extract_metadata(_doc("国办发〔2019〕24号\n关于印发职业技能提升行动方案的通知\n各省人民政府："))
    assert (meta.doc_number, meta.issuer) == ("国办发〔2019〕24号", "国务院办公厅")
    meta = extract_metadata(_doc("关于做好试点工作的通知（教职成厅函〔2019〕19号）\n各省："))
    assert (meta.doc_number, meta.issuer) == ("教职成厅函〔2019〕19号", "教育部办公厅")


SCRAPED = (
    "湖南省医疗保障局 国家税务总局湖南省税务局 湖南省财政厅 关于城乡居民基本医疗保险费征收有关事项的通知 "
    "各市州、县市区医疗保障局，国家税务总局湖南省各市州、县市区税务局，各市州、县市区财政局： "
    "为确保广大缴费人的健康安全，现将有关事项通知如下： 一、延长集中缴费期。"
    "集中缴费截止日期由 2020 年 2 月 29 日统一延长至 2020 年 3 月 31 日。 "
    "湖南省医疗保障局 国家税务总局湖南省税务局 湖南省财政厅 2020年2月12日"
)


def test_scraped_one_line_notice() -> None:
    meta = extract_metadata(_doc(SCRAPED))
    assert meta.title == "关于城乡居民基本医疗保险费征收有关事项的通知"
    assert meta.doc_number == ""
    assert meta.issuer == "湖南省医疗保障局 国家税务总局湖南省税务局 湖南省财政厅"
    assert meta.date == "2020-02-12"


LAW = """# 中华人民共和国职业教育法

1996年5月15日 第八届全国人民代表大会常务委员会第十九次会议通过

2022年4月20日 第十三届全国人民代表大会常务委员会第三十四次会议修订）

<!-- INFO END -->

## 第一章 总 则

第一条 为了推动职业教育高质量发展，根据宪法，制定本法。

第六十九条 本法自2022年5月1日起施行。
"""


def test_law_header() -> None:
    meta = extract_metadata(_doc(LAW))
    assert meta.title == "中华人民共和国职业教育法"
    assert meta.doc_number == ""
    assert meta.issuer == "全国人民代表大会常务委员会"
    assert meta.date == "2022-04-20"
    assert meta.dates == (("通过", "1996-05-15"), ("修订", "2022-04-20"), ("施行", "2022-05-01"))


def test_regulation_with_state_council_orders() -> None:
    text = (
        "# 中华人民共和国民办教育促进法实施条例\n\n2004年3月5日 中华人民共和国国务院令第399号公布\n\n"
        "2021年4月7日 中华人民共和国国务院令第741号修订）\n\n<!-- INFO END -->\n\n第一条 根据法律制定本条例。\n"
    )
    meta = extract_metadata(_doc(text))
    assert meta.doc_number == "国务院令第741号"
    assert meta.issuer == "国务院"
    assert meta.dates == (("发布", "2004-03-05"), ("修订", "2021-04-07"))
    assert meta.date == "2021-04-07"


def test_paper_has_no_own_number() -> None:
    meta = extract_metadata(_doc(PAPER, title_hint="000_e98d5ceef7499449"))
    assert meta.title == "1+X证书制度试点工作的现状与思考"
    assert meta.doc_number == ""
    assert meta.date == ""
    assert len(meta.references) == 4


def test_meaningful_title_hint_wins() -> None:
    meta = extract_metadata(_doc(NOTICE, title_hint="关于做好2020年职业院校招生工作的通知"))
    assert meta.title == "关于做好2020年职业院校招生工作的通知"
    meta = extract_metadata(_doc("第一条 本办法适用于全省。", title_hint="scan_0001.pdf"))
    assert meta.title == "第一条本办法适用于全省"  # spaces between CJK are PDF artefacts


def test_untitled_text_gets_a_short_first_sentence() -> None:
    text = "近日，市商务局联合中国银行天津市分行面向我市医药制造、生物研发、外贸进出口、商贸物流、生活物资保障等疫情防控重点企业推出专属金融服务。后文。"
    meta = extract_metadata(_doc(text))
    # 60 characters, not a news headline's 30: the title is part of every chunk's indexed text, and
    # cutting these at 30 cost ncp dev hybrid MRR@10 0.876 -> 0.870 (bench/ncp.py --rebuild)
    assert meta.title == text[:60] + "…"


@pytest.mark.parametrize("text, title", [
    # a time stamp, 正文： and a 【…消息】 tag before the first words
    ("2023-08-17 09:12，正文：【大河财立方消息】8月17日消息，河南省发展改革委等6部门日前公布首批产教融合型城市建设试点名单。",
     "8月17日消息，河南省发展改革委等6部门日前公布首批产教融合…"),
    # no stamp, a leading comma and a photo caption
    ("，正文：两岸青年职业教育融合发展研讨会（图片来源：山西省台办）中国台湾网8月9日讯 近日，研讨会在晋中举办。",
     "两岸青年职业教育融合发展研讨会（图片来源：山西省台办）中国台…"),
    # a dateline with the reporter, then the first sentence
    ("7-18 12:22，正文：中新网重庆7月18日电 (记者 钟旖)为畅通技能人才职业发展通道，重庆出台新政。",
     "为畅通技能人才职业发展通道，重庆出台新政"),
    # the item's own 原标题, cut where the byline starts
    ("2023-08-15 08:53，正文：原标题：山西中等职业教育免学费全覆盖本报讯（记者 赵岩）近日，山西省财政厅会同山西省教育厅印发通知。",
     "山西中等职业教育免学费全覆盖"),
])
def test_news_items_are_titled_by_their_headline(text, title) -> None:
    meta = extract_metadata(_doc(text))
    assert meta.title == title


# --- real corpus ------------------------------------------------------------------------------

LAW_DIR = SHARED / "corpus" / "vocational-law"


@pytest.mark.skipif(not LAW_DIR.is_dir(), reason=f"shared law corpus not found at {LAW_DIR}")
def test_vocational_education_law_2022() -> None:
    path = LAW_DIR / "职业教育法(2022-04-20).md"
    meta = extract_metadata(_doc(path.read_text(encoding="utf-8")))
    assert meta.title == "中华人民共和国职业教育法"
    assert ("通过", "1996-05-15") in meta.dates
    assert ("修订", "2022-04-20") in meta.dates
    assert meta.date == "2022-04-20"
    assert meta.issuer == "全国人民代表大会常务委员会"


def test_issuer_from_the_dated_line_under_the_title() -> None:
    doc = Document(doc_id="m", source="m.txt", format="txt",
                   text="示例市职业教育促进办法\n示政发〔2021〕21号\n（2021年7月15日示例市人民政府印发）\n"
                        "第一条 为了促进职业教育发展，制定本办法。\n第二条 本办法自2021年9月1日起施行。")
    meta = extract_metadata(doc)
    assert (meta.issuer, meta.date, meta.doc_number) == ("示例市人民政府", "2021-07-15", "示政发〔2021〕21号")


def test_date_of_a_repealed_document_is_not_this_documents_event() -> None:
    doc = Document(doc_id="m", source="m.txt", format="txt",
                   text="示例市职业教育促进办法\n示政发〔2021〕21号\n（2021年7月15日示例市人民政府印发）\n"
                        "第一条 为了促进职业教育发展，制定本办法。\n"
                        "第二条 本办法自2021年9月1日起施行。2018年3月20日印发的《示例市职业教育促进办法》同时废止。")
    assert extract_metadata(doc).dates == (("印发", "2021-07-15"), ("施行", "2021-09-01"))
