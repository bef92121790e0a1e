"""Index backends by name: each stores dense vectors and lexical indexes for a list of chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Store(Protocol):
    """Search structures over chunk rows 0..n-1 (the order of chunks.jsonl)."""

    def save(self, folder: Path) -> None: ...

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner-product scores of the k nearest vectors, best first."""
        ...

    def lexical_scores(self, analyzer: str, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for the query tokens."""
        ...

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """How rare each token is among the chunks (higher: rarer)."""
        ...


def _faiss_bm25():
    from kb.store.faiss_bm25 import FaissBM25Store

    return FaissBM25Store


STORES = {"faiss": _faiss_bm25}


def store_class(name: str):
    """The backend class registered under `name`."""
    if name not in STORES:
        raise ValueError(f"unknown store {name!r}; valid: {', '.join(sorted(STORES))}")
    return STORES[name]()
