"""Hostile inputs: broken, huge, nested, mis-encoded and oddly named files, and fuzzed loaders.

Every fixture is generated in tmp_path. A hostile file must end in a loaded document with
sensible text or an IngestError naming the problem, never another exception and never a hang.
"""

from __future__ import annotations

import io
import random
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.config import BuildSettings
from kb.errors import IngestError
from kb.ondisk import load_index
from kb.ingest import MAX_DOCX_EXPANDED, MAX_PAGES, find_files, read_file
from kb.metadata import find_doc_numbers, normalize_doc_number
from kb.pipeline import build_index
from kb.segment import segment
from kb.types import Document

TIMEOUT = 20.0  # generous: a bound against hangs, not a speed target

ARTICLE_1 = "第一条 为了规范职业教育管理，制定本办法。"
ARTICLE_2 = "第二条 本办法适用于全省各类职业学校。"
GOOD_TEXT = f"关于加强职业教育的通知\n{ARTICLE_1}\n{ARTICLE_2}"


# --- helpers -----------------------------------------------------------------------------


def bounded(fn: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """fn() run in a thread: its result, its exception re-raised, or a failure if it hangs."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test thread
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"did not finish within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def load(path: Path, **kwargs: Any) -> list[Document]:
    docs, failures = bounded(lambda: read_file(path, path.parent, ocr=False, **kwargs))
    assert failures == []
    return docs


def refused(path: Path, **kwargs: Any) -> str:
    """The reason read_file gives for refusing `path` (any other outcome fails the test)."""
    with pytest.raises(IngestError) as caught:
        bounded(lambda: read_file(path, path.parent, ocr=False, **kwargs))
    assert caught.value.path == path.name
    return caught.value.reason


def good_pdf_bytes() -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(GOOD_TEXT.split("\n")):
        pdf.drawString(72, 760 - 20 * i, line)
    pdf.save()
    return out.getvalue()


def good_docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    for line in GOOD_TEXT.split("\n"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def bit_flipped(data: bytes, flips: int = 50, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(flips):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def many_pages_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_docx(path: Path, megabytes: int = 300) -> None:
    """A .docx whose word/document.xml inflates to `megabytes` MB of spaces (~1 KB per MB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w") as member:
            block = b" " * 2**20
            for _ in range(megabytes):
                member.write(block)


def nested_html(depth: int) -> str:
    return f"<html><body>{'<div>' * depth}{ARTICLE_1}{'</div>' * depth}</body></html>"


def mixed_encoding_bytes() -> bytes:
    return (ARTICLE_1 + "\n").encode("utf-8") + (ARTICLE_2 + "\n").encode("gb18030")


# Every hostile file and the exact start of the reason it is refused with.
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty.pdf": (lambda: b"", "empty file"),
    "empty.docx": (lambda: b"", "empty file"),
    "empty.txt": (lambda: b"", "empty file"),
    "truncated.pdf": (lambda: truncated(good_pdf_bytes()), "corrupt PDF (PdfStreamError"),
    "flipped.pdf": (lambda: bit_flipped(good_pdf_bytes()), "corrupt PDF (PdfReadError"),
    "truncated.docx": (lambda: truncated(good_docx_bytes()), "corrupt DOCX (BadZipFile"),
    "flipped.docx": (lambda: bit_flipped(good_docx_bytes()), "corrupt DOCX (BadZipFile: Bad CRC-32"),
    "pages.pdf": (lambda: many_pages_pdf(10_000), f"too many pages (10000 > {MAX_PAGES})"),
    "binary.txt": (lambda: random.Random(2).randbytes(4096), "undecodable text (not UTF-8"),
    "mixed.txt": (mixed_encoding_bytes, "undecodable text (mixed encodings: UTF-8 up to byte 62"),
}


# --- one hostile file at a time ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_with_its_reason(tmp_path: Path, name: str) -> None:
    make, reason = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(make())
    assert refused(path).startswith(reason)


@pytest.mark.parametrize("name, make", [("good.pdf", good_pdf_bytes), ("good.docx", good_docx_bytes)])
def test_base_files_for_the_hostile_ones_load(tmp_path: Path, name: str, make) -> None:
    path = tmp_path / name
    path.write_bytes(make())
    [doc] = load(path)
    assert doc.text == GOOD_TEXT


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    zip_bomb_docx(path)
    assert path.stat().st_size < 2 * 2**20
    limit = MAX_DOCX_EXPANDED // 2**20
    assert refused(path) == f"DOCX expands to 300 MB (limit {limit} MB)"


def test_file_over_max_bytes_is_refused(tmp_path: Path) -> None:
    # Stands in for a 200 MB PDF: the same check, with a small limit.
    path = tmp_path / "large.pdf"
    path.write_bytes(good_pdf_bytes() + b"\n%" + b"x" * 3 * 2**20)
    assert refused(path, max_bytes=2**20).startswith("file too large (")
    [doc] = load(path)  # under the default limit the same file reads
    assert doc.text == GOOD_TEXT


def test_deeply_nested_html_loads(tmp_path: Path) -> None:
    path = tmp_path / "nested.html"
    path.write_text(nested_html(100_000), encoding="utf-8")
    [doc] = load(path)
    assert doc.text == ARTICLE_1


def test_binary_named_txt_is_undecodable(tmp_path: Path) -> None:
    # Binary with NUL bytes goes down the UTF-16 path and must be refused there too.
    path = tmp_path / "nul.txt"
    path.write_bytes(b"\x00\x01\x02\xff\xfe\x89PNG" * 500)
    assert refused(path).startswith("undecodable text")


def test_utf8_then_gb18030_is_refused_not_read_as_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(mixed_encoding_bytes())
    assert refused(path) == "undecodable text (mixed encodings: UTF-8 up to byte 62, then not)"
    # each half alone reads
    path.write_bytes((ARTICLE_2 + "\n").encode("gb18030"))
    assert [d.text for d in load(path)] == [ARTICLE_2]


# --- names and links ---------------------------------------------------------------------

ODD_NAMES = [
    "ctl\x01\x1f.txt",
    "tab\tname.txt",
    "new\nline.txt",
    "with space.txt",
    "-rf.txt",
    "--help.md",
    "quote'\"s.txt",
    "..dots.txt",  # starts with a dot: hidden, like every dot file
    "中文 名称.txt",
]


def test_odd_file_names_are_found_and_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, name in enumerate(ODD_NAMES):
        (corpus / name).write_text(f"第{i + 1}条 文件{i}的正文。", encoding="utf-8")
    visible = [n for n in ODD_NAMES if not n.startswith(".")]
    found = find_files(corpus)
    assert sorted(p.name for p in found) == sorted(visible)
    for path in found:
        [doc] = bounded(lambda: read_file(path, corpus, ocr=False))[0]
        i = ODD_NAMES.index(path.name)
        assert (doc.doc_id, doc.text) == (path.name, f"第{i + 1}条 文件{i}的正文。")


def test_symlinks_out_of_the_corpus_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("第一条 不应被索引。", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "inside.txt").write_text(ARTICLE_1, encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside / "secret.txt")
    (corpus / "linkdir").symlink_to(outside, target_is_directory=True)
    (corpus / "sub" / "up.txt").symlink_to(Path("..") / ".." / "outside" / "secret.txt")
    (corpus / "loop").symlink_to(corpus, target_is_directory=True)
    assert [p.relative_to(corpus).as_posix() for p in find_files(corpus)] == ["sub/inside.txt"]


# --- the whole pipeline over a hostile folder ---------------------------------------------


def test_build_index_reports_every_hostile_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (make, _) in HOSTILE.items():
        (corpus / name).write_bytes(make())
    zip_bomb_docx(corpus / "bomb.docx")
    (corpus / "nested.html").write_text(nested_html(100_000), encoding="utf-8")
    (corpus / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")

    index = tmp_path / "index"
    # OCR off: no hostile PDF here has a page worth OCR, and the test stays model-free.
    report = bounded(lambda: build_index(corpus, index, BuildSettings(embedder="hashing", ocr=False)),
                     timeout=120)

    reasons = {f.source: f.reason for f in report.failures}
    expected = {name: reason for name, (_, reason) in HOSTILE.items()}
    expected["bomb.docx"] = "DOCX expands to 300 MB"
    assert set(reasons) == set(expected)
    for name, reason in expected.items():
        assert reasons[name].startswith(reason), (name, reasons[name])
    assert report.documents == 2
    chunks = load_index(index).contents.chunks
    assert {c.doc_id for c in chunks} == {"good.txt", "nested.html"}


# --- property-based fuzzing --------------------------------------------------------------

DOC_NUMBER_CHARS = list("〔〕[]［］（）()【】〖〗{}0123456789０１２３〇一二三四五六七八九十"
                        "号第令年公告国务院教职成财政部税务总局办发函的印发根据《》、，。 \u3000\n")
doc_number_text = st.text(
    alphabet=st.one_of(st.sampled_from(DOC_NUMBER_CHARS), st.characters()), max_size=300
) | st.lists(
    st.sampled_from(["教职成", "国办发", "〔", "〕", "[", "]", "（", "）", "【", "】", "2019", "二〇二〇",
                     "1949", "6", "号", "第", "国务院令", "公告", "年", "财政部", "、", "税务总局",
                     "关于", "印发", " ", "\n", "《", "》", "中华人民共和国"]),
    max_size=40,
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(doc_number_text)
def test_fuzz_doc_numbers(text: str) -> None:
    for start, end, canon in find_doc_numbers(text):
        assert 0 <= start < end <= len(text)
        assert normalize_doc_number(canon) == canon, (text, canon)
    canon = normalize_doc_number(text)
    assert canon is None or normalize_doc_number(canon) == canon


SEGMENT_TOKENS = ["第一条", "第十二条", "第九十条", "第三章", "第一节", "第二编", "一、", "二、", "（一）", "（2）",
                  "1.", "2、", "附件1：", "# ", "## ", "\n", "\n", "\n\n", " ", "\u3000", "。", "，", "：",
                  "本办法", "规定", "职业教育", "的", "学校应当依法办学", "abc ", "3.14", "（", "）"]


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(SEGMENT_TOKENS), max_size=250).map("".join),
    st.integers(min_value=20, max_value=400),
    st.data(),
)
def test_fuzz_segment(text: str, max_chars: int, data: st.DataObject) -> None:
    min_chars = data.draw(st.integers(min_value=0, max_value=max_chars))
    doc = Document(doc_id="d", source="d.txt", text=text, format="txt")
    chunks = segment(doc, max_chars=max_chars, min_chars=min_chars)
    end = 0
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end]
        assert end <= chunk.start < chunk.end
        assert chunk.end - chunk.start <= max_chars
        end = chunk.end


_BASES: dict[str, bytes] = {}


def _base(suffix: str) -> bytes:
    """A valid file of this type to mutate; built once (hypothesis runs examples in one process)."""
    if suffix not in _BASES:
        _BASES[suffix] = {
            ".pdf": good_pdf_bytes, ".docx": good_docx_bytes,
            ".html": lambda: f"<html><body><h1>通知</h1><p>{ARTICLE_1}</p></body></html>".encode(),
            ".txt": lambda: GOOD_TEXT.encode("gb18030"), ".md": lambda: f"# 通知\n\n{ARTICLE_1}".encode(),
        }[suffix]()
    return _BASES[suffix]


def _docx_with_xml(noise: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(_base(".docx")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                cut = len(noise) % len(data)
                data = data[:cut] + noise + data[cut:]
            archive.writestr(info.filename, data)
    return out.getvalue()


@st.composite
def file_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".txt", ".md", ".html", ".pdf", ".docx"]))
    how = draw(st.sampled_from(["random", "magic", "mutated", "docx_xml"]))
    if how == "random":
        return suffix, draw(st.binary(max_size=2000))
    if how == "magic":
        head = draw(st.sampled_from([b"%PDF-1.4\n", b"PK\x03\x04", b"<html><body>", b"\xef\xbb\xbf",
                                     b"\xff\xfe", b"\xfe\xff", b"\x00"]))
        return suffix, head + draw(st.binary(max_size=2000))
    if how == "docx_xml":  # a sound zip whose document.xml is broken: python-docx's XML path
        return ".docx", _docx_with_xml(draw(st.binary(max_size=3000)))
    data = bytearray(_base(suffix))
    for pos, value in draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)),
                                    min_size=1, max_size=20)):
        data[pos] = value
    cut = draw(st.integers(1, len(data)))
    return suffix, bytes(data[:cut])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file_bytes())
def test_fuzz_read_file(tmp_path: Path, case: tuple[str, bytes]) -> None:
    suffix, data = case
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        docs, _ = bounded(lambda: read_file(path, tmp_path, ocr=False), timeout=10)
    except IngestError as e:
        assert e.path == path.name and e.reason
        return
    assert docs and all(doc.text.strip() for doc in docs)


# --- issue 14: budgets for markup, DOCX bodies and OCR; symlink loops ---------------------------
# New names are imported inside the tests, so that each of these runs (and fails) on the code as it
# was before them.


def _read_seconds(path: Path, data: str, timeout: float) -> float:
    import time

    path.write_text(data, encoding="utf-8")
    started = time.perf_counter()
    bounded(lambda: read_file(path, path.parent, ocr=False), timeout=timeout)
    return time.perf_counter() - started


@pytest.mark.parametrize("suffix, unit", [(".txt", "<script>"), (".txt", "<!--"), (".txt", "<style x"),
                                          (".md", "["), (".md", "!["), (".md", "**a "), (".md", "*a "),
                                          (".md", "~~a ")])
def test_markup_stripping_takes_linear_time(tmp_path: Path, suffix: str, unit: str) -> None:
    # 128 KB of "<script>" took 24.5 s here (64 KB: 9.6 s): quadratic. Linear, 1 MB takes well under
    # a second; the bound is generous, and the 4x size must cost well under the 16x of quadratic.
    def text(size: int) -> str:
        return ARTICLE_1 + "\n" + unit * (size // len(unit.encode()))

    small = _read_seconds(tmp_path / f"small{suffix}", text(256 * 1024), timeout=5)
    large = _read_seconds(tmp_path / f"large{suffix}", text(1024 * 1024), timeout=5)
    assert large < 8 * small + 0.5, (small, large)


def test_markup_stripping_still_drops_scripts_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text(f"{ARTICLE_1}\n<!-- 注释 --><script>var a = '<p>';</script><STYLE>p {{}}</STYLE >"
                    f"<p>{ARTICLE_2}</p><script>没有结尾", encoding="utf-8")
    [doc] = load(path)
    assert doc.text == f"{ARTICLE_1}\n{ARTICLE_2}\n没有结尾"


def _docx_with_body(path: Path, paragraphs: int, padding: int = 0) -> None:
    """good.docx with its body replaced by `paragraphs` one-line articles (and `padding` spaces)."""
    source = zipfile.ZipFile(io.BytesIO(good_docx_bytes()))
    head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ' \
           b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info.filename, source.read(info))
        with archive.open("word/document.xml", "w") as body:
            body.write(head)
            body.write("<w:p><w:r><w:t>第一条 甲</w:t></w:r></w:p>".encode() * paragraphs)
            for _ in range(padding // 2**20):
                body.write(b" " * 2**20)
            body.write(b"</w:body></w:document>")


def test_docx_with_too_many_paragraphs_is_refused_unparsed(tmp_path: Path) -> None:
    from kb.ingest import MAX_DOCX_PARAGRAPHS

    path = tmp_path / "many.docx"
    _docx_with_body(path, MAX_DOCX_PARAGRAPHS + 1)
    assert path.stat().st_size < 1 * 2**20  # far below every size limit
    assert refused(path) == f"DOCX has {MAX_DOCX_PARAGRAPHS + 1} paragraphs (limit {MAX_DOCX_PARAGRAPHS})"
    _docx_with_body(path, 1000)  # a long but real document still reads
    [doc] = load(path)
    assert doc.text.count("第一条 甲") == 1000


def test_docx_body_over_its_xml_budget_is_refused(tmp_path: Path) -> None:
    from kb.ingest import MAX_DOCX_XML

    path = tmp_path / "wide.docx"
    _docx_with_body(path, 10, padding=MAX_DOCX_XML + 2**20)
    megabytes = (MAX_DOCX_XML + 2**20) // 2**20
    assert refused(path) == f"DOCX body is {megabytes} MB of XML (limit {MAX_DOCX_XML // 2**20} MB)"


def image_pages_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages, each only an image (one image, reused): a scan with no text layer."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from PIL import Image, ImageDraw

    picture = Image.new("L", (200, 60), 255)
    ImageDraw.Draw(picture).rectangle((20, 20, 180, 40), fill=0)
    image = ImageReader(picture)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(300, 200))
    for _ in range(pages):
        pdf.drawImage(image, 50, 70, 200, 60)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def test_pdf_needing_more_ocr_than_a_file_may_have_is_refused_before_any_ocr(tmp_path: Path) -> None:
    from kb.ingest import MAX_OCR_PAGES

    path = tmp_path / "scans.pdf"
    path.write_bytes(image_pages_pdf(MAX_OCR_PAGES + 100))
    with pytest.raises(IngestError) as caught:  # ~2 s a page of OCR would take many minutes
        bounded(lambda: read_file(path, tmp_path, ocr=True), timeout=60)
    assert caught.value.reason == (f"too many pages need OCR (more than {MAX_OCR_PAGES} of {MAX_OCR_PAGES + 100}; "
                                   f"limit {MAX_OCR_PAGES} a file)")


def test_an_upload_ocr_budget_is_shared_by_its_files_and_has_a_deadline(tmp_path: Path) -> None:
    from kb.ingest import ocr_budget

    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(image_pages_pdf(3))
    second.write_bytes(image_pages_pdf(3))
    with ocr_budget(pages=5, seconds=600) as budget:
        budget.pages -= 3  # as if a.pdf had been read: what is left is 2 pages
        with pytest.raises(IngestError) as caught:
            read_file(second, tmp_path, ocr=True)
    assert caught.value.reason == "too many pages need OCR (at least 3 of 3; 2 left of this upload's budget)"
    with ocr_budget(pages=10, seconds=0), pytest.raises(IngestError) as caught:
        read_file(first, tmp_path, ocr=True)
    assert caught.value.reason == "OCR took too long (over 0 s for this upload)"


def test_a_symlink_loop_is_reported_and_the_rest_indexed(tmp_path: Path) -> None:
    from kb.ingest import SYMLINK_LOOP

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (corpus / "x1.txt").symlink_to("x2.txt")
    (corpus / "x2.txt").symlink_to("x1.txt")
    report = bounded(lambda: build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing", ocr=False)))
    assert {f.source: f.reason for f in report.failures} == {"x1.txt": SYMLINK_LOOP, "x2.txt": SYMLINK_LOOP}
    assert [r.doc_id for r in load_index(tmp_path / "index").contents.records] == ["good.txt"]
