"""Cut a Document into Chunks along its own structure: 编/章/节/条, 一、（一）1.（1）, 附件, headings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kb.types import Chunk, Document

# Structural units that only ever label a span (their heading line is kept in the path, not the text).
_OUTLINE = frozenset({"编", "部分", "章", "节"})
# Nesting order, outer first. 条 is innermost: list markers inside an article are its 项, not sections.
_RANKS = {"附件": 0, "编": 10, "部分": 10, "章": 20, "节": 30,
          "一、": 40, "（一）": 50, "1.": 60, "（1）": 70, "条": 80}
_MAX_ARTICLE_GAP = 10  # a law may skip repealed numbers, but a reference to 第九十条 inside 第九条 is no heading
_LONG_LINE = 200  # lines longer than this may hold several paragraphs run together (scraped notices)
_LABEL_CAP = 30
_OUTLINE_TITLE_CAP = 40

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}

_CN = "[零〇一二两三四五六七八九十百千]+"
_NUM = rf"(?:{_CN}|[0-9０-９]+)"
_MD_RE = re.compile(r"#{1,6}(?:\s+|(?=第))")
_OUTLINE_RE = re.compile(rf"第({_NUM})(编|章|节|部分)")
_ARTICLE_RE = re.compile(rf"第({_NUM})条(?:之({_CN}))?")
_ARTICLE_LABEL = re.compile(rf"第{_NUM}条")


def is_article(label: str) -> bool:
    """Whether a chunk's structural label is a statute's numbered article (第十五条, 第15条), not a
    notice's 一、 or 1. nor a 章."""
    return bool(_ARTICLE_LABEL.match(label))
# "第十二条规定的…", "第五条第二款", "第三条、第四条" start a line as references, not as articles.
_CROSS_REF_RE = re.compile(rf"(?:规定|的|第|至|、|，|和|或|及|所|款|项|之(?!{_CN}))|\s+第{_NUM}[条款项]")
_ANNEX_RE = re.compile(r"附件\s*([0-9０-９]+|[一二三四五六七八九十]+)?\s*(?:[：:]|(?=\s)|$)")
_LIST_RES = (
    ("一、", re.compile(rf"({_CN})、(?!{_CN}、)")),
    ("（一）", re.compile(rf"[（(]({_CN})[）)]")),
    ("1.", re.compile(r"([0-9]{1,2})(?:[.．](?![0-9.．])|、)")),
    ("（1）", re.compile(r"[（(]([0-9]{1,2})[）)]")),
)
# Where a heading title ends: sentence punctuation, a wide gap, or a space between two CJK characters.
_TITLE_END_RE = re.compile(r"[。！？；：:]|\s*[\u3000\xa0\t]\s*|\s{2,}|(?<=[^\x00-\x7f])\s(?=[^\x00-\x7f])")
_MARKER_AHEAD_RE = re.compile(r"[一二三四五六七八九十]+、|[（(](?:[一二三四五六七八九十]+|[0-9]{1,2})[）)]|[0-9]{1,2}[.．、](?![0-9])")
_SOFT_BREAK_RE = re.compile(r"\s+|(?<=[。！？：；])(?=[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")
_SENTENCE_RE = re.compile(r"(?:[^。！？；!?.]|\.(?!\s))*(?:(?:[。！？；!?]|\.(?=\s|$))+[”’」』》）)\"']*)?")
_CJK_GAP_RE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")
_SPACE_RUN_RE = re.compile(r"\s+")
# A 编/章/节 title is a name; punctuation inside means the line is a sentence citing one.
_SENTENCE_PUNCT_RE = re.compile(r"[。；！？，]")

Span = tuple[int, int]


@dataclass(frozen=True)
class _Heading:
    kind: str  # a key of _RANKS, or "md"
    number: int  # 0 when unnumbered
    label: str
    heading_only: bool  # the line holds the heading and nothing else
    sub: bool = False  # 第N条之M
    md_level: int = 0

    @property
    def rank(self) -> int:
        return self.md_level if self.kind == "md" else _RANKS[self.kind]


@dataclass(frozen=True)
class _Block:
    """One paragraph (or one run-together piece of a long line) and the section it belongs to."""

    start: int
    end: int
    heading: _Heading | None
    path: tuple[str, ...]
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class _Leaf:
    """Consecutive blocks that end up in one chunk unless longer than the cap."""

    path: tuple[str, ...]
    kinds: tuple[str, ...]
    spans: tuple[Span, ...]
    heading_only: bool

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    @property
    def article(self) -> bool:
        return self.kinds[-1:] == ("条",)


def cn_to_int(text: str) -> int:
    """Value of a Chinese or Arabic numeral: 一百零三 -> 103, 十二 -> 12, 两 -> 2, 二〇二〇 -> 2020, 12 -> 12."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch not in _CN_BIG for ch in text):
        raise ValueError(f"not a numeral: {text!r}")
    if not any(ch in _CN_UNITS or ch in _CN_BIG for ch in text):  # read digit by digit: 二〇二〇
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = section = digit = 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        else:
            total += (section + digit) * _CN_BIG[ch]
            section = digit = 0
    return total + section + digit


def segment(doc: Document, *, max_chars: int = 600, min_chars: int = 80) -> list[Chunk]:
    """Chunks of `doc` in text order: one per 条, one per small section, prose packed under `max_chars`.

    Paths run outer to inner: ("第三章 职业教育的实施", "第二十四条"), ("三、存在的主要问题", "1.…").
    编/章/节/部分 heading lines appear only in paths; other heading lines open their section's chunk.
    Text before the first heading has path (). Sibling sections shorter than `min_chars` are merged
    forward while the result fits `max_chars`; the merged chunk's label names the first and the
    last of them (see `range_label`).
    """
    blocks = _annotate(doc.text, _blocks(doc.text))
    groups = _merge_small(_leaves(blocks, min_chars), min_chars, max_chars)
    spans = [(g.path, s) for g in groups for s in _cut(doc.text, g, min_chars, max_chars)]
    return [
        Chunk(chunk_id=f"{doc.doc_id}#{i}", doc_id=doc.doc_id, source=doc.source, path=path,
              start=start, end=end, pages=doc.pages_for(start, end), text=doc.text[start:end],
              roles=clause_roles(doc.text[start:end]))
        for i, (path, (start, end)) in enumerate(spans)
    ]


# "本办法所称职业技能等级证书，是指…", "…的含义是", "下列用语的含义"
_DEFINITION = re.compile(r"本(?:法|条例|办法|规定|细则|决定|方案|意见|通知)(?:中)?所(?:称|指)|是指|系指|指的是|下列用语的含义|定义为")
_OBLIGATION = re.compile(r"应当|必须|不得|禁止|严禁|负责")


_DEFINED = re.compile(r"(?:所称|所指)的?[“\"]?([^，,。；“”\"]{2,30}?)[”\"]?[，,]?\s*(?:是指|系指|指)|"
                      r"[“\"]([^，,。；“”\"]{2,20})[”\"][，,]?\s*(?:是指|系指)")


def defined_terms(text: str) -> tuple[str, ...]:
    """Terms a clause defines: 本法所称职业教育，是指… -> ("职业教育",)."""
    return tuple(dict.fromkeys(a or b for a, b in _DEFINED.findall(text)))


def clause_roles(text: str) -> tuple[str, ...]:
    """What a clause does: defines a term, and/or imposes a duty or a prohibition."""
    roles = []
    if _DEFINITION.search(text):
        roles.append("definition")
    if _OBLIGATION.search(text):
        roles.append("obligation")
    return tuple(roles)


# --- paragraphs ---------------------------------------------------------------------------------


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _blocks(text: str) -> list[Span]:
    """Non-empty stripped lines; long or lone lines are further cut where paragraphs were run together."""
    out: list[Span] = []
    one_line = "\n" not in text.strip()
    pos = 0
    for line in text.split("\n"):
        start, end = _strip(text, pos, pos + len(line))
        pos += len(line) + 1
        if start < end:
            run_together = one_line or end - start > _LONG_LINE
            out.extend(_split_long_line(text, start, end) if run_together else [(start, end)])
    return out


def _split_long_line(text: str, start: int, end: int) -> list[Span]:
    # Scraped notices put a whole document on one line; wide gaps, a gap after a sentence and a gap
    # before a list marker stand for lost paragraph breaks, and so does 一、/（一） right after 。or ：.
    out: list[Span] = []
    for m in _SOFT_BREAK_RE.finditer(text, start, end):
        # A lone space is a break only after a sentence or before a list marker; any other
        # match (a wider gap, a newline, the empty match after 。) always is.
        if (m.group() != " " or text[m.start() - 1] in "。！？：；”」"
                or _MARKER_AHEAD_RE.match(text, m.end(), end)):
            out.append(_strip(text, start, m.start()))
            start = m.end()
    out.append(_strip(text, start, end))
    return [(s, e) for s, e in out if s < e]


# --- headings -----------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """One space for any run of whitespace, none between two CJK characters ("总 则" -> "总则")."""
    return _CJK_GAP_RE.sub("", _SPACE_RUN_RE.sub(" ", text).strip())


def _title(rest: str) -> tuple[str, bool]:
    """The heading title at the start of `rest` (capped) and whether it is all of `rest`."""
    rest = rest.strip()
    m = _TITLE_END_RE.search(rest)
    title = _normalise(rest[: m.start()] if m else rest)
    whole = m is None or not rest[m.end():].strip(" 。：:；")
    if len(title) > _LABEL_CAP:
        comma = title.rfind("，", 0, _LABEL_CAP)
        title, whole = (title[:comma] if comma >= 8 else title[:_LABEL_CAP]), False
    return title, whole


def _parse_heading(line: str) -> _Heading | None:
    """The heading a line starts with, judged by its form alone (numbering is checked later)."""
    md = _MD_RE.match(line)
    rest = line[md.end():] if md else line
    heading = _parse_outline(rest) or _parse_article(rest) or _parse_annex(rest) or _parse_list(rest)
    if heading or not md or not rest.strip():
        return heading
    return _Heading("md", 0, _title(rest)[0], True, md_level=md.group().count("#"))


def _parse_outline(line: str) -> _Heading | None:
    m = _OUTLINE_RE.match(line)
    if not m:
        return None
    title = _normalise(line[m.end():])
    if len(title) > _OUTLINE_TITLE_CAP or _SENTENCE_PUNCT_RE.search(title) or _CROSS_REF_RE.match(line, m.end()):
        return None
    label = f"{_normalise(m.group())} {title}".strip()
    return _Heading(m.group(2), cn_to_int(m.group(1)), label, True)


def _parse_article(line: str) -> _Heading | None:
    m = _ARTICLE_RE.match(line)
    if not m or _CROSS_REF_RE.match(line, m.end()):
        return None
    return _Heading("条", cn_to_int(m.group(1)), m.group(), not line[m.end():].strip(), sub=bool(m.group(2)))


def _parse_annex(line: str) -> _Heading | None:
    m = _ANNEX_RE.match(line)
    if not m:
        return None
    title, whole = _title(line[m.end():])
    marker = _normalise(f"附件{m.group(1) or ''}")
    return _Heading("附件", 0, f"{marker} {title}".strip(), whole)


def _parse_list(line: str) -> _Heading | None:
    for kind, pattern in _LIST_RES:
        m = pattern.match(line)
        if m:
            title, whole = _title(line[m.end():])
            return _Heading(kind, cn_to_int(m.group(1)), m.group() + title, whole)
    return None


class _Outline:
    """The open sections while reading a document, and the last number seen at each level."""

    def __init__(self) -> None:
        self.stack: list[_Heading] = []
        self.last: dict[str, int] = {}
        self.ever: dict[str, int] = {}  # last number before any restart: 5． may follow 4． across 一、二、

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.stack)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(h.kind for h in self.stack)

    def accepts(self, h: _Heading) -> bool:
        """Whether `h` continues the numbering; out-of-sequence look-alikes are body text."""
        last = self.last.get(h.kind, 0)
        if h.kind in ("附件", "md"):
            return True
        if h.kind == "条" and h.sub:
            return h.number == last
        if h.kind == "条":
            return last == 0 or h.number == 1 or last < h.number <= last + _MAX_ARTICLE_GAP
        if h.kind in _OUTLINE:
            return last == 0 or h.number in (1, last + 1)
        resumed = last == 0 and h.number == self.ever.get(h.kind, 0) + 1
        return "条" not in self.kinds and (h.number == last + 1 or resumed)

    def push(self, h: _Heading) -> None:
        while self.stack and self.stack[-1].rank >= h.rank:
            self.stack.pop()
        self.stack.append(h)
        self.last[h.kind] = self.ever[h.kind] = h.number
        for kind in self.last:  # inner numbering restarts; articles run on through chapters
            if kind != h.kind and _RANKS.get(kind, 0) > h.rank and (kind != "条" or h.kind == "附件"):
                self.last[kind] = 0


def _annotate(text: str, spans: list[Span]) -> list[_Block]:
    outline = _Outline()
    out: list[_Block] = []
    for i, (start, end) in enumerate(spans):
        h = _parse_heading(text[start:end])
        if h and ((h.kind == "md" and i == 0) or not outline.accepts(h)):
            h = None  # a leading "# title" is the document's title, not a section
        if h:
            outline.push(h)
        out.append(_Block(start, end, h, outline.path, outline.kinds))
    return out


# --- grouping -----------------------------------------------------------------------------------


def _is_below(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    return bool(outer) and len(inner) > len(outer) and inner[: len(outer)] == outer


def _leaves(blocks: list[_Block], min_chars: int) -> list[_Leaf]:
    """Sections with their body; a short parent section is carried into its first child's chunk."""
    leaves: list[_Leaf] = []
    cur: _Leaf | None = None
    for b in blocks:
        span, h = (b.start, b.end), b.heading
        if h is None:
            if cur is not None and cur.path == b.path:
                cur = _Leaf(cur.path, cur.kinds, cur.spans + (span,), False)
            else:
                leaves += [cur] if cur else []
                cur = _Leaf(b.path, b.kinds, (span,), False)
            continue
        below = cur is not None and _is_below(cur.path, b.path)
        if below and h.kind != "条" and h.kind not in _OUTLINE and cur.end - cur.start < min_chars:
            cur = _Leaf(b.path, b.kinds, cur.spans + (span,), cur.heading_only and h.heading_only)
            continue
        if cur is not None and not (below and cur.heading_only):  # else the bare heading lives on in the path
            leaves.append(cur)
        cur = None if h.kind in _OUTLINE else _Leaf(b.path, b.kinds, (span,), h.heading_only)
    return leaves + ([cur] if cur else [])


def _is_sibling(a: _Leaf, b: _Leaf) -> bool:
    depth = len(a.path)
    return (depth > 0 and len(b.path) >= depth and b.path[: depth - 1] == a.path[:-1]
            and b.kinds[depth - 1] == a.kinds[-1])


def _merge_small(leaves: list[_Leaf], min_chars: int, max_chars: int) -> list[_Leaf]:
    out: list[_Leaf] = []
    for leaf in leaves:
        prev = out[-1] if out else None
        if (prev is not None and not prev.article and not leaf.article and _is_sibling(prev, leaf)
                and prev.end - prev.start < min_chars and leaf.end - prev.start <= max_chars):
            depth = len(prev.path)
            label = range_label(prev.path[-1], leaf.path[depth - 1])
            out[-1] = _Leaf(prev.path[:-1] + (label,), prev.kinds, prev.spans + leaf.spans, False)
        else:
            out.append(leaf)
    return out


RANGE_SEPARATOR = " — "
_MARKER = re.compile(r"^(?:[（(][一二三四五六七八九十百\d]+[）)]|[一二三四五六七八九十百]+、|\d+[.．、]|附件\d*)")


def range_label(first: str, last: str, cap: int = 30) -> str:
    """The label of sibling sections merged into one chunk, so a citation names all of them.

    "（一）明确证书性质" + "（三）推进书证融通" -> "（一）明确证书性质 — （三）推进书证融通"; past `cap`
    characters only the numbering is kept: "（一） — （三）".
    """
    first = first.split(RANGE_SEPARATOR)[0]  # already a range: keep where it starts
    label = f"{first}{RANGE_SEPARATOR}{last}"
    if len(label) <= cap:
        return label
    short = [m.group() if (m := _MARKER.match(x)) else x[:8] for x in (first, last)]
    return RANGE_SEPARATOR.join(short)


# --- cutting under the cap ----------------------------------------------------------------------


def _cut(text: str, leaf: _Leaf, min_chars: int, max_chars: int) -> list[Span]:
    if leaf.end - leaf.start <= max_chars:
        return [(leaf.start, leaf.end)]
    pieces = [p for s, e in leaf.spans for p in _pieces(text, s, e, max_chars)]
    return _pack(pieces, min_chars, max_chars)


def _pieces(text: str, start: int, end: int, max_chars: int) -> list[Span]:
    """A paragraph as one piece, or as its sentences when too long, or as even slices at worst."""
    if end - start <= max_chars:
        return [(start, end)]
    out: list[Span] = []
    for m in _SENTENCE_RE.finditer(text, start, end):
        s, e = _strip(text, m.start(), m.end())
        if s < e:
            out.extend(_slices(text, s, e, max_chars))
    return out


def _slices(text: str, start: int, end: int, max_chars: int) -> list[Span]:
    n = math.ceil((end - start) / max_chars)
    size = math.ceil((end - start) / n)
    cuts = [_strip(text, s, min(s + size, end)) for s in range(start, end, size)]
    return [(s, e) for s, e in cuts if s < e]


def _pack(pieces: list[Span], min_chars: int, max_chars: int) -> list[Span]:
    """Consecutive pieces joined into spans of about equal length, none over `max_chars`."""
    total = pieces[-1][1] - pieces[0][0]
    target = total / math.ceil(total / max_chars)
    out: list[Span] = []
    start, end = pieces[0]
    for s, e in pieces[1:]:
        if e - start > max_chars or (e - start) - target > target - (end - start):
            out.append((start, end))
            start = s
        end = e
    if out and end - start < min_chars and end - out[-1][0] <= max_chars:
        start = out.pop()[0]
    return out + [(start, end)]
