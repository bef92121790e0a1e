"""Tests for kb.ingest: every format, every encoding, the PDF cleanup, and the real hard PDFs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb.errors import IngestError
from kb.config import BuildSettings
from kb.ingest import LOADERS, SUPPORTED_SUFFIXES, UPLOAD_SUFFIXES, find_files, garbled_share, read_file
from kb.pipeline import build_index, open_retriever
from kb.types import Document, Failure

SHARED_PDFS = Path(__file__).resolve().parents[1].parent / "shared" / "pdfs"

ARTICLE_1 = "第一条　为了规范本市职业教育管理工作，根据有关法律法规，结合本市实际情况，制定本办法。"
ARTICLE_2 = "第二条　本办法适用于本市行政区域内的各类职业学校和职业培训机构。"
ARTICLE_3 = "第三条　市教育行政部门负责全市职业教育工作的统筹规划、综合协调和宏观管理。"


def documents_of(path: Path, root: Path, **kwargs) -> list[Document]:
    """The documents of a file that has no part to skip (every format but JSONL)."""
    docs, skipped = read_file(path, root, **kwargs)
    assert skipped == []
    return docs


def load_one(path: Path, **kwargs) -> Document:
    docs = documents_of(path, path.parent, **kwargs)
    assert len(docs) == 1
    return docs[0]


def reason_of(path: Path, **kwargs) -> str:
    with pytest.raises(IngestError) as caught:
        read_file(path, path.parent, **kwargs)
    assert caught.value.path == path.name
    return caught.value.reason


# --- plain text, encodings and cleanup ---------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le"])
def test_txt_encodings_give_the_same_text(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "notice.txt"
    path.write_bytes(f"关于印发〔2019〕6号文件的通知\r\n{ARTICLE_1}\r\n".encode(codec))
    doc = load_one(path)
    assert doc.text == "关于印发〔2019〕6号文件的通知\n第一条 为了规范本市职业教育管理工作，根据有关法律法规，结合本市实际情况，制定本办法。"
    assert (doc.doc_id, doc.source, doc.format, doc.pages) == ("notice.txt", "notice.txt", "txt", ())


def test_undecodable_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello \xff\xfe\xff world \x80\xff")
    assert reason_of(path) == "undecodable text (not UTF-8, UTF-16 or GB18030)"


def test_text_cleanup_keeps_structure_and_brackets(tmp_path: Path) -> None:
    raw = (
        "\ufeff　　第一章　总　　则  \n\n\n\n"
        "　　第一条\u3000依据教职成〔2019〕6号文件，制\u200b定本办法。\t \r\n"
        "（一） 坚持  党的 领导；\n"
        "⼀、Kangxi radical one\n"
    )
    path = tmp_path / "law.txt"
    path.write_text(raw, encoding="utf-8")
    assert load_one(path).text == (
        "第一章 总则\n\n第一条 依据教职成〔2019〕6号文件，制定本办法。\n（一）坚持党的领导；\n一、Kangxi radical one"
    )


def test_markdown_headings_comments_and_emphasis(tmp_path: Path) -> None:
    path = tmp_path / "law.md"
    path.write_text(
        "<!-- INFO START\nsource: somewhere\nINFO END -->\n"
        "# 中华人民共和国职业教育法\n\n"
        "## 第一章　总　　则\n"
        "**第一条**　为了推动职业教育 *高质量* 发展，参见[全文](http://x.cn)。\n"
        "---\n"
        "> 引用一段`代码`\n",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert doc.format == "md"
    assert doc.title_hint == "中华人民共和国职业教育法"
    assert doc.text == (
        "# 中华人民共和国职业教育法\n\n## 第一章 总则\n"
        "第一条 为了推动职业教育高质量发展，参见全文。\n\n引用一段代码"
    )


# --- HTML --------------------------------------------------------------------------------


def test_html_drops_scripts_and_keeps_blocks_and_tables(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><meta charset="gbk"><title>关于加强管理的通知</title>
    <style>.x{color:red}</style><script>var secret = "脚本内容";</script></head>
    <body><nav>首页 &gt; 政策</nav><h1>关于加强管理的通知</h1>
    <div class="c"><p>各有关单位：</p><p>一、总体要求<br>坚持&lt;稳中求进&gt;&amp;改革。</p>
    <!-- 注释不要 -->
    <table><tr><th>项目</th><th>金额</th></tr><tr><td>培训</td><td colspan="2">100 万元</td></tr></table>
    <noscript>请启用脚本</noscript><ul><li>（一）第一项</li><li>（二）第二项</li></ul></div></body></html>"""
    path = tmp_path / "notice.html"
    path.write_bytes(html.encode("gbk"))
    doc = load_one(path)
    assert doc.title_hint == "关于加强管理的通知"
    assert doc.format == "html"
    assert doc.text == (
        "关于加强管理的通知\n各有关单位：\n一、总体要求\n坚持<稳中求进>&改革。\n"
        "项目 | 金额\n培训 | 100 万元\n（一）第一项\n（二）第二项"
    )


def test_html_title_falls_back_to_h1_and_utf8(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text("<html><body><h1>办法全文</h1><p>正文。</p></body></html>", encoding="utf-8")
    doc = load_one(path)
    assert (doc.title_hint, doc.text, doc.format) == ("办法全文", "办法全文\n正文。", "html")


# --- DOCX --------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_document_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("职业教育管理办法", style="Title")
    document.add_paragraph("第一章　总则")
    document.add_paragraph(ARTICLE_1)
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["类别", "人数", "备注"]):
        cell.text = text
    merged = table.cell(1, 0).merge(table.cell(1, 1))
    merged.text = "合计"
    table.cell(1, 2).text = "无"
    document.add_paragraph(ARTICLE_2)
    path = tmp_path / "办法.docx"
    document.save(path)
    doc = load_one(path)
    assert doc.title_hint == "职业教育管理办法"
    assert doc.format == "docx"
    assert doc.text.split("\n") == [
        "职业教育管理办法",
        "第一章 总则",
        ARTICLE_1.replace("　", " "),
        "类别 | 人数 | 备注",
        "合计 | 无",
        ARTICLE_2.replace("　", " "),
    ]


def test_docx_core_title_wins_and_corrupt_docx_is_rejected(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "核心属性标题"
    document.add_paragraph("正文。")
    good = tmp_path / "good.docx"
    document.save(good)
    assert load_one(good).title_hint == "核心属性标题"

    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"this is not a zip file at all")
    assert reason_of(bad).startswith("corrupt DOCX")


# --- JSONL -------------------------------------------------------------------------------


def write_jsonl(path: Path) -> None:
    lines = [
        json.dumps({"doc_id": "a", "title": "甲", "text": "甲的正文。", "year": 2019}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": 7, "text": "七的正文。", "tags": ["x"]}, ensure_ascii=False),
        json.dumps({"doc_id": "b", "text": "   "}),
        json.dumps({"title": "无编号", "text": "正文"}, ensure_ascii=False),
        "",
        json.dumps({"doc_id": "a", "text": "重复。"}, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_jsonl_documents_and_line_failures(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    write_jsonl(path)
    docs, failures = read_file(path, tmp_path)
    assert [(d.doc_id, d.title_hint, d.text, d.extra, d.source, d.format) for d in docs] == [
        ("a", "甲", "甲的正文。", {"year": 2019}, "docs.jsonl", "jsonl"),
        ("7", "", "七的正文。", {"tags": ["x"]}, "docs.jsonl", "jsonl"),
    ]
    assert failures == [
        Failure("docs.jsonl:2", "not valid JSON (Expecting property name enclosed in double quotes)"),
        Failure("docs.jsonl:4", "no text"),
        Failure("docs.jsonl:5", "no doc_id or id"),
        Failure("docs.jsonl:7", "duplicate id 'a' (first on line 1)"),
    ]


def test_jsonl_with_no_usable_line_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "x"}\n[1, 2]\n', encoding="utf-8")
    assert reason_of(path) == "no usable line (bad.jsonl:1: no doc_id or id; bad.jsonl:2: not a JSON object)"


# --- files, folders and limits -----------------------------------------------------------


def test_find_files_skips_hidden_lock_unsupported_and_outside_links(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / ".git").mkdir()
    for name in ["b.txt", "a.md", "sub/c.html", ".hidden.txt", "~$lock.docx", "x.exe", ".git/d.txt"]:
        (corpus / name).write_text("x", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x", encoding="utf-8")
    os.symlink(outside, corpus / "link_out")
    os.symlink(outside / "secret.txt", corpus / "secret.txt")
    os.symlink(corpus / "sub", corpus / "link_in")
    found = [p.relative_to(corpus).as_posix() for p in find_files(corpus)]
    assert found == ["a.md", "b.txt", "link_in/c.html"] or found == ["a.md", "b.txt", "sub/c.html"]
    assert find_files(corpus / "b.txt") == [corpus / "b.txt"]
    # the formats there are (a new one adds to them)
    assert SUPPORTED_SUFFIXES >= {".pdf", ".docx", ".html", ".htm", ".txt", ".md", ".jsonl"}


def build(corpus: Path, **kwargs):
    """The pipeline's own loop over a corpus (kb.pipeline.build_index), hashing embedder, index beside it."""
    return build_index(corpus, corpus.parent / f"{corpus.name}-index", BuildSettings(embedder="hashing"), **kwargs)


def indexed_ids(corpus: Path) -> list[str]:
    return open_retriever(corpus.parent / f"{corpus.name}-index").index.doc_order


def test_every_suffix_list_is_the_registry(tmp_path: Path) -> None:
    """The pipeline's "no supported files" message and the upload button read LOADERS, not a copy."""
    assert set(UPLOAD_SUFFIXES) == set(LOADERS) - {".jsonl"}
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "notes.xlsx").write_bytes(b"PK")
    with pytest.raises(IngestError) as caught:
        build(tmp_path / "corpus")
    assert caught.value.reason == f"no supported files ({' '.join(LOADERS)}) found"


def test_a_format_is_one_registry_line_for_finding_reading_and_indexing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(LOADERS, ".note", "kb.ingest.text:load")  # a format under a new suffix
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.note").write_text("第一条 证书有效期为三年。", encoding="utf-8")
    (corpus / "b.rst").write_text("第一条 未注册的格式。", encoding="utf-8")
    assert find_files(corpus) == [corpus / "a.note"]
    assert reason_of(corpus / "b.rst") == "unsupported file type '.rst'"
    report = build(corpus)
    assert (report.documents, report.failures) == (1, [])
    assert indexed_ids(corpus) == ["a.note"]


def test_the_corpus_loop_goes_on_after_a_bad_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "1_good.txt").write_text("第一条 好的。", encoding="utf-8")
    (corpus / "2_bad.pdf").write_bytes(os.urandom(2048))
    (corpus / "3_empty.txt").write_bytes(b"")
    (corpus / "4_good.md").write_text("# 标题\n正文。", encoding="utf-8")
    seen: list[tuple[int, int, str]] = []
    report = build(corpus, progress=lambda stage, n, total, name: stage == "load" and seen.append((n, total, name)))
    assert indexed_ids(corpus) == ["1_good.txt", "4_good.md"]
    assert [(f.source, f.reason.split(" (")[0]) for f in report.failures] == [
        ("2_bad.pdf", "corrupt PDF"), ("3_empty.txt", "empty file")]
    assert seen == [(0, 4, "1_good.txt"), (1, 4, "2_bad.pdf"), (2, 4, "3_empty.txt"), (3, 4, "4_good.md"), (4, 4, "")]


def test_the_corpus_loop_reports_doc_ids_seen_twice_across_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("正文。", encoding="utf-8")
    (corpus / "b.jsonl").write_text('{"id": "a.txt", "text": "同名"}\n{"id": "c", "text": "丙"}\n', encoding="utf-8")
    report = build(corpus)
    assert indexed_ids(corpus) == ["a.txt", "c"]
    assert report.failures == [Failure("b.jsonl", "duplicate document id 'a.txt'; kept the first")]


@pytest.mark.parametrize("name", ["with space.txt", "中文 文件名.txt", "it's \"quoted\".txt", "-rf.txt", "--help.md"])
def test_hostile_file_names(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    path = corpus / "sub" / name
    path.write_text("正文内容。", encoding="utf-8")
    report = build(corpus)
    assert (report.documents, report.failures) == (1, [])
    [record] = open_retriever(tmp_path / "corpus-index").index.contents.records
    assert (record.doc_id, record.source) == (f"sub/{name}", f"sub/{name}")
    assert load_one(path).text == "正文内容。"


def test_limits_and_unsupported_types(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("字" * 1000, encoding="utf-8")
    assert reason_of(big, max_bytes=1000) == "file too large (0.0 MiB > 0.0 MiB)"
    other = tmp_path / "sheet.xlsx"
    other.write_bytes(b"PK")
    assert reason_of(other) == "unsupported file type '.xlsx'"
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\u3000\n\u200b", encoding="utf-8")
    assert reason_of(blank) == "no text"


# --- PDF ---------------------------------------------------------------------------------


def make_pdf(path: Path, pages: list[list[str]], *, header: str = "", title: str = "") -> None:
    """A PDF in reportlab's built-in Chinese font, one list of body lines per page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for number, lines in enumerate(pages, start=1):
        pdf.setFont("STSong-Light", 12)
        if header:
            pdf.drawString(72, 800, header)
        for i, line in enumerate(lines):
            pdf.drawString(72, 740 - 20 * i, line)
        pdf.drawCentredString(297, 40, f"- {number} -")
        pdf.showPage()
    pdf.save()


def test_pdf_drops_furniture_joins_lines_and_maps_pages(tmp_path: Path) -> None:
    page_1 = [
        "第一章　总则",
        "第一条　为了规范本市职业教育管理工作，根据有关法律法规，结合本",
        "市实际情况，制定本办法。",
        ARTICLE_2,
    ]
    page_2 = ["第二章　管理体制", ARTICLE_3, "第四条　各区人民政府应当将职业教育纳入本地区国民经济和社会", "发展规划。"]
    path = tmp_path / "办法.pdf"
    make_pdf(path, [page_1, page_2, ["第五条　本办法自发布之日起施行。"]], header="某市教育局文件", title="某市职业教育管理办法")
    doc = load_one(path)
    assert doc.text == "\n".join([
        "第一章 总则",
        "第一条 为了规范本市职业教育管理工作，根据有关法律法规，结合本市实际情况，制定本办法。",
        "第二条 本办法适用于本市行政区域内的各类职业学校和职业培训机构。",
        "第二章 管理体制",
        "第三条 市教育行政部门负责全市职业教育工作的统筹规划、综合协调和宏观管理。",
        "第四条 各区人民政府应当将职业教育纳入本地区国民经济和社会发展规划。",
        "第五条 本办法自发布之日起施行。",
    ])
    assert doc.title_hint == "某市职业教育管理办法"
    start = doc.text.index("第三条")
    assert doc.pages_for(start, start + 10) == (2,)
    assert doc.pages_for(0, doc.text.index("第二章")) == (1,)
    assert doc.pages_for(doc.text.index("第五条"), len(doc.text)) == (3,)
    assert [(s.page, doc.text[s.start:s.end].split("\n")[0][:4]) for s in doc.pages] == [
        (1, "第一章 "), (2, "第二章 "), (3, "第五条 "),
    ]
    assert doc.pages[-1].end == len(doc.text)


def test_pdf_title_from_word_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "w.pdf"
    make_pdf(path, [[ARTICLE_1]], title="Microsoft Word - 办法.doc")
    assert load_one(path).title_hint == ""


def test_blank_pdf_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "blank.pdf"
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.showPage()
    pdf.showPage()
    pdf.save()
    assert reason_of(path) == "no text: every page is blank"
    assert reason_of(path, ocr=False) == "scanned PDF (no text layer); OCR is off"


def test_corrupt_pdf_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "random.pdf"
    path.write_bytes(os.urandom(4096))
    assert reason_of(path).startswith("corrupt PDF (")


# --- the real hard cases in ../shared/pdfs -----------------------------------------------

# What each real file must end as: loaded (with words its text must contain) or rejected.
EXPECTED = {
    "encrypted/DERIVED_test_4182_zh_aes256_userpw_evaltest.pdf": "encrypted: needs a password",
    "encrypted/unstructured_password_userpw.pdf": "encrypted: needs a password",
    "encrypted/pymupdf_test-2333_ownerpw_form.pdf": ["Verificación de Elegibilidad de Empleo"],
    "encrypted/unstructured_copy-protected_ownerpw.pdf": ["LayoutParser: A Unified Toolkit for Deep Learning"],
    "garbled_text_layer_zh/mineru_ordinary_textbook_broken_tounicode.pdf": ["数学新星问题征解", "正三角形ABC"],
    "multicolumn_en/unstructured_multi-column-2p_DPR_paper.pdf": ["Open-domain question answering relies on efficient passage retrieval"],
    "scanned_zh/mineru_scanned_2p.pdf": ["使用价值", "交换价值"],
    "scanned_zh/mineru_small_ocr_8p.pdf": ["使用价值", "交换价值"],
    "text_layer_zh/mineru_p3_text_image_mixed.pdf": ["不能越过关系线到另一侧拍摄，这是电影语言要遵守的最重要的规则之一。"],
    "text_layer_zh/mineru_research_report_multicolumn_zh.pdf": ["扩产4000万公里金刚线"],
    "text_layer_zh/pymupdf_chinese-tables_prospectus_page.pdf": ["第七章 企业资信状况\n一、发行人历史信用评级情况"],
    "text_layer_zh/pymupdf_test_4182_zh_journal_page.pdf": ["数字拟人品"],
    "text_layer_zh/unstructured_simplified_chinese.pdf": ["中华人民共和国国务院侨务办公室"],
}
NEEDS_OCR = ("scanned_zh", "garbled_text_layer_zh")
# Fonts not embedded: pdfium renders their text only when the machine has a CJK font (Debian:
# fonts-noto-cjk), so OCR reads these pages there and nothing elsewhere. Either way, no garbage.
FONT_DEPENDENT = {
    "garbled_text_layer_zh/mineru_test_01_gbk_mojibake.pdf",
    "garbled_text_layer_zh/pymupdf_has-bad-fonts_customs_form.pdf",
}


def real_pdfs() -> list:
    if not SHARED_PDFS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED_PDFS} is absent"))]
    params = []
    for path in sorted(SHARED_PDFS.rglob("*.pdf")):
        name = path.relative_to(SHARED_PDFS).as_posix()
        marks = [pytest.mark.ocr] if name.startswith(NEEDS_OCR) else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("name", real_pdfs())
def test_real_pdf_loads_readable_text_or_is_rejected(name: str) -> None:
    path = SHARED_PDFS / name
    expected = EXPECTED.get(name)
    if name in FONT_DEPENDENT:
        try:
            [doc] = documents_of(path, SHARED_PDFS)
        except IngestError as e:
            assert e.reason.startswith("garbled text layer"), e.reason
        else:
            assert len(doc.text) >= 200 and garbled_share(doc.text) < 0.01, doc.text[:300]
        return
    if isinstance(expected, str):
        with pytest.raises(IngestError) as caught:
            documents_of(path, SHARED_PDFS)
        assert caught.value.path == name
        assert caught.value.reason.startswith(expected)
        return
    [doc] = documents_of(path, SHARED_PDFS)
    assert doc.doc_id == name and doc.format == "pdf"
    assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
    for words in expected or []:
        assert words in doc.text
    if "_zh/" in name:
        cjk = sum(1 for c in doc.text if "\u4e00" <= c <= "\u9fff")
        assert len(doc.text) >= 200 and cjk / len(doc.text) >= 0.4, doc.text[:300]
    # Nothing unreadable reaches the index.
    assert not any(0xE000 <= ord(c) <= 0xF8FF or c == "\ufffd" for c in doc.text)


def test_txt_saved_from_pdf_is_unwrapped(tmp_path):
    """A paper pasted from a PDF, a blank line after every printed line, reads as paragraphs."""
    body = [
        "职业技能等级证书制度试点",
        "一、试点情况",
        "2020年1月，教育部联合财政部发布通知，确定",
        "了首批产教融合型企业和产教融合建设试点单",
        "位，同时印发配套文件，明确了试点工作的实",
        "施方案。",
        "二、主要成效",
        "一是职业教育类型特色更加鲜明，在人才培养",
        "方案、课程体系、教学资源建设等方面均体现",
        "了试点工作要求。",
    ]
    path = tmp_path / "paper.txt"
    path.write_text("\n\n".join(body) + "\n", encoding="utf-8")
    doc = documents_of(path, tmp_path)[0]
    assert doc.text.split("\n") == [
        "职业技能等级证书制度试点",
        "一、试点情况",
        "2020年1月，教育部联合财政部发布通知，确定了首批产教融合型企业和产教融合建设试点单位，"
        "同时印发配套文件，明确了试点工作的实施方案。",
        "二、主要成效",
        "一是职业教育类型特色更加鲜明，在人才培养方案、课程体系、教学资源建设等方面均体现了试点工作要求。",
    ]


def test_txt_with_real_paragraphs_is_left_alone(tmp_path):
    text = "第一条 为了规范管理，制定本办法。\n第二条 本办法适用于本市。\n" * 5
    path = tmp_path / "law.txt"
    path.write_text(text, encoding="utf-8")
    assert documents_of(path, tmp_path)[0].text == text.strip()


def test_web_page_saved_as_txt_is_read_as_html(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("<!DOCTYPE html><html><head><title>站点</title></head><body><script>alert(1)</script>"
                    "<h1>某某办法</h1><p>第一条 为了规范管理，制定本办法。</p><p>第二条 本办法适用于本市。</p>"
                    "</body></html>", encoding="utf-8")
    doc = documents_of(path, tmp_path)[0]
    assert doc.format == "txt"
    assert doc.text == "某某办法\n第一条 为了规范管理，制定本办法。\n第二条 本办法适用于本市。"
    assert doc.title_hint == "某某办法"


def test_html_inside_markdown_and_text_is_stripped(tmp_path):
    md = tmp_path / "a.md"
    md.write_text('# 标题\n\n<div class="x">第一条 为了规范管理，<b>制定</b>本办法。</div>\n'
                  "<script>evil()</script>\n<style>p{}</style>\n第二条 A&amp;B 条件为 x < 3 时适用。\n", encoding="utf-8")
    text = documents_of(md, tmp_path)[0].text
    assert "evil" not in text and "<" not in text.replace("x < 3", "") and "p{}" not in text
    assert "第一条 为了规范管理，制定本办法。" in text
    assert "第二条 A&B 条件为 x < 3 时适用。" in text


def test_markdown_front_matter_is_not_text(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('---\ntitle: "职业技能培训办法"\nweight: 3\n---\n\n第一条 为了规范培训，制定本办法。\n', encoding="utf-8")
    doc = documents_of(page, tmp_path)[0]
    assert doc.text == "第一条 为了规范培训，制定本办法。"
    assert doc.title_hint == "职业技能培训办法"
    only = tmp_path / "_index.md"
    only.write_text("---\nbookCollapseSection: true\n---\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no text"):
        documents_of(only, tmp_path)


def test_utf8_cut_inside_its_last_character_loads(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes("第一条 为了规范职业技能等级证书管理，制定本办法。".encode("utf-8")[:-2])
    assert documents_of(path, tmp_path)[0].text == "第一条 为了规范职业技能等级证书管理，制定本办法"
