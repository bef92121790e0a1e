"""Which sentences of the retrieved passages answer a question: the question's weighted terms, each
sentence scored by their coverage and by its meaning, the best chosen and widened to their clause."""

from __future__ import annotations

from dataclasses import dataclass, replace
from os.path import commonprefix

import numpy as np

from kb.compose import clause_span, heading_body, is_question, is_statement, sentence_spans, with_items
from kb.config import AskSettings
from kb.evidence import EXPECTED, Terms, coverage
from kb.kinds import cite_in_hit
from kb.question import question_core
from kb.tokenize import normalize, word_tokens
from kb.types import Citation, Hit

# Words every question has; they say nothing about what it asks ("……是什么", "有哪些规定").
QUESTION_WORDS = frozenset(
    ["什么", "哪些", "哪个", "如何", "怎么", "怎样", "多少", "是否", "可以", "能否", "请问", "为何", "规定", "要求", "文件", "有关",
     "关于", "相关", "主要", "内容", "具体", "情况", "问题", "方面", "哪里", "何时", "时候", "需要", "应该", "应当", "目前", "多久",
     "多长", "多大", "为什么", "讲了", "说了", "讲的", "哪年", "哪天", "几类", "哪几", "哪几类", "开始", "一下", "现在", "这个", "那个",
     "我们", "他们", "你们", "知道", "告诉", "里面", "当中", "其中", "以及", "还是", "或者", "是不是", "有没有", "能不能", "怎么样",
     "哪一年", "一年", "来说", "一般", "不同", "区别", "变化", "文章", "论文", "方案是", "版本", "这块", "那块", "这一块",
     "那一块", "那版", "这版", "文号", "提到", "提及", "说到", "讲到", "新法", "旧法", "老法", "有何", "何种", "哪家", "哪位"])
_EMBEDDED = 8  # sentences embedded per question, the best covered first: embedding is most of the time
# weight of the terms the passage's document title does not hold: 「成都推出的减税抗疫贷最多贷多少？」 is
# answered by the sentence on 最高可贷, not by the ones repeating 成都 and 减税抗疫贷 (chosen on the fit halves)
_FOCUS = 0.75
_FOLLOWS = 0.5  # share of a sentence's score the next one in its paragraph gets (chosen on the fit halves)
_MEANING = 0.5  # weight of a sentence's similarity to the question against its term coverage


def question_terms(question: str) -> frozenset[str]:
    """What a question is about: its words (jieba, with the policy dictionary) minus question words.

    Words, not character bigrams: bigrams across word boundaries (规定了考核 -> 定了, 了考) never
    occur in the documents and would make every question look unanswered.
    """
    tokens = [t for part in question_core(question).split() for t in word_tokens(part)]
    return frozenset(t for t in tokens if (t not in QUESTION_WORDS and len(t) > 1) or t.isdigit())


def weigh(retriever, terms: frozenset[str]) -> Terms:
    """Weight each term by its IDF in the index: 颁发 says more about a question than 证书.

    A term no passage holds as a word may be a word glued to a particle by the segmenter
    (旧法里产教 -> 里产教): its longest part the index does hold stands for it.
    """
    if not terms:
        return {}
    store = retriever.index.store
    weights = store.idf("words", sorted(terms))
    top = top_idf(retriever)
    out: Terms = {}
    for term, w in weights.items():
        if w >= top - 1e-9 and len(term) >= 3 and not term.isdigit():
            parts = [term[i:j] for n in range(len(term) - 1, 1, -1) for i in range(len(term) - n + 1)
                     for j in (i + n,)]
            seen = store.idf("words", parts)
            held = next((p for p in parts if seen[p] < top - 1e-9), None)
            if held is not None:
                out[held] = max(out.get(held, 0.0), seen[held])
                continue
        out[term] = max(out.get(term, 0.0), w)
    return out


def top_idf(retriever) -> float:
    """The IDF the store gives a term no indexed passage holds, log((n + 1) / 0.5)."""
    return float(np.log((len(retriever.index.chunks) + 1) / 0.5))


@dataclass(frozen=True)
class Sentence:
    hit_rank: int
    hit: Hit
    start: int  # offsets within the chunk text
    end: int
    score: float


def sentence_text(s: Sentence) -> str:
    return s.hit.chunk.text[s.start:s.end]


def candidates(retriever, hits: list[Hit], terms: Terms, question: str,
                expects: str = "") -> tuple[list[Sentence], list[Sentence], float]:
    """(sentences scored by terms and meaning, the same by meaning alone, the best term coverage of
    one sentence of the top three passages) of the top passages: statements only, never a title
    line or a bare heading.

    Only the sentences that hold most of the question's terms are embedded (at most
    _EMBEDDED): embedding is most of an answer's time.
    """
    candidates = []
    best_sentence = 0.0
    focus = {h.chunk.doc_id: {t: w for t, w in terms.items() if t not in normalize(h.title)} for h in hits}
    expected = EXPECTED.get(expects) if expects in ("date", "number", "money") else None
    for rank, hit in enumerate(hits):
        prev_score, prev_end = 0.0, -1
        for start, end in sentence_spans(hit.chunk.text):
            sentence = hit.chunk.text[start:end]
            if not is_statement(sentence, hit.title):
                continue
            score = coverage(terms, sentence) if terms else 1.0
            if rank < 3:
                best_sentence = max(best_sentence, score if terms else 0.0)
            lead = len(commonprefix([sentence, hit.title]))
            if terms and lead >= 8:
                # a text that opens with its own title (news, notices): the title's words are not the
                # answer, what the sentence adds to them is
                score = max(coverage(terms, sentence[lead:]), 0.5 * score)
            if focus.get(hit.chunk.doc_id):
                # the words the document's title already holds say which document, not which sentence
                score = (1 - _FOCUS) * score + _FOCUS * coverage(focus[hit.chunk.doc_id], sentence)
            if expected is not None:
                # 「哪年发布的？」: the sentence holding a date answers, although it may repeat no word
                score = 0.7 * score + (0.3 if expected.search(sentence) else 0.0)
            own = score
            if prev_end >= 0 and "\n" not in hit.chunk.text[prev_end:start]:
                # the sentence after one that restates the question often holds the answer itself
                # (「天津市财政拨付资金1240万元支持…。」 then what the money pays for): it shares a part
                # of that one's score, never passed on further
                score = max(score, _FOLLOWS * prev_score)
            prev_score, prev_end = own, end
            # passages further down the list count less: the retriever ranked them lower for a reason
            score /= 1.0 + 0.2 * rank
            if score > 0:
                candidates.append(Sentence(rank, hit, start, end, score))
    candidates = sorted(candidates, key=lambda c: (-c.score, c.hit_rank, c.start))[:_EMBEDDED]
    if not candidates:
        return [], [], best_sentence
    qvec = retriever.query_vector(question)
    sims = retriever.sentence_vectors([c.hit.chunk.text[c.start:c.end] for c in candidates]) @ qvec
    meaning = [replace(c, score=max(0.0, float(s))) for c, s in zip(candidates, sims, strict=True)]
    # term overlap alone favours long sentences that mention everything in passing
    mixed = [replace(c, score=(1 - _MEANING) * c.score + _MEANING * m.score)
             for c, m in zip(candidates, meaning, strict=True)]
    return mixed, meaning, best_sentence


# a sentence joins the answer when it scores this share of the best one; one of the best sentence's
# own passage needs less, as it goes on with what that says (both chosen on the fit halves)
_CLOSE = 0.6
_CLOSE_SAME_PASSAGE = 0.5


def choose(candidates: list[Sentence], settings: AskSettings) -> list[Sentence]:
    """The best sentences, close to the best one, in reading order: by passage rank, then position.

    A sentence word for word the same as one chosen (another copy of a notice) is chosen too, for
    its source, but takes no room: the answer shows it once (answer._lines_by_clause)."""
    if not candidates:
        return []
    top = max(candidates, key=lambda c: c.score)
    chosen: list[Sentence] = []
    said: set[str] = set()
    used = 0
    for s in sorted(candidates, key=lambda c: -c.score):
        text = sentence_text(s)
        if text in said:
            chosen.append(s)
            continue
        floor = _CLOSE_SAME_PASSAGE if s.hit.chunk.chunk_id == top.hit.chunk.chunk_id else _CLOSE
        # a weak sentence only dilutes a precise answer
        if s.score < floor * top.score or len(said) == settings.max_sentences or used + len(text) > settings.max_chars:
            continue
        chosen.append(s)
        said.add(text)
        used += len(text)
    return sorted(chosen, key=lambda c: (c.hit_rank, c.start))


# a best sentence shorter than this may be a lead-in (「在“21条”中，税务部门合理调整了个体双定户纳税定额。」):
# the next sentence of its paragraph, which says how, joins it (chosen on the fit halves: on ncp 5 more
# answers of 187 hold the gold span, 40 grow by a sentence; laws' clauses, quoted whole, are untouched)
_LEAD_IN = 120


def with_next(chosen: list[Sentence], terms: Terms) -> list[Sentence]:
    """The chosen sentences and, when the best one is a short lead-in, the sentence after it in its
    paragraph: a statement, not yet chosen, holding a word of the question (never an unrelated one).
    Copies of the best sentence (another copy of the notice) go on the same way."""
    if not chosen:
        return chosen
    best = sentence_text(max(chosen, key=lambda c: c.score))
    if len(best) >= _LEAD_IN:
        return chosen
    added = []
    for lead in (c for c in chosen if sentence_text(c) == best):
        text = lead.hit.chunk.text
        after = next(((a, b) for a, b in sentence_spans(text) if a >= lead.end), None)
        if after is None or "\n" in text[lead.end:after[0]]:
            continue
        sentence = text[after[0]:after[1]]
        if not is_statement(sentence, lead.hit.title) or (terms and coverage(terms, sentence) <= 0):
            continue
        if not any(c.hit.chunk.chunk_id == lead.hit.chunk.chunk_id and c.start == after[0] for c in chosen):
            added.append(replace(lead, start=after[0], end=after[1], score=0.0))
    return sorted([*chosen, *added], key=lambda c: (c.hit_rank, c.start))


def clause_citations(sentences: list[Sentence]) -> list[Citation]:
    """Each sentence widened to its clause when that is short, a heading to the body it heads;
    overlapping quotes merged."""
    spans: list[tuple[Hit, int, int]] = []
    for s in sentences:
        text = s.hit.chunk.text
        start, end = with_items(text, clause_span(text, heading_body(text, (s.start, s.end))))
        if any(h.chunk.chunk_id == s.hit.chunk.chunk_id and a <= start < b for h, a, b in spans):
            continue
        spans = [(h, a, b) for h, a, b in spans
                 if not (h.chunk.chunk_id == s.hit.chunk.chunk_id and start <= a < end)]
        spans.append((s.hit, start, end))
    spans = _bridged(spans)
    answering = [(h, a, b) for h, a, b in spans if not is_question(h.chunk.text[a:b])]
    return [cite_in_hit(n, h, a, b) for n, (h, a, b) in enumerate(answering or spans, 1)]


def _bridged(spans: list[tuple[Hit, int, int]]) -> list[tuple[Hit, int, int]]:
    """Two quotes of one paragraph with one sentence between them become one quote: the sentence
    between carries the thread from one to the other (and a teacher reads one passage, not shards)."""
    out: list[tuple[Hit, int, int]] = []
    for h, a, b in spans:
        if out:
            ph, pa, pb = out[-1]
            gap = h.chunk.text[pb:a]
            if ph.chunk.chunk_id == h.chunk.chunk_id and pb <= a and "\n" not in gap.strip() and \
                    len(sentence_spans(gap)) <= 1:
                out[-1] = (h, pa, b)
                continue
        out.append((h, a, b))
    return out


def best_sentence_citation(n: int, hit: Hit, terms: Terms) -> Citation:
    """Cite the passage by its sentence that best covers the question (the whole passage if none)."""
    spans = [s for s in sentence_spans(hit.chunk.text) if is_statement(hit.chunk.text[s[0]:s[1]], hit.title)]
    if not spans:
        return cite_in_hit(n, hit, 0, len(hit.chunk.text))
    start, end = max(spans, key=lambda s: coverage(terms, hit.chunk.text[s[0]:s[1]]) if terms else 0.0)
    return cite_in_hit(n, hit, start, end)
