"""Plain text files: decoded, stripped of stray HTML, unwrapped when saved from a PDF."""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path

from kb.ingest.clean import clean_text, decode
from kb.ingest.html import html_document
from kb.ingest.lines import assemble, display_width, ends_sentence, join_lines
from kb.types import Document, Failure

_HTML_PAGE = re.compile(r"\s*(?:<!doctype\s+html|<html|<head|<body)", re.I)
_HTML_BLOCK_END = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "noscript", "template")}
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")


def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    raw = decode(path.read_bytes(), source)
    if _HTML_PAGE.match(raw):  # a web page saved as .txt: read it as the HTML it is
        return [html_document(raw, source, fmt="txt")], []
    text = _unwrap(clean_text(strip_markup(raw)))
    return [Document(doc_id=source, source=source, text=text, format="txt")], []


def strip_markup(text: str) -> str:
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
    open_ended = sum(not ends_sentence(line) for line in filled) / len(filled)
    widths = sorted(display_width(line) for line in filled)
    if open_ended < 0.6 or widths[len(widths) // 2] > 90:
        return text
    if len(filled) < 1.6 * (len(lines) - len(filled)):
        lines = filled  # a blank line after nearly every line separates lines, not paragraphs
    first = next(i for i, line in enumerate(lines) if line.strip())
    # the first line is the title: it may run to the margin but never continues into the next
    joined, _ = assemble(join_lines([(line, 1) for line in lines[first + 1:]]))
    return lines[first].strip() + "\n" + joined
