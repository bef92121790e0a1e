"""Answers from retrieved passages: understand the question, decide whether the passages are a basis,
then compose by kind — every statement cited to its clause — or refuse plainly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from kb.compose import counts_held, lead_fact, passage_place, sentence_spans
from kb.config import AskSettings, SearchFilters
from kb.entities import (Entities, basis_text, documents_about, entities_of, missing, other_body, other_ordinal,
                         other_province, passages_text, sorted_out, years_asked)
from kb.evidence import BOUND_ASKED, EXPECTED, Named, Signals, Terms, coverage, figures_asked, load_model, read_signals
from kb.focus import focus_words
from kb.intent import Intent, without_markers
from kb.kinds import (article_answer, author_answer, basis_lead, cite_in_hit, cited_not_held, count_answer, date_answer,
                      doc_name, document_overview, previous_article, revisions_answer, source_name, version_notes,
                      where, with_continuation)
from kb.lists import announcing_rows, asks_place, dividing_rows, list_answer, ordinal_answer, previous_item, topic_section
from kb.lay import formalize, search_text
from kb.llm import CheckedOutput, LLMError, LLMSettings, check_output, generate, generate_stream
from kb.metadata import find_doc_numbers
from kb.prompts import COMPARE_SIDE_EMPTY, FALLBACK_NOTE, MISSING_NOTE, NO_BASIS_REPLY, RELATED_HEADER
from kb.question import Question, list_topic, name_key, understand, unheld_document
from kb.retrieve import version_factor
from kb.sentences import (Sentence, best_sentence_citation, candidates, choose, clause_citations, question_terms,
                          sentence_text, top_idf, weigh, with_next)
from kb.tokenize import normalize
from kb.types import Answer, Citation, Hit
from kb.versions import differences, version_answer


@dataclass(frozen=True)
class Draft:
    """The extractive answer (or refusal), what it was decided on, and what a model would be given."""

    answer: Answer
    question: Question | None
    hits: list[Hit]
    terms: Terms
    signals: Signals | None
    confidence: float  # probability of a basis by the evidence model; 1.0 for a named-document overview
    final: bool  # a refusal or an answer no model needs to rewrite
    index: object = None  # the LoadedIndex, for the version notes of a model's answer


def answer_question(retriever, question: str, settings: AskSettings = AskSettings(), llm: LLMSettings | None = None,
                    previous: Answer | None = None) -> Answer:
    """Retrieve, judge the evidence, and compose the answer by the kind of question; or refuse.

    With `llm` (or settings.llm), an OpenAI-compatible model writes the answer from the same
    passages; when it fails, cites nothing valid or cannot be reached, the extractive answer is given.
    `previous` is the conversation's last answer: 「那它…」 is asked about its document.
    """
    llm = llm or settings.llm
    d = draft(retriever, question, settings, previous)
    if llm is None or d.final:
        return d.answer
    passages = _passages(d.hits[: settings.llm_passages])
    try:
        out = generate(d.answer.understood or d.answer.question, passages, llm)  # a follow-up, completed
    except LLMError as e:
        return _fallback(d.answer, e)
    return _from_model(out, d, settings)


def stream_answer(retriever, question: str, settings: AskSettings = AskSettings(), llm: LLMSettings | None = None,
                  previous: Answer | None = None) -> Iterator[str | Answer]:
    """For the UI: the model's text in pieces as it writes, then the checked Answer, always last."""
    llm = llm or settings.llm
    d = draft(retriever, question, settings, previous)
    if llm is None or d.final:
        yield d.answer
        return
    passages = _passages(d.hits[: settings.llm_passages])
    pieces: list[str] = []
    try:
        for piece in generate_stream(d.answer.understood or d.answer.question, passages, llm):
            pieces.append(piece)
            yield piece
    except LLMError as e:
        yield _fallback(d.answer, e)
        return
    yield _from_model(check_output("".join(pieces), len(passages)), d, settings)


def draft(retriever, question: str, settings: AskSettings = AskSettings(), previous: Answer | None = None,
          *, compare: bool = True) -> Draft:
    """The extractive answer and the evidence it rests on (bench/answers.py fits on `signals`).

    A follow-up that swapped in a place, organisation or year (「那天津呢？」 after a question on 北京),
    and any question asking about a year (「2022年的大赛…」), is refused when the quoted clauses and
    their documents lack it, saying what is missing: the passages found are about another one. So is a
    question on one of a series (第二批, 第七届) answered from clauses about another one (首批).
    Elsewhere a place missing from the basis is no sign: a local notice often leaves its own place
    unsaid (16 answerable ncp questions of the fit half), and as an evidence feature it was fitted
    with the wrong sign."""
    d = _draft(retriever, question, settings, previous, compare=compare)
    if d.question is None:
        return d
    # what must be in the basis: what a follow-up swapped in or brought in (「那人社部对这些问题是怎么回应
    #的？」 after a question on the paper: 人社部), and any year asked about
    wanted = sorted_out(tuple(dict.fromkeys(d.question.swapped + _brought_in(d.question, previous, retriever.places)
                                            + years_asked(d.question.text))))
    if not d.answer.refused and (wanted or d.answer.citations):
        basis = basis_text(retriever.index, d.answer.citations)
        about = documents_about(retriever.index, (c.doc_id for c in d.answer.citations))
        elsewhere = (other_province(d.question.text, basis, about, retriever.folded_about())
                     + other_body(d.question.text, basis, about, retriever.folded_about())
                     + other_ordinal(d.question.text, basis,
                                     lambda: retriever.folded_text(c.doc_id for c in d.answer.citations)))
        # one year asked about: the passage that leads the answer is about that year, not another passage
        # beside it (「2022年…花艺赛项」 led by the 2023 contest's report, a 2022-2023年度 one cited after it)
        lead = basis_text(retriever.index, d.answer.citations[:1]) if len(wanted.years) == 1 else basis
        gaps = tuple(dict.fromkeys(missing(replace(wanted, years=()), basis)
                                   + missing(Entities(years=wanted.years), lead) + elsewhere))
        if gaps:
            d = replace(d, answer=_refusal(d.answer.question, d.hits, d.question, 0.0, gaps), confidence=0.0,
                        final=True)
    elif d.answer.refused and d.hits and _SAID_MISSING not in d.answer.text:
        # refused anyway (every refusal is `refusal`'s): say what the nearest passages lack, a body or a
        # province they credit to another too (「财政部办公厅印发的名师名校长培养计划…」: 教育部办公厅 印发)
        near = passages_text(retriever.index, d.hits[:3])
        about = documents_about(retriever.index, [d.hits[0].chunk.doc_id])  # the nearest one's
        gaps = missing(wanted, near)
        gaps += tuple(g for g in other_province(d.question.text, near, about, retriever.folded_about())
                      + other_body(d.question.text, near, about, retriever.folded_about()) if g not in gaps)
        if gaps:
            d = replace(d, answer=_refusal(d.answer.question, d.hits, d.question, d.confidence, gaps))
    return replace(d, answer=replace(d.answer, understood=d.question.text))


_SAID_MISSING = MISSING_NOTE.split("{")[0]


def _brought_in(q: Question, previous: Answer | None, places: tuple[str, ...]) -> tuple[str, ...]:
    """The places and national bodies a follow-up names in its own words that the turn before did not:
    what it asks about now."""
    if not q.follow_up or previous is None:
        return ()
    before = entities_of(_asked_before(previous), places)
    own = entities_of(q.asked, places)
    return (tuple(p for p in own.places if p not in before.places)
            + tuple(o for o in own.organisations if o not in before.organisations))


def _asked_before(previous: Answer | None) -> str:
    """The previous question as it was understood (a follow-up of a follow-up completes from it)."""
    if previous is None:
        return ""
    return getattr(previous, "understood", "") or previous.question


def _draft(retriever, question: str, settings: AskSettings, previous: Answer | None, *, compare: bool) -> Draft:
    asked = question.strip()
    index = retriever.index
    q = understand(asked, index.register, retriever.places, previous, _asked_before(previous))
    own = settings.search.filters
    if compare and q.intent.compare and not own and not q.versions:
        return _compare(retriever, asked, q.intent, settings)
    works = _works(index, q.doc_ids)
    if compare and q.kind == "compare" and len(works) == 2 and not own and not q.versions:
        return _compare_works(retriever, asked, works, settings)
    # the documents the question names (职业教育法 -> the version in force) are searched alone
    filters = own or (SearchFilters(doc_ids=q.doc_ids) if q.doc_ids else own)
    # everyday words are searched with the documents' words for them (生孩子: 生育 产假), and the basis
    # must hold the documents' words
    searched, formal = search_text(q.text), formalize(q.text)
    hits = retriever.search(searched, replace(settings.search, filters=filters))
    terms = _terms(retriever, formal, q.doc_ids)
    if q.doc_ids and filters is not own:
        hits = _heading_first(index, hits, terms)
    if q.kind == "list" and q.doc_ids and filters is not own:
        hits = _announcing_first(retriever, hits, q, terms)
    elif q.kind == "list" and not own and hits:
        hits = _announcing_first(retriever, hits, q, terms, _documents_found(hits), _ANNOUNCING_LEAST)
    # 「高等学历教育分哪几种？」: the article dividing it first, in the documents named (unless the asker's
    # own filters chose what to search) or found
    named = q.doc_ids if filters is not own else ()
    hits = _row_first(retriever, hits, dividing_rows(index, named or _documents_found(hits, len(hits)), q.text,
                                                         tuple(h.chunk.chunk_id for h in hits)))
    text, citations = previous_article(index, q, previous, asked)
    if not citations:
        text, citations = previous_item(index, asked, previous)
    if citations:
        return _done(_answer(asked, text, citations, index, q), q, hits, terms)
    if text:  # 「第七项呢？」 of six items: no such item, said so
        return Draft(_refusal(asked, hits, q, 0.0, note=text), q, hits, terms, None, 0.0, True, index)
    special = _by_name(retriever, asked, q, hits, terms, settings)
    if special is not None:
        return special
    judged = _judge(retriever, q, hits, terms)
    # whether to read the question another way is the shipped model's call, whatever refuses in the end
    # (bench/answers.py asks with min_confidence 0 and applies thresholds afterwards: it must see the
    # answer the app gives)
    retry = load_model().threshold
    threshold = retry if settings.min_confidence is None else settings.min_confidence
    if judged.confidence < retry and filters is not own:
        # the documents it seemed to name hold no answer: the rest of the index may
        wide = replace(q, doc_ids=())
        wide_terms = _terms(retriever, formal, ())
        other = _judge(retriever, wide, retriever.search(searched, replace(settings.search, filters=own)), wide_terms)
        if other.confidence > judged.confidence:
            judged, q = other, wide
    before = _asked_before(previous)
    if judged.confidence < retry and q.follow_up and before and before not in q.text:
        # 「那每天能干几个小时？」 after a question on 宁波's 顶岗实习: read with the turn before, whose
        # words it leaves unsaid
        context = replace(q, text=f"{before} {q.text}")
        other = _judge(retriever, context, retriever.search(search_text(context.text),
                                                            replace(settings.search, filters=filters)),
                       _terms(retriever, formalize(context.text), context.doc_ids))
        if other.confidence > judged.confidence:
            judged = other  # the passages and words of the context; the fact to lead with is the follow-up's
    hits, terms = judged.hits, judged.terms
    if judged.confidence < threshold or not judged.sentences:
        return Draft(_refusal(asked, hits, q, judged.confidence), q, hits, terms, judged.signals,
                     judged.confidence, True, index)
    text, citations = _compose(index, q, hits, terms, judged.sentences, settings)
    if not citations:
        return Draft(_refusal(asked, hits, q, judged.confidence), q, hits, terms, judged.signals,
                     judged.confidence, True, index)
    answer = replace(_answer(asked, text, citations, index, q), confidence=round(judged.confidence, 4))
    return Draft(answer, q, hits, terms, judged.signals, judged.confidence, False, index)


@dataclass(frozen=True)
class _Judged:
    """Passages, the sentences that could answer, and the evidence model's verdict on them."""

    hits: list[Hit]
    terms: Terms
    sentences: list[Sentence]
    signals: Signals
    confidence: float


def _judge(retriever, q: Question, hits: list[Hit], terms: Terms) -> _Judged:
    hits = _in_force_first(retriever, _staff_first(retriever, hits, terms), terms, q.intent)
    sentences, meaning, best_sentence = candidates(retriever, hits, terms, q.text, q.expects)
    index = retriever.index
    top = hits[:3]
    sources = tuple(x for h in top for x in (index.records[h.chunk.doc_id].meta.title,
                                             index.records[h.chunk.doc_id].meta.issuer))
    best_text = sentence_text(max(sentences, key=lambda c: c.score)) if sentences else ""
    signals = read_signals(hits, terms, similarity=max((c.score for c in meaning), default=0.0),
                           expects=q.expects, dates=_dates(index, top), unseen=_unseen(retriever, terms),
                           top_idf=top_idf(retriever), best_sentence=best_sentence,
                           names=_named(retriever, q, top), sources=sources,
                           best_text=best_text, passage_similarity=_passage_similarity(retriever, q.text, hits),
                           focus=focus_words(formalize(q.text)),
                           lead_meaning=retriever.meaning_check.similarity(q.text, best_text),
                           counts_held=counts_held(q.text, [h.chunk.text for h in top]))
    return _Judged(hits, terms, sentences, signals, load_model().probability(signals))


def _announcing_first(retriever, hits: list[Hit], q: Question, terms: Terms, doc_ids: tuple[str, ...] = (),
                      least: float = 0.0) -> list[Hit]:
    """The passage announcing the enumeration a list question asks for (「教师应当履行下列义务：」) first,
    the other passages after it in their order; in the documents the question names, else in `doc_ids`
    where its announcing line holds at least `least` of the question's words and no clause of another
    document announces it alike (上海's 条例 and 职业教育法 both announce 下列条件 for 设立职业培训机构: which
    one is asked is retrieval's call, not the order of the index)."""
    rows = announcing_rows(retriever.index, doc_ids or q.doc_ids, q.text, terms, least, sole=bool(doc_ids))
    return _row_first(retriever, hits, rows)


def _row_first(retriever, hits: list[Hit], rows: list[int]) -> list[Hit]:
    """The passage of rows[0] first, the other passages after it in their order."""
    if not rows or (hits and hits[0].chunk.chunk_id == retriever.index.chunks[rows[0]].chunk_id):
        return hits
    first = retriever.hit(rows[0], hits[0].score if hits else 1.0)
    return [first, *(h for h in hits if h.chunk.chunk_id != first.chunk.chunk_id)]


# 「民办学校理事会或者董事会有哪些职权？」, naming no law: the documents of the first passages found
# are searched for the clause announcing 下列职权, when its line holds this much of the question
_ANNOUNCING_LEAST = 0.5
_ANNOUNCING_DOCS = 3


def _documents_found(hits: list[Hit], first: int = _ANNOUNCING_DOCS) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h.chunk.doc_id for h in hits[:first]))


def _passage_similarity(retriever, question: str, hits: list[Hit]) -> float:
    """How close the first passage as a whole is in meaning to the question: a paraphrase shares
    few words with its answer but its meaning."""
    if not hits:
        return 0.0
    return float(retriever.sentence_vectors([hits[0].chunk.text])[0] @ retriever.query_vector(question))


def _named(retriever, q: Question, top: list[Hit]) -> Named:
    """What the question names beside its terms — years, figures, documents — for the
    evidence model to check against the passages (an entity swapped, a document not held)."""
    passages = " ".join(h.chunk.text for h in top)
    name = unheld_document(retriever.index.register, q.text)
    cited = {n for _s, _e, n in find_doc_numbers(passages)}
    absent = bool(name) and name not in cited and name_key(name) not in name_key(passages)
    return Named(years=years_asked(q.text), numbers=figures_asked(q.text), document=bool(q.doc_ids),
                 absent_document=absent, named_text=retriever.folded_text(q.doc_ids),
                 bound=q.expects in ("number", "money") and BOUND_ASKED.search(q.text) is not None)


def _unseen(retriever, terms: Terms) -> frozenset[str]:
    """Terms no indexed passage holds: the store gives them the largest IDF, log((n + 1) / 0.5)."""
    top = top_idf(retriever)
    return frozenset(t for t, w in terms.items() if w >= top - 1e-9)


def _by_name(retriever, asked: str, q: Question, hits: list[Hit], terms: Terms, settings: AskSettings) -> Draft | None:
    """Answers that a named document decides, with no evidence to weigh: its overview, the sentences
    citing a document the index does not hold, two versions side by side; else None."""
    index = retriever.index
    if q.absent or (q.article and q.doc_ids and not q.versions and not article_answer(index, q)[1]):
        # the version or the article asked about is not in the knowledge base: no basis, whatever matches
        return Draft(_refusal(asked, hits, q, 0.0, (q.absent,) if q.absent else ()), q, hits, terms, None, 0.0,
                     True, index)
    if hits and "exact" in hits[0].retrievers and not question_terms(_without_titles(q.text)):
        return _done(overview(asked, [h for h in hits if "exact" in h.retrievers], settings), q, hits, terms)
    missing = cited_not_held(retriever.index, asked)
    if missing is not None:
        return _done(missing, q, hits, terms)
    for by_name in (article_answer, count_answer, revisions_answer, author_answer, date_answer):
        text, citations = by_name(index, q) if q.doc_ids and not q.versions else ("", [])
        if citations:
            return _done(_answer(asked, text, citations, index, q), q, hits, terms)
    if q.kind == "list" and q.doc_ids and not q.versions and not asks_place(q.text) and topic_section(index, q, terms):
        text, citations = list_answer(index, q, hits, terms)
        if citations:
            return _done(_answer(asked, text, citations, index, q), q, hits, terms)
    # 「那篇1+X的文章里讲的第四个成效是什么？」: the fourth item of the named document's section on 成效
    # (the item first: most questions ask none, and the section is a walk over the document's headings)
    text, citations = ordinal_answer(index, q, hits, terms) if q.doc_ids and not q.versions else ("", [])
    if text and topic_section(index, replace(q, list_topic=q.list_topic or list_topic(q.text)), terms):
        if citations:
            return _done(_answer(asked, text, citations, index, q), q, hits, terms)
        # 「…列举的第五个主要成效是什么？」 of a section listing four: no such item, said so
        return Draft(_refusal(asked, hits, q, 0.0, note=text), q, hits, terms, None, 0.0, True, index)
    if q.versions and len(q.versions) > 1:
        text, citations = version_answer(index, q, hits, terms)
        if citations:
            return _done(_answer(asked, text, citations, index, q), q, hits, terms)
    if q.doc_ids and not terms and len(set(q.doc_ids)) == 1 and q.kind == "what":
        citations = document_overview(index, q.doc_ids[0])
        if citations:
            return _done(_answer(asked, _lines_by_clause(citations, index), citations, index, q), q, hits, terms)
    return None


def _done(answer: Answer, q: Question, hits: list[Hit], terms: Terms) -> Draft:
    return Draft(replace(answer, kind=answer.kind or q.kind, confidence=1.0), q, hits, terms, None, 1.0, True)


def _answer(asked: str, text: str, citations: list[Citation], index, q: Question) -> Answer:
    notes = version_notes(tuple(citations), index)
    return Answer(asked, "\n".join([text, *notes]), tuple(citations), refused=False, kind=q.kind)


def _refusal(asked: str, hits: list[Hit], q: Question, confidence: float, gaps: tuple[str, ...] = (),
             note: str = "") -> Answer:
    return replace(refusal(asked, hits, gaps, note), kind=q.kind, confidence=round(confidence, 4))


def _works(index, doc_ids: tuple[str, ...]) -> tuple[str, ...]:
    """One document per work among `doc_ids` (the first named of its versions), in order."""
    register = index.register
    seen: set[tuple[str, ...]] = set()
    out = []
    for d in dict.fromkeys(doc_ids):
        entry = register.entries.get(d)
        versions = tuple(entry.versions) if entry is not None and entry.versions else (d,)
        if versions not in seen:
            seen.add(versions)
            out.append(d)
    return tuple(out)


def _terms(retriever, formal: str, doc_ids: tuple[str, ...]) -> Terms:
    """The weighted content terms of a question in the documents' words, without the names of the documents
    it was resolved to; dates and words of time (2020年时, 旧法) choose the version, they are not what the
    text says."""
    return weigh(retriever, question_terms(_without_names(retriever.index, without_markers(formal), doc_ids)))


def _without_names(index, text: str, doc_ids: tuple[str, ...]) -> str:
    """The question without the titles of the documents it was resolved to (they are the filter)."""
    for doc_id in dict.fromkeys(doc_ids):
        title = index.records[doc_id].meta.title
        for name in {title, title.removeprefix("中华人民共和国")}:
            if len(name) >= 3:
                text = text.replace(name, " ")
    return text


def _dates(index, hits: list[Hit]) -> tuple[str, ...]:
    return tuple(d for h in hits for _k, d in index.records[h.chunk.doc_id].meta.dates)


def _compose(index, q: Question, hits: list[Hit], terms: Terms, sentences: list[Sentence],
             settings: AskSettings) -> tuple[str, list[Citation]]:
    """The answer text and its citations, shaped by the kind of question."""
    text, citations = ordinal_answer(index, q, hits, terms)
    if citations:
        return text, citations
    if q.kind == "list":
        best = max(sentences, key=lambda c: c.score)
        anchor = (best.hit.chunk.doc_id, best.hit.chunk.start + best.start, best.hit.chunk.start + best.end)
        text, citations = list_answer(index, q, hits, terms, anchor)
        if citations:
            return text, citations
    chosen = choose(sentences, settings)
    if q.kind in ("when", "how_many"):  # the fact leads: the best sentence first, not the first read
        chosen.sort(key=lambda c: -c.score)
        wanted = EXPECTED.get(q.expects)
        if wanted is not None and chosen:
            # a short factual answer: beside the best sentence, only those holding a date or figure too
            # (「证书有效期是多久？」 is answered by 有效期为三年, not by the clause listing what a certificate shows)
            chosen = chosen[:1] + [c for c in chosen[1:] if wanted.search(c.hit.chunk.text[c.start:c.end])]
    if q.kind not in ("when", "how_many"):
        chosen = with_next(chosen, terms)
    citations = with_continuation(index, clause_citations(chosen))
    if not citations:
        return "", []
    body = _lines_by_clause(citations, index)
    first = citations[0]
    if q.kind == "which_doc":
        lead, quoted = basis_lead(index, q, first)
        if quoted is not None:
            quoted = replace(quoted, n=1)
            # the citing sentence is the answer; the paper's other sentences would only pad it
            return f"{lead}\n{doc_name(index, quoted.doc_id)}{where(quoted)}：{quoted.quote}[1]", [quoted]
        return f"{lead}\n{body}", citations
    fact = lead_fact(q.expects, first.quote, q.text) if q.kind in ("when", "how_many") else ""
    if fact:
        return f"{fact}。[{first.n}]\n{body}", citations
    return body, citations


def _lines_by_clause(citations: list[Citation] | tuple[Citation, ...], index) -> str:
    """One line per source clause, naming it before quoting it, each quote ending in its [n]; a quote
    word for word the same as an earlier one (another copy of the notice) is not repeated: its [n]
    follows the first, under 另见, with its source named when that is another title."""
    lines: list[list[str]] = []  # [line, markers of the copies]
    previous: tuple[str, tuple[str, ...]] | None = None
    first_line: dict[str, tuple[int, Citation]] = {}
    for c in citations:
        if c.quote in first_line:
            at, original = first_line[c.quote]
            named = "" if c.title == original.title else f"{doc_name(index, c.doc_id)}{where(c)}"
            lines[at][1] += f"{named}[{c.n}]"
            continue
        quote = f"{c.quote}[{c.n}]"
        if previous == (c.doc_id, c.path):
            lines[-1][0] += quote
        else:
            label = where(c)
            if label and c.quote.startswith(label):  # a heading the quote opens with is not named twice
                label = ""
            lines.append([f"{doc_name(index, c.doc_id)}{label}：{quote}", ""])
            previous = (c.doc_id, c.path)
        first_line[c.quote] = (len(lines) - 1, c)
    return "\n".join(line + (f"（另见{copies}）" if copies else "") for line, copies in lines)


def _heading_first(index, hits: list[Hit], terms: Terms) -> list[Hit]:
    """Inside the law a question names, the articles of the chapter or section whose heading holds the
    question's words (第八章 职业培训 for 「劳动法对用人单位职业培训有什么要求？」) first, in their order,
    when the passage leading lacks those words: every article of 劳动法 says 用人单位. Words of the law's
    title (职业教育 in 职业教育法's 第三章 职业教育的实施), and words the leading passage holds (高等学校, in
    高等教育法's 第三章 高等学校的设立 and nearly every article), name no chapter."""
    total = sum(terms.values())
    if total <= 0 or not hits:
        return hits
    lead = normalize(hits[0].chunk.text)

    def share(h: Hit) -> float:
        title = normalize(index.records[h.chunk.doc_id].meta.title)
        heading = normalize(" ".join(h.chunk.path[:-1]))
        return sum(w for t, w in terms.items()
                   if t in heading and t not in title and t not in lead) / total

    shares = [share(h) for h in hits]
    if max(shares) <= shares[0]:
        return hits
    order = sorted(range(len(hits)), key=lambda k: (-shares[k], k))
    return [hits[k] for k in order]


def _staff_first(retriever, hits: list[Hit], terms: Terms) -> list[Hit]:
    """Drop passages of anonymous visitors' uploads when staff documents answer the question as
    well: an upload may answer what nothing else does, but is never quoted beside (or against)
    what the staff put in the knowledge base."""
    entries = retriever.index.register.entries
    return _prefer(hits, [h for h in hits if entries[h.chunk.doc_id].trust != "visitor"], terms, 0.8)


def _in_force_first(retriever, hits: list[Hit], terms: Terms, intent: Intent) -> list[Hit]:
    """Keep only passages of the versions the question is about, when those answer it.

    Retrieval already ranks the other versions lower (`retrieve.version_factor`); this keeps an
    answer from quoting the old and the new rule side by side as if both applied. A question about
    change (有什么变化) keeps every version.
    """
    if intent.change:
        return hits
    register = retriever.index.register
    wanted = [h for h in hits if version_factor(register, register.entries[h.chunk.doc_id], intent) == 1.0]
    return _prefer(hits, wanted, terms, 0.5)


def _prefer(hits: list[Hit], wanted: list[Hit], terms: Terms, share: float) -> list[Hit]:
    """`wanted` (a subset of `hits`, in order) when its best of the first three passages covers at
    least `share` of what the best of all hits covers; every hit otherwise."""
    if not wanted or len(wanted) == len(hits):
        return hits
    best_all = max(coverage(terms, h.chunk.text) for h in hits[:3]) if terms else 0.0
    best_wanted = max(coverage(terms, h.chunk.text) for h in wanted[:3]) if terms else 0.0
    return wanted if best_wanted >= share * best_all else hits


def _compare(retriever, question: str, intent: Intent, settings: AskSettings) -> Draft:
    """Answer each side of "上海和青岛…" from its own documents, side by side."""
    register = retriever.index.register
    sides = []
    for side in intent.compare:
        sub = question
        for o in (o for o in intent.compare if o != side):
            sub = sub.replace(o, "")
        docs = tuple(d for d, r in register.records.items()
                     if side in r.meta.title or side in r.meta.issuer or side in d)
        sides.append((side, docs, sub))
    return _side_by_side(retriever, question, sides, settings)


def _compare_works(retriever, question: str, works: tuple[str, str], settings: AskSettings) -> Draft:
    """「高等教育法和教育法对…有什么区别？」: each named work's own clauses on it, side by side."""
    index = retriever.index
    names = {d: index.records[d].meta.title.removeprefix("中华人民共和国") for d in works}
    sides = []
    for doc_id in sorted(works, key=lambda d: _named_at(question, names[d])):  # in the order asked
        other = next(d for d in works if d != doc_id)
        # asked of one work alone: what it says (not how it differs, which would ask for its versions)
        sub = _DIFFERS.sub("是怎么规定的", _without_names(index, question, (other,)))
        sides.append((names[doc_id], (doc_id,), sub))
    return _side_by_side(retriever, question, sides, settings)


def _named_at(question: str, name: str) -> int:
    """Where the question names `name` (after everything when it does not)."""
    at = question.find(name)
    return at if at >= 0 else len(question)


_DIFFERS = re.compile(r"(?:在|上)?(?:有什么|有何|有哪些|有啥)?(?:不同|区别|差异|异同|差别)(?:之处)?")


def _side_by_side(retriever, question: str, sides: list[tuple[str, tuple[str, ...], str]],
                  settings: AskSettings) -> Draft:
    """Each side (its label, its documents, the question asked of it) answered from its documents
    alone, under 【label】; a side with no documents or no basis says so; with two first quotes, what
    differs between them."""
    lines: list[str] = []
    citations: list[Citation] = []
    all_hits: list[Hit] = []
    firsts: list[tuple[str, Citation]] = []  # each side's first quote, as numbered in the answer
    for side, docs, sub in sides:
        if not docs:
            lines.append(f"【{side}】" + COMPARE_SIDE_EMPTY.format(side=side))
            continue
        side_settings = replace(settings, search=replace(settings.search, filters=SearchFilters(doc_ids=docs)))
        part = draft(retriever, sub, side_settings, compare=False)
        all_hits += part.hits
        if part.answer.refused:
            lines.append(f"【{side}】" + COMPARE_SIDE_EMPTY.format(side=side))
            continue
        shift = len(citations)
        firsts.append((side, replace(part.answer.citations[0], n=part.answer.citations[0].n + shift)))
        text = re.sub(r"\[(\d{1,3})\]", lambda m, shift=shift: f"[{int(m.group(1)) + shift}]", part.answer.text)
        citations += [replace(c, n=c.n + shift) for c in part.answer.citations]
        lines.append(f"【{side}】\n{text}")
    if not citations:
        return Draft(replace(refusal(question, all_hits), kind="compare"), None, all_hits, {}, None, 0.0, True)
    if len(firsts) == 2:
        lines += differences(*firsts)
    answer = Answer(question, "\n".join(lines), tuple(citations), refused=False, kind="compare", confidence=1.0)
    return Draft(answer, None, all_hits, {}, None, 1.0, True)


def _passages(hits: list[Hit]) -> list[tuple[int, str, str]]:
    return [(n, _label(h), h.chunk.text) for n, h in enumerate(hits, 1)]


def _fallback(extractive: Answer, error: LLMError) -> Answer:
    note = FALLBACK_NOTE.format(reason=error)
    return replace(extractive, text=f"{note}\n{extractive.text}", mode="extractive: LLM unavailable")


def _from_model(out: CheckedOutput, d: Draft, settings: AskSettings) -> Answer:
    """The model's checked reply as an Answer, its markers renumbered to the passages it cited."""
    question, hits = d.answer.question, d.hits[: settings.llm_passages]
    if out.refused:
        return replace(refusal(question, d.hits), mode="llm", understood=d.answer.understood)
    if not out.usable:
        return replace(d.answer, mode="extractive: LLM answer cited nothing valid")
    renumber = {old: new for new, old in enumerate(out.used, 1)}
    # check_output left only valid one-to-three-digit markers; 文号 brackets like [2019] are not markers
    text = re.sub(r"\[(\d{1,3})\]", lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber
                  else m.group(0), out.text)
    citations = tuple(best_sentence_citation(new, hits[old - 1], d.terms) for old, new in renumber.items())
    notes = version_notes(citations, d.index) if d.index is not None else []
    return Answer(question, "\n".join([text, *notes]), citations, refused=False, mode="llm", kind=d.answer.kind,
                  understood=d.answer.understood)


def _label(hit: Hit) -> str:
    pages = f" 第{'、'.join(map(str, hit.chunk.pages))}页" if hit.chunk.pages else ""
    # a model told which passages are no longer in force does not present them as the rule today
    status = f"（{hit.status}）" if hit.status in ("已修订", "已废止") else ""
    return f"{source_name(hit.title, hit.doc_number, hit.chunk.doc_id)}{status} {hit.chunk.path_str}{pages}".strip()


def _without_titles(question: str) -> str:
    """The question without the 文号 and 《titles》 that name a document."""
    for start, end, _ in reversed(find_doc_numbers(question)):
        question = question[:start] + question[end:]
    return re.sub(r"《[^《》]*》", "", question)


def overview(question: str, hits: list[Hit], settings: AskSettings) -> Answer:
    """What a named document says: the opening sentence of each of its first sections, cited."""
    sections = [h for h in hits if h.chunk.path] or hits  # the untitled opening is title and 文号 lines
    citations = []
    for hit in sections[: settings.max_sentences + 1]:
        first = [s for s in sentence_spans(hit.chunk.text) if _is_prose(hit.chunk.text[s[0]:s[1]])]
        if first:
            citations.append(cite_in_hit(len(citations) + 1, hit, *first[0]))
    head = source_name(hits[0].title, hits[0].doc_number, hits[0].chunk.doc_id)
    lines = []
    for c in citations:
        name = source_name(c.title, c.doc_number, c.doc_id)
        if lines and lines[-1][0] == (c.doc_id, c.path):
            lines[-1][1].append(f"{c.quote}[{c.n}]")
        else:
            lines.append(((c.doc_id, c.path), [f"{name}{where(c)}：{c.quote}[{c.n}]"]))
    body = "\n".join("".join(parts) for _k, parts in lines)
    return Answer(question, f"{head}的主要内容：\n{body}" if body else head, tuple(citations), refused=False,
                  kind="what")


def _is_prose(sentence: str) -> bool:
    """A sentence that says something, not a heading line such as 指导思想."""
    return len(sentence) >= 12 and sentence[-1] in "。！？；”）)"


def refusal(question: str, hits: list[Hit], gaps: tuple[str, ...] = (), note: str = "") -> Answer:
    """The fixed no-basis reply, naming what the knowledge base lacks (`gaps`: 天津, 2021) when
    known, or saying why (`note`: 「…只列了6项，没有第七项。」), and offering the nearest documents (one
    passage each) as 可能相关."""
    firsts: dict[str, Hit] = {}
    for h in hits:
        firsts.setdefault(h.chunk.doc_id, h)
    related = tuple(firsts.values())[:3]
    lines = [NO_BASIS_REPLY, *([note] if note else [])]
    if gaps:
        lines.append(MISSING_NOTE.format(names="、".join(f"“{g}年”" if g.isdigit() else f"“{g}”" for g in gaps)))
    if related:
        lines.append(RELATED_HEADER)
        lines += [f"- {source_name(h.title, h.doc_number, h.chunk.doc_id)} {passage_place(h.chunk.path, h.chunk.text)}"
                  .rstrip() for h in related]
    return Answer(question, "\n".join(lines), (), refused=True, related=related)

