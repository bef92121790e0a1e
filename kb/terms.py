"""Term counts: the tokenize stage's output, a rows x terms count matrix kept per index segment."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TermCounts:
    """How often each term occurs in each row, stored by term (CSC) so a query reads only its terms.

    This is all BM25 needs of a chunk's tokens (their order never matters), it merges without
    re-tokenising anything, and an index keeps one per segment and analyzer.
    """

    vocab: list[str]
    indptr: np.ndarray  # int64, len(vocab) + 1: term t's postings are [indptr[t], indptr[t + 1])
    rows: np.ndarray  # int32, the row of each posting
    counts: np.ndarray  # int32, how often the term occurs in that row
    lengths: np.ndarray  # int32, tokens per row
    _lookup: dict[str, int] | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return len(self.lengths)

    @property
    def lookup(self) -> dict[str, int]:
        if self._lookup is None:
            self._lookup = dict(zip(self.vocab, range(len(self.vocab))))
        return self._lookup

    @classmethod
    def from_tokens(cls, token_lists) -> "TermCounts":
        """Count the tokens of each row; `token_lists` may be any iterable of token lists."""
        ids: dict[str, int] = {}
        cols: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        distinct: list[int] = []
        for tokens in token_lists:
            tf = Counter(tokens)
            cols.extend([ids.setdefault(t, len(ids)) for t in tf])
            counts.extend(tf.values())
            lengths.append(len(tokens))
            distinct.append(len(tf))
        rows = np.repeat(np.arange(len(lengths), dtype=np.int32), distinct)
        return cls._from_coo(list(ids), rows, np.asarray(cols, dtype=np.int64), np.asarray(counts, dtype=np.int32),
                             np.asarray(lengths, dtype=np.int32))

    @classmethod
    def _from_coo(cls, vocab: list[str], rows: np.ndarray, cols: np.ndarray, counts: np.ndarray,
                  lengths: np.ndarray) -> "TermCounts":
        order = np.argsort(cols, kind="stable")  # by term, rows ascending within a term
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, rows[order].astype(np.int32), counts[order].astype(np.int32), lengths)

    def take(self, rows: np.ndarray) -> "TermCounts":
        """These rows only, renumbered 0.. in the order given; terms left without rows are dropped."""
        rows = np.asarray(rows, dtype=np.int64)
        new_row = np.full(self.n_rows, -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows))
        mapped = new_row[self.rows]
        keep = mapped >= 0
        term_of = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))[keep]
        used = np.bincount(term_of, minlength=len(self.vocab)) > 0
        renumber = np.cumsum(used) - 1
        vocab = [t for t, u in zip(self.vocab, used.tolist()) if u]
        return self._from_coo(vocab, mapped[keep], renumber[term_of], self.counts[keep], self.lengths[rows])

    @classmethod
    def concat(cls, parts: list["TermCounts"]) -> "TermCounts":
        """The rows of every part, one after the other, over the union of their vocabularies."""
        if not parts:
            return cls.from_tokens([])
        ids: dict[str, int] = {}
        rows, cols, offset = [], [], 0
        for part in parts:
            local = np.fromiter((ids.setdefault(t, len(ids)) for t in part.vocab), dtype=np.int64,
                                count=len(part.vocab))
            cols.append(np.repeat(local, np.diff(part.indptr)))
            rows.append(part.rows.astype(np.int64) + offset)
            offset += part.n_rows
        return cls._from_coo(list(ids), np.concatenate(rows), np.concatenate(cols),
                             np.concatenate([p.counts for p in parts]), np.concatenate([p.lengths for p in parts]))

    def bags(self) -> list[list[str]]:
        """Each row's tokens, each as often as it occurs (in no particular order)."""
        order = np.argsort(self.rows, kind="stable")
        terms = np.repeat(np.arange(len(self.vocab)), np.diff(self.indptr))[order].tolist()
        counts = self.counts[order].tolist()
        bounds = np.cumsum(np.bincount(self.rows, minlength=self.n_rows)).tolist()
        bags, start = [], 0
        for end in bounds:
            bags.append([self.vocab[t] for t, c in zip(terms[start:end], counts[start:end]) for _ in range(c)])
            start = end
        return bags

    def save(self, path: Path) -> None:
        vocab = np.frombuffer(json.dumps(self.vocab, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as f:
            np.savez(f, vocab=vocab, indptr=self.indptr, rows=self.rows, counts=self.counts, lengths=self.lengths)

    @classmethod
    def load(cls, path: Path) -> "TermCounts":
        with np.load(path) as data:
            vocab = json.loads(data["vocab"].tobytes().decode("utf-8"))
            return cls(vocab, data["indptr"], data["rows"], data["counts"], data["lengths"])

