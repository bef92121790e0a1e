"""Answers from retrieved passages: extractive by default, every sentence cited to its clause, or a
plain refusal when the knowledge base holds no basis for one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from kb.config import SearchFilters, SearchSettings
from kb.intent import Intent, read_intent, without_markers
from kb.llm import (
    CheckedOutput,
    LLMError,
    LLMSettings,
    check_output,
    generate,
    generate_stream,
)
from kb.metadata import find_doc_numbers, strip_span
from kb.prompts import (
    ABOLISHED_LEAD,
    ABOLISHED_NOTE,
    AMENDED_NOTE,
    CITED_NOT_HELD,
    COMPARE_SIDE_EMPTY,
    FALLBACK_NOTE,
    NO_BASIS_REPLY,
    RELATED_HEADER,
    SUPERSEDED_NOTE,
)
from kb.retrieve import version_factor
from kb.tokenize import normalize, word_tokens
from kb.types import Answer, Citation, Hit, Reference

# Words every question has; they say nothing about what it asks ("……是什么", "有哪些规定").
_QUESTION_WORDS = frozenset(
    ["什么", "哪些", "哪个", "如何", "怎么", "怎样", "多少", "是否", "可以", "能否", "请问", "为何", "规定", "要求", "文件", "有关", "关于", "相关", "主要", "内容", "具体", "情况", "问题", "方面", "哪里", "何时", "时候", "需要", "应该", "应当", "目前", "多久", "多长", "多大", "为什么", "讲了", "说了", "讲的"]
)
# One sentence: up to and including its end mark, or a line.
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”’」』）)]*")
_WHICH_DOCUMENT = re.compile(r"哪[个份些项部]?(?:文件|通知|规定|法律|法规|办法|条例|政策)|依据是什么|根据什么|出自")


@dataclass(frozen=True)
class AnswerSettings:
    """Per-question settings of the answer stage."""

    top_k: int = 8  # passages read
    max_sentences: int = 4  # sentences quoted in an extractive answer
    max_chars: int = 600  # length of those quotes together
    # Share of the question's content terms that the best passage must contain to answer at all;
    # calibrated on ncp dev plus unanswerable questions by bench/answers.py.
    min_coverage: float = 0.5
    llm_passages: int = 5  # passages given to a generative model
    filters: SearchFilters = SearchFilters()


@dataclass(frozen=True)
class _Sentence:
    hit_rank: int
    hit: Hit
    start: int  # offsets within the chunk text
    end: int
    score: float


Terms = dict[str, float]  # content word -> weight (its rarity among the indexed chunks)


def question_terms(question: str) -> frozenset[str]:
    """What a question is about: its words (jieba, with the policy dictionary) minus question words.

    Words, not character bigrams: bigrams across word boundaries (规定了考核 -> 定了, 了考) never
    occur in the documents and would make every question look unanswered.
    """
    return frozenset(t for t in word_tokens(question) if (t not in _QUESTION_WORDS and len(t) > 1) or t.isdigit())


def weigh(retriever, terms: frozenset[str]) -> Terms:
    """Weight each term by its IDF in the index: 颁发 says more about a question than 证书."""
    return retriever.index.store.idf("words", sorted(terms)) if terms else {}


def coverage(terms: Terms, text: str) -> float:
    """Weighted share of `terms` found in `text`; 0.0 for a question with no content terms."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    text = normalize(text)  # terms are folded the same way (full-width, case)
    return sum(w for t, w in terms.items() if t in text) / total


def answer_question(retriever, question: str, settings: AnswerSettings = AnswerSettings(),
                    llm: LLMSettings | None = None) -> Answer:
    """Retrieve, judge the evidence, and quote the sentences that answer; or refuse.

    With `llm`, an OpenAI-compatible model writes the answer from the same passages; when it
    fails, cites nothing valid or cannot be reached, the extractive answer is given instead.
    """
    draft = _draft(retriever, question, settings)
    if llm is None or draft.final:
        return draft.answer
    passages = _passages(draft.hits[: settings.llm_passages])
    try:
        out = generate(draft.answer.question, passages, llm)
    except LLMError as e:
        return _fallback(draft.answer, e)
    return _from_model(out, draft, settings)


def stream_answer(retriever, question: str, settings: AnswerSettings = AnswerSettings(),
                  llm: LLMSettings | None = None) -> Iterator[str | Answer]:
    """For the UI: the model's text in pieces as it writes, then the checked Answer, always last.

    The final Answer supersedes the pieces: its markers are renumbered, and after an error midway
    it is the extractive answer with a note saying why.
    """
    draft = _draft(retriever, question, settings)
    if llm is None or draft.final:
        yield draft.answer
        return
    passages = _passages(draft.hits[: settings.llm_passages])
    pieces: list[str] = []
    try:
        for piece in generate_stream(draft.answer.question, passages, llm):
            pieces.append(piece)
            yield piece
    except LLMError as e:
        yield _fallback(draft.answer, e)
        return
    yield _from_model(check_output("".join(pieces), len(passages)), draft, settings)


@dataclass(frozen=True)
class _Draft:
    """The extractive answer (or refusal), and what a model would be given to do better."""

    answer: Answer
    hits: list[Hit]
    terms: Terms
    final: bool  # a refusal or a named-document overview: no model needed
    index: object = None  # the LoadedIndex, for the version notes of a model's answer


def _draft(retriever, question: str, settings: AnswerSettings, *, compare: bool = True) -> _Draft:
    question = question.strip()
    intent = read_intent(question, retriever.places)
    if compare and intent.compare and not settings.filters:
        return _compare(retriever, question, intent, settings)
    hits = retriever.search(question, SearchSettings(top_k=settings.top_k, filters=settings.filters))
    # dates and words of time (2020年时, 旧法) choose the version; they are not what the text says
    terms = weigh(retriever, question_terms(without_markers(question)))
    if hits and "exact" in hits[0].retrievers and not question_terms(_without_names(question)):
        return _Draft(overview(question, [h for h in hits if "exact" in h.retrievers], settings), hits, terms, True)
    missing = _cited_not_held(retriever, question, hits)
    if missing is not None:
        return _Draft(missing, hits, terms, True)
    hits = _in_force_first(retriever, hits, terms, intent, settings)
    if not _has_basis(hits, terms, settings):
        return _Draft(refusal(question, hits), hits, terms, True)
    sentences = select_sentences(hits, terms, settings, similarity=_similarity(retriever, question))
    if not sentences:
        return _Draft(refusal(question, hits), hits, terms, True)
    citations = tuple(_citation(n, s) for n, s in enumerate(sentences, 1))
    text = compose(question, citations, retriever.index.register)
    notes = version_notes(citations, retriever.index)
    return _Draft(Answer(question, "\n".join([text, *notes]), citations, refused=False), hits, terms, False,
                  retriever.index)


def _in_force_first(retriever, hits: list[Hit], terms: Terms, intent: Intent, settings: AnswerSettings) -> list[Hit]:
    """Keep only passages of the versions the question is about, when those answer it.

    Retrieval already ranks the other versions lower (`retrieve.version_factor`); this keeps an
    answer from quoting the old and the new rule side by side as if both applied. By default the
    versions in force are kept; for "2020年时…" the one in force then; for "旧法…" the superseded
    ones. A question about change (有什么变化) keeps every version.
    """
    register = retriever.index.register
    wanted = [h for h in hits if version_factor(register, register.entries[h.chunk.doc_id], intent) == 1.0]
    if intent.change or len(wanted) == len(hits) or not _has_basis(wanted, terms, settings):
        return hits
    return wanted


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


def _cited_not_held(retriever, question: str, hits: list[Hit]) -> Answer | None:
    """When the question names a document by 文号 or 《title》 that the index does not hold but
    indexed documents cite, say so and quote the citing sentences; else None."""
    index, register = retriever.index, retriever.index.register
    wanted = [Reference("", n) for _s, _e, n in find_doc_numbers(question) if n not in index.by_doc_number]
    wanted += [Reference(t, "") for t in re.findall(r"《([^《》]{2,80})》", question) if not register.named(Reference(t, ""))]
    for ref in wanted:
        links = register.cited_but_missing(ref)
        if not links:
            continue
        citations = []
        for link in links[:5]:
            cited = _sentence_citation(index, len(citations) + 1, link.source, link.start, link.end)
            if cited is not None:
                citations.append(cited)
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
        lines += [f"{register.name(c.doc_id)}{c.path[-1] if c.path else ''}：“{c.quote}”[{c.n}]" for c in citations]
        return Answer(question, "\n".join(lines), tuple(citations), refused=False)
    return None


def _sentence_citation(index, n: int, doc_id: str, start: int, end: int) -> Citation | None:
    """Cite characters [start, end) of a document by the chunk that holds them."""
    record = index.records[doc_id]
    for row in index.doc_rows.get(doc_id, []):
        c = index.chunks[row]
        if c.start <= start < c.end:
            end = min(end, c.end)
            return Citation(n, doc_id, c.source, record.meta.title, record.meta.doc_number, c.path, c.pages,
                            start, end, c.text[start - c.start:end - c.start])
    return None


def _compare(retriever, question: str, intent: Intent, settings: AnswerSettings) -> _Draft:
    """Answer each side of "上海和青岛…" from its own documents, side by side."""
    register = retriever.index.register
    lines: list[str] = []
    citations: list[Citation] = []
    all_hits: list[Hit] = []
    for side in intent.compare:
        other = [o for o in intent.compare if o != side]
        docs = tuple(d for d, r in register.records.items()
                     if side in r.meta.title or side in r.meta.issuer or side in d)
        sub = question
        for o in other:
            sub = sub.replace(o, "")
        if not docs:
            lines.append(f"【{side}】" + COMPARE_SIDE_EMPTY.format(side=side))
            continue
        part = _draft(retriever, sub, replace(settings, filters=SearchFilters(doc_ids=docs)), compare=False)
        all_hits += part.hits
        if part.answer.refused:
            lines.append(f"【{side}】" + COMPARE_SIDE_EMPTY.format(side=side))
            continue
        shift = len(citations)
        text = re.sub(r"\[(\d{1,3})\]", lambda m, shift=shift: f"[{int(m.group(1)) + shift}]", part.answer.text)
        citations += [replace(c, n=c.n + shift) for c in part.answer.citations]
        lines.append(f"【{side}】\n{text}")
    if not citations:
        return _Draft(refusal(question, all_hits), all_hits, {}, True)
    return _Draft(Answer(question, "\n".join(lines), tuple(citations), refused=False), all_hits, {}, True)


def _passages(hits: list[Hit]) -> list[tuple[int, str, str]]:
    return [(n, _label(h), h.chunk.text) for n, h in enumerate(hits, 1)]


def _fallback(extractive: Answer, error: LLMError) -> Answer:
    note = FALLBACK_NOTE.format(reason=error)
    return replace(extractive, text=f"{note}\n{extractive.text}", mode="extractive: LLM unavailable")


def _from_model(out: CheckedOutput, draft: _Draft, settings: AnswerSettings) -> Answer:
    """The model's checked reply as an Answer, its markers renumbered to the passages it cited."""
    question, hits = draft.answer.question, draft.hits[: settings.llm_passages]
    if out.refused:
        return replace(refusal(question, draft.hits), mode="llm")
    if not out.usable:
        return replace(draft.answer, mode="extractive: LLM answer cited nothing valid")
    renumber = {old: new for new, old in enumerate(out.used, 1)}
    # check_output left only valid one-to-three-digit markers; 文号 brackets like [2019] are not markers
    text = re.sub(r"\[(\d{1,3})\]", lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber
                  else m.group(0), out.text)
    citations = tuple(_best_sentence_citation(new, hits[old - 1], draft.terms) for old, new in renumber.items())
    notes = version_notes(citations, draft.index) if draft.index is not None else []
    return Answer(question, "\n".join([text, *notes]), citations, refused=False, mode="llm")


def _label(hit: Hit) -> str:
    pages = f" 第{'、'.join(map(str, hit.chunk.pages))}页" if hit.chunk.pages else ""
    # a model told which passages are no longer in force does not present them as the rule today
    status = f"（{hit.status}）" if hit.status in ("已修订", "已废止") else ""
    return f"{_source_name(hit.title, hit.doc_number, hit.chunk.doc_id)}{status} {hit.chunk.path_str}{pages}".strip()


def _best_sentence_citation(n: int, hit: Hit, terms: Terms) -> Citation:
    """Cite the passage by its sentence that best covers the question (the whole passage if none)."""
    sentences = _sentences(0, hit, terms) or _sentences(0, hit, {})
    if not sentences:
        c = hit.chunk
        return Citation(n, c.doc_id, c.source, hit.title, hit.doc_number, c.path, c.pages, c.start, c.end, c.text)
    return _citation(n, max(sentences, key=lambda s: s.score))


def _without_names(question: str) -> str:
    """The question without the 文号 and 《titles》 that name a document."""
    for start, end, _ in reversed(find_doc_numbers(question)):
        question = question[:start] + question[end:]
    return re.sub(r"《[^《》]*》", "", question)


def overview(question: str, hits: list[Hit], settings: AnswerSettings) -> Answer:
    """What a named document says: the opening sentence of each of its first sections, cited."""
    sections = [h for h in hits if h.chunk.path] or hits  # the untitled opening is title and 文号 lines
    sentences = []
    for rank, hit in enumerate(sections[: settings.max_sentences + 1]):
        first = [x for x in _sentences(rank, hit, {}) if _is_prose(hit.chunk.text[x.start:x.end])]
        if first:
            sentences.append(first[0])
    citations = tuple(_citation(n, s) for n, s in enumerate(sentences, 1))
    head = _source_name(hits[0].title, hits[0].doc_number, hits[0].chunk.doc_id)
    body = compose("", citations)
    return Answer(question, f"{head}的主要内容：\n{body}" if body else head, citations, refused=False)


def _similarity(retriever, question: str):
    """Cosine of each sentence with the question, by the index's own embedder."""
    qvec = retriever.embedder.embed_query(question)
    return lambda sentences: retriever.embedder.embed_documents(sentences) @ qvec


def _is_prose(sentence: str) -> bool:
    """A sentence that says something, not a heading line such as 指导思想."""
    return len(sentence) >= 12 and sentence[-1] in "。！？；”）)"


def evidence(hits: list[Hit], terms: Terms) -> float:
    """How much of the question the best of the top passages covers, 0..1; 1 for a named document."""
    if not hits:
        return 0.0
    if "exact" in hits[0].retrievers:  # the question names a document the index holds
        return 1.0
    return max(coverage(terms, h.chunk.text) for h in hits[:3])


def _has_basis(hits: list[Hit], terms: Terms, settings: AnswerSettings) -> bool:
    return evidence(hits, terms) >= settings.min_coverage


def refusal(question: str, hits: list[Hit]) -> Answer:
    """The fixed no-basis reply, offering the nearest documents (one passage each) as 可能相关."""
    related = tuple({h.chunk.doc_id: h for h in reversed(hits)}.values())[::-1][:3]
    lines = [NO_BASIS_REPLY]
    if related:
        lines.append(RELATED_HEADER)
        lines += [f"- {_source_name(h.title, h.doc_number, h.chunk.doc_id)} {h.chunk.path_str}".rstrip()
                  for h in related]
    return Answer(question, "\n".join(lines), (), refused=True, related=related)


def select_sentences(hits: list[Hit], terms: Terms, settings: AnswerSettings,
                     similarity=None) -> list[_Sentence]:
    """The best sentences of the top passages, in reading order: by passage rank, then position.

    A sentence scores by the weighted share of the question's terms it holds, discounted down the
    passage list, and, given `similarity` (sentences -> cosine with the question), by meaning too:
    term overlap alone favours long sentences that mention everything in passing.
    """
    candidates = [s for rank, hit in enumerate(hits) for s in _sentences(rank, hit, terms)]
    if not candidates:
        return []
    if similarity is not None:
        sims = similarity([c.hit.chunk.text[c.start:c.end] for c in candidates])
        candidates = [replace(c, score=0.5 * c.score + 0.5 * max(0.0, float(sim)))
                      for c, sim in zip(candidates, sims, strict=True)]
    best = max(c.score for c in candidates)
    chosen: list[_Sentence] = []
    used = 0
    for s in sorted(candidates, key=lambda c: -c.score):
        length = s.end - s.start
        # keep sentences close to the best one; a weak sentence only dilutes a precise answer
        if s.score < 0.6 * best or len(chosen) == settings.max_sentences or used + length > settings.max_chars:
            continue
        chosen.append(s)
        used += length
    return sorted(chosen, key=lambda c: (c.hit_rank, c.start))


# "第九条 " opening a quote: the answer names the article itself (一、/（一） stay: they are text)
_LEADING_LABEL = re.compile(r"\s*第[一二三四五六七八九十百千零〇两\d]+条(?:之[一二三四五六七八九十]+)?\s+")


def _sentences(rank: int, hit: Hit, terms: Terms) -> list[_Sentence]:
    text = hit.chunk.text
    out = []
    for m in _SENTENCE.finditer(text):
        start, end = strip_span(text, m.start(), m.end())
        label = _LEADING_LABEL.match(text, start)  # the answer names the clause itself
        if label and label.end() < end:
            start = label.end()
        if end - start < 4:
            continue
        # passages further down the list count less: the retriever ranked them lower for a reason
        score = (coverage(terms, text[start:end]) if terms else 1.0) / (1.0 + 0.2 * rank)
        if score > 0:
            out.append(_Sentence(rank, hit, start, end, score))
    return out


def _citation(n: int, s: _Sentence) -> Citation:
    c = s.hit.chunk
    return Citation(n, c.doc_id, c.source, s.hit.title, s.hit.doc_number, c.path, c.pages,
                    c.start + s.start, c.start + s.end, c.text[s.start:s.end])


def _source_name(title: str, doc_number: str, doc_id: str) -> str:
    name = f"《{title}》" if title else doc_id
    return f"{name}（{doc_number}）" if doc_number else name


def compose(question: str, citations: tuple[Citation, ...], register=None) -> str:
    """One line per source clause, naming it before quoting it, each quote ending in its [n].

    For "哪个文件规定了…" questions the first line leads with the document and article. With the
    register, a document with several versions is named with its year.
    """

    def name(c: Citation) -> str:
        entry = register.entries.get(c.doc_id) if register is not None else None
        if entry is not None and len(entry.versions) > 1:
            return register.name(c.doc_id)
        return _source_name(c.title, c.doc_number, c.doc_id)

    lines: list[str] = []
    previous: tuple[str, tuple[str, ...]] | None = None
    for c in citations:
        quote = f"{c.quote}[{c.n}]"
        if previous == (c.doc_id, c.path):
            lines[-1] += quote
            continue
        where = c.path[-1] if c.path else ""
        lines.append(f"{name(c)}{where}：{quote}")
        previous = (c.doc_id, c.path)
    if _WHICH_DOCUMENT.search(question) and citations:
        first = citations[0]
        article = first.path[-1] if first.path else ""
        lines.insert(0, f"依据是{name(first)}{article}。[{first.n}]")
    return "\n".join(lines)


# "那它是哪年发布的？": a follow-up names its subject by a pronoun, or not at all
_FOLLOW_UP = re.compile(r"^(?:那|那么|还有|另外)|它|其|该文件|该通知|该办法|这个文件|这份文件|这个通知|上述|此文件")


def rewrite_followup(question: str, previous: Answer | None) -> str:
    """Make a follow-up self-contained by naming the previous answer's main document.

    "那它是哪年发布的？" after an answer citing 《关于做好1+X证书制度试点工作的通知》 becomes
    "《关于做好1+X证书制度试点工作的通知》那它是哪年发布的？", which retrieval then resolves exactly.
    """
    question = question.strip()
    if previous is None or previous.refused or not previous.citations or not _FOLLOW_UP.search(question):
        return question
    first = previous.citations[0]
    if not first.title or first.title in question:
        return question
    return f"《{first.title}》{question}"
