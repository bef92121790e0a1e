"""A learned linear re-ranker for questions asked of statutes: each candidate's channel scores, law prior,
its law's share, fused score, whether it is a numbered article and its length, weighed by weights
fitted on lay questions (kb/data/rerank.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.errors import KBError
from kb.expand import read_format

FORMAT = "policykb-rerank-1"
# What PolicyKB ships: fitted by `bench/lecoqa.py --fit-rerank` on the candidates of the LeCoQA dev
# questions, each searched under the table and maps fitted without its fold. It holds one weight per
# feature and the embedder model the features came from, no question and no label.
DEFAULT_RERANKER = Path(__file__).with_name("data") / "rerank.json"
# per candidate: the channels' min-max scaled scores (0 for a channel the question did not use), the law
# prior (min-max over the candidates' laws), its law's share of the fused score (kb.retrieve.law_scores of
# its best 3), the fused score itself, whether it is a numbered article (第N条), log(1 + its length) / 8
FEATURES = ("words", "chars", "dense", "expand", "mapped", "law_prior", "law", "fused", "article", "length")
CHANNELS = FEATURES[:5]


@dataclass(frozen=True)
class Reranker:
    """score = exp(w . x - max): positive, so that the register's factors (in force, superseded) still
    multiply it as they multiply a fused score, and in (0, 1]."""

    model: str  # the embedder model whose dense and mapped channels it was fitted on (Embedder.model)
    weights: np.ndarray  # one per FEATURES
    questions: int = 0  # how many questions' candidates it was fitted on

    def score(self, features: np.ndarray) -> np.ndarray:
        s = np.asarray(features, dtype=np.float64) @ self.weights
        return np.exp(s - s.max()) if len(s) else s

    def save(self, path: Path) -> None:
        data = {"format": FORMAT, "model": self.model, "questions": self.questions,
                "weights": {f: round(float(w), 6) for f, w in zip(FEATURES, self.weights)}}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Reranker":
        """The re-ranker in a file `save` wrote; any fault is a KBError naming the file."""
        try:
            data = read_format(path, FORMAT)
            weights = data["weights"]
            if sorted(weights) != sorted(FEATURES):
                raise ValueError(f"features {sorted(weights)}, expected {sorted(FEATURES)}")
            vector = np.array([float(weights[f]) for f in FEATURES])
            if not np.isfinite(vector).all():
                raise ValueError("weights that are not finite numbers")
            return cls(str(data["model"]), vector, int(data.get("questions", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise KBError(f"{path}: not a re-ranker ({e})") from e


@lru_cache(maxsize=4)
def shipped_reranker(model: str, path: Path = DEFAULT_RERANKER) -> Reranker | None:
    """The shipped re-ranker when it was fitted with this embedder model, read once; None otherwise."""
    if not path.exists():
        return None
    found = Reranker.load(path)
    return found if found.model == model else None


def features(scaled: dict[str, np.ndarray], law_prior: np.ndarray, law: np.ndarray, fused: np.ndarray,
             article: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The (candidates, FEATURES) matrix; `scaled`: the channels' min-max scaled scores by name."""
    n = len(fused)
    columns = [scaled.get(c, np.zeros(n)) for c in CHANNELS]
    return np.column_stack([*columns, law_prior, law, fused, article, length]).astype(np.float64)
