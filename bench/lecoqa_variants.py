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


# ---------------------------------------------------------------- the learned re-ranker's training data


@dataclass
class Sample:
    """One question's candidates: their re-ranker features (kb.rerank.FEATURES), the log of the register's
    factor of each, and which are gold."""

    features: np.ndarray
    log_factor: np.ndarray
    gold: np.ndarray


class SampleRetriever(Retriever):
    """The default's search, keeping the candidates of a question asked of statutes as a Sample in `last`
    (labelled by `gold_of`: row -> is it gold) where the re-ranker would score them; the order stays the
    fused one."""

    def __init__(self, index, embedder, translation=None, query_map=None, law_map=None):
        super().__init__(index, embedder, translation, query_map, law_map)
        self.gold_of = None
        self.last: Sample | None = None

    def search_weighted(self, question, variants):
        self.last = None
        return super().search_weighted(question, variants)

    def _rerank(self, candidates, ranked, fused, lift, question, settings):
        x = self.rerank_features(candidates, ranked, fused, lift)
        factor = self._weigh_by_register(candidates, np.ones(len(candidates)), question, settings)
        gold = np.array([self.gold_of(int(r)) for r in candidates], dtype=bool)
        self.last = Sample(x, np.log(np.maximum(factor, 1e-12)), gold)
        return fused


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
