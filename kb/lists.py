"""List questions (有哪些问题/建议/成效/措施): every enumerated item of the section whose heading
matches, each cited; one item by its place (「第四个成效」)."""

from __future__ import annotations

import re
from dataclasses import replace

from kb.compose import cn_number, item_quote, list_items, section_spans, sentence_spans
from kb.kinds import cite_span, doc_name, doc_text, where
from kb.prompts import ITEMS_SHORT
from kb.question import LIST_TOPICS, Question, list_topic
from kb.segment import is_article
from kb.tokenize import normalize, tagged_words
from kb.types import Citation, Hit


def list_answer(index, question: Question, hits: list[Hit], terms: dict[str, float],
                anchor: tuple[str, int, int] | None = None) -> tuple[str, list[Citation]]:
    """All the enumerated items of the section a list question asks for, each cited; ("", []) when
    the passages hold no enumeration.

    `anchor` (document, start, end) is the sentence that best answers the question: an enumeration
    is the answer only where that sentence stands — in its lead-in or its items, or, for a section
    named by its heading, in that document — not any list the first passages happen to hold.
    """
    for hit, text, base, items, heading in _enumerations(index, question, hits, terms, anchor):
        doc_id = hit.chunk.doc_id
        citations = []
        context = " ".join([hit.title, heading, *hit.chunk.path, question.list_topic or ""])
        asked = _item_asked(text, items, terms, context)
        for item in items:
            s, e = item if item == asked else item_quote(text, item)
            cited = cite_span(index, len(citations) + 1, doc_id, base + s, base + e)
            if cited is not None:
                citations.append(cited)
        if len(citations) < 2:
            continue
        lead_where = heading or where(citations[0])
        if not heading and hit.chunk.label:
            # a passage holding several items is labelled by their range (1. — 2.): name its section
            ranged = " — " in hit.chunk.label and len(hit.chunk.path) > 1
            lead_where = hit.chunk.path[-2] if ranged else hit.chunk.label
        lines = [f"{doc_name(index, doc_id)}{lead_where}："]
        lines += [f"{c.quote}[{c.n}]" for c in citations]
        detail = _detail(index, question, hit, text, base, items, citations, terms, heading)
        if detail is not None:
            citations.append(detail)
            lines.append(f"其中：{detail.quote}[{detail.n}]")
        return "\n".join(lines), citations
    return "", []


def _item_asked(text: str, items: list[tuple[int, int]], terms: dict[str, float], context: str,
                limit: int = 400) -> tuple[int, int] | None:
    """The item whose first sentence the question all but repeats (「院校之间资源不均衡具体表现在哪些
    方面？」), far better than any other, and short enough to quote whole; else None. Words of the
    `context` (the title, the section's heading, the list's topic) say which list, not which item."""
    context = normalize(context)
    asked = {t: w for t, w in terms.items() if t not in context}
    total = sum(asked.values())
    if not total or len(items) < 2:
        return None
    heads = [normalize(text[slice(*item_quote(text, item))]) for item in items]
    shares = sorted(((sum(w for t, w in asked.items() if t in head) / total, item) for head, item in zip(heads, items)),
                    reverse=True)
    (best, item), (second, _other) = shares[0], shares[1]
    return item if best >= 0.5 and best >= 2 * second and item[1] - item[0] <= limit else None


def _detail(index, question: Question, hit: Hit, text: str, base: int, items: list[tuple[int, int]],
            citations: list[Citation], terms: dict[str, float], heading: str = "") -> Citation | None:
    """「对培训教材有什么建议？」: the list is of 建议, but the question asks about 培训教材, which only an
    item's body (not the part quoted) says: the sentence of the items that holds most of such words
    (words of the document's title or the section's heading say which list, not which detail)."""
    first, last = items[0][0], items[-1][1]
    held, quoted = normalize(text[first:last]), normalize("".join(c.quote for c in citations))
    title = normalize(hit.title + heading)
    topic = question.list_topic or ""
    wanted = {t: w for t, w in terms.items() if t in held and t not in quoted and t not in title and t not in topic
              and not any(t in x for x in LIST_TOPICS)}
    if not wanted:
        return None
    best, best_score = None, 0.0
    for s, e in sentence_spans(text[first:last]):
        sentence = normalize(text[first + s:first + e])
        score = sum(w for t, w in wanted.items() if t in sentence)
        if score > best_score:
            best, best_score = (first + s, first + e), score
    if best is None or best_score < 0.5 * sum(wanted.values()):
        return None
    return cite_span(index, len(citations) + 1, hit.chunk.doc_id, base + best[0], base + best[1])


def _enumerations(index, question: Question, hits: list[Hit], terms: dict[str, float],
                  anchor: tuple[str, int, int] | None = None):
    """(hit, text, offset of text in its document, items, heading) of each enumeration of the first
    three passages that a list question may be asking for: the section whose heading names the list
    topic (text is then the document's), else the passage's own enumeration whose lead-in names the
    question's terms (and holds `anchor`, see list_answer)."""
    for hit in hits[:3]:
        doc_id = hit.chunk.doc_id
        span = _section_for(index, doc_id, question, terms) if question.list_topic else None
        if span is not None and (anchor is None or anchor[0] == doc_id):
            text, (start, end), heading = span
            items, base = list_items(text, start, end), 0
        else:
            text, base, heading = hit.chunk.text, hit.chunk.start, ""
            items = list_items(text)
            if items and not (_items_answer(text, items, terms) and _holds(anchor, doc_id, base, text, items)):
                items = []
        if len(items) >= 2:
            yield hit, text, base, items, heading


def _holds(anchor: tuple[str, int, int] | None, doc_id: str, base: int, text: str,
           items: list[tuple[int, int]]) -> bool:
    """Whether the anchor sentence stands in the enumeration: in its items or the sentence leading in."""
    if anchor is None:
        return True
    lead = max((s for s, e in sentence_spans(text) if e <= items[0][0]), default=items[0][0])
    return anchor[0] == doc_id and base + lead <= anchor[1] < base + items[-1][1]


# 「第四个成效」「第二项建议」: one item of an enumeration by its place (第十五条 is an article, handled apart)
_ORDINAL = re.compile(r"第([一二三四五六七八九十]{1,3}|\d{1,2})(?:个|项|点|种|方面|大|条(?=建议|措施|意见|举措|经验|原则|任务))")


def asks_place(text: str) -> bool:
    """Whether a question asks for an item by its place (第四个成效, 第二项建议)."""
    return bool(_ORDINAL.search(text))


def ordinal_answer(index, question: Question, hits: list[Hit], terms: dict[str, float]) -> tuple[str, list[Citation]]:
    """「那篇文章讲的第四个成效是什么？」: the item in that place of the enumeration the question is
    about (as for a list question), quoted and cited; when the section named by its heading has fewer
    items, what to say instead and no citation (「…主要成效只列了4项，没有第五项。」, []); ("", []) if the
    question names no place or no enumeration is found."""
    m = _ORDINAL.search(question.text)
    n = cn_number(m.group(1)) if m else 0
    if not n:
        return "", []
    topic = question.list_topic or list_topic(question.text)
    for hit, text, base, items, heading in _enumerations(index, replace(question, list_topic=topic), hits, terms):
        name = doc_name(index, hit.chunk.doc_id)
        if len(items) >= n:
            s, e = item_quote(text, items[n - 1])
            cited = cite_span(index, 1, hit.chunk.doc_id, base + s, base + e)
            if cited is not None:
                return f"{name}{heading or where(cited)}：{cited.quote}[1]", [cited]
        elif heading:
            return ITEMS_SHORT.format(where=f"{name}{heading}", count=len(items), place=m.group(1)), []
    return "", []


# what a follow-up asking for an item by its place may say beside the place: 「那第四项具体是啥？」
_ITEM_ONLY = re.compile(r"^(?:那么?|那个|还有|再说说|请问)?[，,\s]*§(?:具体|详细)?(?:是|讲|说|指|写)?(?:了|的)?"
                        r"(?:啥|什么|哪个|哪一?项|内容|什么内容|什么意思)?(?:呢|啊|呀|来着)?[？?。！!\s]*$")


def previous_item(index, asked: str, previous) -> tuple[str, list[Citation]]:
    """「那第四项具体是啥？」 after an answer quoting an enumeration: its item in that place, quoted whole
    when short and cited to the same clause; when the enumeration has fewer items, what to say instead
    and no citation (「…第八条只列了6项，没有第七项。」, []); ("", []) when the question asks more than the
    place or the previous answer quotes no enumeration."""
    found = _previous_enumeration(index, asked, previous)
    if found is None:
        return "", []
    n, place, name, items = found
    if n > len(items):
        return ITEMS_SHORT.format(where=name, count=len(items), place=place), []
    return f"{name}：{items[n - 1].quote}[1]", [replace(items[n - 1], n=1)]


def _previous_enumeration(index, asked: str, previous) -> tuple[int, str, str, list[Citation]] | None:
    """(place asked, its numeral as written, where the enumeration stands, its items cited) for a
    question asking nothing but a place (「那第四项具体是啥？」) after an answer quoting an enumeration:
    the one in the clause it quoted first, or a list answer's items cited one by one; None otherwise."""
    asked = asked.strip()
    m = _ORDINAL.search(asked)
    n = cn_number(m.group(1)) if m else 0
    if not n or previous is None or getattr(previous, "refused", True) \
            or not _ITEM_ONLY.match(asked.replace(m.group(0), "§", 1)):
        return None
    first = previous.citations[0] if previous.citations else None
    if first is None or first.doc_id not in index.records:
        return None
    for row in index.doc_rows.get(first.doc_id, ()):
        chunk = index.chunks[row]
        if not chunk.start <= first.start < chunk.start + len(chunk.text):
            continue
        spans = list_items(chunk.text)
        cited = [cite_span(index, 1, first.doc_id, chunk.start + s, chunk.start + e)
                 for s, e in (item_quote(chunk.text, item) for item in spans)]
        if len(spans) >= 2 and all(c is not None for c in cited):
            return n, m.group(1), f"{doc_name(index, first.doc_id)}{_clause(cited[0])}", cited
    # a list answer cites its items one by one, in order, from one document
    items = [c for c in previous.citations if c.doc_id == first.doc_id]
    if getattr(previous, "kind", "") == "list" and len(items) >= 2:
        return n, m.group(1), f"{doc_name(index, first.doc_id)}{_clause(items[0])}", items
    return None


def _clause(c: Citation) -> str:
    """The article an item stands in, or the section of a numbered item (三、存在的主要问题, not 2.职业技能…)."""
    if len(c.path) > 1 and not is_article(c.path[-1]):
        return c.path[-2]
    return where(c)


def topic_section(index, question: Question, terms: dict[str, float]) -> bool:
    """Whether the document a list question names has a section whose heading names what it lists
    (「四、相关思考和建议」 for 作者给了什么建议): the document's structure is the basis."""
    return bool(question.list_topic) and any(_section_for(index, d, question, terms) is not None
                                             for d in question.doc_ids[:1])


def _items_answer(text: str, items: list[tuple[int, int]], terms: dict[str, float]) -> bool:
    """Whether a chunk's enumeration is what the question asks about: its lead-in names the terms."""
    lead = text[: items[0][0]]
    return not terms or any(t in lead for t in terms) or any(t in text[s:e] for s, e in items[:1] for t in terms)


def _section_for(index, doc_id: str, question: Question, terms: dict[str, float]):
    """(document text, section span, heading) of the section whose heading names the list topic."""
    words = LIST_TOPICS.get(question.list_topic, (question.list_topic,))
    text = doc_text(index, doc_id)
    best, best_key = None, (0, 0.0)
    for heading, span in section_spans(text):
        hits_topic = sum(w in heading for w in words)
        if not hits_topic:
            continue
        key = (hits_topic, sum(w for t, w in terms.items() if t in heading))
        if key > best_key:
            best, best_key = (text, span, heading), key
    return best




# 「教师应当履行下列义务：」, 「设立职业中介机构应当具备下列条件：」: a clause announcing what it enumerates
_ANNOUNCES = re.compile(r"(?:下列|以下|如下)([\u4e00-\u9fff]{1,8})")
_ASKS_WHICH = ("哪些", "哪几", "哪种", "什么")


def asked_thing(question: str) -> str:
    """The word right after a question's 哪些 / 什么 (「教师有哪些义务？」 -> 义务), "" when none follows."""
    words = [w for w, _f in tagged_words(question)]
    for i, w in enumerate(words[:-1]):
        if w.startswith(_ASKS_WHICH) and len(words[i + 1]) >= 2:
            return words[i + 1]
    return ""


def announcing_rows(index, doc_ids: tuple[str, ...], question: str, terms: dict[str, float],
                    least: float = 0.0, sole: bool = False) -> list[int]:
    """The passages of `doc_ids` whose clause announces an enumeration of the thing the question asks
    for (下列义务 for 「教师有哪些义务？」), the one whose announcing line holds the most of the
    question's words first; only those whose line holds at least `least` of their weight. `sole`: none
    when the best is held alike by a clause of another document (two laws announcing 下列条件).

    Inside one law every passage says 教师; ranked by the question's words, a clause naming 权利、义务
    in passing outranks the one listing them, so a list question looks for the announcement itself."""
    thing = asked_thing(question)
    if not thing:
        return []
    found: list[tuple[float, int]] = []
    for row in (r for d in dict.fromkeys(doc_ids) for r in index.doc_rows.get(d, ())):
        text = index.chunks[row].text
        for m in _ANNOUNCES.finditer(text):
            if thing in m.group(1)[:len(thing) + 2]:
                lead = normalize(text[max(0, text.rfind("\n", 0, m.start()) + 1):m.end()])
                held = sum(w for t, w in terms.items() if t in lead)
                share = held / (sum(terms.values()) or 1.0)
                if share >= least:
                    found.append((share, row))
                break
    found.sort(key=lambda f: (-f[0], f[1]))
    tied = [row for share, row in found if share == found[0][0]]
    if sole and len({index.chunks[r].doc_id for r in tied}) > 1:
        return []
    return [row for _share, row in found]


# 「高等学历教育分哪几种？」, 「职业学校教育分为哪些？」, 「学位的种类有哪些？」: the kinds of a thing, asked
# at the question's end; the sentence dividing it (高等学历教育分为专科教育、本科教育和研究生教育) answers
_KINDS_OF = re.compile(r"(?:(?:都|一般|主要|具体|大致|大概)?(?:分为|分成|划分为|分|包括|包含)(?:哪几|哪些|几)(?:类|种|级|个层次|个类别|部分|方面)?(?:类型|种类)?"
                       r"|的(?:种类|分类|类型|类别)(?:有|是|包括)?(?:哪些|哪几种|哪几类|什么))[呢啊呀吗]?[？?。]*$")
_DIVIDING = re.compile(r"(?:分为|分成|划分为|包括)[^。；\n]{1,60}?、")
_SUBJECT_LEAST = 4  # characters of the asked thing the dividing sentence must name right before 分为


def dividing_rows(index, doc_ids: tuple[str, ...], question: str, ranked: tuple[str, ...] = ()) -> list[int]:
    """The passages of `doc_ids` with a sentence dividing the thing a question on its kinds names
    (「高等学历教育分哪几种？」: 高等学历教育分为专科教育、本科教育和研究生教育), the one naming most of
    it right before 分为 first, then in the order of `ranked` (the chunk ids retrieval found); [] for other
    questions. The name must stand whole: 高等职业学校教育包括… does not divide 职业学校教育.

    Inside one law the clauses on 接受高等学历教育的学生 hold the same words and outrank the one
    dividing it."""
    text = normalize(question.strip())
    asked = _KINDS_OF.search(text)
    if not asked:
        return []
    thing = text[:asked.start()]
    found: list[tuple[int, int]] = []
    for row in (r for d in dict.fromkeys(doc_ids) for r in index.doc_rows.get(d, ())):
        chunk = normalize(index.chunks[row].text)
        named = max((_named_before(chunk[max(0, m.start() - 16):m.start()], thing)
                     for m in _DIVIDING.finditer(chunk)), default=0)
        if named >= _SUBJECT_LEAST:
            found.append((named, row))
    order = {c: k for k, c in reversed(list(enumerate(ranked)))}
    return [row for _named, row in sorted(found, key=lambda f: (-f[0], order.get(index.chunks[f[1]].chunk_id,
                                                                                   len(order)), f[1]))]


def _named_before(before: str, thing: str) -> int:
    """How many characters of the end of `thing` end `before` as a whole name: what precedes them in
    `before` is not a letter of a longer one (高等职业学校教育 does not name 职业学校教育)."""
    n = 0
    while n < min(len(before), len(thing)) and before[-1 - n] == thing[-1 - n]:
        n += 1
    whole = n == len(before) or not ("\u4e00" <= before[-1 - n] <= "\u9fff") or before[:-n].endswith("所称")
    return n if n and whole else 0
