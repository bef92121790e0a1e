"""Tests for kb.segment: structure-aware chunking of laws, notices and prose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kb.segment import cn_to_int, segment
from kb.types import Chunk, Document, PageSpan

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LAWS = SHARED / "corpus" / "vocational-law"
needs_shared = pytest.mark.skipif(not LAWS.is_dir(), reason=f"shared corpus not found at {SHARED}")

BANFA = """某市职业培训管理办法

第一章 总 则

第一条 为了规范职业培训，制定本办法。

第二条 本办法适用于本市。

本市各级人民政府应当支持职业培训。

## 第二章  培训机构

第三条 培训机构应当具备下列条件：
（一）有固定场所；
（二）有合格教师。

第四条 违反本办法第三条规定的，依照第五条处理。
第五条规定的情形除外。

第五条 本办法自2024年1月1日起施行。
"""

NOTICE = """关于做好职业培训工作的通知

各区教育局：
现将有关事项通知如下。

一、总体要求
（一）指导思想。坚持以人民为中心，推动职业培训高质量发展。
（二）工作目标。到2025年，培训补贴覆盖全部重点人群。
二、重点任务
（一）扩大培训规模
1.开展岗前培训。企业新录用人员普遍参加岗前培训。
2.开展在岗培训。支持企业开展在岗职工技能提升培训。
（二）提升培训质量。完善培训标准。
三、保障措施
各区要加强组织领导，落实经费保障。
"""

ONE_LINE_NOTICE = (
    "关于支持企业复工的通知 各有关单位：为支持企业复工复产，现就有关事项通知如下： "
    "一、金融支持 1．加大贷款投放。各银行要加大对中小企业的贷款投放力度，不得抽贷断贷。 "
    "2．降低融资成本。鼓励银行下调贷款利率，减免相关服务费用。 "
    "二、稳岗支持 3．返还失业保险费。对不裁员的企业返还上年度失业保险费的百分之五十。 特此通知。"
)


def doc(text: str, doc_id: str = "d", pages: tuple[PageSpan, ...] = ()) -> Document:
    return Document(doc_id=doc_id, source=f"{doc_id}.txt", text=text, format="txt", pages=pages)


def view(chunks: list[Chunk]) -> list[tuple[tuple[str, ...], str]]:
    return [(c.path, c.text) for c in chunks]


def assert_well_formed(d: Document, chunks: list[Chunk], max_chars: int = 600) -> None:
    """Offsets reproduce the text, spans are stripped, ordered, disjoint and under the cap."""
    assert [c.chunk_id for c in chunks] == [f"{d.doc_id}#{i}" for i in range(len(chunks))]
    previous_end = 0
    for c in chunks:
        assert c.text == d.text[c.start:c.end]
        assert c.text and c.text == c.text.strip()
        assert c.start >= previous_end
        assert len(c.text) <= max_chars
        assert (c.doc_id, c.source) == (d.doc_id, d.source)
        previous_end = c.end


def clean_markdown(text: str) -> str:
    """What ingest will do to the shared law files: drop the header comment and '#' marks."""
    text = re.sub(r"^<!--.*?-->[ \t]*$", "", text, flags=re.M)
    return re.sub(r"^#+[ \t]*", "", text, flags=re.M)


def join_pdf_lines(text: str) -> str:
    """Undo the seed paper's PDF line breaks: a line continues the last one unless a sentence ended."""
    marker = re.compile(r"[一二三四五六七八九十]+、|\d{1,2}[.、]")
    paragraphs: list[str] = []
    for line in (raw.strip() for raw in text.split("\n")):
        if not line:
            continue
        last = paragraphs[-1] if paragraphs else ""
        if last and len(last) > 12 and not marker.match(line) and not marker.match(last[:4]) \
                and not re.search(r"[。！？：]$", last):
            paragraphs[-1] += line
        else:
            paragraphs.append(line)
    return "\n".join(paragraphs)


# --- numerals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十四", 24), ("一百零三", 103),
    ("一百一十", 110), ("两", 2), ("两千零五", 2005), ("二〇二〇", 2020), ("12", 12), ("一万零一", 10001),
])
def test_cn_to_int(text: str, value: int) -> None:
    assert cn_to_int(text) == value


@pytest.mark.parametrize("text", ["", "第一", "十a"])
def test_cn_to_int_rejects_non_numerals(text: str) -> None:
    with pytest.raises(ValueError):
        cn_to_int(text)


# --- laws ----------------------------------------------------------------------------------------


def test_banfa_articles_under_chapters() -> None:
    chunks = segment(doc(BANFA, "banfa"))
    assert view(chunks) == [
        ((), "某市职业培训管理办法"),
        (("第一章 总则", "第一条"), "第一条 为了规范职业培训，制定本办法。"),
        (("第一章 总则", "第二条"), "第二条 本办法适用于本市。\n\n本市各级人民政府应当支持职业培训。"),
        (("第二章 培训机构", "第三条"), "第三条 培训机构应当具备下列条件：\n（一）有固定场所；\n（二）有合格教师。"),
        (("第二章 培训机构", "第四条"), "第四条 违反本办法第三条规定的，依照第五条处理。\n第五条规定的情形除外。"),
        (("第二章 培训机构", "第五条"), "第五条 本办法自2024年1月1日起施行。"),
    ]
    assert chunks[1].chunk_id == "banfa#1" and chunks[1].label == "第一条"
    assert chunks[1].path_str == "第一章 总则 > 第一条"
    assert_well_formed(doc(BANFA, "banfa"), chunks)


def test_out_of_sequence_article_is_body_text() -> None:
    text = "第八条 甲。\n第九条 乙应当办理。\n第五条 所列情形除外。\n第十条规定的期限内\n第十条 丙。\n第十条之一 丁。"
    assert [(c.label, c.text) for c in segment(doc(text))] == [
        ("第八条", "第八条 甲。"),
        ("第九条", "第九条 乙应当办理。\n第五条 所列情形除外。\n第十条规定的期限内"),
        ("第十条", "第十条 丙。"),
        ("第十条之一", "第十条之一 丁。"),
    ]


def test_arabic_article_numbers_and_articles_running_through_chapters() -> None:
    text = "第一章 总则\n第1条 甲。\n第2条 乙。\n第二章 附则\n第3条 丙。"
    assert [c.path for c in segment(doc(text))] == [
        ("第一章 总则", "第1条"), ("第一章 总则", "第2条"), ("第二章 附则", "第3条"),
    ]


def test_long_article_is_split_at_clauses_and_keeps_its_path() -> None:
    text = ("第一章 总则\n第一条 首款内容很长很长很长很长很长。\n第二款内容也很长很长很长很长。\n"
            "第三款内容同样很长很长很长很长。\n第二条 短。")
    chunks = segment(doc(text), max_chars=40, min_chars=5)
    assert view(chunks) == [
        (("第一章 总则", "第一条"), "第一条 首款内容很长很长很长很长很长。"),
        (("第一章 总则", "第一条"), "第二款内容也很长很长很长很长。\n第三款内容同样很长很长很长很长。"),
        (("第一章 总则", "第二条"), "第二条 短。"),
    ]


def test_long_paragraph_is_split_at_sentences() -> None:
    sentence = "各单位应当按规定执行。"  # 11 characters
    text = "第一条 " + sentence * 5
    chunks = segment(doc(text), max_chars=25, min_chars=5)
    assert [c.text for c in chunks] == ["第一条 " + sentence, sentence * 2, sentence * 2]
    assert {c.path for c in chunks} == {("第一条",)}


def test_list_markers_inside_an_article_stay_in_it() -> None:
    text = "第一条 下列事项：\n一、甲事项；\n二、乙事项。\n第二条 其他。"
    assert [c.label for c in segment(doc(text))] == ["第一条", "第二条"]


# --- notices -------------------------------------------------------------------------------------


def test_notice_levels_carry_headings_and_merge_small_siblings() -> None:
    chunks = segment(doc(NOTICE, "notice"))
    assert view(chunks) == [
        ((), "关于做好职业培训工作的通知\n\n各区教育局：\n现将有关事项通知如下。"),
        (("一、总体要求", "（一）指导思想 — （二）工作目标"),
         "一、总体要求\n（一）指导思想。坚持以人民为中心，推动职业培训高质量发展。\n"
         "（二）工作目标。到2025年，培训补贴覆盖全部重点人群。"),
        (("二、重点任务", "（一）扩大培训规模", "1.开展岗前培训 — 2.开展在岗培训"),
         "二、重点任务\n（一）扩大培训规模\n1.开展岗前培训。企业新录用人员普遍参加岗前培训。\n"
         "2.开展在岗培训。支持企业开展在岗职工技能提升培训。"),
        (("二、重点任务", "（二）提升培训质量"), "（二）提升培训质量。完善培训标准。"),
        (("三、保障措施",), "三、保障措施\n各区要加强组织领导，落实经费保障。"),
    ]


def test_notice_sections_stay_apart_when_not_small() -> None:
    chunks = segment(doc(NOTICE, "notice"), min_chars=10)
    assert [c.path for c in chunks] == [
        (),
        ("一、总体要求", "（一）指导思想"),
        ("一、总体要求", "（二）工作目标"),
        ("二、重点任务", "（一）扩大培训规模", "1.开展岗前培训"),
        ("二、重点任务", "（一）扩大培训规模", "2.开展在岗培训"),
        ("二、重点任务", "（二）提升培训质量"),
        ("三、保障措施",),
    ]


def test_range_label_names_first_and_last_and_shortens_to_numbering() -> None:
    from kb.segment import range_label

    assert range_label("（一）指导思想", "（二）工作目标") == "（一）指导思想 — （二）工作目标"
    assert range_label("（一）指导思想 — （二）工作目标", "（三）基本原则") == "（一）指导思想 — （三）基本原则"
    long_first, long_last = "（一）明确职业技能等级证书的性质与定位", "（三）推进书证融通与学分互认"
    assert range_label(long_first, long_last) == "（一） — （三）"
    assert range_label("一、指导思想和基本原则要求", "二、主要目标与具体任务安排说明") == "一、 — 二、"


def test_merging_stops_at_the_cap() -> None:
    text = "一、甲\n甲的正文。\n二、乙\n乙的正文。\n三、丙\n丙的正文。"
    assert [c.text for c in segment(doc(text), max_chars=20, min_chars=15)] == [
        "一、甲\n甲的正文。\n二、乙\n乙的正文。", "三、丙\n丙的正文。",
    ]


def test_one_line_notice_finds_inline_headings() -> None:
    chunks = segment(doc(ONE_LINE_NOTICE), min_chars=10)
    assert view(chunks) == [
        ((), "关于支持企业复工的通知 各有关单位：为支持企业复工复产，现就有关事项通知如下："),
        (("一、金融支持", "1．加大贷款投放"), "一、金融支持 1．加大贷款投放。各银行要加大对中小企业的贷款投放力度，不得抽贷断贷。"),
        (("一、金融支持", "2．降低融资成本"), "2．降低融资成本。鼓励银行下调贷款利率，减免相关服务费用。"),
        (("二、稳岗支持", "3．返还失业保险费"),
         "二、稳岗支持 3．返还失业保险费。对不裁员的企业返还上年度失业保险费的百分之五十。 特此通知。"),
    ]


def test_false_list_headings_are_body_text() -> None:
    text = ("一、总体要求\n2019. 年度数据如下。\n1.5倍以上的按规定处理。\n三、越级编号不是标题。\n"
            "一、二级医院均应执行。\n二、工作任务\n全面落实。")
    assert view(segment(doc(text), min_chars=1)) == [
        (("一、总体要求",), "一、总体要求\n2019. 年度数据如下。\n1.5倍以上的按规定处理。\n三、越级编号不是标题。\n"
                           "一、二级医院均应执行。"),
        (("二、工作任务",), "二、工作任务\n全面落实。"),
    ]


def test_long_heading_label_is_capped_at_a_comma() -> None:
    text = "一、认真落实税收优惠政策，助力疫情防控和企业复产扩能，推动经济社会平稳健康发展。各地要抓好落实。"
    assert segment(doc(text))[0].path == ("一、认真落实税收优惠政策，助力疫情防控和企业复产扩能",)


def test_markdown_headings_and_annex() -> None:
    text = "# 工作方案\n\n## 背景\n\n近年来需求增长。\n\n## 做法\n\n加强培训。\n\n附件1：名单\n\n张三"
    assert view(segment(doc(text), min_chars=1)) == [
        ((), "# 工作方案"),
        (("背景",), "## 背景\n\n近年来需求增长。"),
        (("做法",), "## 做法\n\n加强培训。"),
        (("附件1 名单",), "附件1：名单\n\n张三"),
    ]


# --- prose, offsets, pages -------------------------------------------------------------------------


def test_prose_paragraphs_are_packed_under_the_cap() -> None:
    paragraphs = ["第一段讲背景情况。", "第二段讲主要做法。", "第三段讲取得成效。", "第四段讲下步打算。"]
    chunks = segment(doc("\n\n".join(paragraphs)), max_chars=25, min_chars=5)
    assert view(chunks) == [((), "第一段讲背景情况。\n\n第二段讲主要做法。"), ((), "第三段讲取得成效。\n\n第四段讲下步打算。")]


def test_prose_sentence_fallback_keeps_closing_quotes() -> None:
    text = "他说：“要抓紧落实。”各地积极响应！进展如何？仍需努力；继续推进。"
    assert [c.text for c in segment(doc(text), max_chars=12, min_chars=1)] == [
        "他说：“要抓紧落实。”", "各地积极响应！进展如何？", "仍需努力；继续推进。",
    ]


def test_offsets_survive_odd_whitespace() -> None:
    text = "\ufeff  标题 \r\n\r\n\u3000\u3000第一章　总　则\r\n\u3000\u3000第一条　甲。\r\n\r\n  第二条\t乙。  \n\n"
    d = doc(text)
    chunks = segment(d)
    assert [c.path for c in chunks] == [(), ("第一章 总则", "第一条"), ("第一章 总则", "第二条")]
    assert [c.text for c in chunks][1:] == ["第一条　甲。", "第二条\t乙。"]
    assert_well_formed(d, chunks)


def test_empty_document_has_no_chunks() -> None:
    assert segment(doc(" \n\n ")) == []


def test_pages_come_from_page_spans() -> None:
    text = "第一条 甲。\n第二条 乙跨页的内容。\n第三条 丙。"
    pages = (PageSpan(0, 14, 1), PageSpan(14, len(text), 2))
    chunks = segment(doc(text, pages=pages))
    assert [(c.label, c.pages) for c in chunks] == [("第一条", (1,)), ("第二条", (1, 2)), ("第三条", (2,))]


# --- the shared corpus ----------------------------------------------------------------------------


def law(name: str) -> Document:
    text = clean_markdown((LAWS / name).read_text("utf-8"))
    return Document(doc_id=name, source=name, text=text, format="md")


@needs_shared
def test_vocational_education_law_has_every_article_once() -> None:
    chunks = segment(law("职业教育法(2022-04-20).md"))
    articles = [c for c in chunks if c.label.endswith("条")]
    assert [cn_to_int(c.label[1:-1]) for c in articles] == list(range(1, 70))
    assert articles[23].path == ("第三章 职业教育的实施", "第二十四条")
    assert articles[23].text.startswith("第二十四条 ")
    assert list(dict.fromkeys(c.path[0] for c in articles)) == [
        "第一章 总则", "第二章 职业教育体系", "第三章 职业教育的实施", "第四章 职业学校和职业培训机构",
        "第五章 职业教育的教师与受教育者", "第六章 职业教育的保障", "第七章 法律责任", "第八章 附则",
    ]
    assert [c.path for c in chunks if not c.label.endswith("条")] == [()]


@needs_shared
@pytest.mark.parametrize("name", sorted(p.name for p in LAWS.glob("*.md")) if LAWS.is_dir() else [])
def test_every_law_keeps_its_articles(name: str) -> None:
    d = law(name)
    chunks = segment(d)
    assert_well_formed(d, chunks)
    expected = re.findall(r"^第[一二三四五六七八九十百零]+条", d.text, flags=re.M)
    labels = list(dict.fromkeys(c.label for c in chunks if c.label.endswith("条")))
    assert labels == expected


@needs_shared
def test_seed_paper_sections() -> None:
    path = next((SHARED / "corpus" / "seed").glob("*.txt"))
    d = Document(doc_id="seed", source=path.name, text=join_pdf_lines(path.read_text("utf-8")), format="txt")
    chunks = segment(d)
    assert_well_formed(d, chunks)
    tops = list(dict.fromkeys(c.path[0] for c in chunks if c.path))
    assert tops == ["一、证书试点情况", "二、试点工作取得的主要成效", "三、存在的主要问题", "四、相关思考和建议", "五、结语"]
    under_three = [c.path[1][:2] for c in chunks if c.path[:1] == ("三、存在的主要问题",)]
    assert under_three == ["1.", "2.", "3."]  # the inline "1.部分院校…；2.部…" enumeration is no heading


@needs_shared
def test_ncp_notices_are_well_formed() -> None:
    lines = (SHARED / "eval" / "ncp" / "corpus.jsonl").read_text("utf-8").splitlines()
    for line in lines[::10]:
        row = json.loads(line)
        d = Document(doc_id=row["doc_id"], source="corpus.jsonl", text=row["text"], format="jsonl")
        assert_well_formed(d, segment(d))
