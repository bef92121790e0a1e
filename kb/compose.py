"""Text units an answer quotes: sentences and clauses, never a bare heading; the section a sentence
stands in; the enumerated items of a section; the articles of two versions aligned by content."""

from __future__ import annotations

import re

from kb.evidence import arabic, figures_asked
from kb.metadata import strip_span
from kb.tokenize import word_tokens

Span = tuple[int, int]

# One sentence: up to and including its end mark, or a line.
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”’」』）)]*")
# "第九条 " opening a quote: the answer names the article itself (一、/（一） stay: they are text)
LEADING_LABEL = re.compile(r"\s*第[一二三四五六七八九十百千零〇两\d]+条(?:之[一二三四五六七八九十]+)?\s*")
_CN = "[一二三四五六七八九十]+"
# A heading line of a paper or notice: 一、… / （一）… / 1.… / ## … / 第一章 …
_HEADING_START = re.compile(rf"#{{1,6}}\s|{_CN}、|[（(]{_CN}[）)]|\d{{1,2}}[.．、](?!\d)|第{_CN}[章节编]")
# Lines that state when a law was made: 「1993年10月31日 第八届…会议通过」
# and a notice's signature date 「2020年1月20日」
_DATE_LINE = re.compile(r"^[（(]?(?:19|20)\d{2}年\d{1,2}月\d{1,2}日(?:.{0,80}(?:通过|修订|修正|公布|施行|发布|印发)[）)]?)?$")
_FRONT_MATTER = re.compile(r"\[?(?:关键词|关键字|作者|作者简介|中图分类号|文献标识码|文章编号|基金项目|收稿日期)\]?\s*[：:]")
# Enumerations, by style: 一是/二是, 1./2., （一）/（二）, 一、/二、 — (pattern, number of group 1)
_ITEM_STYLES = (
    ("是", re.compile(rf"({_CN})是")),
    ("1.", re.compile(r"(\d{1,2})[.．、](?!\d)")),
    ("（一）", re.compile(rf"[（(]({_CN})[）)]")),
    ("（1）", re.compile(r"[（(](\d{1,2})[）)]")),
    ("一、", re.compile(rf"({_CN})、")),
)
_CN_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九十", start=0)}
_LONG_ITEM = 150  # an item longer than this is quoted by its first sentence


def cn_number(text: str) -> int:
    """一 -> 1, 十二 -> 12, 二十 -> 20; digits as they are; 0 for anything else."""
    if text.isdigit():
        return int(text)
    if len(text) == 1:
        return _CN_VALUE.get(text, 0)
    if text.startswith("十"):
        return 10 + _CN_VALUE.get(text[1:], 0)
    if len(text) >= 2 and text[1] == "十":
        return _CN_VALUE.get(text[0], 0) * 10 + (_CN_VALUE.get(text[2:], 0) if len(text) > 2 else 0)
    return 0


def sentence_spans(text: str) -> list[Span]:
    """Sentences of `text` as spans, leading article labels (第九条 ) and whitespace trimmed."""
    out = []
    for m in _SENTENCE.finditer(text):
        start, end = strip_span(text, m.start(), m.end())
        label = LEADING_LABEL.match(text, start)
        if label and label.end() < end:
            start = label.end()
        if end - start >= 4:
            out.append((start, end))
    return out


def is_statement(text: str, title: str = "") -> bool:
    """Whether a span says something: not a title line, a Markdown heading or a bare section heading."""
    line = text.strip()
    if not line or line.startswith("#") or _squashed(line) == _squashed(title):
        return False  # the title line, also when the text ends it with a full stop the title lacks
    if _DATE_LINE.match(line):
        return True
    if _FRONT_MATTER.match(line):  # a paper's 关键词/作者 lines say nothing about the question
        return False
    ends = line[-1] in "。！？；;”’）)：:" or line.endswith("」")
    if _HEADING_START.match(line) and not ends:
        return False
    return ends or len(line) >= 40


def _squashed(line: str) -> str:
    return line.replace(" ", "").rstrip("。.！!")


def line_span(text: str, offset: int) -> Span:
    """The line (paragraph) of `text` holding `offset`, trimmed."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return strip_span(text, start, len(text) if end < 0 else end)


_ITEM_OPENING = re.compile(rf"[（(](?:{_CN}|\d{{1,2}})[）)]|{_CN}[、是]|\d{{1,2}}[.．、](?!\d)")


def with_items(text: str, span: Span, limit: int = 600) -> Span:
    """A lead-in ending in a colon (「…应当符合下列基本条件：」) with the enumerated items after it,
    while they fit in `limit` characters: the lead-in alone says only that there is a list."""
    start, end = span
    if not text[start:end].rstrip().endswith(("：", ":")):
        return span
    after = end
    for a, b in sentence_spans(text[after:]):
        a, b = a + after, b + after
        if text[end:a].strip() or not _ITEM_OPENING.match(text, a) or b - start > limit:
            break
        end = b
    return start, end


# 「一加强人员管理。」: a numeral glued to its heading; a heading only when 二… follows as a sentence too
_BARE_MARKER = re.compile(rf"({_CN})(?=[\u4e00-\u9fff])")
_HEADING_CHARS = 30  # a heading sentence is short: 「二、减免质量检验检测服务收费。」


def heading_body(text: str, span: Span, limit: int = 320) -> Span:
    """A sentence that only heads an item (「二、减免质量检验检测服务收费。」, 「一加强人员管理。」) with the
    body after it, up to the next item of its enumeration or `limit` characters: the heading matches
    the question's words, the body is the answer. Other sentences are returned as they are."""
    start, end = span
    sentence = text[start:end]
    if sentence.endswith(("？", "?")):
        return _answer_after(text, span, limit)
    style, number = _marker(sentence)
    if not style or len(sentence) > _HEADING_CHARS or re.search(r"[，,：:；;]", sentence.rstrip("。；;")):
        return span
    rest = [(a + end, b + end) for a, b in sentence_spans(text[end:])]
    if style == "bare" and not any(_marker(text[a:b]) == ("bare", number + 1) for a, b in rest):
        return span  # 「一线医务人员…」 opens with 一, but nothing numbered 二 follows
    body_end = end
    for a, b in rest:
        if _marker(text[a:b])[0] == style or (text[body_end:a].count("\n") and _HEADING_START.match(text, a)):
            break  # the next item of the enumeration (or a heading line) begins
        if body_end > end and b - start > limit:
            break
        body_end = b
    return (start, body_end) if body_end > end else span


def _answer_after(text: str, span: Span, limit: int) -> Span:
    """A question the text asks itself (「如何做好返程客流高峰期的疫情防控？」, a Q&A's question) with
    its answer: the sentences after it, up to the next question or `limit` characters."""
    start, end = span
    body_end = end
    for a, b in sentence_spans(text[end:]):
        a, b = a + end, b + end
        if text[a:b].endswith(("？", "?")) or (body_end > end and b - start > limit):
            break
        body_end = b
    return start, body_end


def is_question(text: str) -> bool:
    """A span that only asks: quoted alone it answers nothing."""
    return text.rstrip().endswith(("？", "?"))


def _marker(sentence: str) -> tuple[str, int]:
    """(style, number) of the item marker opening a sentence (style "bare" for 「一加强…」), ("", 0) if none."""
    for style, pattern in _ITEM_STYLES:
        m = pattern.match(sentence)
        if m:
            return style, cn_number(m.group(1))
    m = _BARE_MARKER.match(sentence)
    return ("bare", cn_number(m.group(1))) if m else ("", 0)


def clause_span(text: str, span: Span, limit: int = 160) -> Span:
    """The quote for a sentence: its whole paragraph when that is short, else the sentence."""
    start, end = line_span(text, span[0])
    label = LEADING_LABEL.match(text, start)
    if label and label.end() < end:
        start = label.end()
    if end - start <= limit and start <= span[0] and span[1] <= end:
        return start, end
    return span


def _heading_label(line: str, cap: int = 30) -> str:
    label = re.split(r"[。；：:，,]", line, maxsplit=1)[0].strip()
    return label[:cap]


def section_path(path: tuple[str, ...], text: str, offset: int) -> tuple[str, ...]:
    """The structural path of the sentence at `offset` of a chunk's `text`.

    A chunk that runs over several sections is labelled with a range (「一、… — 二、…」, 「1. — 2.」);
    a citation names the one section its sentence stands in: the last heading before it — a heading
    line, or in a text without line breaks (a notice pasted as one paragraph) a sentence after a full
    stop opening with a marker of the range's style (「…顺延。二、减免质量检验检测服务收费。」).
    """
    if not path or " — " not in path[-1]:
        return path
    first = path[-1].split(" — ")[0]
    style = next((s for s, p in _ITEM_STYLES if p.match(first)), "")
    best = ""
    for start, end in _lines(text):
        if start > offset:
            break
        line = text[start:end]
        if _top_level_heading(text, start, style) and _HEADING_START.match(line):
            best = _heading_label(line)
        for m in _INLINE_HEADING.finditer(text, start, min(end, offset + 1)):
            if style and _marker(text[m.end():end])[0] == style:
                best = _heading_label(text[m.end():end])
    return path[:-1] + ((best,) if best else (path[-1],))


_INLINE_HEADING = re.compile(r"[。！？]\s*")  # where a heading inside a line may begin


def passage_place(path: tuple[str, ...], text: str) -> str:
    """Where a passage stands, for pointing at it (a refusal's 可能相关): the section it opens in, not the
    range it is labelled with; the range's enclosing section (「三、存在的主要问题」 for 「1. — 2.」 under
    it), else the first of the range, when it opens inside a section."""
    path = section_path(path, text, 0)
    if path and " — " in path[-1]:
        path = path[:-1] or (path[-1].split(" — ")[0],)
    return " > ".join(path)


def _lines(text: str) -> list[Span]:
    spans, at = [], 0
    for line in text.split("\n"):
        spans.append((at, at + len(line)))
        at += len(line) + 1
    return spans


def _top_level_heading(text: str, start: int, style: str) -> bool:
    """A line opening a section of `style`, not an inner list after 「主要表现为：」."""
    i = start - 1  # the last character before the line, found without copying the text before it
    while i >= 0 and text[i] in " \t\n\r\u3000":
        i -= 1
    if i >= 0 and text[i] in "：:":
        return False
    return not style or any(s == style and p.match(text, start) for s, p in _ITEM_STYLES)


def list_items(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The top-level enumerated items of text[start:end], each from its marker to the next one.

    Of the enumerations found (一是…二是…, 1. 2. 3., （一）（二）), the one whose items open lines
    wins: inner lists (「主要表现为：1.…；2.…」) run inside a line. Empty when fewer than two items.
    """
    end = len(text) if end is None else end
    best: list[tuple[int, int]] = []
    best_key = (0, 0)
    for _style, pattern in _ITEM_STYLES:
        chains: list[list[tuple[int, int]]] = []  # (position, number)
        for m in pattern.finditer(text, start, end):
            if not _item_start(text, m.start(), start):
                continue
            n = cn_number(m.group(1))
            if n == 1:
                chains.append([(m.start(), n)])
            elif n > 1:
                chain = _chain_for(text, chains, m.start(), n)
                if chain is not None:
                    chain.append((m.start(), n))
        for chain in chains:
            key = (sum(_opens_line(text, p) for p, _ in chain), len(chain))
            if len(chain) >= 2 and key > best_key:
                best, best_key = chain, key
    spans = []
    for i, (pos, n) in enumerate(best):
        stop = best[i + 1][0] if i + 1 < len(best) else _item_end(text, pos, end)
        lost = best[i + 1][1] - n - 1 if i + 1 < len(best) else 0
        spans += _with_lost_items(text, strip_span(text, pos, stop), lost)
    return spans


def _with_lost_items(text: str, item: Span, lost: int) -> list[Span]:
    """An item followed by `lost` items whose markers the text lost (一是… then 三是…: the PDF dropped
    「二是」): when the item runs on for exactly that many more paragraphs, each is an item of its own."""
    start, end = item
    if lost <= 0:
        return [item]
    breaks = [m.end() for m in re.finditer(r"\n\s*(?=\S)", text[start:end])]
    if len(breaks) != lost:
        return [item]
    bounds = [start, *(start + b for b in breaks), end]
    return [strip_span(text, a, b) for a, b in zip(bounds, bounds[1:])]


def _chain_for(text: str, chains: list[list[tuple[int, int]]], pos: int, n: int) -> list[tuple[int, int]] | None:
    """The enumeration an item numbered `n` continues: the latest one ending at n-1 whose items open
    lines as this one does (an outer item after an inner list), else the latest ending at n-1,
    else one that skipped a number (一是…三是 when the text lost 二是)."""
    opens = _opens_line(text, pos)
    for wanted in (lambda c: c[-1][1] == n - 1 and _opens_line(text, c[-1][0]) == opens,
                   lambda c: c[-1][1] == n - 1,
                   lambda c: c[-1][1] < n <= c[-1][1] + 2):
        for chain in reversed(chains):
            if wanted(chain):
                return chain
    return None


def _item_start(text: str, pos: int, floor: int) -> bool:
    return pos == floor or text[pos - 1] in "\n。；;：:！？ \u3000"


def _opens_line(text: str, pos: int) -> bool:
    return pos == 0 or text[pos - 1] == "\n"


def _item_end(text: str, pos: int, end: int) -> int:
    """Where the last item stops: at the next heading line, else the end of its paragraph."""
    nxt = text.find("\n", pos)
    while 0 <= nxt < end:
        rest = text[nxt + 1:end]
        if not rest.strip() or _HEADING_START.match(rest.lstrip()) and not _DATE_LINE.match(rest):
            return nxt
        nxt = text.find("\n", nxt + 1)
    return end


def item_quote(text: str, item: Span) -> Span:
    """What a list answer quotes of an item: all of it when short, else its first sentence."""
    start, end = item
    if end - start <= _LONG_ITEM:
        return item
    first = _SENTENCE.match(text, start)
    return strip_span(text, start, first.end()) if first else item


def section_spans(text: str) -> list[tuple[str, Span]]:
    """The sections of a document's text opened by heading lines (一、…, ## …, 第一章 …): (heading, span)."""
    heads = []
    for start, end in _lines(text):
        line = text[start:end].strip()
        if line and _HEADING_START.match(line) and not is_statement(line) and _top_level_heading(text, start, ""):
            heads.append((start, end, line))
    out = []
    for i, (start, end, line) in enumerate(heads):
        style = _style_of(line)
        stop = next((s for s, _e, other in heads[i + 1:] if _style_of(other) == style), len(text))
        out.append((line.lstrip("# "), (end, stop)))
    return out


def _style_of(line: str) -> str:
    if line.startswith("#"):
        return "#" * (len(line) - len(line.lstrip("#")))
    return next((s for s, p in _ITEM_STYLES if p.match(line)), "章" if line.startswith("第") else "")


def bigrams(text: str) -> set[str]:
    text = re.sub(r"\W", "", text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def similarity(a: str, b: str) -> float:
    """Share of character bigrams two clauses have in common (Jaccard), 0..1."""
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def align(old: list[str], new: list[str], floor: float = 0.2) -> list[tuple[int, int, float]]:
    """Pairs (i in old, j in new, similarity) of clauses that correspond, each used once, by
    decreasing similarity; clauses with no counterpart at `floor` stay unpaired."""
    old_grams, new_grams = [bigrams(t) for t in old], [bigrams(t) for t in new]
    scored = []
    for i, a in enumerate(old_grams):
        for j, b in enumerate(new_grams):
            if a and b:
                s = len(a & b) / len(a | b)
                if s >= floor:
                    scored.append((s, i, j))
    used_old, used_new, pairs = set(), set(), []
    for s, i, j in sorted(scored, reverse=True):
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j, s))
    return sorted(pairs, key=lambda p: p[1])


def changed_words(old: str, new: str) -> tuple[list[str], list[str]]:
    """Words of `old` missing from `new` (removed) and of `new` missing from `old` (added)."""
    a = [w for w in word_tokens(old) if len(w) > 1 or w.isdigit()]
    b = [w for w in word_tokens(new) if len(w) > 1 or w.isdigit()]
    removed = _longest([w for w in dict.fromkeys(a) if w not in b and not _recombined(w, new)])
    added = _longest([w for w in dict.fromkeys(b) if w not in a and not _recombined(w, old)])
    return removed, added


def _recombined(word: str, text: str) -> bool:
    """Whether every character pair of `word` is in `text`: the same words cut differently by the
    segmenter (中等职业学校 against 中等、高等职业学校), not a change."""
    return word in text or (len(word) > 2 and all(word[i:i + 2] in text for i in range(len(word) - 1)))


def _longest(words: list[str]) -> list[str]:
    """Words not inside another of the list: 中华人民共和国, not also 共和国 and 人民."""
    return [w for w in words if not any(w != o and w in o for o in words)]


# what a figure counts in, longest first (个工作日 before 个, 万元 before 元)
_UNIT = (r"个工作日|个月|部门|学时|小时|万元|亿元|周岁|万人|%|％|元|个|名|人|位|年(?!级)|月|日|天|次|项|周|岁|倍|分(?!之)|类|种|条|家|所|"
         r"批|届|场|吨|辆|台|套|门|户|只|件|张|份|箱")
_FACT_PATTERNS = {
    "date": re.compile(r"(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日"),
    # a figure, not the year it is set for (「到2025年新增30万人」 answers 30万人)
    "number": re.compile(r"(?:(?:不超过|不少于|不低于|最长不超过|最高|最多|每[生人年月日])\s*)*(?:百分之[零〇一二两三四五六七八九十百\d.]+|"
                         r"(?<![\d.０-９])"
                         r"(?!(?:19|20)\d{2}\s*年)(?:[\d.０-９]+(?:\s*[至到~～-]\s*[\d.０-９]+)?|"
                         r"[一二三四五六七八九十百千两半]+(?:\s*[至到]\s*[一二三四五六七八九十百千两半]+)?)\s*(?:多|余)?\s*(?:万|亿)?\s*"
                         rf"(?:{_UNIT}))"),
    "money": re.compile(r"(?:(?:不超过|不少于|不低于|最高|最多|每[生人年月日])\s*)*(?:[\d.０-９]+|[一二三四五六七八九十百千万两]+)\s*"
                        r"(?:多)?(?:万|亿|千)?元"),
}
# the unit a question counts in (几个部门 -> 部门, 多少家 -> 家, 多长时间 -> a span of time), and the units
# a text may count the same things in
_ASKED_UNIT = re.compile(rf"(?<!第)(?:多少|几)\s*(?:万|亿|千|百)?\s*(?:个(?=部门))?({_UNIT})|(多长时间|多久|多长)")
_SAME_UNITS = {"个": "个|项|家|所|名|人|位|条|种|类|部门|户|件|只|份", "人": "人|名|位|人次|万人", "名": "人|名|位|万人",
               "位": "人|名|位", "万人": "万人|人", "家": "家|户|个|所",
               "所": "所|家|个", "条": "条|项", "项": "项|条|个", "部门": "部门|个部门", "种": "种|类|项", "类": "类|种",
               "天": "天|日|个工作日", "日": "天|日|个工作日", "个月": "个月|月", "月": "个月|月",
               **dict.fromkeys(("多长时间", "多久", "多长"), "年|个月|月|天|日|个工作日|周|小时|学时")}


def counts_held(question: str, texts: list[str]) -> bool | None:
    """Whether a figure in the unit the question counts in (多少家企业: 家, 个, 所; 多少吨; 多长时间: a span
    of time; 哪天: a day of a month) stands in one of `texts`; None for a question that counts in no unit. A figure it names itself
    (24个重点片区) does not count. 「重庆新八级试点首批有多少家企业参与？」 over passages that count only
    levels (八级) and dates has no basis, however many of its words they hold."""
    if _DAY_ASKED.search(question):  # 截止是哪天: a year or a month does not say
        return any(_DAY.search(text) for text in texts)
    unit = _ASKED_UNIT.search(question)
    # 哪几类, 分几种, 哪几个部门: the kinds or the bodies themselves are asked, not a figure; 那几天 asks nothing
    if unit is None or question[max(0, unit.start() - 1):unit.start()] in ("哪", "那", "这") or \
            unit.group(1) in ("种", "类"):
        return None
    wanted = re.compile(rf"(?:{_SAME_UNITS.get(unit.group(1) or unit.group(2), re.escape(unit.group(1) or ''))})$")
    named = set(figures_asked(question))
    for text in texts:
        if unit.group(2) and _DATE_RANGE.search(text):  # 实行期间是多久: 自2020年1月1日至3月31日
            return True
        dates = [d.span() for d in _FACT_PATTERNS["date"].finditer(text)]
        for m in _FACT_PATTERNS["number"].finditer(text):
            if any(a <= m.start() < b for a, b in dates) or set(re.findall(r"\d+", arabic(m.group(0)))) & named:
                continue
            if wanted.search(m.group(0)):
                return True
    return False


def lead_fact(expects: str, quote: str, question: str = "") -> str:
    """The date or amount a when/how-much question asks for, as it stands in the quote, or "".

    A full date (2020年2月17日) is the fact before a month or a year: 「2020年2月份纳税申报期限」 names
    the month a rule is about, the day is when something happened. A figure is never a part of a date
    (the 11月 of 2019年11月, the 27日 of 1月27日), and counts in the unit asked when one does (几个部门:
    五部门; 多少条举措: 18条, not 31%). Of several, the one after what the question counts (「产能有多少」:
    日产能达到400万只, not 17家口罩企业), then the one whose clause shares the longest stretch of the
    question's words (高技能人才总量达到, not 技能人才总量), then the most of its two-character words, the
    nearer the figure the more (中级（四级）1500元, not 补贴标准为初级（五级）1000元), then characters:
    「每个月最多加多少小时」 is 每月不得超过三十六小时, not the 每日 figures before it; 「硕士的基本修业年限是
    几年」 is 二至三年 after 硕士研究生教育的, not after 专科教育的."""
    pattern = _FACT_PATTERNS.get(expects)
    full = _FULL_DATE.search(quote) if expects == "date" else None
    if full or pattern is None:
        return full.group(0).strip() if full else ""
    dates = [d.span() for d in _FACT_PATTERNS["date"].finditer(quote)] if expects == "number" else []
    found = [m for m in pattern.finditer(quote) if not any(a <= m.start() < b or a < m.end() <= b for a, b in dates)]
    if not found:
        return ""
    # a figure the question names itself (第九届, 24个重点片区) is what it asks about, not the answer
    if expects in ("number", "money"):
        named = set(figures_asked(question))
        found = [m for m in found if not set(re.findall(r"\d+", arabic(m.group(0)))) & named]
    unit = _ASKED_UNIT.search(question)
    if unit is not None:
        wanted = _SAME_UNITS.get(unit.group(1) or unit.group(2), unit.group(1) or "")
        # none counts in the unit asked: no figure leads rather than another one
        found = [m for m in found if re.search(rf"(?:{wanted})$", m.group(0))]
    if not found:
        return ""
    asked = set(re.findall(r"[\u4e00-\u9fff]", question)) - _COMMON_CHARS
    pairs = {question[i:i + 2] for i in range(len(question) - 1) if set(question[i:i + 2]) - _COMMON_CHARS}

    # the two characters before its asking words: what is counted (产能 of 「产能有多少」)
    ask = _ASKING.search(question)
    counted = question[max(0, ask.start() - 2):ask.start()] if ask else ""
    counted = counted if len(counted) == 2 and re.fullmatch(r"[\u4e00-\u9fff]{2}", counted) else ""

    def shared(m: re.Match) -> tuple[bool, int, float, int]:
        before, after = _clause_around(quote, m)
        words = before + " " + after
        # the question's two-character words, the nearer the figure the more they say (中级（四级）1500元)
        near = sum(1 / (1 + len(before) - before.rfind(p) - 2) for p in pairs if p in before and p not in m.group(0)) + \
            sum(1 / (1 + after.find(p)) for p in pairs if p in after and p not in m.group(0))
        return (bool(counted) and counted in before, _longest_common(question, words), near,
                len((asked - set(m.group(0))) & set(words)))  # the figure's own unit (小时) says nothing

    return max(found, key=shared).group(0).strip()


def _clause_around(quote: str, m: re.Match) -> tuple[str, str]:
    """The words of a figure's clause before it (at most 20 characters: 「硕士研究生教育的基本修业年限为」)
    and after it (at most 10: 「测算的基础上」)."""
    start = max(0, m.start() - 20)
    breaks = [b.end() for b in _CLAUSE_MARK.finditer(quote, start, m.start())]
    after = _CLAUSE_MARK.search(quote, m.end(), m.end() + 10)
    return quote[(breaks[-1] if breaks else start):m.start()], quote[m.end():after.start() if after else m.end() + 10]


def _longest_common(a: str, b: str) -> int:
    """The length of the longest stretch of characters `a` and `b` share, counting only words beyond the
    common ones (at least one character not in _COMMON_CHARS)."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] not in b:
                break
            if set(a[i:j]) - _COMMON_CHARS:
                best = j - i
    return best


_CLAUSE_MARK = re.compile(r"[，；。,;：:、]")
_ASKING = re.compile(r"(?:要达到|达到|要到|有|是|为|到|共|一共|累计)?(?:多少|几)")
# characters too common in any clause to say which figure a question is after
_COMMON_CHARS = frozenset("的了是在不得和与或及等为有应当其本条款规定人")


_DAY_ASKED = re.compile(r"哪一?天|几号|几月几[日号]|哪一?日(?!起)|具体日期")
_DAY = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]|[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日")
_DATE_RANGE = re.compile(r"(?:\d{1,2}\s*月\s*\d{1,2}\s*日|(?:19|20)\d{2}\s*年)\s*(?:起\s*)?(?:至|到|—|－|-|~|～)\s*"
                         r"(?:(?:19|20)\d{2}\s*年\s*)?\d{1,2}\s*月")
_FULL_DATE = re.compile(r"(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日")
