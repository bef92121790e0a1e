"""Hard-wrapped lines back into paragraphs, each piece with its page: PDFs, and text saved from them."""

from __future__ import annotations

import re
import unicodedata

from kb.ingest.clean import WIDE_RE
from kb.types import PageSpan

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


_HYPHENATED_END = re.compile(r"[A-Za-z]-$")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _full_widths(lines: list[tuple[str, int]]) -> dict[int, float]:
    """Per page, the width a line must reach to count as running to the right margin."""
    widths: dict[int, list[int]] = {}
    for text, page in lines:
        if text:
            widths.setdefault(page, []).append(display_width(text))
    everything = sorted(w for ws in widths.values() for w in ws) or [0]
    overall = everything[int(0.8 * (len(everything) - 1))]
    full = {}
    for page, ws in widths.items():
        ws.sort()
        # Few lines say little about the page's measure; use the document's instead.
        typical = ws[int(0.8 * (len(ws) - 1))] if len(ws) >= 5 else overall
        full[page] = 0.75 * typical
    return full


def join_lines(lines: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
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
    if ends_sentence(previous) or _STRUCT_START.match(line):
        return False
    if _is_table_row(previous) or _is_table_row(line):
        return False
    # The previous line ran to the margin: of the page, or of its own column (then it is
    # about as wide as the next one, which may be the paragraph's short last line).
    width = display_width(previous)
    return width >= full_width or width >= 0.8 * display_width(line)


def ends_sentence(line: str) -> bool:
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
    return bool(WIDE_RE.match(c))


def assemble(paragraphs: list[list[tuple[str, int]]]) -> tuple[str, tuple[PageSpan, ...]]:
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
