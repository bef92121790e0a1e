"""An answer taken away: as Markdown with numbered sources, and as a .docx (python-docx) whose
sources are listed after the text, each with its document, 文号, clause, page and quote."""

from __future__ import annotations

import re
from pathlib import Path

from kb.types import Answer, Citation

SOURCES_HEADING = "来源"
_MARKER = re.compile(r"\[(\d{1,3})\]")


def source_line(c: Citation, name: str) -> str:
    """How one source is listed: name, clause path and pages, then the file."""
    where = [" > ".join(c.path)] if c.path else []
    if c.pages:
        where.append("第 " + "、".join(map(str, c.pages)) + " 页")
    return " · ".join([name, *where, c.source])


def _names(answer: Answer, name_of) -> list[str]:
    return [name_of(c) for c in answer.citations]


def to_markdown(answer: Answer, name_of=None) -> str:
    """The question, the answer with its [n] markers, and the numbered sources with their quotes.

    `name_of(citation)` names a document (the app passes the register's 《title》（year）); by
    default the citation's own title and 文号.
    """
    name_of = name_of or _default_name
    # blank lines between blocks: Markdown joins single lines into one paragraph
    blocks = [f"**问题：**{answer.question}", *(line for line in answer.text.split("\n") if line.strip())]
    if answer.citations:
        blocks.append(f"**{SOURCES_HEADING}**")
        blocks += [f"[{c.n}] {source_line(c, name)}\n> {' '.join(c.quote.split())}"
                   for c, name in zip(answer.citations, _names(answer, name_of))]
    return "\n\n".join(blocks) + "\n"


def write_docx(answer: Answer, path: Path, name_of=None) -> Path:
    """The answer as a Word document: the question as its heading, the text with its [n] markers
    as superscripts, then a numbered list of the sources with their quoted spans."""
    from docx import Document
    from docx.shared import Pt

    name_of = name_of or _default_name
    doc = Document()
    doc.add_heading(answer.question, level=1)
    for block in answer.text.split("\n"):
        para = doc.add_paragraph()
        pos = 0
        for m in _MARKER.finditer(block):
            para.add_run(block[pos:m.start()])
            para.add_run(m.group(0)).font.superscript = True
            pos = m.end()
        para.add_run(block[pos:])
    if answer.citations:
        doc.add_heading(SOURCES_HEADING, level=2)
        for c, name in zip(answer.citations, _names(answer, name_of)):
            para = doc.add_paragraph()
            para.add_run(f"[{c.n}] ").bold = True
            para.add_run(source_line(c, name))
            quote = doc.add_paragraph(" ".join(c.quote.split()))
            quote.paragraph_format.left_indent = Pt(18)
            quote.runs[0].italic = True
    path = Path(path)
    doc.save(str(path))
    return path


def _default_name(c: Citation) -> str:
    return (f"《{c.title}》" if c.title else c.doc_id) + (f"（{c.doc_number}）" if c.doc_number else "")
