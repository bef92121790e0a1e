"""HTML pages: the body's text with a line per block and a row per table row; the charset as declared."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.ingest.clean import clean_text, decode, one_line
from kb.types import Document, Failure

log = logging.getLogger(__name__)

_HTML_DROP = ("script", "style", "nav", "noscript", "head", "template", "iframe", "svg")
_HTML_BLOCKS = frozenset(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 section article header footer main aside "
    "blockquote pre figure figcaption address center form fieldset table thead tbody tfoot "
    "caption hr br tr".split()
)
_WHITESPACE_RUN = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    return [html_document(_decode_html(path.read_bytes(), source), source)], []


def html_document(markup: str, source: str, fmt: str = "html") -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = _html_title(soup)
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    parts: list[str] = []
    _html_walk(soup.body or soup, parts)
    # Nested blocks and the whitespace between tags leave blank lines that mean nothing.
    text = "\n".join(line for line in clean_text("".join(parts)).split("\n") if line)
    return Document(doc_id=source, source=source, text=text, format=fmt, title_hint=title)


def _decode_html(data: bytes, source: str) -> str:
    """Honour a BOM or a <meta charset>; otherwise the same guesses as for text files."""
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return decode(data, source)
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii", "replace").lower()
        # GB2312 and GBK pages routinely contain characters only GB18030 (their superset) has.
        codec = "gb18030" if name in ("gb2312", "gbk", "x-gbk", "gb_2312-80") else name
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            log.debug("%s: declared charset %r does not decode; guessing", source, name)
    return decode(data, source)


def _html_title(soup: Any) -> str:
    # <h1> first: <title> usually carries the site name too ("…的通知-某某政务网").
    for tag in (soup.find("h1"), soup.title):
        if tag is not None:
            text = one_line(tag.get_text(" "))
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
