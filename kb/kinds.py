"""Answers shaped by the kind of question: an article by its number, a date, how often a law was
revised, the document a rule comes from, a document's overview (lists: kb/lists.py; two versions side by
side: kb/versions.py).
Each quote is cited to the section it stands in."""

from __future__ import annotations

import re
from dataclasses import replace

from kb.compose import LEADING_LABEL, bigrams, clause_span, is_statement, list_items, section_path, sentence_spans
from kb.question import Question
from kb.register import NOT_NORMATIVE
from kb.segment import is_article
from kb.metadata import find_doc_numbers
from kb.prompts import ABOLISHED_LEAD, ABOLISHED_NOTE, AMENDED_NOTE, CITED_NOT_HELD, SUPERSEDED_NOTE
from kb.types import Answer, Citation, Hit, Reference

_DATE_LINE = re.compile(r"^[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日")


def source_name(title: str, doc_number: str, doc_id: str) -> str:
    name = f"《{title}》" if title else doc_id
    return f"{name}（{doc_number}）" if doc_number else name


def doc_name(index, doc_id: str) -> str:
    """How an answer names a document: with its year when the work has several versions."""
    register = index.register
    entry = register.entries.get(doc_id)
    if entry is not None and len(entry.versions) > 1:
        return register.name(doc_id)
    meta = index.records[doc_id].meta
    return source_name(meta.title, meta.doc_number, doc_id)


def doc_text(index, doc_id: str) -> str:
    """A document's text rebuilt from its chunks (chunk text == document text at its offsets)."""
    out: list[str] = []
    length = 0
    for row in sorted(index.doc_rows.get(doc_id, []), key=lambda r: index.chunks[r].start):
        c = index.chunks[row]
        if c.start < length:
            continue
        out.append("\n" * (c.start - length) + c.text)  # the gaps between chunks are line breaks
        length = c.end
    return "".join(out)


def cite_span(index, n: int, doc_id: str, start: int, end: int) -> Citation | None:
    """Cite characters [start, end) of a document by the chunk holding them (clipped to it), under
    the section the span's first character stands in."""
    record = index.records[doc_id]
    for row in index.doc_rows.get(doc_id, []):
        c = index.chunks[row]
        if c.start <= start < c.end:
            end = min(end, c.end)
            path = section_path(c.path, c.text, start - c.start)
            return Citation(n, doc_id, c.source, record.meta.title, record.meta.doc_number, path, c.pages,
                            start, end, c.text[start - c.start:end - c.start])
    return None


def cite_in_hit(n: int, hit: Hit, start: int, end: int) -> Citation:
    """Cite characters [start, end) of a hit's chunk text."""
    c = hit.chunk
    return Citation(n, c.doc_id, c.source, hit.title, hit.doc_number, section_path(c.path, c.text, start), c.pages,
                    c.start + start, c.start + end, c.text[start:end])


def where(c: Citation) -> str:
    return c.path[-1] if c.path else ""


def with_continuation(index, citations: list[Citation], limit: int = 400) -> list[Citation]:
    """A quote ending in a colon at the end of its passage (「…现将有关事项通知如下：」) followed by
    what it leads into: the items (or the first paragraph) the next passage of its document opens
    with, cited in turn; citations renumbered."""
    out: list[Citation] = []
    for c in citations:
        out.append(c)
        if not c.quote.rstrip().endswith(("：", ":")):
            continue
        rows = sorted(index.doc_rows.get(c.doc_id, []), key=lambda r: index.chunks[r].start)
        at = next((k for k, r in enumerate(rows) if index.chunks[r].start <= c.start < index.chunks[r].end), None)
        holding = index.chunks[rows[at]] if at is not None else None
        if holding is None or at + 1 == len(rows) or holding.text[c.end - holding.start:].strip():
            continue  # not at the end of its passage: the items, if any, follow it there
        nxt = index.chunks[rows[at + 1]]
        items = list_items(nxt.text)
        if items:
            kept = [i for i in items if i[1] - items[0][0] <= limit] or items[:1]
            span = (kept[0][0], kept[-1][1])
        else:
            line = re.match(r"\s*([^\n]+)", nxt.text)
            span = (line.start(1), min(line.end(1), line.start(1) + limit)) if line else None
        cited = cite_span(index, 0, c.doc_id, nxt.start + span[0], nxt.start + span[1]) if span else None
        if cited is not None and cited.quote.strip():
            out.append(cited)
    # a quote a continuation already holds is not quoted twice
    kept = [c for k, c in enumerate(out)
            if not any(_holds_quote(o, c, earlier=j < k) for j, o in enumerate(out) if j != k)]
    return [replace(c, n=n) for n, c in enumerate(kept, 1)]


def _holds_quote(o: Citation, c: Citation, earlier: bool) -> bool:
    """Whether `o` quotes all of `c`: a longer span around it, or the same one quoted before it."""
    inside = o.doc_id == c.doc_id and o.start <= c.start and c.end <= o.end
    return inside and (earlier or (o.start, o.end) != (c.start, c.end))


# --- the article of the previous answer -------------------------------------------------------

# 「这个是…第几条规定的？」, 「那是哪一条？」: the rule just quoted, asked for its article
_POINTS_BACK = re.compile(r"^(?:那|这)(?:是|个|条|一条|项|些)?|这个|这条|这一条|这项|这些|上面|上述|刚才|该规定|那条|"
                          # 「具体是哪一条？」, 「出自哪部法？」: asking where, of nothing but what was answered
                          r"^(?:具体|到底|究竟)?(?:是|在|出自|见于)?(?:哪一?条|第几条|哪部|哪个文件|哪份文件)")


def previous_article(index, question: Question, previous, asked: str) -> tuple[str, list[Citation]]:
    """The article the previous answer quoted first (of the document the question names, if it names
    one), led by its name, when the question asks which article or law says what was just answered
    (「这个是哪部法规定的？」, 「具体是哪一条？」); ("", []) otherwise."""
    if question.expects not in ("article", "document") or previous is None or getattr(previous, "refused", True) or \
            not _POINTS_BACK.search(asked.strip()):
        return "", []
    for c in previous.citations:
        if (not question.doc_ids or c.doc_id in question.doc_ids) and c.path and is_article(c.path[-1]) \
                and c.doc_id in index.records:
            cited = replace(c, n=1)
            name = doc_name(index, c.doc_id)
            return f"依据是{name}{where(cited)}。[1]\n{name}{where(cited)}：{cited.quote}[1]", [cited]
    return "", []


# --- an article by its number -------------------------------------------------------------------

def article_answer(index, question: Question) -> tuple[str, list[Citation]]:
    """「职业教育法第十五条规定了什么？」: that article of the (version-picked) document, quoted whole
    by paragraph, or its items for a list question; ("", []) when the document has no such article."""
    for doc_id in question.doc_ids[:1] if question.article else ():
        rows = [r for r in index.doc_rows.get(doc_id, []) if index.chunks[r].label == question.article]
        if not rows:
            continue
        citations: list[Citation] = []
        for row in rows:
            c = index.chunks[row]
            items = list_items(c.text) if question.kind == "list" else []
            spans = items or [m.span() for m in re.finditer(r"[^\n]+", c.text) if m.group(0).strip()]
            for s, e in spans[:12]:
                label = LEADING_LABEL.match(c.text, s)
                s = label.end() if label and label.end() < e else s
                cited = cite_span(index, len(citations) + 1, doc_id, c.start + s, c.start + e)
                if cited is not None and is_statement(cited.quote):
                    citations.append(replace(cited, n=len(citations) + 1))
        if citations:
            quotes = "".join(f"{c.quote}[{c.n}]" for c in citations) if question.kind != "list" else \
                "\n" + "\n".join(f"{c.quote}[{c.n}]" for c in citations)
            return f"{doc_name(index, doc_id)}{question.article}：{quotes}", citations
    return "", []


_DATE_ASKED = {
    "施行": re.compile(r"施行|生效|实施"),
    "通过": re.compile(r"通过|审议"),
    "修订": re.compile(r"修订|修正|修改"),
    "发布": re.compile(r"发布|印发|颁布|出台|下发|发的|公布"),
}
_DATE_SPANS = {
    "施行": re.compile(r"[^。\n]{0,40}自[^。\n]{0,20}起施行[^。\n]*。?"),
    "通过": re.compile(r"^[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日[^\n]{0,80}通过[）)]?$", re.M),
    "修订": re.compile(r"^[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日[^\n]{0,80}(?:修订|修正)[）)]?$", re.M),
    "发布": re.compile(r"^[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日(?:[^\n]{0,40}(?:印发|发布|公布))?[）)]?$", re.M),
}


def date_answer(index, question: Question) -> tuple[str, list[Citation]]:
    """「它是哪年发布/通过/施行的？」 about a document the question names: the line or sentence of that
    document stating that date (its signature date, 「…会议通过」, 「本法自…起施行」)."""
    if question.kind != "when" or not question.doc_ids:
        return "", []
    event = next((e for e, p in _DATE_ASKED.items() if p.search(question.text)), "")
    if not event:
        return "", []
    doc_id = question.doc_ids[0]
    text = doc_text(index, doc_id)
    found = list(_DATE_SPANS[event].finditer(text))
    if not found:
        return "", []
    m = found[0] if event in ("通过",) else found[-1]  # first passage, last revision / signature
    start, end = m.span()
    while start < end and text[start] in " \n\u3000":
        start += 1
    label = LEADING_LABEL.match(text, start)  # the answer names the article itself
    start = label.end() if label and label.end() < end else start
    cited = cite_span(index, 1, doc_id, start, end)
    if cited is None:
        return "", []
    fact = re.search(r"(?:19|20)\d{2}年\d{1,2}月\d{1,2}日", cited.quote)
    lead = f"{fact.group(0)}。[1]\n" if fact else ""
    return f"{lead}{doc_name(index, doc_id)}{where(cited)}：{cited.quote}[1]", [cited]


_COUNT_ASKED = re.compile(r"(?:一共|共有|总共|共计|总计|共)(?:有)?(?:多少|几)条")
# who wrote it, not what the author says (「作者给了什么建议」 asks for the suggestions)
_AUTHOR_ASKED = re.compile(r"作者(?:是|叫|为|来自|单位|哪)|谁写|哪位写|谁撰写|(?:哪个|哪所|什么)(?:学校|单位|学院|机构)的?(?:老师|人)?写")


def count_answer(index, question: Question) -> tuple[str, list[Citation]]:
    """「职业教育法一共多少条？」: the number of its last article, that article quoted with its label."""
    if not _COUNT_ASKED.search(question.text) or not question.doc_ids:
        return "", []
    doc_id = question.doc_ids[0]
    articles = [r for r in index.doc_rows.get(doc_id, []) if is_article(index.chunks[r].label)]
    if not articles:
        return "", []
    last = index.chunks[articles[-1]]
    cited = cite_span(index, 1, doc_id, last.start, last.end)
    number = last.label.removeprefix("第").removesuffix("条")
    return f"{doc_name(index, doc_id)}共{number}条，最后一条：{cited.quote}[1]", [cited]


_REVISIONS_ASKED = re.compile(r"(?:修正|修订|修改)(?:过|了)?(?:几|多少)次|(?:几|多少)次(?:修正|修订|修改)")
_CN_COUNT = "一两三四五六七八九十"


def revisions_answer(index, question: Question) -> tuple[str, list[Citation]]:
    """「教育法修正过几次？」: the revision lines under a law's title (「…第三次修正」), counted, the
    latest date first, each line quoted; ("", []) when the document names no revision."""
    if not _REVISIONS_ASKED.search(question.text) or not question.doc_ids:
        return "", []
    doc_id = question.doc_ids[0]
    text = doc_text(index, doc_id)
    citations: list[Citation] = []
    for m in _DATE_SPANS["修订"].finditer(text):
        start, end = m.span()
        while start < end and text[start] in " \n\u3000":
            start += 1
        cited = cite_span(index, len(citations) + 1, doc_id, start, end)
        if cited is not None:
            citations.append(cited)
    if not citations:
        return "", []
    verbs = {v for c in citations for v in ("修正", "修订") if v in c.quote}
    verb = verbs.pop() if len(verbs) == 1 else "修改"
    count = _CN_COUNT[len(citations) - 1] if len(citations) <= 10 else str(len(citations))
    latest = re.search(r"(?:19|20)\d{2}年\d{1,2}月\d{1,2}日", citations[-1].quote)
    lead = f"{doc_name(index, doc_id)}共{verb}{count}次" + (f"，最近一次是{latest.group(0)}" if latest else "")
    return lead + "。\n" + "\n".join(f"{c.quote}[{c.n}]" for c in citations), citations


def author_answer(index, question: Question) -> tuple[str, list[Citation]]:
    """「那篇论文的作者是谁？」: the lines under a paper's title (author, affiliation), quoted."""
    if not _AUTHOR_ASKED.search(question.text) or not question.doc_ids:
        return "", []
    doc_id = question.doc_ids[0]
    if index.register.entries[doc_id].doc_type != "论文":
        return "", []
    rows = index.doc_rows.get(doc_id, [])
    if not rows:
        return "", []
    first = index.chunks[rows[0]]
    title = index.records[doc_id].meta.title
    citations = []
    for m in list(re.finditer(r"[^\n]+", first.text))[1:4]:
        line = m.group(0).strip()
        if is_statement(line, title) or not line or line.replace(" ", "") == title.replace(" ", ""):
            break  # the abstract begins
        cited = cite_span(index, len(citations) + 1, doc_id, first.start + m.start(), first.start + m.end())
        if cited is not None:
            citations.append(cited)
    if not citations:
        return "", []
    return f"{doc_name(index, doc_id)}的作者：" + "，".join(f"{c.quote}[{c.n}]" for c in citations), citations


# --- versions ---------------------------------------------------------------------------------

def made_line(index, doc_id: str, n: int) -> Citation | None:
    """The line of a law's opening that says when this version was made (通过/修订/修正)."""
    rows = index.doc_rows.get(doc_id, [])
    if not rows:
        return None
    first = index.chunks[rows[0]]
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", first.text)
             if _DATE_LINE.match(m.group(0).strip()) and is_statement(m.group(0))]
    if not lines:
        return None
    start, end = lines[-1]
    return cite_span(index, n, doc_id, first.start + start, first.start + end)



# --- which document ---------------------------------------------------------------------------

def basis_lead(index, question: Question, first: Citation) -> tuple[str, Citation | None]:
    """The opening line of a "which document / which article" answer.

    A normative document leads with its name and article. When the passage is a paper or a news item
    that cites the document asked about, the cited document leads — held or not — and its citing
    sentence is quoted (returned as a new citation, numbered 0 for the caller to renumber).
    """
    register = index.register
    entry = register.entries.get(first.doc_id)
    if entry is None or entry.doc_type not in NOT_NORMATIVE:
        return f"依据是{doc_name(index, first.doc_id)}{where(first)}。[{first.n}]", None
    link = _cited_document(register, first.doc_id, question.text)
    if link is None:
        return f"依据是{doc_name(index, first.doc_id)}{where(first)}。[{first.n}]", None
    ref = link.ref
    named = source_name(ref.title, ref.doc_number, "")
    quote = cite_span(index, 0, link.source, link.start, link.end)
    if link.target:
        return f"依据是{doc_name(index, link.target)}，{doc_name(index, first.doc_id)}引用了它：", quote
    return (f"是{named}。知识库中没有这份文件本身，以下是{doc_name(index, first.doc_id)}中引用它的原文：", quote)


def _cited_document(register, doc_id: str, question: str):
    """Of the documents a paper cites, the one whose title the question names best (≥ half its words)."""
    best, best_score = None, 0.0
    kinds = [w for w in ("方案", "通知", "办法", "意见", "规定", "条例", "决定", "法") if w in question]
    for link in register.outgoing.get(doc_id, []):
        if not link.ref.title:
            continue
        score = similarity_share(question, link.ref.title)
        if kinds and link.ref.title.endswith(tuple(kinds)):
            score += 0.5
        if score > best_score:
            best, best_score = link, score
    return best if best_score >= 0.5 else None


def similarity_share(question: str, title: str) -> float:
    """Share of the question's character bigrams that the title holds."""
    q = bigrams(question)
    return len(q & bigrams(title)) / len(q) if q else 0.0


# --- documents named, versions in force --------------------------------------------------------

def version_notes(citations: tuple[Citation, ...], index) -> list[str]:
    """A note for each cited document no longer in force, naming the version now in force, and for
    each cited article that an amending document in the index changes."""
    register = index.register
    notes, clauses, documents = [], set(), set()
    for c in citations:
        entry = register.entries.get(c.doc_id)
        if entry is None or (c.doc_id, c.path) in clauses:
            continue
        clauses.add((c.doc_id, c.path))
        old = register.name(c.doc_id)
        article = c.path[-1] if c.path else ""
        amenders = [d for d in entry.amended_by if article and _mentions(index, d, article)]
        if amenders and not entry.superseded:
            notes.append(AMENDED_NOTE.format(n=c.n, old=f"{old}{article}", by="、".join(map(register.name, amenders))))
        if not entry.superseded or c.doc_id in documents:  # one note per superseded document
            continue
        documents.add(c.doc_id)
        current = entry.current or entry.superseded_by
        if current and current != c.doc_id:
            notes.append(SUPERSEDED_NOTE.format(n=c.n, old=old, status=entry.status, current=register.name(current)))
        else:
            notes.append(ABOLISHED_NOTE.format(n=c.n, old=old, reason=entry.reason))
    return notes


def _mentions(index, doc_id: str, article: str) -> bool:
    """Whether a document's text names an article (第十三条) of another: amendments do."""
    return any(article in index.chunks[row].text for row in index.doc_rows.get(doc_id, []))


def cited_not_held(index, question: str) -> Answer | None:
    """When the question names a document by 文号 or 《title》 that the index does not hold but
    indexed documents cite, say so and quote the citing sentences; else None."""
    register = index.register
    wanted = [Reference("", n) for _s, _e, n in find_doc_numbers(question) if n not in index.by_doc_number]
    wanted += [Reference(t, "") for t in re.findall(r"《([^《》]{2,80})》", question) if not register.named(Reference(t, ""))]
    for ref in wanted:
        links = register.cited_but_missing(ref)
        citations = [c for c in (cite_span(index, n, link.source, link.start, link.end)
                                 for n, link in enumerate(links[:5], 1)) if c is not None]
        citations = [replace(c, n=n) for n, c in enumerate(citations, 1)]
        if not citations:
            continue
        name = f"《{ref.title}》" if ref.title else ref.doc_number
        known = next((link.ref for link in links if link.ref.title and link.ref.doc_number), None)
        if known:
            name = f"《{known.title}》（{known.doc_number}）"
        lines = [CITED_NOT_HELD.format(name=name)]
        abolished = [link for link in links if link.kind == "abolishes"]
        if abolished:
            lines.insert(0, ABOLISHED_LEAD.format(name=name, by=register.name(abolished[0].source)))
        lines += [f"{register.name(c.doc_id)}{where(c)}：“{c.quote}”[{c.n}]" for c in citations]
        return Answer(question, "\n".join(lines), tuple(citations), refused=False, kind="which_doc")
    return None


# --- a document's overview --------------------------------------------------------------------

def document_overview(index, doc_id: str, limit: int = 3) -> list[Citation]:
    """What a document is, when a question names it and asks nothing more: when it was made, and
    its first statements (a law's 第一条), never its title line."""
    citations = []
    made = made_line(index, doc_id, 1)
    if made is not None:
        citations.append(made)
    title = index.records[doc_id].meta.title
    for row in index.doc_rows.get(doc_id, []):
        c = index.chunks[row]
        for s, e in sentence_spans(c.text):
            if len(citations) >= limit:
                return citations
            if not is_statement(c.text[s:e], title) or _DATE_LINE.match(c.text[s:e]):
                continue
            s, e = clause_span(c.text, (s, e))
            cited = cite_span(index, len(citations) + 1, doc_id, c.start + s, c.start + e)
            if cited is not None and all(x.start != cited.start for x in citations):
                citations.append(cited)
            break
    return citations

