"""FAISS for dense vectors and bm25s for lexical scores, persisted as plain files in one folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from kb.tokenize import ANALYZERS

DENSE_FILE = "dense.faiss"


class FaissBM25Store:
    """Exact or HNSW inner-product search plus one BM25 index per analyzer."""

    def __init__(self, dense, lexical: dict):
        self.dense = dense
        self.lexical = lexical

    @property
    def dense_kind(self) -> str:
        import faiss

        return "hnsw" if isinstance(self.dense, faiss.IndexHNSWFlat) else "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, token_lists: dict[str, list[list[str]]], *, kind: str, hnsw_m: int = 32):
        """Index `vectors` (L2-normalised float32 rows) and each analyzer's token lists."""
        import bm25s
        import faiss

        dim = vectors.shape[1]
        if kind == "hnsw":
            dense = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            dense.hnsw.efConstruction = 80
        else:
            dense = faiss.IndexFlatIP(dim)
        if len(vectors):
            dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
        lexical = {}
        for name, tokens in token_lists.items():
            bm25 = bm25s.BM25()
            # bm25s cannot index an empty corpus; an empty-corpus index scores nothing
            bm25.index(tokens if tokens else [[""]], show_progress=False)
            lexical[name] = bm25
        return cls(dense, lexical)

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self.dense, str(folder / DENSE_FILE))
        for name, bm25 in self.lexical.items():
            bm25.save(str(folder / f"bm25_{name}"), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "FaissBM25Store":
        import bm25s
        import faiss

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        dense = faiss.read_index(str(folder / DENSE_FILE))
        lexical = {name: bm25s.BM25.load(str(folder / f"bm25_{name}"), show_progress=False) for name in ANALYZERS}
        return cls(dense, lexical)

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        n = self.dense.ntotal
        if n == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        params = None
        if allowed is not None:
            rows = np.flatnonzero(allowed).astype(np.int64)
            if len(rows) == 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            selector = faiss.IDSelectorBatch(rows)
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(64, k)) if self.dense_kind == "hnsw" \
                else faiss.SearchParameters(sel=selector)
        elif self.dense_kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(64, k))
        scores, rows = self.dense.search(query.reshape(1, -1).astype(np.float32), min(k, n), params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency over chunks, log((n + 1) / (df + 0.5)); unknown tokens get the most."""
        bm25 = self.lexical[analyzer]
        indptr, n = bm25.scores["indptr"], max(1, self.dense.ntotal)
        out = {}
        for t in tokens:
            tid = bm25.vocab_dict.get(t)
            df = 0 if tid is None else int(indptr[tid + 1] - indptr[tid])
            out[t] = float(np.log((n + 1) / (df + 0.5)))
        return out

    def lexical_scores(self, analyzer: str, tokens: list[str]) -> np.ndarray:
        bm25 = self.lexical[analyzer]
        known = [t for t in tokens if t in bm25.vocab_dict]
        if not known:
            return np.zeros(self.dense.ntotal, dtype=np.float32)
        return bm25.get_scores(known)[: self.dense.ntotal]
