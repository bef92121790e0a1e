"""PDF files: the text layer page by page, OCR where it is missing or garbled, page furniture dropped."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import IngestError
from kb.ingest.clean import CJK_RE, GARBLED_SHARE, MIN_PAGE_CHARS, clean_line, garbled_share, meaningful_title, split_lines
from kb.ingest.limits import MAX_PAGES, check_ocr_deadline, ocr_pages_allowed, reserve_ocr
from kb.ingest.lines import assemble, join_lines
from kb.ingest.ocr import Renderer, is_blank, ocr_lines
from kb.types import Document, Failure

log = logging.getLogger(__name__)

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


@dataclass
class _PdfPage:
    """The text of one page, where it came from, and why it was dropped if it was."""

    lines: list[str]
    problem: str = ""  # "", "blank", "scanned", "garbled"


def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    reader = _open_pdf(path, source)
    pages = _read_pdf_pages(reader, path, source, ocr=ocr)
    if not any(page.lines for page in pages):
        raise IngestError(source, _no_text_reason(pages, ocr))
    for number, page in enumerate(pages, start=1):
        if page.problem and not page.lines and page.problem != "blank":
            log.warning("%s: page %d dropped (%s)", source, number, page.problem)
    lines = _drop_page_furniture([page.lines for page in pages])
    text, spans = assemble(join_lines(lines))
    return [Document(doc_id=source, source=source, text=text, format="pdf", pages=spans,
                     title_hint=_pdf_title(reader))], []


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
    return meaningful_title(title) if isinstance(title, str) else ""


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
    allowed = ocr_pages_allowed() if ocr else len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        raw = _extract_page_text(page, source, number)
        layers.append((raw, _text_layer_problem(raw)))
        if layers[-1][1] and sum(1 for _, problem in layers if problem) > allowed:
            break  # refused below: no need to read the remaining pages' text first
    if ocr:
        reserve_ocr(sum(1 for _, problem in layers if problem), len(reader.pages), source)
    pages: list[_PdfPage] = []
    renderer: Renderer | None = None
    try:
        for number, (raw, problem) in enumerate(layers, start=1):
            if not problem:
                pages.append(_PdfPage(_page_lines(raw)))
                continue
            if not ocr:
                pages.append(_PdfPage([], problem))
                continue
            check_ocr_deadline(source)
            renderer = renderer or Renderer(path)
            log.info("%s: OCR page %d/%d (%s)", source, number, len(layers), problem)
            pages.append(_ocr_page(renderer, number - 1, raw, problem))
    finally:
        if renderer is not None:
            renderer.close()
    return pages


def _extract_page_text(page: Any, source: str, number: int) -> str:
    try:
        return page.extract_text() or ""
    except Exception as e:  # noqa: BLE001 - a page pypdf cannot parse still gets OCR
        log.debug("%s: page %d text extraction failed: %s", source, number, e)
        return ""


def _text_layer_problem(raw: str) -> str:
    if sum(1 for c in raw if not c.isspace()) < MIN_PAGE_CHARS:
        return "scanned"
    if garbled_share(raw) > GARBLED_SHARE:
        return "garbled"
    return ""


def _page_lines(raw: str) -> list[str]:
    return [clean_line(line, tight_digits=True) for line in split_lines(raw)]


def _ocr_page(renderer: Renderer, index: int, raw: str, problem: str) -> _PdfPage:
    image = renderer.render(index)
    if is_blank(image):
        return _PdfPage([], "blank" if problem == "scanned" else problem)
    lines = [clean_line(line, tight_digits=True) for line in ocr_lines(image)]
    text = "".join(lines)
    if garbled_share(text) > GARBLED_SHARE or not _ocr_recovered(raw, text):
        return _PdfPage([], problem)
    return _PdfPage(lines, problem)


def _ocr_recovered(raw: str, ocr_text: str) -> bool:
    """Did OCR find the text the broken layer claims is there?

    When fonts are not embedded the page renders without its Chinese, and OCR reads only
    digits and Latin letters. A broken layer's CJK characters, and its Latin-1 mojibake
    (two bytes per GBK character), estimate how much Chinese the page really holds.
    """
    if sum(1 for c in ocr_text if not c.isspace()) < MIN_PAGE_CHARS:
        return False
    expected = len(CJK_RE.findall(raw)) + sum(1 for c in raw if 0xA1 <= ord(c) <= 0xFF) // 2
    return expected < 20 or len(CJK_RE.findall(ocr_text)) >= 0.3 * expected


# --- page furniture ----------------------------------------------------------------------


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
