"""Searches bench/lecoqa.py measures that PolicyKB does not ship: the mapped query mixed with the expansion's
statute words, RM3-style word feedback from the first articles, and priors over laws (or their chapters)
from maps fitted towards their titles' vectors. Each is the default's search with
one step changed, so a variant's figures differ from the default's by that step alone."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from kb.config import SearchSettings
from kb.expand import is_statute_word
from kb.pipeline import index_text
from kb.retrieve import Retriever, minmax
from kb.store import SearchPlan
from kb.tokenize import word_tokens
from kb.types import Ranked


class _MixedMap:
    """The query map whose mapped vector is pulled towards the vector of the question's statute words."""

    def __init__(self, base, retriever: "ExpansionMixRetriever"):
        self.base = base
        self.retriever = retriever

    def apply(self, vector: np.ndarray) -> np.ndarray:
        mapped = self.base.apply(vector)
        extra = self.retriever.mix_vector
        if extra is None:
            return mapped
        mixed = mapped + self.retriever.mix * extra
        return mixed / max(float(np.linalg.norm(mixed)), 1e-12)


class ExpansionMixRetriever(Retriever):
    """The mapped channel searches normalise(map(q) + mix * v), v the weight-averaged embedding of the
    question's expanded statute words (their first `mix_terms`), each word embedded once."""

    def __init__(self, index, embedder, translation=None, query_map=None, law_map=None, *, mix: float = 0.5,
                 mix_terms: int = 16):
        super().__init__(index, embedder, translation, query_map, law_map)
        self.mix = mix
        self.mix_terms = mix_terms
        self.mix_vector: np.ndarray | None = None
        self._term_vectors: dict[str, np.ndarray] = {}

    @property
    def query_map(self):
        base = super().query_map
        return None if base is None else _MixedMap(base, self)

    def _statute_channels(self, query: str, ranked: dict[str, Ranked], settings: SearchSettings,
                          allowed: np.ndarray | None) -> tuple[dict[str, Ranked], bool]:
        terms = self.expansion(query, settings).get("expand", ("", {}))[1]
        self.mix_vector = self._words_vector(dict(list(terms.items())[: self.mix_terms])) if terms else None
        return super()._statute_channels(query, ranked, settings, allowed)

    def _words_vector(self, terms: dict[str, float]) -> np.ndarray:
        new = [t for t in terms if t not in self._term_vectors]
        if new:
            self._term_vectors.update(zip(new, self.embedder.embed_documents(new)))
        total = sum(w * self._term_vectors[t] for t, w in terms.items())
        return total / max(float(np.linalg.norm(total)), 1e-12)


class FeedbackRetriever(Retriever):
    """RM3 over the expansion: the first `feedback` passages of the default's fusion give a relevance model
    (sum over them of P(word | passage) times the passage's fused score), whose `feedback_terms` strongest
    statute words, the question's own left out, join the expansion's words at share `feedback_weight`
    (both sides normalised to sum 1) and the expand channel is searched again with them."""

    def __init__(self, index, embedder, translation=None, query_map=None, law_map=None, *, feedback: int = 5,
                 feedback_weight: float = 0.3, feedback_terms: int = 20):
        super().__init__(index, embedder, translation, query_map, law_map)
        self.feedback = feedback
        self.feedback_weight = feedback_weight
        self.feedback_terms = feedback_terms
        self._words: dict[int, Counter[str]] = {}

    def _statute_channels(self, query: str, ranked: dict[str, Ranked], settings: SearchSettings,
                          allowed: np.ndarray | None) -> tuple[dict[str, Ranked], bool]:
        ranked, statutes = super()._statute_channels(query, ranked, settings, allowed)
        if "expand" not in ranked:  # not asked of statutes, or the table knows too little of it
            return ranked, statutes
        rows = np.unique(np.concatenate([r.rows for r in ranked.values()]).astype(np.int64))
        fused = self._fuse(rows, ranked, settings)
        order = np.lexsort((rows, -fused))[: self.feedback]
        asked = set(word_tokens(query))
        model: Counter[str] = Counter()
        for i in order:
            counts = self._row_words(int(rows[i]))
            length = sum(counts.values()) or 1
            for word, c in counts.items():
                if word not in asked:
                    model[word] += float(fused[i]) * c / length
        top = dict(model.most_common(self.feedback_terms))
        table_terms = self.expansion(query, settings)["expand"][1]
        mixed = _interpolate(table_terms, top, self.feedback_weight)
        plan_terms = {"expand": ("words", mixed)}
        plan = SearchPlan({}, self.query_vector(query), settings.candidates, allowed, weighted=plan_terms)
        return {**ranked, "expand": self.index.store.search(plan)["expand"]}, statutes

    def _row_words(self, row: int) -> Counter[str]:
        if row not in self._words:
            chunk = self.index.chunks[row]
            text = index_text(self.index.records[chunk.doc_id].meta.title, chunk)
            self._words[row] = Counter(w for w in word_tokens(text) if is_statute_word(w))
        return self._words[row]


def _interpolate(a: dict[str, float], b: dict[str, float], share_b: float) -> dict[str, float]:
    """(1 - share_b) * a / sum(a) + share_b * b / sum(b), over the union of their words."""
    sa, sb = sum(a.values()) or 1.0, sum(b.values()) or 1.0
    out = {t: (1 - share_b) * w / sa for t, w in a.items()}
    for t, w in b.items():
        out[t] = out.get(t, 0.0) + share_b * w / sb
    return out


@dataclass(frozen=True)
class Prior:
    """Units (laws, or a law's chapter) scored against the question through their own map: `unit_of_row`
    gives each chunk row its unit, `vectors` each unit's embedded title (and headings)."""

    query_map: object  # a QueryMap: question vectors -> their gold units' vectors
    vectors: np.ndarray  # (units, dim)
    unit_of_row: np.ndarray  # (rows,) int
    weight: float


class LawPriorRetriever(Retriever):
    """Priors for a question asked of statutes: its vector through each prior's map against every unit's
    vector; each candidate gains the prior's weight times its unit's score, min-max scaled over the
    candidates' units. With one prior over laws: question vectors -> their gold law's title vector."""

    def __init__(self, index, embedder, translation=None, query_map=None, law_map=None, *,
                 priors: tuple[Prior, ...] = ()):
        super().__init__(index, embedder, translation, query_map, law_map)
        self.priors = priors
        self._unit_scores: list[np.ndarray] = []

    def _statute_channels(self, query: str, ranked: dict[str, Ranked], settings: SearchSettings,
                          allowed: np.ndarray | None) -> tuple[dict[str, Ranked], bool]:
        ranked, statutes = super()._statute_channels(query, ranked, settings, allowed)
        self._unit_scores = []
        if "mapped" in ranked:  # asked of statutes (the map's gate)
            vector = self.query_vector(query)
            self._unit_scores = [p.vectors @ p.query_map.apply(vector) for p in self.priors]
        return ranked, statutes

    def _lift_by_law(self, candidates: np.ndarray, fused: np.ndarray, settings: SearchSettings) -> np.ndarray:
        fused = super()._lift_by_law(candidates, fused, settings)
        for prior, scores in zip(self.priors, self._unit_scores):
            fused = fused + prior.weight * minmax(scores[prior.unit_of_row[candidates]].astype(np.float64))
        return fused


# ---------------------------------------------------------------- a learned linear re-ranker

# each candidate's features: the channels' min-max scaled scores, the law prior (min-max over the
# candidates' laws), its law's share of the fused score (kb.retrieve.law_scores over the default's
# fused scores), the default's fused score itself, whether it is a numbered article, its length
RERANK_FEATURES = ("words", "chars", "dense", "expand", "mapped", "law_prior", "law", "fused", "article", "length")
_CHANNELS = ("words", "chars", "dense", "expand", "mapped")


@dataclass
class Sample:
    """One question's candidates: their features (candidates, len(RERANK_FEATURES)), the log of the
    register's factor of each, and which are gold."""

    features: np.ndarray
    log_factor: np.ndarray
    gold: np.ndarray


class RerankRetriever(Retriever):
    """The default's candidates scored by exp(w . x) (x: RERANK_FEATURES) times the register's factors,
    named documents first as in the default. Searched with `law_prior` 0 in the settings: the prior is a
    feature here. Without `weights` it searches as the default does and keeps each search's Sample in
    `last` (with `gold_of`: row -> is it gold, to label them)."""

    def __init__(self, index, embedder, translation=None, query_map=None, law_map=None, *,
                 weights: np.ndarray | None = None, prior_weight: float = 0.1):
        super().__init__(index, embedder, translation, query_map, law_map)
        self.weights = weights
        self.prior_weight = prior_weight  # the default's, for the "fused" feature
        self.gold_of = None
        self.last: Sample | None = None
        self._ranked: dict[str, Ranked] = {}
        self._prior: np.ndarray | None = None
        self._question = ""
        self._length: np.ndarray | None = None

    def search_weighted(self, question, variants):
        self._question = question
        return super().search_weighted(question, variants)

    def _statute_channels(self, query, ranked, settings, allowed):
        ranked, statutes = super()._statute_channels(query, ranked, settings, allowed)
        self._ranked = ranked
        gate = "mapped" in ranked and self.law_prior is not None  # asked of statutes (the map's gate)
        self._prior = self.law_prior.scores(self.query_vector(query)) if gate else None
        return ranked, statutes

    def features(self, candidates: np.ndarray, fused: np.ndarray) -> np.ndarray:
        from kb.retrieve import law_scores

        n = len(candidates)
        cols = {c: minmax(np.asarray(self._ranked[c].scores_of(candidates), dtype=np.float64))
                if c in self._ranked else np.zeros(n) for c in _CHANNELS}
        docs = self.index.chunk_doc[candidates]
        cols["law_prior"] = minmax(self._prior[docs].astype(np.float64)) if self._prior is not None else np.zeros(n)
        cols["fused"] = (fused + self.prior_weight * cols["law_prior"]) / (1.0 + self.prior_weight)
        cols["law"] = law_scores(docs, cols["fused"], 3)
        cols["article"] = self.article_rows()[candidates].astype(np.float64)
        cols["length"] = self._lengths()[candidates]
        return np.column_stack([cols[f] for f in RERANK_FEATURES])

    def _lengths(self) -> np.ndarray:
        if self._length is None:
            self._length = np.log1p([len(c.text) for c in self.index.chunks]) / 8.0
        return self._length

    def _lift_by_law(self, candidates, fused, settings):
        x = self.features(candidates, super()._lift_by_law(candidates, fused, settings))
        if self.weights is None:
            factor = self._weigh_by_register(candidates, np.ones(len(candidates)), self._question, settings)
            gold = np.array([self.gold_of(int(r)) for r in candidates], dtype=bool) if self.gold_of else None
            self.last = Sample(x, np.log(np.maximum(factor, 1e-12)), gold)
            return x[:, RERANK_FEATURES.index("fused")]
        s = x @ self.weights
        return np.exp(s - s.max())  # positive, so that the register's factors keep their meaning


def fit_reranker(samples: list[Sample], l2: float = 1.0, start: np.ndarray | None = None) -> np.ndarray:
    """w minimising sum over questions of -log(sum over gold exp(s) / sum over all exp(s)) + l2 |w - start|^2,
    s = x . w + log factor (listwise softmax); questions without a gold candidate are left out."""
    from scipy.optimize import minimize

    kept = [s for s in samples if s.gold is not None and s.gold.any()]
    x = np.vstack([s.features for s in kept])
    offset = np.concatenate([s.log_factor for s in kept])
    gold = np.concatenate([s.gold for s in kept])
    seg = np.repeat(np.arange(len(kept)), [len(s.gold) for s in kept])
    start = np.zeros(x.shape[1]) if start is None else start

    def loss(w):
        s = x @ w + offset
        top = np.full(len(kept), -np.inf)
        np.maximum.at(top, seg, s)
        e = np.exp(s - top[seg])
        z_all = np.bincount(seg, e, len(kept))
        z_gold = np.bincount(seg, e * gold, len(kept))
        value = float(np.sum(np.log(z_all) - np.log(z_gold))) + l2 * float((w - start) @ (w - start))
        p_all = e / z_all[seg]
        p_gold = np.where(gold, e / z_gold[seg], 0.0)
        grad = x.T @ (p_all - p_gold) + 2 * l2 * (w - start)
        return value, grad

    return minimize(loss, start, jac=True, method="L-BFGS-B").x


# ---------------------------------------------------------------- IBM model 1 refit of the term table


def ibm1_refit(table, pairs, background, iterations: int = 5, per_word: int = 20):
    """The table's weights refitted by IBM model 1 EM, started from the table: t(statute word | lay word)
    over the pairs the table holds, a NULL word generating each statute word at its background share.

    E-step: each distinct statute word of a gold clause is shared among the question's words that the
    table pairs it with, and NULL, in proportion to t; M-step: t(. | w) = w's shares, normalised. A statute
    word that several lay words of a question predict is then credited to the one that predicts it best
    (婚姻 to 离婚 rather than to 孩子), which the co-occurrence weights cannot do."""
    from kb.expand import TermTranslation, is_statute_word

    t = {w: {s: x for s, x in ts} for w, ts in table.table.items()}
    for w, ts in t.items():
        total = sum(ts.values())
        t[w] = {s: x / total for s, x in ts.items()}
    data = []
    for question, clause in pairs:
        words = [w for w in set(question) if w in t]
        targets = {s for s in clause if is_statute_word(s)}
        links = [(s, [w for w in words if s in t[w]]) for s in targets]
        data.append([(s, ws) for s, ws in links if ws])
    for _ in range(iterations):
        counts: dict[str, dict[str, float]] = {w: {} for w in t}
        for links in data:
            for s, ws in links:
                z = background(s) + sum(t[w][s] for w in ws)
                for w in ws:
                    counts[w][s] = counts[w].get(s, 0.0) + t[w][s] / z
        for w, cs in counts.items():
            total = sum(cs.values())
            if total > 0:  # a word no pair links keeps its start
                t[w] = {s: c / total for s, c in cs.items()}
    out = {w: tuple(sorted(ts.items(), key=lambda kv: (-kv[1], kv[0]))[:per_word]) for w, ts in t.items()}
    return TermTranslation({w: ts for w, ts in out.items() if ts}, table.pairs)
