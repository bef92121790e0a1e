"""Plain data passed between the pipeline stages: documents, chunks and search hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PageSpan:
    """Characters [start, end) of a document's text came from 1-based page `page`."""

    start: int
    end: int
    page: int


@dataclass(frozen=True)
class Reference:
    """Another document cited inside a text: 《title》（文号）; either part may be empty."""

    title: str
    doc_number: str  # canonical form (see metadata.normalize_doc_number), or ""


RELATION_KINDS = ("cites", "revises", "abolishes", "implements")


@dataclass(frozen=True)
class Relation:
    """A sentence of one document that says something about another: cites, revises, abolishes or
    implements it. `start`/`end` locate the sentence in the stating document's text."""

    kind: str
    target: Reference
    sentence: str
    start: int
    end: int


@dataclass(frozen=True)
class DocMeta:
    """What metadata extraction reads off a document, plus what a sidecar file sets."""

    title: str = ""
    doc_number: str = ""  # canonical 文号, e.g. 教职成〔2019〕6号
    issuer: str = ""
    date: str = ""  # ISO date of issue (成文/发布), "" if unknown
    # (kind, ISO date) pairs in document order, kind in 成文/发布/印发/施行/通过/修订/修正/废止
    dates: tuple[tuple[str, str], ...] = ()
    references: tuple[Reference, ...] = ()
    doc_type: str = ""  # 法律, 行政法规, 地方性法规, 规章, 通知, 方案, 意见, 办法, 论文, 新闻, …
    relations: tuple[Relation, ...] = ()
    status: str = ""  # only when set by a sidecar/front matter; otherwise the register derives it
    replaced_by: str = ""  # set by a sidecar: the file or doc_id of the new version that replaced it
    overridden: tuple[str, ...] = ()  # fields a sidecar or front matter set, for display
    trust: str = ""  # only when set by metadata.csv (staff | visitor); otherwise the register derives it

    def date_of(self, *kinds: str) -> str:
        """The latest date of the given kinds (施行, 修订, …), or ""."""
        return max((d for k, d in self.dates if k in kinds), default="")


@dataclass(frozen=True)
class Document:
    """One loaded document: cleaned text plus where each character came from."""

    doc_id: str  # path relative to the corpus root, or the JSONL doc_id/id
    source: str  # file the document was read from (relative to the corpus root)
    text: str
    format: str  # pdf | docx | html | txt | md | jsonl
    pages: tuple[PageSpan, ...] = ()  # empty for formats without pages
    title_hint: str = ""  # title given by the container: PDF metadata, <title>, H1, JSONL title
    extra: dict[str, Any] = field(default_factory=dict)  # other JSONL fields, kept as given
    meta: DocMeta = DocMeta()

    def pages_for(self, start: int, end: int) -> tuple[int, ...]:
        """1-based pages that characters [start, end) fall on."""
        return tuple(sorted({p.page for p in self.pages if p.start < end and p.end > start}))


@dataclass(frozen=True)
class Chunk:
    """A span of a document cut along its own structure; text == document.text[start:end]."""

    chunk_id: str  # f"{doc_id}#{ordinal}"
    doc_id: str
    source: str
    path: tuple[str, ...]  # structural path, e.g. ("第三章 职业教育的实施", "第二十四条")
    start: int
    end: int
    pages: tuple[int, ...]
    text: str
    # what kind of clause it is, read at indexing time: "definition" (本法所称…是指),
    # "obligation" (应当, 不得, 必须): the clauses "哪个文件规定了…" and "…是指什么" look for
    roles: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The innermost structural label (第二十四条, 三、…), or ""."""
        return self.path[-1] if self.path else ""

    @property
    def path_str(self) -> str:
        return " > ".join(self.path)


@dataclass(frozen=True)
class Failure:
    """A file that was skipped, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the document facts a citation needs."""

    chunk: Chunk
    title: str
    doc_number: str
    score: float
    retrievers: tuple[str, ...]  # which retrievers found it: dense, words, chars, doc_number, title
    status: str = ""  # the document's status in the register: 现行有效, 已修订, 已废止, 未知

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "doc_id": c.doc_id, "source": c.source, "title": self.title, "doc_number": self.doc_number,
            "chunk_id": c.chunk_id, "path": c.path_str, "article": c.label, "pages": list(c.pages),
            "start": c.start, "end": c.end, "text": c.text, "score": round(self.score, 6),
            "retrievers": list(self.retrievers), "status": self.status,
        }


@dataclass(frozen=True)
class Ranked:
    """One retrieval channel's best rows of a loaded index (words, chars, dense), best first.

    `exact` scores any rows on the channel when the store can (its local BM25 or vectors); without
    it a row outside the list scores 0, all a store that ranks elsewhere (Milvus) knows of it.
    """

    rows: np.ndarray  # int64 rows of the loaded index
    scores: np.ndarray  # float32, row-aligned
    exact: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False, repr=False)

    def scores_of(self, rows: np.ndarray) -> np.ndarray:
        """The channel's score of each of `rows`."""
        import numpy as np

        if self.exact is not None:
            return self.exact(rows)
        known = dict(zip(self.rows.tolist(), self.scores.tolist()))
        return np.array([known.get(int(r), 0.0) for r in rows], dtype=np.float32)


@dataclass(frozen=True)
class DocRecord:
    """What an index keeps of a document: its metadata and where it came from, not its text."""

    doc_id: str
    source: str
    format: str
    meta: DocMeta
    content_hash: str
    n_chunks: int
    n_pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        m = self.meta
        return {
            "doc_id": self.doc_id, "source": self.source, "format": self.format, "title": m.title,
            "doc_number": m.doc_number, "issuer": m.issuer, "date": m.date, "doc_type": m.doc_type,
            "dates": [{"kind": k, "date": d} for k, d in m.dates],
            "references": [{"title": r.title, "doc_number": r.doc_number} for r in m.references],
            "relations": [{"kind": r.kind, "title": r.target.title, "doc_number": r.target.doc_number,
                           "sentence": r.sentence, "start": r.start, "end": r.end} for r in m.relations],
            "status_set": m.status, "overridden": list(m.overridden),
            "chunks": self.n_chunks, "pages": self.n_pages, "content_hash": self.content_hash,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DocRecord":
        meta = DocMeta(
            title=d["title"], doc_number=d["doc_number"], issuer=d["issuer"], date=d["date"],
            dates=tuple((x["kind"], x["date"]) for x in d["dates"]),
            references=tuple(Reference(r["title"], r["doc_number"]) for r in d["references"]),
            doc_type=d.get("doc_type", ""),
            relations=tuple(Relation(r["kind"], Reference(r["title"], r["doc_number"]), r["sentence"], r["start"],
                                     r["end"]) for r in d.get("relations", ())),
            status=d.get("status_set", ""), overridden=tuple(d.get("overridden", ())),
        )
        return cls(d["doc_id"], d["source"], d["format"], meta, d["content_hash"], d["chunks"], d["pages"], d["extra"])


@dataclass(frozen=True)
class Citation:
    """A quoted span backing one [n] of an answer: quote == document text[start:end]."""

    n: int
    doc_id: str
    source: str
    title: str
    doc_number: str
    path: tuple[str, ...]
    pages: tuple[int, ...]
    start: int
    end: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "source": self.source, "title": self.title,
                "doc_number": self.doc_number, "path": " > ".join(self.path),
                "article": self.path[-1] if self.path else "", "pages": list(self.pages),
                "start": self.start, "end": self.end, "quote": self.quote}


@dataclass(frozen=True)
class Answer:
    """An answer whose every [n] marker points to citations[n-1]; or a refusal."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    related: tuple[Hit, ...] = ()  # nearest passages offered as 可能相关 when refused
    mode: str = "extractive"  # extractive | llm | a note on why the LLM answer was not used
    kind: str = ""  # the kind of question it answers (kb.question.KINDS), "" when not read
    confidence: float | None = None  # probability of a basis by the evidence model, when it decided
    understood: str = ""  # the question as searched: filler stripped, a follow-up completed from its history

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.text,
                "citations": [c.to_dict() for c in self.citations], "refused": self.refused,
                "related": [{"doc_id": h.chunk.doc_id, "title": h.title, "doc_number": h.doc_number,
                             "path": h.chunk.path_str} for h in self.related],
                "mode": self.mode, "kind": self.kind, "confidence": self.confidence, "understood": self.understood}
