"""Index backends by name: each stores dense vectors and lexical indexes for a list of chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Store(Protocol):
    """Search structures over the rows 0..n-1 of a loaded index (kb.index: its chunks in corpus order).

    FAISS + BM25 keeps them in the index's segments: its class has `uses_segments = True`,
    `sync(writer, kind=..., hnsw_m=...)`, which each build calls before its commit (kb.index.IndexWriter),
    and `open(folder, manifest, contents, layout)`. A store without `uses_segments` takes every row
    at each build and has `save(folder)` and `load(folder)`.
    """

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner-product scores of the k nearest vectors, best first."""
        ...

    def lexical_scores(self, analyzer: str, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for the query tokens."""
        ...

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """How rare each token is among the chunks (higher: rarer)."""
        ...


class RankingStore(Protocol):
    """A store that ranks on its own server (Milvus): each retriever's top k, not a score for every row.

    It has `ranks_on_server = True`; kb.retrieve asks it through `search` instead of `lexical_scores`
    and `dense_search`, and maps the chunk ids it returns back to rows.
    """

    ranks_on_server: bool

    def save(self, folder: Path) -> None: ...

    def search(self, query: str, qvec: np.ndarray, k: int, filters, *, rrf_k: int | None = None) -> dict:
        """Retriever name -> Ranked (chunk ids, scores, content hashes), best first."""
        ...

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]: ...


def _faiss_bm25():
    from kb.store.faiss_bm25 import FaissBM25Store

    return FaissBM25Store


def _milvus():
    from kb.store.milvus import MilvusStore

    return MilvusStore


STORES = {"faiss": _faiss_bm25, "milvus": _milvus}


def store_class(name: str):
    """The backend class registered under `name`."""
    if name not in STORES:
        raise ValueError(f"unknown store {name!r}; valid: {', '.join(sorted(STORES))}")
    return STORES[name]()
