"""Index backends behind one interface: each keeps the search structures of an index's rows, by name."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the registry is read by the CLI's parser, which stays light
    import numpy as np

    from kb.ondisk.manifest import Manifest
    from kb.types import Ranked


@dataclass(frozen=True)
class SearchPlan:
    """What one question asks of a store: its tokens per lexical channel (kb.tokenize.QUERY_ANALYZERS),
    its vector, how many rows per channel, and which rows the filters allow (None: all)."""

    tokens: dict[str, list[str]]
    vector: np.ndarray
    k: int
    allowed: np.ndarray | None = None  # boolean mask over the rows (kb.retrieve.allowed_rows)
    # with reciprocal-rank fusion asked for, a store that fuses on its side returns one list, "hybrid"
    rrf_k: int | None = None
    # channels of weighted query terms, scored by BM25 over an analyzer's terms, each term's part
    # times its weight: name -> (analyzer, {term: weight}); "expand" is the lay-to-statute expansion
    weighted: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)


class Store(ABC):
    """The search structures over the rows 0..n-1 of a loaded index (its chunks in corpus order).

    A build calls `sync` before it commits (kb.ondisk.IndexWriter); loading calls `open`; each
    question calls `search`; the answer stage asks `idf`. `Options` is the backend's own settings,
    kept under its name in the build settings.
    """

    @dataclass(frozen=True)
    class Options:
        """No options of its own."""

    @classmethod
    @abstractmethod
    def sync(cls, writer, settings, *, embedder, kind: str, rebuild: bool) -> None:
        """Bring the store in line with the writer's documents; what it writes goes through the writer.

        `settings` are the build's (kb.config.BuildSettings), `embedder` has name, model and dim,
        `kind` is the dense search ("flat" or "hnsw"), `rebuild` asks to start from nothing.
        """

    @classmethod
    @abstractmethod
    def open(cls, folder: Path, manifest: Manifest, contents, layout) -> "Store":
        """The store of a loaded index (kb.ondisk.read_layout: its contents and where its rows are)."""

    @abstractmethod
    def search(self, plan: SearchPlan) -> dict[str, Ranked]:
        """Each channel's best `plan.k` allowed rows ("words", "chars", "dense", and those of
        `plan.weighted` the store can score), best first."""

    @abstractmethod
    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """How rare each token is among the chunks, log((n + 1) / (df + 0.5)); unknown tokens get the most."""

    def close(self) -> None:
        """Let go of what the store holds open (a server connection); nothing by default."""


def options_from(cls: type, name: str, data: dict) -> Any:
    """A backend's options from build settings as saved: nested under its name, or (manifests written
    before options were nested) flat as `{name}_{field}`."""
    nested = data.get(name)
    if not isinstance(nested, dict):
        nested = {f.name: data[f"{name}_{f.name}"] for f in fields(cls) if f"{name}_{f.name}" in data}
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in nested.items() if k in known})


# name -> "module:class"; a backend is its module plus one line here, imported only when used
STORES = {
    "faiss": "kb.store.faiss_bm25:FaissBM25Store",
    "milvus": "kb.store.milvus:MilvusStore",
}


def store_class(name: str) -> type[Store]:
    """The backend class registered under `name`."""
    if name not in STORES:
        raise ValueError(f"unknown store {name!r}; valid: {', '.join(sorted(STORES))}")
    module, attr = STORES[name].split(":")
    return getattr(importlib.import_module(module), attr)
