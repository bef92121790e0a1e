"""The one obvious path: load -> metadata -> segment -> embed/tokenise -> index, then search -> ask."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import date
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from kb.config import AskSettings, BuildSettings
from kb.embed import get_embedder
from kb.errors import ConfigError, IngestError
from kb.ondisk import (MANIFEST, DocEntry, EmbedderInfo, IndexContents, IndexWriter, Manifest, Segment, SourceEntry,
                      build_lock, check_embedder, damaged, has_manifest, load_index, read_contents, read_manifest,
                      remove_leftovers, sha256_of)
from kb.ingest import LOADERS, SYMLINK_LOOP, find_files, read_file, resolved
from kb.metadata import extract_metadata
from kb.register import SIDECAR, Register, apply_overrides, read_sidecar
from kb.retrieve import Retriever
from kb.segment import segment
from kb.terms import TermCounts
from kb.tokenize import ANALYZERS, analyzer_fingerprint
from kb.types import Answer, Chunk, DocRecord, Document, Failure

# progress(stage, done, total, detail): stages are "load", "embed", "tokenize"
Progress = Callable[[str, int, int, str], None]


def _no_progress(stage: str, done: int, total: int, detail: str) -> None:
    pass


@dataclass
class BuildReport:
    """What an index run did, for the CLI summary."""

    documents: int = 0
    chunks: int = 0
    files: int = 0
    reused_documents: int = 0
    embedded_chunks: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    dense_index: str = ""
    # load, embed, tokenize, index (new segment, merges, search structures), write (the commit)
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Parts:
    """A build's documents in corpus order: those that stay where the last build stored them, and
    the new or changed ones with their chunks (vectors None until embedded)."""

    order: list[str] = field(default_factory=list)  # every document id
    kept: dict[str, DocEntry] = field(default_factory=dict)  # doc id -> its entry in the last manifest
    records: list[DocRecord] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[np.ndarray | None] = field(default_factory=list)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    reused: int = 0
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # doc id -> metadata.csv fields

    @property
    def n_chunks(self) -> int:
        return sum(e.chunks for e in self.kept.values()) + len(self.chunks)

    def add(self, record: DocRecord, chunks: list[Chunk], vectors: list[np.ndarray | None]) -> None:
        self.order.append(record.doc_id)
        self.records.append(record)
        self.chunks.extend(chunks)
        self.vectors.extend(vectors)

    def keep(self, doc_id: str, entry: DocEntry) -> None:
        self.order.append(doc_id)
        self.kept[doc_id] = entry


class _Previous:
    """The last build as its manifest describes it, looked up by source and by document.

    Its documents stay in the segments that hold them; only when today's analyzers differ from the
    ones that counted their terms are they rewritten, from `contents` (vectors kept, terms recounted).
    """

    def __init__(self, manifest: Manifest | None = None, contents: IndexContents | None = None):
        self.manifest = manifest
        self.sources: dict[str, SourceEntry] = manifest.sources if manifest else {}
        self.documents: dict[str, DocEntry] = manifest.documents if manifest else {}
        self.contents = contents
        self.records = {r.doc_id: r for r in contents.records} if contents else {}
        self.rows: dict[str, list[int]] = {}
        for row, c in enumerate(contents.chunks if contents else []):
            self.rows.setdefault(c.doc_id, []).append(row)

    def reuse(self, doc_id: str, parts: _Parts) -> None:
        if self.contents is None:
            parts.keep(doc_id, self.documents[doc_id])
        else:
            rows = self.rows.get(doc_id, [])
            parts.add(self.records[doc_id], [self.contents.chunks[r] for r in rows],
                      [self.contents.vectors[r] for r in rows])
        parts.reused += 1


def content_hash(doc: Document) -> str:
    """Identity of a document's content: its text and the container's title."""
    h = hashlib.sha256()
    for part in (doc.title_hint, doc.text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def index_text(title: str, chunk: Chunk) -> str:
    """What the retrievers see for a chunk: its document title and structural path, then its text."""
    return "\n".join(part for part in (title, chunk.path_str, chunk.text) if part)


def build_index(corpus: Path, index_dir: Path, settings: BuildSettings = BuildSettings(), *,
                rebuild: bool = False, progress: Progress = _no_progress) -> BuildReport:
    """Index every supported file under `corpus` into `index_dir`, reusing unchanged documents."""
    started = time.perf_counter()
    corpus, index_dir = Path(corpus), Path(index_dir)
    if not corpus.exists():
        raise IngestError(str(corpus), "no such file or folder")
    embedder = _embedder(settings.embedder, settings.model)
    with build_lock(index_dir):
        return _build(corpus, index_dir, settings, embedder, rebuild, progress, started)


def _build(corpus: Path, index_dir: Path, settings: BuildSettings, embedder, rebuild: bool,
           progress: Progress, started: float) -> BuildReport:
    previous = _Previous() if rebuild else _previous_index(index_dir, settings, embedder)
    clock = _StageClock()
    parts = clock("load", _gather, corpus, index_dir, settings, previous, progress)
    kind = _dense_kind(settings, parts.n_chunks)
    if _unchanged(previous, parts, settings):
        # nothing to redo: the index on disk already is this corpus under these settings
        remove_leftovers(index_dir)  # what a build killed after its commit did not delete
        return _report(parts, 0, kind, clock, started)
    embedded = sum(v is None for v in parts.vectors)
    vectors, titles = clock("embed", _embed_missing, parts, embedder, progress)
    terms = clock("tokenize", _tokenize, parts, progress)
    # only the changed documents are written; everything else stays in the files that hold it
    with IndexWriter(index_dir, previous.manifest, dim=embedder.dim) as writer:
        segment = Segment(parts.records, parts.chunks, vectors, terms, titles)
        clock("index", _write_parts, writer, parts, segment, settings, embedder, kind, rebuild)
        clock("write", writer.commit, settings=settings,
              embedder=EmbedderInfo(embedder.name, embedder.model, embedder.dim), dense_index=kind,
              sources=parts.sources, failures=parts.failures, overrides=parts.overrides,
              build_seconds=round(time.perf_counter() - started, 2))
    return _report(parts, embedded, kind, clock, started)


def _report(parts: _Parts, embedded: int, kind: str, clock: "_StageClock", started: float) -> BuildReport:
    return BuildReport(len(parts.order), parts.n_chunks, len(parts.sources), parts.reused, embedded, parts.failures,
                       time.perf_counter() - started, kind, clock.seconds)


def _unchanged(previous: _Previous, parts: _Parts, settings: BuildSettings) -> bool:
    """Whether this run found exactly what the last build indexed, under the same settings."""
    old = previous.manifest
    return (old is not None and previous.contents is None and not parts.records
            and old.settings == settings and parts.sources == old.sources
            and tuple(parts.failures) == old.failures and parts.order == list(old.documents)
            and parts.overrides == old.metadata_overrides)


class _StageClock:
    """Runs a stage and keeps how long it took, for the summary and the benchmarks."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str, fn, *args, **kwargs):
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[stage] = round(time.perf_counter() - t, 3)
        return result


def _embedder(name: str, model: str | None):
    try:
        return get_embedder(name, model)
    except ValueError as e:  # an unknown name is a setting error for the person who typed it
        raise ConfigError(str(e)) from e


def _previous_index(index_dir: Path, settings: BuildSettings, embedder) -> _Previous:
    """The last build when it can be reused: same chunking settings and the same embedding model.

    Reads the manifest only: the documents it names are not read again. A manifest that is damaged
    or of another format is an error naming --rebuild: re-embedding everything unasked would take
    hours on a large corpus, and would replace an index a newer PolicyKB wrote.
    """
    if not has_manifest(index_dir):
        return _Previous()  # no index yet
    manifest = read_manifest(index_dir)
    old = manifest.settings
    same_chunks = (old.chunk_max_chars, old.chunk_min_chars, old.ocr) == (
        settings.chunk_max_chars, settings.chunk_min_chars, settings.ocr)
    same_model = (manifest.embedder.name, manifest.embedder.model) == (embedder.name, embedder.model)
    if not (same_chunks and same_model):
        return _Previous()
    if manifest.embedder.dim != embedder.dim:
        raise damaged(index_dir, f"{MANIFEST} says {embedder.name} vectors have {manifest.embedder.dim} "
                                 f"dimensions, the model gives {embedder.dim}")
    missing = [s for s in manifest.segments if not (index_dir / s).is_dir()]
    if missing:
        raise damaged(index_dir, f"{missing[0]} is missing")
    if manifest.analyzer == analyzer_fingerprint():
        return _Previous(manifest)
    # the analyzers changed since: every document's terms are counted again, its vectors kept
    return _Previous(manifest, read_contents(index_dir, manifest))


def _gather(corpus: Path, index_dir: Path, settings: BuildSettings, previous: _Previous,
            progress: Progress) -> _Parts:
    root = corpus if corpus.is_dir() else corpus.parent
    # an index kept inside the corpus folder (`kb index . --index index`) must not index itself
    inside = index_dir.resolve()
    files = [f for f in find_files(corpus) if inside not in (resolved(f) or f).parents]
    if not files:
        raise IngestError(str(corpus), f"no supported files ({' '.join(LOADERS)}) found")
    parts = _Parts()
    seen: set[str] = set()
    for i, path in enumerate(files):
        source = path.relative_to(root).as_posix()
        progress("load", i, len(files), source)
        _gather_file(path, root, source, settings, previous, parts, seen)
    progress("load", len(files), len(files), "")
    _sidecar_overrides(corpus, parts)
    return parts


def _sidecar_overrides(corpus: Path, parts: _Parts) -> None:
    """Metadata set by hand in CORPUS/metadata.csv, by document id; a bad file is reported, not fatal."""
    path = corpus / SIDECAR
    if not corpus.is_dir() or not path.is_file():
        return
    try:
        rows = read_sidecar(path)
    except IngestError as e:
        parts.failures.append(Failure(SIDECAR, f"{e.reason}; metadata.csv was not applied"))
        return
    ids = set(parts.order)
    for key, fields in rows.items():
        targets = (parts.sources[key].documents if key in parts.sources else ()) or ([key] if key in ids else [])
        if not targets:
            parts.failures.append(Failure(SIDECAR, f"row for {key!r}: no such indexed file or document"))
        for doc_id in targets:
            parts.overrides[doc_id] = fields


def _gather_file(path: Path, root: Path, source: str, settings: BuildSettings, previous: _Previous,
                 parts: _Parts, seen: set[str]) -> None:
    try:
        sha = sha256_of(path)
    except OSError as e:  # a symlink loop, or a file removed or made unreadable since it was found
        parts.failures.append(Failure(source, SYMLINK_LOOP if resolved(path) is None else
                                      f"cannot be read ({e.strerror or e})"))
        return
    old = previous.sources.get(source)
    if old and old.sha256 == sha and _reusable(old.documents, previous, seen):
        _reuse_documents(old.documents, source, sha, previous, parts, seen)
        return
    try:
        docs, bad_lines = read_file(path, root, ocr=settings.ocr)
    except IngestError as e:
        if old and _reusable(old.documents, previous, seen):
            # keep what was indexed before rather than lose it to a now-broken file
            parts.failures.append(Failure(source, f"{e.reason} (kept the previously indexed version)"))
            _reuse_documents(old.documents, source, old.sha256, previous, parts, seen)
        else:
            parts.failures.append(Failure(source, e.reason))
        return
    parts.failures.extend(bad_lines)
    ids = []
    for doc in docs:
        if doc.doc_id in seen:
            parts.failures.append(Failure(source, f"duplicate document id {doc.doc_id!r}; kept the first"))
            continue
        seen.add(doc.doc_id)
        ids.append(doc.doc_id)
        _add_document(doc, settings, previous, parts)
    # a file that lost a document to a clash is re-read next time, when the clash may be gone
    complete = len(ids) == len(docs)
    parts.sources[source] = SourceEntry(sha if complete else "", tuple(ids))


def _reusable(doc_ids: tuple[str, ...], previous: _Previous, seen: set[str]) -> bool:
    return all(d in previous.documents and d not in seen for d in doc_ids)


def _reuse_documents(doc_ids: tuple[str, ...], source: str, sha: str, previous: _Previous, parts: _Parts,
                     seen: set[str]) -> None:
    for doc_id in doc_ids:
        seen.add(doc_id)
        previous.reuse(doc_id, parts)
    parts.sources[source] = SourceEntry(sha, tuple(doc_ids))


def _add_document(doc: Document, settings: BuildSettings, previous: _Previous, parts: _Parts) -> None:
    digest = content_hash(doc)
    old = previous.documents.get(doc.doc_id)
    if old is not None and old.content_hash == digest:
        previous.reuse(doc.doc_id, parts)
        return
    doc = replace(doc, meta=apply_overrides(extract_metadata(doc), doc.extra.get("front_matter", {})))
    chunks = segment(doc, max_chars=settings.chunk_max_chars, min_chars=settings.chunk_min_chars)
    pages = max((p.page for p in doc.pages), default=0)
    record = DocRecord(doc.doc_id, doc.source, doc.format, doc.meta, digest, len(chunks), pages, doc.extra)
    parts.add(record, chunks, [None] * len(chunks))


def _embed_missing(parts: _Parts, embedder, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of every new or changed chunk (those kept from the last build are reused), and the new
    segment's records' title vectors (the law prior's, kb/lawprior.py: short texts, a second per 3,000)."""
    titles = {r.doc_id: r.meta.title for r in parts.records}
    title_vectors = embedder.embed_documents(list(titles.values())) if titles else np.zeros((0, embedder.dim))
    todo = [i for i, v in enumerate(parts.vectors) if v is None]
    if todo:
        texts = [index_text(titles[parts.chunks[i].doc_id], parts.chunks[i]) for i in todo]
        progress("embed", 0, len(texts), "")
        new = embedder.embed_documents(texts, progress=lambda done, total: progress("embed", done, total, ""))
        for i, vec in zip(todo, new):
            parts.vectors[i] = vec
    title_vectors = np.asarray(title_vectors, dtype=np.float32)
    if not parts.vectors:
        return np.zeros((0, embedder.dim), dtype=np.float32), title_vectors
    return np.vstack(parts.vectors).astype(np.float32), title_vectors


def _tokenize(parts: _Parts, progress: Progress) -> dict[str, TermCounts]:
    """Term counts per analyzer of the new and changed chunks (kept documents keep theirs)."""
    titles = {r.doc_id: r.meta.title for r in parts.records}
    texts = [index_text(titles[c.doc_id], c) for c in parts.chunks]

    def analysed(name, analyzer):
        progress("tokenize", 0, len(texts), name)
        for done, text in enumerate(texts, 1):
            yield analyzer(text)
            if done % 500 == 0 or done == len(texts):
                progress("tokenize", done, len(texts), name)

    return {name: TermCounts.from_tokens(analysed(name, analyzer)) for name, analyzer in ANALYZERS.items()}


def _dense_kind(settings: BuildSettings, n: int) -> str:
    if settings.dense_backend != "auto":
        return settings.dense_backend
    return "flat" if n <= settings.flat_max_vectors else "hnsw"


def _write_parts(writer: IndexWriter, parts: _Parts, segment: Segment, settings: BuildSettings, embedder,
                 kind: str, rebuild: bool) -> None:
    """The new segment, the merges the policy asks for, and the store's search structures."""
    from kb.store import store_class

    writer.add(parts.order, parts.kept, segment)
    writer.merge()
    store_class(settings.store).sync(writer, settings, embedder=embedder, kind=kind, rebuild=rebuild)


def ask(retriever: Retriever, question: str, settings: AskSettings | None = None, *, previous: Answer | None = None,
        use_llm: bool = True) -> Answer:
    """An answer to a question, every claim cited to its clause, or a plain refusal.

    The one door to answers for the CLI and the app. `settings.search` is the search it runs
    (top_k, fusion, weights, filters); a model writes the answer when `settings.llm` is set (and
    use_llm), the extractive answerer otherwise and whenever the model fails. `previous` is the
    conversation's last answer, for follow-ups (「那它是哪年通过的？」).
    """
    from kb.answer import answer_question

    settings = _for_today(retriever, settings or AskSettings(), use_llm)
    return answer_question(retriever, question, settings, previous=previous)


def ask_stream(retriever: Retriever, question: str, settings: AskSettings | None = None, *,
               previous: Answer | None = None, use_llm: bool = True) -> Iterator[str | Answer]:
    """`ask` for a UI: the model's text in pieces as it writes, then the checked Answer, always last."""
    from kb.answer import stream_answer

    settings = _for_today(retriever, settings or AskSettings(), use_llm)
    yield from stream_answer(retriever, question, settings, previous=previous)


def _for_today(retriever: Retriever, settings: AskSettings, use_llm: bool) -> AskSettings:
    """Statuses as of the day the question is asked: a server running past midnight notices a 施行
    date that has arrived. The register is rebuilt (milliseconds) only when the day changed."""
    today = settings.today or date.today().isoformat()
    index = retriever.index
    if index.register.today != today:
        index.register = Register(index.contents.records, today)
    return settings if use_llm else replace(settings, llm=None)


def open_retriever(index_dir: Path, embedder: str | None = None, model: str | None = None) -> Retriever:
    """Load an index and the embedder it was built with; refuse a different model."""
    index = load_index(index_dir)
    built = index.manifest.embedder
    name = embedder or built.name
    emb = _embedder(name, model or (built.model if name == built.name else None))
    check_embedder(index.manifest, Path(index_dir), emb.name, emb.model)
    return Retriever(index, emb)
