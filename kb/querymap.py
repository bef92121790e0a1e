"""A learned linear map from lay questions' vectors towards the vectors of the clauses that answer them,
for the dense side of a search asked of statutes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.errors import KBError

FORMAT = "policykb-query-map-1"
# What PolicyKB ships: fitted by `bench/lecoqa.py --fit-map` on the LeCoQA dev (question, gold clause)
# vectors of the default embedder. It holds one matrix and the embedder's model name, no question text
# and no labels. An index built with another embedder has no map (the channel stays off).
DEFAULT_MAPS = Path(__file__).with_name("data") / "query_maps"


@dataclass(frozen=True)
class QueryMap:
    """q -> normalise(q @ matrix): the ridge regression of gold clause vectors on question vectors."""

    model: str  # the embedder model whose vectors it maps (Embedder.model)
    matrix: np.ndarray  # (dim, dim)
    pairs: int = 0  # how many (question, clause) pairs it was fitted on

    def apply(self, vector: np.ndarray) -> np.ndarray:
        """The mapped query vector, unit length (the index's vectors are)."""
        mapped = np.asarray(vector, dtype=np.float32).reshape(-1) @ self.matrix
        norm = float(np.linalg.norm(mapped))
        return mapped / norm if norm > 0 else mapped

    def save(self, path: Path) -> None:
        """A .npz holding the matrix (float16: 0.5 MB at 512 dimensions) and a JSON header."""
        header = json.dumps({"format": FORMAT, "model": self.model, "pairs": self.pairs})
        with open(path, "wb") as f:
            np.savez_compressed(f, header=np.array(header), matrix=self.matrix.astype(np.float16))

    @classmethod
    def load(cls, path: Path) -> "QueryMap":
        """The map in a file `save` wrote; any fault is a KBError naming the file."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                matrix = data["matrix"].astype(np.float32)
            if header.get("format") != FORMAT:
                raise ValueError(f"format is {header.get('format')!r}, expected {FORMAT!r}")
            if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
                raise ValueError(f"matrix of shape {matrix.shape}, expected a square one")
            return cls(str(header["model"]), matrix, int(header.get("pairs", 0)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise KBError(f"{path}: not a query map ({e})") from e


def map_file(model: str, folder: Path = DEFAULT_MAPS) -> Path:
    """Where the shipped map of an embedder model lives (model names hold '/')."""
    return folder / (model.replace("/", "__") + ".npz")


@lru_cache(maxsize=4)
def shipped_map(model: str, dim: int) -> QueryMap | None:
    """The shipped map of this embedder model, read once per process; None when there is none."""
    path = map_file(model)
    if not path.exists():
        return None
    found = QueryMap.load(path)
    if found.model != model or found.matrix.shape[0] != dim:
        raise KBError(f"{path}: a map of {found.model!r} ({found.matrix.shape[0]} dimensions), "
                      f"not of {model!r} ({dim})")
    return found


def fit_query_map(questions: np.ndarray, clauses: np.ndarray, model: str, alpha: float = 3.0) -> QueryMap:
    """Ridge regression towards the identity: argmin_W |QW - C|^2 + alpha |W - I|^2.

    `questions` (n, dim): question vectors; `clauses` (n, dim): each question's gold clause vector (the
    mean of its gold chunks'). Pulled towards I, a map fitted on a thousand pairs keeps what the
    embedder knows and learns only the turn from lay wording to statute wording.
    """
    q = np.asarray(questions, dtype=np.float64)
    c = np.asarray(clauses, dtype=np.float64)
    if q.shape != c.shape or q.ndim != 2:
        raise ValueError(f"questions {q.shape} and clauses {c.shape} must be (n, dim) alike")
    eye = np.eye(q.shape[1])
    matrix = np.linalg.solve(q.T @ q + alpha * eye, q.T @ c + alpha * eye)
    return QueryMap(model, matrix.astype(np.float32), len(q))
