"""DOCX files: paragraphs and table rows in order, after checks that refuse a zip bomb unopened.

(`import docx` below is python-docx: imports are absolute.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.errors import IngestError
from kb.ingest.clean import clean_text, meaningful_title, one_line
from kb.ingest.limits import MAX_DOCX_EXPANDED, MAX_DOCX_PARAGRAPHS, MAX_DOCX_XML
from kb.types import Document, Failure

def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    import docx
    from docx.table import Table

    _check_docx_expansion(path, source)
    try:
        document = docx.Document(str(path))
    except Exception as e:  # noqa: BLE001 - python-docx raises zip, XML and key errors alike
        raise IngestError(source, f"corrupt DOCX ({type(e).__name__}: {e})") from None
    lines: list[str] = []
    title = meaningful_title(document.core_properties.title or "")
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_docx_table_rows(block))
            continue
        text = block.text
        lines.extend(text.split("\n"))
        if not title and block.style is not None and block.style.name == "Title":
            title = one_line(text)
    return [Document(doc_id=source, source=source, text=clean_text("\n".join(lines)),
                     format="docx", title_hint=title)], []


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
