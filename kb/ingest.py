"""Files -> Documents: PDF (with OCR), DOCX, HTML, TXT/MD and JSONL, decoded and cleaned."""

from __future__ import annotations

import functools
import html
import json
import logging
import math
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import IngestError
from kb.types import Document, Failure, PageSpan

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".docx", ".html", ".htm", ".txt", ".md", ".jsonl"}
)
DEFAULT_MAX_BYTES = 200 * 2**20
MAX_PAGES = 2000  # a PDF longer than this is an archive or a hostile file, not a policy document
# Uncompressed size of all parts of a DOCX: checked before parsing, so a zip bomb is refused
# without being inflated. Real documents stay far below it (images barely compress).
MAX_DOCX_EXPANDED = 100 * 2**20
# The body of a DOCX (word/document.xml) and its paragraphs: python-docx builds a tree of every
# element, and each paragraph may become a chunk to embed. A 95 MB body of one-line paragraphs ran
# for half an hour at 4 GB; a 2,000-page real document has about 40,000 paragraphs and 20 MB of XML.
MAX_DOCX_XML = 40 * 2**20
MAX_DOCX_PARAGRAPHS = 100_000
# OCR runs ~2-3 s a page on two cores. A file may have this many pages read by OCR; an upload (a
# visitor's files together) gets the smaller budget of `ocr_budget` in app.py, and a deadline.
MAX_OCR_PAGES = 300

# --- character classes -------------------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# CJK punctuation, fullwidth forms, and the quotes/dashes Chinese text uses.
_CJK_PUNCT = "\u3001-\u303f\uff00-\uffef\u2018-\u201f\u2026\u2014\u00b7"
_CJK_RE = re.compile(f"[{_CJK}]")
_WIDE_RE = re.compile(f"[{_CJK}{_CJK_PUNCT}]")
# Identity-encoded fonts without a ToUnicode map repeat one character ("佛佛佛佛").
_CJK_REPEAT_RE = re.compile(f"([{_CJK}])\\1{{2,}}")
_SPACE_RUN = re.compile(r" {2,}")
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}{_CJK_PUNCT}]) +(?=[{_CJK}{_CJK_PUNCT}])")
# PDF extractors put spaces between Chinese and digits ("2023 年 3 月"); authors rarely do.
_SPACE_CJK_DIGIT = re.compile(f"(?<=[{_CJK}]) +(?=[0-9])|(?<=[0-9]) +(?=[{_CJK}])")
# 第X章/节/条 keeps one space before its heading text, as in "第一章 总则".
_LEADING_LABEL = re.compile(r"^(第[一二三四五六七八九十百千零〇两\d]+[编章节条])\s+(?=\S)")

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = "\t\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}

# A line starting with one of these opens a new structural unit and is never glued
# onto the line before it.
_STRUCT_START = re.compile(
    r"""^(?:
      第[一二三四五六七八九十百千零〇两\d]+[编章节条款部]
    | [一二三四五六七八九十百]+[、.．]
    | [（(][一二三四五六七八九十百]+[）)]
    | \d{1,3}[、.．](?!\d)
    | [（(]\d{1,3}[）)]
    | [①-⑳⑴-⒇⒈-⒛]
    | [#＃]{1,6}\s
    | 附件 | 附录 | 附表 | 附：
    | [•●▪■◆□]
    | [-*]\s
    )""",
    re.X,
)
_SENTENCE_END = frozenset("。！？；：!?;:…")
_CLOSING_QUOTES = "”’」』\"')）"
# A line starting with closing punctuation, or holding only a footnote mark, always
# continues the line before it (pypdf splits lines around superscripts).
_CONTINUATION = re.compile(r"^(?:[，。、；：？！）》」』”,.;:?!)]|[①-⑳*]$)")
# Table rows: two or more free-standing numbers ("330,435.30 234,850.00"), or a line that
# starts with one ("2021 AA+ ...").
_NUMBER_TOKEN = re.compile(r"(?:^|\s)[-+]?\d(?:[\d,.]*\d)?%?(?=\s|$)")

# Page furniture: lines that are only a page number.
_PAGE_NUMBER = re.compile(
    r"""^(?:
      [-—–－~\s]*\d{1,4}[-—–－~\s]*
    | 第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?
    | \d{1,4}\s*/\s*\d{1,4}
    | [Pp]age\s*\d{1,4}(?:\s*of\s*\d{1,4})?
    )$""",
    re.X,
)
_EDGE_LINES = 3  # how many lines at the top and bottom of a page may be furniture

# Text-layer quality: a page whose share of suspicious characters passes this is garbled.
_GARBLED_SHARE = 0.08
_MIN_PAGE_CHARS = 10  # fewer non-space characters than this: treat the page as having no text


SYMLINK_LOOP = "symlink loop (the link leads back to itself through other links)"

# --- finding files -----------------------------------------------------------------------


def find_files(corpus: Path) -> list[Path]:
    """Supported files under `corpus` (recursively, sorted), or `[corpus]` if it is a file."""
    if corpus.is_file():
        return [corpus]
    if not corpus.is_dir():
        raise IngestError(str(corpus), "no such file or folder")
    root = corpus.resolve()
    found: list[Path] = []
    seen_dirs: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(corpus, followlinks=True):
        real = Path(dirpath).resolve()
        # Symlinks may point outside the corpus or back up the tree (a loop).
        if real in seen_dirs or not real.is_relative_to(root):
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        for name in filenames:
            path = Path(dirpath) / name
            if _is_hidden(name) or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            real = resolved(path)
            # a symlink loop is kept, for reading it to report it; links out of the corpus are not
            if real is None or (real.is_relative_to(root) and path.is_file()):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(corpus).as_posix())


def resolved(path: Path) -> Path | None:
    """The real path of `path`, or None when it is a symlink loop (x1 -> x2 -> x1)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError before Python 3.13, OSError (ELOOP) since
        return None


def _is_hidden(name: str) -> bool:
    # "~$x.docx" is the lock file Word leaves next to an open document.
    return name.startswith((".", "~$"))


# --- the corpus loop ---------------------------------------------------------------------


def iter_corpus(
    corpus: Path,
    *,
    ocr: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> Iterator[Document | Failure]:
    """Load every file under `corpus`; a bad file or JSONL line yields a Failure, never raises.

    `progress(n, total, source)` is called before the n-th file (1-based) is read.
    A doc_id already produced by an earlier file or line also yields a Failure.
    """
    files = find_files(corpus)
    root = corpus if corpus.is_dir() else corpus.parent
    first_seen: dict[str, str] = {}
    for n, path in enumerate(files, start=1):
        source = _source(path, root)
        if progress is not None:
            progress(n, len(files), source)
        for item in _load_or_fail(path, root, ocr):
            if isinstance(item, Document):
                if item.doc_id in first_seen:
                    first = first_seen[item.doc_id]
                    item = Failure(source, f"duplicate doc_id {item.doc_id!r} (first in {first})")
                else:
                    first_seen[item.doc_id] = source
            yield item


def _load_or_fail(path: Path, root: Path, ocr: bool) -> list[Document | Failure]:
    try:
        docs, failures = read_file(path, root, ocr=ocr)
    except IngestError as e:
        return [Failure(e.path, e.reason)]
    return [*failures, *docs]


# --- one file ----------------------------------------------------------------------------


def read_file(
    path: Path, root: Path, *, ocr: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Document], list[Failure]]:
    """The documents in one file and its skipped JSONL lines; IngestError when nothing is usable.

    Any parser exception becomes an IngestError too: parsers raise anything on hostile files,
    and one file must never stop a run.
    """
    try:
        return _load(path, root, ocr=ocr, max_bytes=max_bytes)
    except IngestError:
        raise
    except Exception as e:  # noqa: BLE001
        log.debug("unexpected error reading %s", path, exc_info=True)
        raise IngestError(_source(path, root), f"unexpected error: {type(e).__name__}: {e}") from e


def load_file(
    path: Path, root: Path, *, ocr: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Document]:
    """The documents in one file: one for most formats, one per good line for JSONL.

    Raises IngestError naming the file and the reason when nothing usable can be read.
    Bad JSONL lines are skipped here (and logged); `read_file` and `iter_corpus` report them.
    """
    docs, failures = read_file(path, root, ocr=ocr, max_bytes=max_bytes)
    for failure in failures:
        log.warning("skipped %s: %s", failure.source, failure.reason)
    return docs


def _load(
    path: Path, root: Path, *, ocr: bool, max_bytes: int
) -> tuple[list[Document], list[Failure]]:
    source = _source(path, root)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(source, f"unsupported file type {suffix or '(none)'!r}")
    if resolved(path) is None:
        raise IngestError(source, SYMLINK_LOOP)
    if not path.is_file():
        raise IngestError(source, "file not found")
    size = path.stat().st_size
    if size > max_bytes:
        limit = f"{size / 2**20:.1f} MiB > {max_bytes / 2**20:.1f} MiB"
        raise IngestError(source, f"file too large ({limit})")
    if size == 0:
        raise IngestError(source, "empty file")
    if suffix == ".jsonl":
        docs, failures = _load_jsonl(path, source)
        if not docs:
            detail = "; ".join(f"{f.source}: {f.reason}" for f in failures[:3])
            raise IngestError(source, f"no usable line ({detail})" if detail else "no text")
        return docs, failures
    loader = {".pdf": _load_pdf, ".docx": _load_docx, ".html": _load_html, ".htm": _load_html,
              ".txt": _load_txt, ".md": _load_md}[suffix]
    doc = loader(path, source, ocr=ocr)
    if not doc.text.strip():
        raise IngestError(source, "no text")
    return [doc], []


def _source(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# --- text cleanup ------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _char_table() -> dict[int, str | None]:
    """str.translate table: drop zero-width/control chars, unify spaces, undo ligatures."""
    table: dict[int, str | None] = {ord(c): None for c in _ZERO_WIDTH}
    table.update({ord(c): " " for c in _SPACES})
    table.update({ord(k): v for k, v in _LIGATURES.items()})
    table.update({c: None for c in range(32) if c != 10})
    table.update({c: None for c in range(0x7F, 0xA0)})
    # Private-use characters are icon-font glyphs (Wingdings bullets); they never read.
    table.update({c: None for c in range(0xE000, 0xF900)})
    # Kangxi radicals and compatibility ideographs look like ordinary characters (⼀ vs 一)
    # but do not match them; PDFs made on some systems are full of them. Map only these,
    # never the whole text (NFKC would also rewrite 〔〕 and fullwidth punctuation).
    for start, end in ((0x2E80, 0x2FDF), (0xF900, 0xFAFF)):
        for code in range(start, end + 1):
            mapped = unicodedata.normalize("NFKC", chr(code))
            if mapped != chr(code) and len(mapped) == 1:
                table[code] = mapped
    return table


def _clean_line(line: str, *, tight_digits: bool = False) -> str:
    line = _SPACE_RUN.sub(" ", line).strip()
    label = _LEADING_LABEL.match(line)
    head, rest = (label.group(1) + " ", line[label.end():]) if label else ("", line)
    rest = _SPACE_BETWEEN_CJK.sub("", rest)
    if tight_digits:
        rest = _SPACE_CJK_DIGIT.sub("", rest)
    return head + rest


def _split_lines(text: str) -> list[str]:
    """Raw text -> lines with unified line ends and characters, not yet cleaned."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x0c", "\n")
    return text.translate(_char_table()).split("\n")


def _one_line(text: str) -> str:
    """A title or heading spread over several lines or cells -> one cleaned line."""
    return _clean_line(" ".join(text.split()))


def _finish(lines: list[str]) -> str:
    """Cleaned lines -> text: runs of blank lines become one, no blank lines at the ends."""
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _clean_text(text: str, *, tight_digits: bool = False) -> str:
    return _finish([_clean_line(line, tight_digits=tight_digits) for line in _split_lines(text)])


# --- decoding ----------------------------------------------------------------------------


def _decode(data: bytes, source: str) -> str:
    """Bytes of a text file -> str: BOMs, UTF-16 without BOM, then UTF-8, then GB18030."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _strict(data, codec, source)
    sample = data[:4096]
    if 0 in sample:
        # UTF-8 and GB18030 text never holds NUL bytes; UTF-16 without a BOM does, one per
        # ASCII character (line ends, digits), on the odd bytes for little-endian.
        codec = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        text = _strict(data, codec, source)
        if garbled_share(text) > _GARBLED_SHARE:
            raise IngestError(source, "undecodable text (binary data, not UTF-16)")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.start >= len(data) - 3:
            return data[: e.start].decode("utf-8")  # a file cut inside its last character
        # Many Chinese characters of valid UTF-8 before the first bad byte: the file was
        # stitched from two encodings, and reading it all as GB18030 would be mojibake.
        if len(_CJK_RE.findall(data[: e.start].decode("utf-8"))) >= 8:
            raise IngestError(
                source, f"undecodable text (mixed encodings: UTF-8 up to byte {e.start}, then not)"
            ) from None
    text = _strict(data, "gb18030", source)
    if garbled_share(text) > _GARBLED_SHARE:
        raise IngestError(source, "undecodable text (not UTF-8, UTF-16 or GB18030)")
    return text


def _strict(data: bytes, codec: str, source: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise IngestError(source, "undecodable text (not UTF-8, UTF-16 or GB18030)") from None


def garbled_share(text: str) -> float:
    """Share of non-space characters that signal a broken text layer or a wrong encoding.

    Suspicious: control, private-use, unassigned and replacement characters; Latin-1 and
    Latin Extended letters and symbols (GBK bytes shown as Latin-1: "»ùÒò"); spacing
    modifiers (˘ˇ); and CJK characters repeated three or more times in a row, which is what
    identity-encoded fonts without a ToUnicode map produce ("佛佛佛佛").
    """
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(1 for c in chars if _suspicious(c))
    # Counted twice: a run like this is far stronger evidence than a stray accented letter.
    bad += 2 * sum(len(m.group()) for m in _CJK_REPEAT_RE.finditer(text))
    return bad / len(chars)


def _suspicious(c: str) -> bool:
    code = ord(c)
    if c == "\ufffd" or 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F:
        return True
    if 0xA1 <= code <= 0x2FF and c not in "§°±·×÷©®µ¶":
        return True
    return unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs") and c not in "\n\t"


# --- plain text and Markdown -------------------------------------------------------------


_HTML_PAGE = re.compile(r"\s*(?:<!doctype\s+html|<html|<head|<body)", re.I)
_HTML_BLOCK_END = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "noscript", "template")}
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")


def _load_txt(path: Path, source: str, *, ocr: bool) -> Document:
    raw = _decode(path.read_bytes(), source)
    if _HTML_PAGE.match(raw):  # a web page saved as .txt: read it as the HTML it is
        return _html_document(raw, source, fmt="txt")
    text = _unwrap(_clean_text(_strip_markup(raw)))
    return Document(doc_id=source, source=source, text=text, format="txt")


def _strip_markup(text: str) -> str:
    """Drop HTML that got into a text or Markdown file: scripts and styles whole, tags but not words.

    Only tag-shaped runs (<p>, </div>, <br/>) go: a bare < or 《》 in the text stays. Linear in the
    length of the text, whatever it holds (see _drop_blocks).
    """
    text = _drop_blocks(text)
    if not _HTML_TAG.search(text):
        return text
    text = re.sub(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6])\s*>", "\n", text, flags=re.I)
    return html.unescape(_HTML_TAG.sub("", text))


def _drop_blocks(text: str) -> str:
    """Remove comments and script/style/noscript/template elements, each with what it encloses.

    One pass: a block's end is looked for from its start on, and once one kind of block has no end
    left in the text, openings of that kind are no longer looked for (each would scan to the end:
    quadratic time on a file of "<script>" repeated, as a regex with .*? takes).
    """
    out: list[str] = []
    pos = 0
    kinds = _BLOCK_KINDS
    while kinds and (start := _block_start(kinds).search(text, pos)) is not None:
        kind = (start.group(1) or "--").lower()
        if kind == "--":
            end = text.find("-->", start.end())
            end = -1 if end < 0 else end + 3
        else:
            found = _HTML_BLOCK_END[kind].search(text, start.end())
            end = found.end() if found else -1
        if end < 0:  # kept as it is (an unclosed opening tag is stripped as a tag below)
            kinds = tuple(k for k in kinds if k != kind)
            continue
        out.append(text[pos:start.start()])
        pos = end
    out.append(text[pos:])
    return "".join(out)


_BLOCK_KINDS = ("--", "script", "style", "noscript", "template")


@functools.lru_cache(maxsize=32)
def _block_start(kinds: tuple[str, ...]) -> re.Pattern:
    """Where a block of one of these kinds may start; every pattern stops at the next "<" or ">"."""
    tags = [k for k in kinds if k != "--"]
    parts = (["<!--"] if "--" in kinds else []) + ([rf"<({'|'.join(tags)})\b[^<>]*>"] if tags else [])
    return re.compile("|".join(parts), re.I)


def _unwrap(text: str) -> str:
    """Rejoin text saved from a PDF with its line breaks (often a blank line after each one).

    Only text that looks hard-wrapped is touched: most lines short and not ending a sentence.
    """
    lines = text.split("\n")
    filled = [line for line in lines if line.strip()]
    if len(filled) < 8:
        return text
    open_ended = sum(not _ends_sentence(line) for line in filled) / len(filled)
    widths = sorted(_display_width(line) for line in filled)
    if open_ended < 0.6 or widths[len(widths) // 2] > 90:
        return text
    if len(filled) < 1.6 * (len(lines) - len(filled)):
        lines = filled  # a blank line after nearly every line separates lines, not paragraphs
    first = next(i for i, line in enumerate(lines) if line.strip())
    # the first line is the title: it may run to the margin but never continues into the next
    joined, _ = _assemble(_join_lines([(line, 1) for line in lines[first + 1:]]))
    return lines[first].strip() + "\n" + joined


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$|^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*$\r?\n?", re.S | re.M)
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.M)


_FRONT_FIELD = re.compile(r"^([\w\u4e00-\u9fff]+):[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.M)
# front-matter keys that set a document's metadata (the same names as metadata.csv columns)
FRONT_MATTER_FIELDS = {
    "doc_number": "doc_number", "文号": "doc_number", "issuer": "issuer", "发文机关": "issuer", "date": "date",
    "发布日期": "date", "doc_type": "doc_type", "类型": "doc_type", "status": "status", "状态": "status",
    "effective": "effective", "施行日期": "effective", "abolished": "abolished", "废止日期": "abolished",
}


def _front_matter(text: str) -> tuple[str, str, dict[str, str]]:
    """Split off a YAML front-matter block (static-site Markdown) -> (title, rest, metadata fields)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return "", text, {}
    title = _FRONT_TITLE.search(m.group(1))
    fields = {FRONT_MATTER_FIELDS[k]: v.strip() for k, v in _FRONT_FIELD.findall(m.group(1))
              if k in FRONT_MATTER_FIELDS and v.strip()}
    return (title.group(1) if title else ""), text[m.end():], fields


def _load_md(path: Path, source: str, *, ocr: bool) -> Document:
    from kb.register import checked_fields

    front_title, raw, fields = _front_matter(_decode(path.read_bytes(), source))
    fields = checked_fields(fields, source, "front matter")
    raw = _strip_markup(raw)
    lines: list[str] = []
    title = front_title
    for line in _split_lines(raw):
        heading = _MD_HEADING.match(line.strip())
        if heading:
            # Headings keep their #'s: the segmenter uses them as section boundaries.
            text = _clean_line(_md_inline(heading.group(2)))
            title = title or (text if len(heading.group(1)) == 1 else "")
            lines.append(f"{heading.group(1)} {text}" if text else "")
        elif _MD_RULE.match(line):
            lines.append("")
        else:
            lines.append(_clean_line(_md_inline(_MD_QUOTE.sub("", line))))
    return Document(doc_id=source, source=source, text=_finish(lines), format="md",
                    title_hint=title, extra={"front_matter": fields} if fields else {})


# (pattern, replacement) in order: images before links, ** before *. No span may hold the character
# that opens it ([ in a link text, * in emphasis): each attempt then stops at the next opener, which
# keeps a line of "[" or "**a " repeated linear instead of quadratic.
_MD_INLINE = (
    (re.compile(r"!\[([^\[\]]*)\]\([^()]*\)"), r"\1"),
    (re.compile(r"\[([^\[\]]+)\]\([^()]*\)"), r"\1"),
    (re.compile(r"\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*"), r"\1"),
    (re.compile(r"__(?=[^\s_])([^_]+?)(?<=\S)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"~~([^~]+?)~~"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
)
_MD_QUOTE = re.compile(r"^\s*>\s?")


def _md_inline(text: str) -> str:
    """Strip Markdown inline markup, keeping the words: emphasis, links, images, code."""
    for pattern, replacement in _MD_INLINE:
        text = pattern.sub(replacement, text)
    return text


# --- JSONL -------------------------------------------------------------------------------


def _load_jsonl(path: Path, source: str) -> tuple[list[Document], list[Failure]]:
    text = _decode(path.read_bytes(), source)
    docs: list[Document] = []
    failures: list[Failure] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            doc = _jsonl_document(line, source)
        except ValueError as e:
            failures.append(Failure(where, str(e)))
            continue
        if doc.doc_id in first_line:
            first = first_line[doc.doc_id]
            failures.append(Failure(where, f"duplicate id {doc.doc_id!r} (first on line {first})"))
            continue
        first_line[doc.doc_id] = lineno
        docs.append(doc)
    return docs, failures


def _jsonl_document(line: str, source: str) -> Document:
    """One JSONL line -> Document; ValueError with a plain reason when the line is unusable."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    id_key = "doc_id" if "doc_id" in record else "id"
    doc_id = record.get(id_key)
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or not str(doc_id).strip():
        raise ValueError("no doc_id or id")
    raw_text = record.get("text")
    if not isinstance(raw_text, str) or not (text := _clean_text(raw_text)):
        raise ValueError("no text")
    title = record.get("title")
    extra = {k: v for k, v in record.items() if k not in (id_key, "text", "title")}
    return Document(
        doc_id=str(doc_id).strip(), source=source, text=text, format="jsonl",
        title_hint=_clean_line(title) if isinstance(title, str) else "", extra=extra,
    )


# --- HTML --------------------------------------------------------------------------------

_HTML_DROP = ("script", "style", "nav", "noscript", "head", "template", "iframe", "svg")
_HTML_BLOCKS = frozenset(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 section article header footer main aside "
    "blockquote pre figure figcaption address center form fieldset table thead tbody tfoot "
    "caption hr br tr".split()
)
_WHITESPACE_RUN = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def _load_html(path: Path, source: str, *, ocr: bool) -> Document:
    return _html_document(_decode_html(path.read_bytes(), source), source)


def _html_document(markup: str, source: str, fmt: str = "html") -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = _html_title(soup)
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    parts: list[str] = []
    _html_walk(soup.body or soup, parts)
    # Nested blocks and the whitespace between tags leave blank lines that mean nothing.
    text = "\n".join(line for line in _clean_text("".join(parts)).split("\n") if line)
    return Document(doc_id=source, source=source, text=text, format=fmt, title_hint=title)


def _decode_html(data: bytes, source: str) -> str:
    """Honour a BOM or a <meta charset>; otherwise the same guesses as for text files."""
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, source)
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii", "replace").lower()
        # GB2312 and GBK pages routinely contain characters only GB18030 (their superset) has.
        codec = "gb18030" if name in ("gb2312", "gbk", "x-gbk", "gb_2312-80") else name
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            log.debug("%s: declared charset %r does not decode; guessing", source, name)
    return _decode(data, source)


def _html_title(soup: Any) -> str:
    # <h1> first: <title> usually carries the site name too ("…的通知-某某政务网").
    for tag in (soup.find("h1"), soup.title):
        if tag is not None:
            text = _one_line(tag.get_text(" "))
            if text:
                return text
    return ""


def _html_walk(node: Any, parts: list[str]) -> None:
    """Append the text under `node`, with a line break around every block element."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    # An explicit stack, not recursion: hostile pages nest 100,000 <div>s deep.
    stack: list[tuple[Iterator[Any], str]] = [(iter(node.children), "")]
    while stack:
        children, closing = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            parts.append(closing)
        elif isinstance(child, PreformattedString):  # comments, doctype, CDATA
            continue
        elif isinstance(child, NavigableString):
            parts.append(_WHITESPACE_RUN.sub(" ", str(child)))
        elif isinstance(child, Tag):
            if child.name == "tr":
                parts.append("\n" + _html_row(child) + "\n")
            elif child.name in _HTML_BLOCKS:
                parts.append("\n")
                stack.append((iter(child.children), "\n"))
            else:
                stack.append((iter(child.children), ""))


def _html_row(tr: Any) -> str:
    cells = []
    for cell in tr.find_all(("td", "th"), recursive=False):
        inner: list[str] = []
        _html_walk(cell, inner)
        cells.append(" ".join("".join(inner).split()))
    return " | ".join(c for c in cells if c)


# --- DOCX --------------------------------------------------------------------------------


def _load_docx(path: Path, source: str, *, ocr: bool) -> Document:
    import docx
    from docx.table import Table

    _check_docx_expansion(path, source)
    try:
        document = docx.Document(str(path))
    except Exception as e:  # noqa: BLE001 - python-docx raises zip, XML and key errors alike
        raise IngestError(source, f"corrupt DOCX ({type(e).__name__}: {e})") from None
    lines: list[str] = []
    title = _meaningful_title(document.core_properties.title or "")
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_docx_table_rows(block))
            continue
        text = block.text
        lines.extend(text.split("\n"))
        if not title and block.style is not None and block.style.name == "Title":
            title = _one_line(text)
    return Document(doc_id=source, source=source, text=_clean_text("\n".join(lines)),
                    format="docx", title_hint=title)


def _check_docx_expansion(path: Path, source: str) -> None:
    """Refuse a DOCX whose parts inflate past MAX_DOCX_EXPANDED, before anything is inflated.

    zipfile stops reading an entry at its declared size, so the declared sizes are a safe bound.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise IngestError(source, f"corrupt DOCX ({type(e).__name__}: {e})") from None
    if expanded > MAX_DOCX_EXPANDED:
        raise IngestError(source, f"DOCX expands to {expanded // 2**20} MB "
                                  f"(limit {MAX_DOCX_EXPANDED // 2**20} MB)")
    _check_docx_body(path, source)


def _check_docx_body(path: Path, source: str) -> None:
    """Refuse a DOCX body too large or with too many paragraphs to parse, counted while streaming it."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo("word/document.xml")
        except KeyError:
            return  # python-docx reports what is missing
        if info.file_size > MAX_DOCX_XML:
            raise IngestError(source, f"DOCX body is {info.file_size // 2**20} MB of XML "
                                      f"(limit {MAX_DOCX_XML // 2**20} MB)")
        paragraphs, tail = 0, b""
        try:
            with archive.open(info) as body:
                while block := body.read(1 << 20):
                    data = tail + block
                    # <w:p> or <w:p attr=...>; not <w:pPr>, <w:proofErr>
                    paragraphs += data.count(b"<w:p>") + data.count(b"<w:p ")
                    # a tag cut by the block boundary is counted with the next block; 4 bytes
                    # cannot hold a whole "<w:p>", so none is counted twice
                    tail = data[-4:]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise IngestError(source, f"corrupt DOCX ({type(e).__name__}: {e})") from None
        if paragraphs > MAX_DOCX_PARAGRAPHS:
            raise IngestError(source, f"DOCX has {paragraphs} paragraphs (limit {MAX_DOCX_PARAGRAPHS})")


def _docx_table_rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        last_tc = None
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans.
            if cell._tc is last_tc:
                continue
            last_tc = cell._tc
            cells.append(" ".join(cell.text.split()))
        line = " | ".join(c for c in cells if c)
        if line:
            rows.append(line)
    return rows


def _meaningful_title(title: str) -> str:
    """A container title worth keeping, or "" for empty, file-name-like or garbled ones."""
    title = _one_line(title)
    if re.match(r"(?i)^(microsoft (word|powerpoint|excel) - |untitled|无标题)", title):
        return ""
    if re.search(r"(?i)\.(docx?|wps|pdf|txt|rtf|xlsx?|pptx?|html?)$", title):
        return ""
    if len(title) < 2 or garbled_share(title) > 0.2 or "?" in title:
        return ""
    return title


# --- PDF ---------------------------------------------------------------------------------


@dataclass
class _PdfPage:
    """The text of one page, where it came from, and why it was dropped if it was."""

    lines: list[str]
    problem: str = ""  # "", "blank", "scanned", "garbled"


def _load_pdf(path: Path, source: str, *, ocr: bool) -> Document:
    reader = _open_pdf(path, source)
    pages = _read_pdf_pages(reader, path, source, ocr=ocr)
    if not any(page.lines for page in pages):
        raise IngestError(source, _no_text_reason(pages, ocr))
    for number, page in enumerate(pages, start=1):
        if page.problem and not page.lines and page.problem != "blank":
            log.warning("%s: page %d dropped (%s)", source, number, page.problem)
    lines = _drop_page_furniture([page.lines for page in pages])
    text, spans = _assemble(_join_lines(lines))
    return Document(doc_id=source, source=source, text=text, format="pdf", pages=spans,
                    title_hint=_pdf_title(reader))


def _open_pdf(path: Path, source: str) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(source, "encrypted: needs a password")
        pages = len(reader.pages)  # forces the page tree to be read, where broken files fail
        if pages > MAX_PAGES:
            raise IngestError(source, f"too many pages ({pages} > {MAX_PAGES})")
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as e:
        raise IngestError(source, f"corrupt PDF ({type(e).__name__}: {e})") from None
    return reader


def _pdf_title(reader: Any) -> str:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - a broken Info dictionary only costs the hint
        return ""
    return _meaningful_title(title) if isinstance(title, str) else ""


def _no_text_reason(pages: list[_PdfPage], ocr: bool) -> str:
    problems = {page.problem for page in pages}
    if "garbled" in problems:
        return ("garbled text layer (broken font encoding) and OCR could not read it either"
                if ocr else "garbled text layer (broken font encoding); OCR is off")
    if "scanned" in problems:
        return ("scanned PDF: OCR found no text" if ocr
                else "scanned PDF (no text layer); OCR is off")
    return "no text: every page is blank"


def _read_pdf_pages(reader: Any, path: Path, source: str, *, ocr: bool) -> list[_PdfPage]:
    """Text of every page: the text layer when it reads well, OCR when it is missing or garbled.

    Every text layer is read first, so that a file needing more OCR than its budget allows is
    refused before any page is rendered.
    """
    layers = []
    allowed = _ocr_pages_allowed() if ocr else len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        raw = _extract_page_text(page, source, number)
        layers.append((raw, _text_layer_problem(raw)))
        if layers[-1][1] and sum(1 for _, problem in layers if problem) > allowed:
            break  # refused below: no need to read the remaining pages' text first
    if ocr:
        _reserve_ocr(sum(1 for _, problem in layers if problem), len(reader.pages), source)
    pages: list[_PdfPage] = []
    renderer: _Renderer | None = None
    try:
        for number, (raw, problem) in enumerate(layers, start=1):
            if not problem:
                pages.append(_PdfPage(_page_lines(raw)))
                continue
            if not ocr:
                pages.append(_PdfPage([], problem))
                continue
            _check_ocr_deadline(source)
            renderer = renderer or _Renderer(path)
            log.info("%s: OCR page %d/%d (%s)", source, number, len(layers), problem)
            pages.append(_ocr_page(renderer, number - 1, raw, problem))
    finally:
        if renderer is not None:
            renderer.close()
    return pages


@dataclass
class OcrBudget:
    """What OCR may still spend within an `ocr_budget` block: pages, and until when (monotonic clock)."""

    pages: int
    deadline: float
    seconds: float


_OCR_BUDGET: ContextVar[OcrBudget | None] = ContextVar("ocr_budget", default=None)


@contextmanager
def ocr_budget(pages: int, seconds: float) -> Iterator[OcrBudget]:
    """Files read inside this block share `pages` pages of OCR and `seconds` of time from now on.

    A file needing more pages than are left is refused before any is read; once the time is up, the
    file being read is refused. Files needing no OCR are unaffected. The app gives each upload one.
    """
    budget = OcrBudget(pages, time.monotonic() + seconds, seconds)
    token = _OCR_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _OCR_BUDGET.reset(token)


def _ocr_pages_allowed() -> int:
    budget = _OCR_BUDGET.get()
    return MAX_OCR_PAGES if budget is None else min(MAX_OCR_PAGES, budget.pages)


def _reserve_ocr(pages: int, total: int, source: str) -> None:
    """Take `pages` pages from the budgets, or refuse the file. The count stops early, just past
    what is allowed, so a refused file's count is a lower bound."""
    if pages > MAX_OCR_PAGES:
        raise IngestError(source, f"too many pages need OCR (more than {MAX_OCR_PAGES} of {total}; "
                                  f"limit {MAX_OCR_PAGES} a file)")
    budget = _OCR_BUDGET.get()
    if budget is not None and pages:
        if pages > budget.pages:
            raise IngestError(source, f"too many pages need OCR (at least {pages} of {total}; "
                                      f"{budget.pages} left of this upload's budget)")
        budget.pages -= pages


def _check_ocr_deadline(source: str) -> None:
    budget = _OCR_BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise IngestError(source, f"OCR took too long (over {budget.seconds:g} s for this upload)")


def _extract_page_text(page: Any, source: str, number: int) -> str:
    try:
        return page.extract_text() or ""
    except Exception as e:  # noqa: BLE001 - a page pypdf cannot parse still gets OCR
        log.debug("%s: page %d text extraction failed: %s", source, number, e)
        return ""


def _text_layer_problem(raw: str) -> str:
    if sum(1 for c in raw if not c.isspace()) < _MIN_PAGE_CHARS:
        return "scanned"
    if garbled_share(raw) > _GARBLED_SHARE:
        return "garbled"
    return ""


def _page_lines(raw: str) -> list[str]:
    return [_clean_line(line, tight_digits=True) for line in _split_lines(raw)]


def _ocr_page(renderer: _Renderer, index: int, raw: str, problem: str) -> _PdfPage:
    image = renderer.render(index)
    if _is_blank(image):
        return _PdfPage([], "blank" if problem == "scanned" else problem)
    lines = [_clean_line(line, tight_digits=True) for line in _ocr_lines(image)]
    text = "".join(lines)
    if garbled_share(text) > _GARBLED_SHARE or not _ocr_recovered(raw, text):
        return _PdfPage([], problem)
    return _PdfPage(lines, problem)


def _ocr_recovered(raw: str, ocr_text: str) -> bool:
    """Did OCR find the text the broken layer claims is there?

    When fonts are not embedded the page renders without its Chinese, and OCR reads only
    digits and Latin letters. A broken layer's CJK characters, and its Latin-1 mojibake
    (two bytes per GBK character), estimate how much Chinese the page really holds.
    """
    if sum(1 for c in ocr_text if not c.isspace()) < _MIN_PAGE_CHARS:
        return False
    expected = len(_CJK_RE.findall(raw)) + sum(1 for c in raw if 0xA1 <= ord(c) <= 0xFF) // 2
    return expected < 20 or len(_CJK_RE.findall(ocr_text)) >= 0.3 * expected


class _Renderer:
    """Renders pages of one PDF to images for OCR; opened only when a page needs it."""

    def __init__(self, path: Path):
        import pypdfium2

        self._doc = pypdfium2.PdfDocument(str(path))

    def render(self, index: int) -> Any:
        page = self._doc[index]
        width, height = page.get_size()
        # Scale 2 reads A4 small print well; larger pages (scans stored at 1 pt a pixel) are
        # capped at the size of an A4 page at scale 2, beyond which OCR slows but reads no better.
        scale = min(2.0, 1700 / max(width, height, 1))
        return page.render(scale=scale).to_numpy()

    def close(self) -> None:
        self._doc.close()


def _is_blank(image: Any) -> bool:
    return float((image < 160).mean()) < 1e-4


@functools.lru_cache(maxsize=1)
def _ocr_engine() -> Any:
    """The RapidOCR engine, built on first use and reused: loading its models takes a second."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def _ocr_lines(image: Any) -> list[str]:
    """OCR a page image -> text lines in reading order; "" marks a paragraph start."""
    result, _ = _ocr_engine()(image)
    boxes = [
        (min(p[0] for p in box), min(p[1] for p in box), max(p[1] for p in box), text)
        for box, text, score in (result or [])
        if float(score) >= 0.5 and text.strip()
    ]
    rows = _group_rows(boxes)
    if not rows:
        return []
    body_left = sorted(row[0] for row in rows)[len(rows) // 2]
    lines: list[str] = []
    for left, height, text in rows:
        # Indented (or centred) lines start a paragraph.
        if left > body_left + 1.2 * height:
            lines.append("")
        lines.append(text)
    return lines


def _group_rows(boxes: list[tuple[float, float, float, str]]) -> list[tuple[float, float, str]]:
    """OCR boxes (left, top, bottom, text) -> rows (left, height, text), top to bottom."""
    rows: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes, key=lambda b: (b[1] + b[2]) / 2):
        middle = (box[1] + box[2]) / 2
        if rows:
            last = rows[-1][-1]
            if abs(middle - (last[1] + last[2]) / 2) < 0.5 * (last[2] - last[1]):
                rows[-1].append(box)
                continue
        rows.append([box])
    out = []
    for row in rows:
        row.sort(key=lambda b: b[0])
        height = sorted(b[2] - b[1] for b in row)[len(row) // 2]
        out.append((row[0][0], height, " ".join(b[3].strip() for b in row)))
    return out


# --- PDF layout cleanup ------------------------------------------------------------------


_DIGIT_RUN = re.compile(r"\d+")
_HYPHENATED_END = re.compile(r"[A-Za-z]-$")


def _drop_page_furniture(pages: list[list[str]]) -> list[tuple[str, int]]:
    """Drop page numbers and running headers/footers; -> (line, 1-based page) in order."""
    repeated = _running_lines(pages)
    out: list[tuple[str, int]] = []
    for number, lines in enumerate(pages, start=1):
        edges = _edge_indexes(lines)
        for i, line in enumerate(lines):
            if i in edges and (_PAGE_NUMBER.match(line) or _furniture_key(line) in repeated):
                continue
            out.append((line, number))
    return out


def _edge_indexes(lines: list[str]) -> set[int]:
    filled = [i for i, line in enumerate(lines) if line]
    return set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:])


def _furniture_key(line: str) -> str:
    # Headers differ only in their page number ("2 / 4 请务必阅读…", "3 / 4 请务必阅读…").
    return _DIGIT_RUN.sub("#", line.replace(" ", ""))


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Keys of lines that sit at the top or bottom of most pages."""
    keys = [{_furniture_key(lines[i]) for i in _edge_indexes(lines)} for lines in pages]
    running: set[str] = set()
    # Books alternate headers (part title on even pages, chapter on odd ones).
    for group in (keys, keys[0::2], keys[1::2]):
        counts: dict[str, int] = {}
        for page_keys in group:
            for key in page_keys:
                counts[key] = counts.get(key, 0) + 1
        needed = max(2, math.ceil(0.5 * len(group)))
        running.update(key for key, count in counts.items() if count >= needed and key)
    return running


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _full_widths(lines: list[tuple[str, int]]) -> dict[int, float]:
    """Per page, the width a line must reach to count as running to the right margin."""
    widths: dict[int, list[int]] = {}
    for text, page in lines:
        if text:
            widths.setdefault(page, []).append(_display_width(text))
    everything = sorted(w for ws in widths.values() for w in ws) or [0]
    overall = everything[int(0.8 * (len(everything) - 1))]
    full = {}
    for page, ws in widths.items():
        ws.sort()
        # Few lines say little about the page's measure; use the document's instead.
        typical = ws[int(0.8 * (len(ws) - 1))] if len(ws) >= 5 else overall
        full[page] = 0.75 * typical
    return full


def _join_lines(lines: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """Glue lines broken mid-sentence back together -> paragraphs as (piece, page) lists.

    A line continues the one before it when that one runs to the margin, does not end a
    sentence, and the new line does not open a structural unit (第X条, 一、, （一）...).
    """
    full = _full_widths(lines)
    paragraphs: list[list[tuple[str, int]]] = []
    visual = ""  # the printed line so far, which pypdf may have cut into several
    for text, page in lines:
        if not text:
            visual = ""
            continue
        if visual and _continues(visual, text, full.get(page, 0.0)):
            last_text, last_page = paragraphs[-1][-1]
            joined_prev, piece = _glue(last_text, text)
            paragraphs[-1][-1] = (joined_prev, last_page)
            paragraphs[-1].append((piece, page))
            visual = visual + text if _CONTINUATION.match(text) else text
        else:
            paragraphs.append([(text, page)])
            visual = text
    return paragraphs


def _continues(previous: str, line: str, full_width: float) -> bool:
    if _CONTINUATION.match(line):
        return True
    if _ends_sentence(previous) or _STRUCT_START.match(line):
        return False
    if _is_table_row(previous) or _is_table_row(line):
        return False
    # The previous line ran to the margin: of the page, or of its own column (then it is
    # about as wide as the next one, which may be the paragraph's short last line).
    width = _display_width(previous)
    return width >= full_width or width >= 0.8 * _display_width(line)


def _ends_sentence(line: str) -> bool:
    # 。” ends a sentence, a bare ” (closing a quoted term) does not.
    stripped = line.rstrip(_CLOSING_QUOTES)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _is_table_row(line: str) -> bool:
    numbers = _NUMBER_TOKEN.findall(line)
    return len(numbers) >= 2 or bool(numbers and line.startswith(numbers[0].strip()))


def _glue(previous: str, line: str) -> tuple[str, str]:
    """Join two lines: no space in Chinese, a space in English, hyphenated words rejoined."""
    if _HYPHENATED_END.search(previous) and line[0].islower():
        return previous[:-1], line
    if _is_wide(previous[-1]) or _is_wide(line[0]):
        return previous, line
    return previous + " ", line


def _is_wide(c: str) -> bool:
    return bool(_WIDE_RE.match(c))


def _assemble(paragraphs: list[list[tuple[str, int]]]) -> tuple[str, tuple[PageSpan, ...]]:
    """Paragraphs of (piece, page) -> text with one paragraph a line, and its page spans."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for n, paragraph in enumerate(paragraphs):
        for i, (piece, page) in enumerate(paragraph):
            if i == len(paragraph) - 1 and n < len(paragraphs) - 1:
                piece += "\n"  # the line break belongs to the page it ends
            if spans and spans[-1].page == page and spans[-1].end == offset:
                spans[-1] = PageSpan(spans[-1].start, offset + len(piece), page)
            else:
                spans.append(PageSpan(offset, offset + len(piece), page))
            parts.append(piece)
            offset += len(piece)
    return "".join(parts), tuple(spans)
