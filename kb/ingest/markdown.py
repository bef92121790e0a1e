"""Markdown files: headings kept as section marks, inline markup dropped, front matter read as metadata."""

from __future__ import annotations

import re
from pathlib import Path

from kb.ingest.clean import clean_line, decode, finish, split_lines
from kb.ingest.text import strip_markup
from kb.types import Document, Failure

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


def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    from kb.register import checked_fields

    front_title, raw, fields = _front_matter(decode(path.read_bytes(), source))
    fields = checked_fields(fields, source, "front matter")
    raw = strip_markup(raw)
    lines: list[str] = []
    title = front_title
    for line in split_lines(raw):
        heading = _MD_HEADING.match(line.strip())
        if heading:
            # Headings keep their #'s: the segmenter uses them as section boundaries.
            text = clean_line(_md_inline(heading.group(2)))
            title = title or (text if len(heading.group(1)) == 1 else "")
            lines.append(f"{heading.group(1)} {text}" if text else "")
        elif _MD_RULE.match(line):
            lines.append("")
        else:
            lines.append(clean_line(_md_inline(_MD_QUOTE.sub("", line))))
    return [Document(doc_id=source, source=source, text=finish(lines), format="md",
                     title_hint=title, extra={"front_matter": fields} if fields else {})], []


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
