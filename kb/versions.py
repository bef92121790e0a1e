"""Two versions of a law side by side: when each was made, the articles the question is about in
both versions aligned by content, and what changed said in words — items added or dropped, phrases
rewritten, an article renumbered — never differences that are only numbering, dates or the name."""

from __future__ import annotations

import re

from kb.compose import LEADING_LABEL, align, bigrams, changed_words, sentence_spans, with_items
from kb.evidence import Terms, coverage
from kb.kinds import cite_span, doc_name, made_line, where
from kb.question import Question
from kb.segment import is_article
from kb.types import Citation, Hit

_QUOTED_WHOLE = 400  # an article up to this long is quoted whole, items included
_PAIRS = 2  # pairs of articles set side by side
_SHOWN = 2  # phrases named per kind of change (added, dropped, rewritten) in one 变化 line
_COUNTERPART = 0.2  # bigram similarity below which an article of one version has no counterpart in the other
_SHORT = 40  # a phrase quoted whole in a change line; longer ones by their opening
_RANKED = 1.0  # weight of the retrieval rank beside the share of the question's terms an article holds
# a question on the kinds of a thing, and an article dividing it into kinds (分为…、…; 包括…、…、…)
_KINDS_ASKED = re.compile(r"种类|分类|类型|类别|几类|几种|哪几种|哪些类|分为哪|分成哪")
_DIVIDES = re.compile(r"(?:分为|分成|划分为|包括)[^。；\n]{1,40}、")
_ENUMERATION = 0.5  # what dividing adds to an article's relevance for such a question
# what differs between versions without changing what an article says
_NOT_SUBSTANCE = re.compile(
    r"《[^《》]*》|中华人民共和国|本法|(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日|"
    r"第[一二三四五六七八九十百千零〇两\d]+[条款项章节]|[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+|[^\w]")
_PHRASE = re.compile(r"[^，；。：,;:！？\n]+")


def version_answer(index, question: Question, hits: list[Hit], terms: Terms | None = None
                   ) -> tuple[str, list[Citation]]:
    """The versions of a work side by side: when each was made, then the corresponding articles of
    the oldest and the newest that the question is about (by its terms; without any, the first that
    changed in substance), each followed by what changed."""
    register = index.register
    versions = sorted(question.versions, key=lambda d: register.entries[d].version_date)
    old, new = versions[0], versions[-1]
    citations: list[Citation] = []
    lines = [f"{doc_name(index, new).split('（')[0]}共有{len(versions)}个版本："]
    for v in versions:
        made = made_line(index, v, len(citations) + 1)
        if made is not None:
            citations.append(made)
            lines.append(f"{doc_name(index, v)}（{register.entries[v].status}）：{made.quote}[{made.n}]")
    old_articles, new_articles = articles(index, old), articles(index, new)
    # 第一条 (asked, or a law's basis and purpose: kb.question.LEGAL_BASIS) is each version's first article
    pairs = [(0, 0)] if question.article == "第一条" and old_articles and new_articles else \
        pairs_asked(index, old_articles, new_articles, hits, terms or {}, question.text)
    for i, j in pairs:
        pair = []
        for doc_id, row in ((old, old_articles[i][0] if i is not None else None),
                            (new, new_articles[j][0] if j is not None else None)):
            if row is None:
                continue
            cited = article_quote(index, len(citations) + 1, row)
            if cited is None:
                continue
            citations.append(cited)
            pair.append(cited)
            lines.append(f"{doc_name(index, doc_id)}{where(cited)}：{cited.quote}[{cited.n}]")
        if pair:
            lines.append(change_line(pair, old_in_pair=i is not None, new_in_pair=j is not None))
    return "\n".join(lines), citations


def articles(index, doc_id: str) -> list[tuple[int, str]]:
    """(row, text without its label) of each article of a document, in order."""
    out = []
    for row in index.doc_rows.get(doc_id, []):
        c = index.chunks[row]
        if is_article(c.label):
            out.append((row, LEADING_LABEL.sub("", c.text, count=1)))
    return out


def substance(text: str) -> str:
    """An article's words without what changes between versions without changing what it says:
    article and item numbers, dates, figures, the law's name, punctuation."""
    return _NOT_SUBSTANCE.sub("", text)


def pairs_asked(index, old: list[tuple[int, str]], new: list[tuple[int, str]], hits: list[Hit],
                terms: Terms, asked: str = "") -> list[tuple[int | None, int | None]]:
    """(old index, new index) of the articles to set side by side, None where a version has no
    counterpart.

    About a topic (the question has terms, beside years, that the articles hold): the article of
    either version that the retrieved passages rank first and that holds most of the terms, with its
    counterpart in the other version, then the next such pair when it is nearly as good; a question on
    kinds (「职业培训的种类」) prefers an article that divides into kinds (分为…、…). A bare
    「有什么不同」: the first articles that changed in substance, in the order of the new version.
    """
    texts = [t for _r, t in old + new]
    terms = {t: w for t, w in terms.items() if not t.isdigit() and any(t in x for x in texts)}
    if not terms:
        partner_of_new = {j: i for i, j, _s in align([t for _r, t in old], [t for _r, t in new])}
        changed = [(i, j) for j, i in sorted(partner_of_new.items()) if substance(old[i][1]) != substance(new[j][1])]
        return changed[:_PAIRS]
    rank = {h.chunk.chunk_id: r for r, h in reversed(list(enumerate(hits)))}
    kinds = _KINDS_ASKED.search(asked) is not None

    def relevance(row: int, text: str) -> float:
        r = rank.get(index.chunks[row].chunk_id)
        # 「职业培训的种类」, 「职业学校教育的分类」: the article that divides it (分为…、…) answers
        divides = _ENUMERATION if kinds else 0.0
        return (coverage(terms, text) + (_RANKED / (1 + r) if r is not None else 0.0)
                + (divides if divides and _DIVIDES.search(text) else 0.0))

    scores = {(side, k): relevance(r, t) for side, arts in ((0, old), (1, new)) for k, (r, t) in enumerate(arts)}
    ranked = sorted(scores, key=lambda key: (-scores[key], -key[0], key[1]))
    best = scores[ranked[0]]
    out: list[tuple[int | None, int | None]] = []
    for side, k in ranked:
        if len(out) == _PAIRS or scores[(side, k)] < 0.8 * best or scores[(side, k)] <= 0:
            break
        partner = _counterpart((new if side else old)[k][1], old if side else new, [scores[(1 - side, x)] for x in
                                                                                   range(len(old if side else new))])
        pair = (partner, k) if side else (k, partner)
        if not any(pair[0] is not None and p[0] == pair[0] or pair[1] is not None and p[1] == pair[1] for p in out):
            out.append(pair)
    return out


def _counterpart(text: str, others: list[tuple[int, str]], relevance: list[float]) -> int | None:
    """The article of the other version about the same thing: of those alike (bigram Jaccard at
    least _COUNTERPART), the one most alike and most asked about (an article of one version may have
    become two, one of them what the question asks); when none is alike, one sharing a quarter of its
    words that the question points at about as much (收取学费…酌情减免 rewritten as 收取学费和其他必要费用…)."""
    mine = bigrams(substance(text))
    alike = {}
    for x, (_r, t) in enumerate(others):
        other = bigrams(substance(t))
        if mine and other and len(mine & other) / len(mine | other) >= _COUNTERPART:
            alike[x] = len(mine & other) / len(mine | other)
    if alike:
        return max(alike, key=lambda x: alike[x] + relevance[x])
    top = max(relevance, default=0.0)
    near = [x for x, (_r, t) in enumerate(others)
            if relevance[x] >= 0.5 * top > 0 and _overlap(mine, bigrams(substance(t))) >= 0.25]
    return max(near, key=lambda x: relevance[x], default=None)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def article_quote(index, n: int, row: int) -> Citation | None:
    """An article quoted whole (its items too) when short; else its first paragraph, with the items
    it announces (「应当符合下列条件：」)."""
    c = index.chunks[row]
    label = LEADING_LABEL.match(c.text)
    start = label.end() if label and label.end() < len(c.text) else 0
    end = len(c.text.rstrip())
    if end - start > _QUOTED_WHOLE:
        spans = sentence_spans(c.text)
        first = next((s for s in spans if s[0] >= start), (start, end))
        para_end = c.text.find("\n", first[0])
        first = (first[0], para_end if 0 <= para_end < end else end)
        start, end = with_items(c.text, first, limit=_QUOTED_WHOLE)
    return cite_span(index, n, c.doc_id, c.start + start, c.start + end)


def change_line(pair: list[Citation], old_in_pair: bool = True, new_in_pair: bool = True) -> str:
    """What changed between an article's two versions, in words; a line ending in both citations."""
    marks = "".join(f"[{c.n}]" for c in pair)
    if len(pair) == 1:
        what = "新版新增的条文，旧版没有对应条文" if new_in_pair and not old_in_pair else "旧版的这一条在新版中没有对应条文"
        return f"变化：{what}。{marks}"
    old, new = pair
    renumbered = f"条号由{where(old)}改为{where(new)}" if where(old) != where(new) else ""
    changes = describe_changes(old.quote, new.quote)
    if not changes:
        unchanged = "内容未变（只有条号、日期或法律名称的写法不同）" if substance(old.quote) == substance(new.quote) and \
            old.quote != new.quote else "内容未变"
        return f"变化：{'；'.join(p for p in (unchanged, renumbered) if p)}。{marks}"
    return f"变化：{'；'.join(p for p in (renumbered, *changes) if p)}。{marks}"


def describe_changes(old: str, new: str, sides: tuple[str, str] | None = None) -> list[str]:
    """What differs from one version of an article to the other, each in words: phrases (an item, a
    clause between commas) rewritten, added and dropped, at most _SHOWN of each kind; differences
    only of numbering, dates or the name are none. With `sides` (two documents compared, 上海 and
    青岛, not two versions) the same is said as what each side has."""
    old_units, new_units = _units(old), _units(new)
    paired = align([substance(u) for u in old_units], [substance(u) for u in new_units], floor=0.3)
    old_paired = {i for i, _j, _s in paired}
    new_paired = {j for _i, j, _s in paired}
    added = [u for j, u in enumerate(new_units) if j not in new_paired and substance(u)]
    dropped = [u for i, u in enumerate(old_units) if i not in old_paired and substance(u)]
    rewritten = [(old_units[i], new_units[j]) for i, j, _s in sorted(paired, key=lambda p: p[1])
                 if substance(old_units[i]) != substance(new_units[j])]
    if sides:
        out = [f"{sides[0]}{_quoted(a)}，{sides[1]}{_quoted(b)}" for a, b in rewritten[:_SHOWN]]
    else:
        out = [f"{_quoted(a)}改为{_quoted(b)}{_words_changed(a, b)}" for a, b in rewritten[:_SHOWN]]
    if len(rewritten) > _SHOWN:
        out[-1] += "等"
    if added:
        out.append(f"{sides[1]}另有{_listed(added)}" if sides else f"新版增加了{_listed(added)}")
    if dropped:
        out.append(f"{sides[0]}另有{_listed(dropped)}" if sides else f"删去了{_listed(dropped)}")
    return out


def differences(first: tuple[str, Citation], second: tuple[str, Citation]) -> list[str]:
    """The 异同 line under two sides compared (上海 and 青岛): what their first quotes say differently,
    when the two are about the same thing (alike as an article and its counterpart are); else none."""
    (a, x), (b, y) = first, second
    mine, other = bigrams(substance(x.quote)), bigrams(substance(y.quote))
    if not mine or not other or len(mine & other) / len(mine | other) < _COUNTERPART:
        return []
    said = describe_changes(x.quote, y.quote, (f"【{a}】", f"【{b}】"))
    return [f"异同：{'；'.join(said)}。[{x.n}][{y.n}]" if said else f"异同：两者规定一致。[{x.n}][{y.n}]"]


def _words_changed(old: str, new: str) -> str:
    """「（删去“初等”）」: the words a rewritten phrase lost or gained, when they are few and say something."""
    removed, added = changed_words(old, new)
    removed, added = [w for w in removed if substance(w)], [w for w in added if substance(w)]
    if not (removed or added) or len(removed) + len(added) > 2:
        return ""
    parts = ([f"删去“{'”“'.join(removed)}”"] if removed else []) + ([f"增加“{'”“'.join(added)}”"] if added else [])
    return f"（{'，'.join(parts)}）"


def _units(text: str) -> list[str]:
    """What an article is compared by: its phrases — an item, or a clause between ，；。： — line by line."""
    return [m.group(0).strip() for m in _PHRASE.finditer(text) if m.group(0).strip()]


def _quoted(unit: str) -> str:
    unit = unit.strip().rstrip("，；。：,;:")
    return f"「{unit}」" if len(unit) <= _SHORT else f"「{unit[:_SHORT]}…」"


def _listed(units: list[str]) -> str:
    return "".join(_quoted(u) for u in units[:_SHOWN]) + ("等" if len(units) > _SHOWN else "")

