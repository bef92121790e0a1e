"""Hybrid retrieval: dense + BM25 (words and character n-grams), fused, with exact 文号/title lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.check import CHECKER, MeaningCheck
from kb.config import SearchFilters, SearchSettings
from kb.entities import documents_about
from kb.expand import TermTranslation, load_table
from kb.ondisk import LoadedIndex
from kb.lawprior import LawPrior, law_prior_for
from kb.querymap import LAW_TITLES, QueryMap, shipped_map
from kb.rerank import Reranker, features, shipped_reranker
from kb.intent import Intent, read_intent, without_markers
from kb.metadata import find_doc_numbers, normalize_doc_number, normalize_title
from kb.segment import defined_terms, is_article
from kb.store import SearchPlan
from kb.tokenize import QUERY_ANALYZERS, normalize, word_tokens
from kb.types import Hit, Ranked

_TITLE_QUOTE = re.compile(r"《([^《》]{2,80})》")


def rrf(rankings: dict[str, list[int]], k: int = 60, weights: dict[str, float] | None = None) -> dict[int, float]:
    """Reciprocal-rank fusion: sum over retrievers of weight / (k + rank), ranks from 1."""
    fused: dict[int, float] = {}
    for name, rows in rankings.items():
        w = 1.0 if weights is None else weights.get(name, 0.0)
        for rank, row in enumerate(rows, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; all-equal scores become 0 so that a retriever with no signal adds nothing."""
    if len(scores) == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(scores, dtype=np.float64)
    return (scores - lo) / (hi - lo)


def weighted_fusion(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted sum of min-max normalised scores; all arrays score the same candidates in order."""
    total = None
    for name, s in scores.items():
        part = weights.get(name, 0.0) * minmax(np.asarray(s, dtype=np.float64))
        total = part if total is None else total + part
    return total if total is not None else np.zeros(0)


def law_scores(docs: np.ndarray, fused: np.ndarray, passages: int) -> np.ndarray:
    """For each candidate, its document's score: the sum of the `passages` best fused scores among the
    candidates of that document, divided by the best document's (0 when no score is positive)."""
    order = np.lexsort((-fused, docs))  # by document, best first within each
    sorted_docs = docs[order]
    first = np.r_[0, np.flatnonzero(sorted_docs[1:] != sorted_docs[:-1]) + 1]
    within = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    keep = order[within < passages]
    total = np.zeros(int(docs.max()) + 1)
    np.add.at(total, docs[keep], np.maximum(fused[keep], 0.0))
    top = total.max()
    return total[docs] / top if top > 0 else np.zeros(len(docs))


@dataclass(frozen=True)
class ExactMatch:
    """Documents a question names by 文号 or 《title》, and the question with those names removed."""

    doc_ids: tuple[str, ...]
    rest: str


def match_named_documents(index: LoadedIndex, question: str) -> ExactMatch:
    """Find documents named in the question by any bracket form of their 文号, or by 《title》."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for start, end, number in find_doc_numbers(question):
        docs = index.by_doc_number.get(number, [])
        found.extend(docs)
        spans.append((start, end))
    for m in _TITLE_QUOTE.finditer(question):
        key = normalize_title(m.group(1))
        docs = index.by_title.get(key, [])
        if not docs and len(key) >= 6:
            docs = [d for title, ids in index.by_title.items() if key in title for d in ids]
        if docs:
            found.extend(docs)
            spans.append(m.span())
    rest = question
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    return ExactMatch(tuple(dict.fromkeys(found)), rest.strip())


def allowed_rows(index: LoadedIndex, filters: SearchFilters) -> np.ndarray | None:
    """Boolean mask over chunk rows for the filters, or None when nothing is filtered."""
    if not filters:
        return None
    keep_doc = np.ones(len(index.doc_order), dtype=bool)
    # a document is named by its id or by its 文号 in any bracket form
    wanted = set(filters.doc_ids) | {n for n in map(normalize_doc_number, filters.doc_ids) if n}
    for i, doc_id in enumerate(index.doc_order):
        m = index.records[doc_id].meta
        if wanted and doc_id not in wanted and m.doc_number not in wanted or filters.issuers and not any(x in m.issuer for x in filters.issuers) or (filters.date_from or filters.date_to) and not _date_in(m.date, filters.date_from, filters.date_to):
            keep_doc[i] = False
    return keep_doc[index.chunk_doc]


def _date_in(date: str, date_from: str, date_to: str) -> bool:
    if not date:
        return False
    return (not date_from or date >= date_from) and (not date_to or date <= date_to)


def _named_first(fused: np.ndarray, named: np.ndarray, *, read_in_order: bool) -> np.ndarray:
    """Put the chunks of documents named by 文号 or title above all others.

    With nothing else asked ("教职成〔2019〕6号讲了什么"), the named document reads from its
    beginning (candidates are in row order, which is document order); otherwise its chunks keep
    their fused order among themselves.
    """
    if read_in_order:
        position = np.cumsum(named)  # 1, 2, ... along the named chunks
        return np.where(named, 10.0 + 1.0 / np.maximum(position, 1), fused)
    return fused + named * 10.0


# score multipliers of the register's preferences (see Retriever._weigh_by_register)
SUPERSEDED_FACTOR = 0.5
# what a definition question wraps around its subject: "什么是职业教育？" -> 职业教育
_DEFINITION_ASKS = re.compile(r"什么是|何为|何谓|是指什么|指的是什么|是什么意思|的定义|的含义|的概念|是什么|指什么|请问|[？?。！\s]")
DEFINITION_BOOST = 1.3
BASIS_BOOST = 1.15


def version_factor(register, entry, intent: Intent) -> float:
    """How much a passage of this document counts for the question's time: 1.0 or SUPERSEDED_FACTOR."""
    if intent.when and len(entry.versions) > 1:
        then = register.version_at(entry.doc_id, intent.when)
        return 1.0 if not then or then == entry.doc_id else SUPERSEDED_FACTOR
    if intent.history:
        # the current version gives way to the ones it replaced, when there are any
        replaced = any(register.entries[v].superseded for v in entry.versions)
        return SUPERSEDED_FACTOR if entry.in_force and replaced else 1.0
    return SUPERSEDED_FACTOR if entry.superseded else 1.0


SENTENCE_CACHE = 20_000  # sentence vectors kept for answers: 40 MB at 512 dimensions
DOCUMENT_CACHE = 64  # whole documents' folded texts kept for answers (民法典: 1 MB, 0.3 s to fold)


class Retriever:
    """Searches one loaded index with one embedder; both are loaded once and reused per question."""

    def __init__(self, index: LoadedIndex, embedder, translation: TermTranslation | None = None,
                 query_map: QueryMap | None = None, law_map: QueryMap | None = None,
                 reranker: Reranker | None = None):
        """`translation`: the lay-to-statute table of SearchSettings.expand_weight (default: the shipped
        one, kb/data/term_translation.json, read on first use); `query_map`: the map of
        SearchSettings.mapped_weight, `law_map` the one of SearchSettings.law_prior, `reranker` that of
        SearchSettings.rerank (default: those shipped for the embedder's model, if any)."""
        self.index = index
        self.embedder = embedder
        self.places = index.register.places()
        self._last_query: tuple[str, np.ndarray | None] = ("", None)
        self._sentences: dict[str, np.ndarray] = {}  # sentence -> vector, for the answer stage
        self._documents: dict[str, str] = {}  # doc_id -> its folded text, for the answer stage
        self._about: tuple[str, ...] | None = None  # every document's title and issuer (folded_about)
        self._translation = translation
        self._query_map = query_map
        self._law_map = law_map
        self._law_prior: tuple[LawPrior | None] | None = None  # built on first use
        self._reranker = reranker
        self._lengths: np.ndarray | None = None  # per row: log(1 + its length) / 8, the re-ranker's
        self._articles: np.ndarray | None = None  # per row: is it a numbered article (see statute_share)
        self._in_statute: np.ndarray | None = None  # per row: does its document have numbered articles
        self._check: MeaningCheck | None = None  # the evidence decision's second reading (kb.check)

    @property
    def translation(self) -> TermTranslation:
        if self._translation is None:
            self._translation = load_table()
        return self._translation

    @property
    def query_map(self) -> QueryMap | None:
        if self._query_map is None:
            return shipped_map(self.embedder.model, self.embedder.dim)
        return self._query_map

    @property
    def law_prior(self) -> LawPrior | None:
        """The law prior of SearchSettings.law_prior: None without a map for the embedder, or for an
        index without its documents' title vectors (kb/lawprior.py)."""
        if self._law_prior is None:
            law_map = self._law_map or shipped_map(self.embedder.model, self.embedder.dim, LAW_TITLES)
            self._law_prior = (law_prior_for(self.index, self.embedder, law_map),)
        return self._law_prior[0]

    @property
    def reranker(self) -> Reranker | None:
        return self._reranker or shipped_reranker(self.embedder.model)

    @property
    def meaning_check(self) -> MeaningCheck:
        """The e5 reading of how close an answer's leading sentence is to its question (kb.check); it
        shares the index's embedder when that is the same model."""
        if self._check is None:
            self._check = MeaningCheck(self.embedder if self.embedder.name == CHECKER else None)
        return self._check

    def query_vector(self, text: str) -> np.ndarray:
        """The question's embedding; the last one is kept, so that the answer stage reuses the
        vector retrieval computed instead of embedding the question again."""
        last = self._last_query  # one read: another thread may replace it meanwhile
        if last[0] == text and last[1] is not None:
            return last[1]
        vector = self.embedder.embed_query(text)
        self._last_query = (text, vector)
        return vector

    def sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        """Embeddings of passage sentences (or whole passages), (n, dim); the passages asked about recur
        from question to question, so their texts are embedded once (up to SENTENCE_CACHE are kept)."""
        if not sentences:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        cache = self._sentences
        found = {t: cache.get(t) for t in sentences}  # read once: another question may clear the cache
        new = [t for t, v in found.items() if v is None]
        if new:
            found.update(zip(new, self.embedder.embed_documents(new)))
            if len(cache) + len(new) > SENTENCE_CACHE:
                cache.clear()
            cache.update((t, found[t]) for t in new)
        return np.vstack([found[t] for t in sentences])

    def folded_about(self) -> tuple[str, ...]:
        """Every document's title and issuer, folded (kb.tokenize.normalize): read once, on first use."""
        if self._about is None:
            self._about = tuple(normalize(t) for t in documents_about(self.index, self.index.records))
        return self._about

    def folded_text(self, doc_ids) -> str:
        """The whole text of these documents, its chunks joined and folded (kb.tokenize.normalize); each
        document is folded once (up to DOCUMENT_CACHE are kept), as questions name the same ones."""
        out = []
        for doc_id in dict.fromkeys(doc_ids):
            text = self._documents.get(doc_id)
            if text is None:
                text = normalize(" ".join(self.index.chunks[r].text for r in self.index.doc_rows.get(doc_id, ())))
                if len(self._documents) >= DOCUMENT_CACHE:
                    self._documents.clear()
                self._documents[doc_id] = text
            out.append(text)
        return " ".join(out)

    def search(self, question: str, settings: SearchSettings = SearchSettings()) -> list[Hit]:
        """The top_k chunks for a question, best first."""
        return self.search_weighted(question, [settings])[0]

    def search_weighted(self, question: str, variants: list[SearchSettings]) -> list[list[Hit]]:
        """`search` under each of several settings that differ only in their fusion weights: the
        channels are fetched once, as the first asks them (a weight grid re-fuses them per point)."""
        if not self.index.chunks or not question.strip() or not variants:
            return [[] for _ in variants]
        first = variants[0]
        named = match_named_documents(self.index, question)
        query = named.rest if len(named.rest) >= 2 else question
        allowed = allowed_rows(self.index, first.filters)
        ranked, statutes = self._statute_channels(query, self._retrieve(query, first, allowed), first, allowed)
        law_prior = self.law_prior if statutes and first.law_prior > 0 else None
        # the re-ranker was fitted on the candidates of questions on the laws alone: over a corpus of
        # notices and measures it would push every notice out for the measures' articles
        rerank = statutes and first.rerank and first.fusion == "weighted" and (
            first.rerank_min_statute <= first.expand_min_statute or
            self.statute_share(ranked, first) >= first.rerank_min_statute)
        prior = law_prior.scores(self.query_vector(query)) if law_prior is not None else None
        found = {name: r.rows for name, r in ranked.items()}
        named_rows = [r for d in named.doc_ids for r in self.index.doc_rows.get(d, [])
                      if allowed is None or allowed[r]]
        candidates = np.unique(np.concatenate([*found.values(), named_rows]).astype(np.int64))
        if len(candidates) == 0:
            return [[] for _ in variants]
        out = []
        for settings in variants:
            fused = self._fuse(candidates, ranked, settings)
            fused = self._lift_by_law(candidates, fused, settings)
            lift = np.zeros(len(candidates))
            if prior is not None:  # each candidate gains its law's score (min-max over the candidates'),
                # scaled back into [0, 1] as _fuse scales: the order is unchanged
                lift = minmax(prior[self.index.chunk_doc[candidates]])
                fused = (fused + settings.law_prior * lift) / (1.0 + settings.law_prior)
            if rerank and settings.rerank:
                fused = self._rerank(candidates, ranked, fused, lift, question, settings)
            fused = self._weigh_by_register(candidates, fused, question, settings)
            if named_rows:
                fused = _named_first(fused, np.isin(candidates, named_rows),
                                     read_in_order=not word_tokens(named.rest))
            order = np.lexsort((candidates, -fused))[: settings.top_k]
            out.append([self._hit(int(candidates[i]), float(fused[i]), found, named_rows) for i in order])
        return out

    def _retrieve(self, query: str, settings: SearchSettings, allowed: np.ndarray | None) -> dict[str, Ranked]:
        """Each channel's best rows from the store; with fusion "rrf" a store may fuse them itself
        and return one ranking, "hybrid"."""
        plan = SearchPlan({name: analyzer(query) for name, analyzer in QUERY_ANALYZERS.items()},
                          self.query_vector(query), settings.candidates, allowed,
                          rrf_k=settings.rrf_k if settings.fusion == "rrf" else None,
                          weighted=self.expansion(query, settings))
        return self.index.store.search(plan)

    def expansion(self, query: str, settings: SearchSettings) -> dict[str, tuple[str, dict[str, float]]]:
        """The "expand" channel's weighted statute words for a question (SearchPlan.weighted), or none.

        "离婚后孩子归谁" reaches 抚养 and 子女, which it never says. The table was learned from lay
        legal questions, and a policy notice's wording that it half knows (企业, 职工) would be pulled
        towards labour-law clauses; so only a question at least `expand_min_coverage` of whose words
        the table knows, and whose strongest statute word weighs `expand_min_strength` or more, is
        expanded here — and kept only when it is asked of statutes (`_statute_channels`).
        """
        if settings.expand_weight <= 0:
            return {}
        words = word_tokens(query)
        if self.translation.coverage(words) < settings.expand_min_coverage:
            return {}
        terms = self.translation.expand(words, settings.expand_per_word)
        if not terms or max(terms.values()) < settings.expand_min_strength:
            return {}
        return {"expand": ("words", terms)}

    def statute_share(self, ranked: dict[str, Ranked], settings: SearchSettings) -> float:
        """The share of numbered articles (第N条) among the first `expand_statute_depth` hits of the plain
        search (every channel but the expansion, fused as the search fuses them)."""
        top, _scores = self.plain_top(ranked, settings)
        return float(self.article_rows()[top].mean()) if len(top) else 0.0

    def plain_top(self, ranked: dict[str, Ranked], settings: SearchSettings) -> tuple[np.ndarray, np.ndarray]:
        """The rows and fused scores of the first `expand_statute_depth` hits of the plain search, best first."""
        plain = {name: r for name, r in ranked.items() if name != "expand"}
        rows = np.unique(np.concatenate([r.rows for r in plain.values()] or [np.zeros(0)]).astype(np.int64))
        if len(rows) == 0:
            return rows, np.zeros(0)
        fused = self._fuse(rows, plain, settings)
        order = np.lexsort((rows, -fused))[: settings.expand_statute_depth]
        return rows[order], fused[order]

    def asked_of_statutes(self, ranked: dict[str, Ranked], settings: SearchSettings) -> bool:
        """Whether the plain search finds numbered articles first: at least `expand_min_statute` of its
        first hits, unless (`statute_first_margin`) the very first is of a document without articles
        and leads the best article by that margin of the fused scale.

        A report that matches the question's rare words (鲁人社发〔2023〕5号's 技能提升补贴 申领条件)
        ranks first by far over a mixed corpus with laws close behind, which the statute channels would
        bury under the articles they map towards. Where articles are nearly all the plain search finds
        (`rerank_min_statute`: a corpus of laws) a first hit without them is a guide's or an
        interpretation's numbered item among laws, and decides nothing."""
        if settings.expand_min_statute <= 0:
            return True
        top, scores = self.plain_top(ranked, settings)
        articles = self.article_rows()[top]
        if not len(top) or articles.mean() < settings.expand_min_statute:
            return False
        if settings.statute_first_margin <= 0 or articles.mean() >= settings.rerank_min_statute or \
                self.statute_rows()[top[0]]:
            return True
        return bool(scores[0] - scores[np.argmax(articles)] < settings.statute_first_margin)

    def article_rows(self) -> np.ndarray:
        """Per chunk row, whether its label is a numbered article; computed once per index."""
        if self._articles is None or len(self._articles) != len(self.index.chunks):
            self._articles = np.array([is_article(c.label) for c in self.index.chunks], dtype=bool)
        return self._articles

    def statute_rows(self) -> np.ndarray:
        """Per chunk row, whether its document has numbered articles (its title and preamble too)."""
        if self._in_statute is None or len(self._in_statute) != len(self.index.chunks):
            articles = self.article_rows()
            laws = np.zeros(int(self.index.chunk_doc.max()) + 1 if len(articles) else 0, dtype=bool)
            laws[self.index.chunk_doc[articles]] = True
            self._in_statute = laws[self.index.chunk_doc]
        return self._in_statute

    def _statute_channels(self, query: str, ranked: dict[str, Ranked], settings: SearchSettings,
                          allowed: np.ndarray | None) -> tuple[dict[str, Ranked], bool]:
        """The channels learned from lay questions on the laws, for a question asked of statutes: the
        expansion (dropped otherwise) and the mapped dense search (added, `mapped_weight`); and whether
        the law prior and the re-ranker apply (asked of statutes, not searched inside named documents).

        Both translate lay wording into statute wording: over notices, news or a paper they only pull
        the question towards what those texts do not say. Whether a question is asked of statutes
        shows in what the plain search finds first: numbered articles (第N条) of laws, or not.
        """
        # inside the documents a question names (职业教育法 -> its version in force) the question's own
        # words find the article; the map pulls towards where lay questions' answers lie among all the
        # laws, which there is noise: one word asked (「那职业培训机构呢？」) lets it outweigh them
        searched_alone = bool(settings.filters.doc_ids)
        query_map = self.query_map if settings.mapped_weight > 0 and not searched_alone else None
        learned = (settings.law_prior > 0 or settings.rerank) and not searched_alone
        if "expand" not in ranked and query_map is None and not learned:
            return ranked, False
        if not self.asked_of_statutes(ranked, settings):
            return {name: r for name, r in ranked.items() if name != "expand"}, False
        if query_map is not None:
            plan = SearchPlan({}, query_map.apply(self.query_vector(query)), settings.candidates, allowed)
            ranked = {**ranked, "mapped": self.index.store.search(plan)["dense"]}
        return ranked, not searched_alone

    def _rerank(self, candidates: np.ndarray, ranked: dict[str, Ranked], fused: np.ndarray, lift: np.ndarray,
                question: str, settings: SearchSettings) -> np.ndarray:
        """A question asked of statutes: the candidates in the order of the re-ranker (kb/rerank.py) over
        their channels' scores, law prior (`lift`, min-max scaled), law share, fused score, kind and length.

        The scores stay the fused ones, handed out in that order (the best to its first, and so on): the
        answer stage reads a passage's score and its margin over the next as fusion makes them."""
        reranker = self.reranker
        if reranker is None or len(candidates) == 0:
            return fused
        order = np.lexsort((candidates, -reranker.score(self.rerank_features(candidates, ranked, fused, lift))))
        out = np.empty(len(fused))
        # fused scores tie (a channel's zeros): a step of 1e-9 keeps the re-ranker's order among them
        out[order] = np.sort(fused)[::-1] - 1e-9 * np.arange(len(fused))
        return out

    def rerank_features(self, candidates: np.ndarray, ranked: dict[str, Ranked], fused: np.ndarray,
                        lift: np.ndarray) -> np.ndarray:
        """The re-ranker's features of these candidates (kb.rerank.FEATURES)."""
        if self._lengths is None or len(self._lengths) != len(self.index.chunks):
            self._lengths = np.log1p([len(c.text) for c in self.index.chunks]) / 8.0
        scaled = {name: minmax(np.asarray(r.scores_of(candidates), dtype=np.float64)) for name, r in ranked.items()}
        docs = self.index.chunk_doc[candidates]
        return features(scaled, lift, law_scores(docs, fused, 3), fused,
                        self.article_rows()[candidates].astype(np.float64), self._lengths[candidates])

    def _fuse(self, candidates, ranked: dict[str, Ranked], settings: SearchSettings) -> np.ndarray:
        lex_w = 1.0 - settings.dense_weight
        weights = {"dense": settings.dense_weight, "words": lex_w * settings.word_weight,
                   "chars": lex_w * (1.0 - settings.word_weight), "expand": settings.expand_weight,
                   "mapped": settings.mapped_weight, "hybrid": 1.0}  # hybrid: the store fused
        if settings.fusion == "rrf":
            by_row = rrf({k: r.rows.tolist() for k, r in ranked.items()}, k=settings.rrf_k, weights=weights)
            return np.array([by_row.get(int(r), 0.0) for r in candidates])
        fused = weighted_fusion({name: r.scores_of(candidates) for name, r in ranked.items()}, weights)
        # with the statute channels on, the weights sum past 1: scaled back, a fused score stays in
        # [0, 1] (the answer stage reads scores as such), the order unchanged
        total = sum(weights.get(name, 0.0) for name in ranked)
        return fused / total if total > 1.0 else fused

    def _lift_by_law(self, candidates: np.ndarray, fused: np.ndarray, settings: SearchSettings) -> np.ndarray:
        """Each passage plus `law_weight` times its document's score: the sum of the fused scores of
        its best `law_passages` candidates, over the best document's.

        A lay question names its domain (离婚, 工伤, 租房) more plainly than the clause it wants: the
        law whose passages score well as a whole lifts all of them over stray matches elsewhere.
        """
        if settings.law_weight <= 0 or len(candidates) == 0:
            return fused
        docs = self.index.chunk_doc[candidates]
        score = law_scores(docs, fused, settings.law_passages)
        return fused + settings.law_weight * score

    def _weigh_by_register(self, candidates: np.ndarray, fused: np.ndarray, question: str,
                           settings: SearchSettings) -> np.ndarray:
        """Prefer what is in force, the version of the date asked about, and defining clauses.

        A superseded or abolished document's passage keeps half its score: it still answers when
        nothing in force does, but never outranks an in-force passage as relevant as itself. A
        question about history (旧法, 修订前) turns this around; one about a date (2020年时) prefers
        the version that applied then; one about change (有什么变化) keeps every version as is.
        """
        register = self.index.register
        intent = read_intent(question, self.places)
        named = {n for _s, _e, n in find_doc_numbers(question)}
        subject = _DEFINITION_ASKS.sub("", without_markers(question)).strip() if intent.definition else ""
        chosen = set(settings.filters.doc_ids)
        factor = np.ones(len(candidates))
        for i, row in enumerate(candidates):
            chunk = self.index.chunks[int(row)]
            entry = register.entries[chunk.doc_id]
            meta = self.index.records[chunk.doc_id].meta
            factor[i] *= entry.rank_factor  # a visitor's upload ranks below staff documents
            if not (intent.change or chunk.doc_id in chosen or (meta.doc_number and meta.doc_number in named)):
                factor[i] *= version_factor(register, entry, intent)
            if intent.definition and "definition" in chunk.roles:
                # the clause defining the very term asked about beats one defining a neighbour
                exact = any(t in subject and len(t) >= len(subject) - 2 for t in defined_terms(chunk.text))
                factor[i] *= DEFINITION_BOOST * (DEFINITION_BOOST if exact else 1.0)
            elif intent.basis and chunk.roles:
                factor[i] *= BASIS_BOOST
        return fused * factor

    def hit(self, row: int, score: float) -> Hit:
        """The chunk at `row` as a hit found by its place in a document's structure, not by a channel."""
        return self._hit(row, score, {}, [])

    def _hit(self, row: int, score: float, found: dict[str, np.ndarray], named_rows: list[int]) -> Hit:
        chunk = self.index.chunks[row]
        record = self.index.records[chunk.doc_id]
        by = tuple(name for name, rows in found.items() if row in rows)
        if row in named_rows:
            by = ("exact",) + by
        return Hit(chunk, record.meta.title, record.meta.doc_number, score, by,
                   self.index.register.entries[chunk.doc_id].status)
