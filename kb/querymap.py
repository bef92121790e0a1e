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
# what a map's vectors are mapped towards: the gold clauses' vectors (the mapped channel) or the gold
# laws' title vectors (the law prior, kb/lawprior.py); a file without the field is one of the first
CLAUSES = "clauses"
LAW_TITLES = "law-titles"
TARGETS = (CLAUSES, LAW_TITLES)
# What PolicyKB ships: fitted by `bench/lecoqa.py --fit-map` on the LeCoQA dev (question, gold clause)
# vectors of the default embedder. It holds one matrix and the embedder's model name, no question text
# and no labels. An index built with another embedder has no map (the channel stays off).
DEFAULT_MAPS = Path(__file__).with_name("data") / "query_maps"


@dataclass(frozen=True)
class QueryMap:
    """q -> normalise(q @ matrix): the ridge regression of gold clause (or law title) vectors on question vectors."""

    model: str  # the embedder model whose vectors it maps (Embedder.model)
    matrix: np.ndarray  # (dim, dim)
    pairs: int = 0  # how many (question, clause) pairs it was fitted on
    target: str = CLAUSES  # what it maps towards, one of TARGETS

    def apply(self, vector: np.ndarray) -> np.ndarray:
        """The mapped query vector, unit length (the index's vectors are)."""
        mapped = np.asarray(vector, dtype=np.float32).reshape(-1) @ self.matrix
        norm = float(np.linalg.norm(mapped))
        return mapped / norm if norm > 0 else mapped

    def save(self, path: Path) -> None:
        """A .npz holding the matrix (float16: 0.5 MB at 512 dimensions) and a JSON header."""
        header = json.dumps({"format": FORMAT, "model": self.model, "pairs": self.pairs, "target": self.target})
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
            target = header.get("target", CLAUSES)
            if target not in TARGETS:
                raise ValueError(f"target is {target!r}, expected one of {', '.join(TARGETS)}")
            return cls(str(header["model"]), matrix, int(header.get("pairs", 0)), target)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise KBError(f"{path}: not a query map ({e})") from e


def map_file(model: str, folder: Path = DEFAULT_MAPS, target: str = CLAUSES) -> Path:
    """Where the shipped map of an embedder model towards `target` lives (model names hold '/'):
    MODEL.npz towards clauses, MODEL.law-titles.npz towards law titles."""
    stem = model.replace("/", "__")
    return folder / (f"{stem}.npz" if target == CLAUSES else f"{stem}.{target}.npz")


@lru_cache(maxsize=8)
def shipped_map(model: str, dim: int, target: str = CLAUSES) -> QueryMap | None:
    """The shipped map of this embedder model towards `target`, read once per process; None when there
    is none. A file of another model, size or target is a KBError naming it."""
    return check_map(map_file(model, target=target), model, dim, target)


def check_map(path: Path, model: str, dim: int, target: str = CLAUSES) -> QueryMap | None:
    """The map in `path` if it is one of this model, size and target (a KBError naming the file if
    not); None when there is no such file."""
    if not path.exists():
        return None
    found = QueryMap.load(path)
    if found.model != model or found.matrix.shape[0] != dim:
        raise KBError(f"{path}: a map of {found.model!r} ({found.matrix.shape[0]} dimensions), "
                      f"not of {model!r} ({dim})")
    if found.target != target:
        raise KBError(f"{path}: a map towards {found.target}, not towards {target}")
    return found


def fit_query_map(questions: np.ndarray, clauses: np.ndarray, model: str, alpha: float = 3.0,
                  target: str = CLAUSES) -> QueryMap:
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
    return QueryMap(model, matrix.astype(np.float32), len(q), target)
