"""Reading an index: the live rows of its segments in corpus order, its store, and lookup tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from kb.config import BuildSettings
from kb.errors import BadIndexError
from kb.ondisk.manifest import EmbedderInfo, Manifest, SourceEntry, read_manifest
from kb.ondisk.segments import Segment, read_segment, verify
from kb.metadata import normalize_title
from kb.types import Chunk, DocRecord, Failure

if TYPE_CHECKING:  # annotations only: kb.register and kb.store import what they need lazily
    from kb.register import Register
    from kb.store import Store


@dataclass
class IndexContents:
    """Everything an index holds, in row order (documents in corpus order): chunk i has vector i."""

    settings: BuildSettings
    embedder: EmbedderInfo
    records: list[DocRecord]
    chunks: list[Chunk]
    read_vectors: Callable[[], np.ndarray] = field(repr=False)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # metadata set by hand in the corpus's metadata.csv, by document id; applied when loading
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # per document (records' order): its title embedded at indexing (the title as extracted, as the
    # chunks' indexed text has it), or None where its segment was written before title vectors existed
    titles: list[np.ndarray | None] = field(default_factory=list, repr=False)

    @cached_property
    def vectors(self) -> np.ndarray:
        """The live vectors in row order, gathered from the segments when first used: a store that
        holds them elsewhere (Milvus) never copies them into this process."""
        return self.read_vectors()


@dataclass
class Layout:
    """Where the live rows of a loaded index are stored, for a store that searches segment by segment."""

    segments: dict[str, Segment]
    logical: dict[str, np.ndarray]  # segment -> its row -> the row of the loaded index (int32), -1 when dead
    row_ids: np.ndarray  # row of the loaded index -> its stable id (what the dense graph is keyed by)
    next_row: int  # every id is below this


@dataclass
class LoadedIndex:
    """An index read from disk with lookup tables for retrieval; load once, search many times."""

    folder: Path
    manifest: Manifest
    contents: IndexContents
    store: Store
    records: dict[str, DocRecord] = field(init=False)
    chunk_doc: np.ndarray = field(init=False)  # row -> document ordinal, for filters
    doc_order: list[str] = field(init=False)
    by_doc_number: dict[str, list[str]] = field(init=False)
    by_title: dict[str, list[str]] = field(init=False)
    doc_rows: dict[str, list[int]] = field(init=False)
    register: Register = field(init=False)  # status, versions, relations

    def __post_init__(self) -> None:
        from kb.register import Register, staff_first, with_overrides

        self.contents.records = with_overrides(self.contents.records, self.contents.overrides)
        self.register = Register(self.contents.records)
        self.records = {r.doc_id: r for r in self.contents.records}
        self.doc_order = [r.doc_id for r in self.contents.records]
        ordinal = {d: i for i, d in enumerate(self.doc_order)}
        self.chunk_doc = np.array([ordinal[c.doc_id] for c in self.contents.chunks], dtype=np.int64)
        self.doc_rows = {}
        for row, c in enumerate(self.contents.chunks):
            self.doc_rows.setdefault(c.doc_id, []).append(row)
        self.by_doc_number, self.by_title = {}, {}
        for r in self.contents.records:
            if r.meta.doc_number:
                self.by_doc_number.setdefault(r.meta.doc_number, []).append(r.doc_id)
            key = normalize_title(r.meta.title)
            if len(key) >= 4:
                self.by_title.setdefault(key, []).append(r.doc_id)
        for table in (self.by_doc_number, self.by_title):
            for key, ids in table.items():
                table[key] = staff_first(ids, self.register.trust)

    @property
    def chunks(self) -> list[Chunk]:
        return self.contents.chunks


def read_layout(folder: Path, manifest: Manifest) -> tuple[IndexContents, Layout]:
    """The live rows of an index in corpus order, and where each is stored."""
    folder = Path(folder)
    dim = manifest.embedder.dim
    segments = {name: read_segment(folder / name, info.files, dim) for name, info in manifest.segments.items()}
    logical = {name: np.full(len(s.chunks), -1, dtype=np.int32) for name, s in segments.items()}
    records_in = {name: {r.doc_id: r for r in s.records} for name, s in segments.items()}
    records, chunks, row_ids, titles = [], [], [], []
    position = {name: {r.doc_id: i for i, r in enumerate(s.records)} for name, s in segments.items()}
    try:
        for doc_id, e in manifest.documents.items():
            held = segments[e.segment].chunks[e.row: e.row + e.chunks]
            if len(held) != e.chunks or (e.chunks and not held[0].doc_id == held[-1].doc_id == doc_id):
                raise KeyError(f"{doc_id} in {e.segment}")
            logical[e.segment][e.row: e.row + e.chunks] = np.arange(len(chunks), len(chunks) + e.chunks)
            records.append(records_in[e.segment][doc_id])
            held_titles = segments[e.segment].titles
            titles.append(None if held_titles is None else held_titles[position[e.segment][doc_id]])
            chunks.extend(held)
            row_ids.append(np.arange(e.id, e.id + e.chunks))
    except KeyError as e:
        raise BadIndexError(f"index at {folder} is damaged (no {e} where the manifest says); rebuild with --rebuild") from e
    row_ids = np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=np.int64)
    contents = IndexContents(
        settings=manifest.settings, embedder=manifest.embedder, records=records, chunks=chunks,
        read_vectors=partial(_gather_vectors, segments, logical, len(chunks), dim),
        sources=manifest.sources, failures=list(manifest.failures), overrides=manifest.metadata_overrides,
        titles=titles)
    return contents, Layout(segments, logical, row_ids.astype(np.int64), manifest.next_row)


def _gather_vectors(segments: dict[str, Segment], logical: dict[str, np.ndarray], n: int, dim: int) -> np.ndarray:
    """The live vectors in row order, read once from each segment's file."""
    vectors = np.empty((n, dim), dtype=np.float32)
    for name, segment in segments.items():
        live = logical[name] >= 0
        if live.all():
            vectors[logical[name]] = segment.vectors
        elif live.any():
            vectors[logical[name][live]] = segment.vectors[np.flatnonzero(live)]
        segment.vectors = None  # the loaded index keeps the gathered copy only
    return vectors


def read_contents(folder: Path, manifest: Manifest) -> IndexContents:
    """Every live document, chunk and vector of an index, in corpus order."""
    return read_layout(folder, manifest)[0]


def load_index(folder: Path) -> LoadedIndex:
    """Read an index folder and its search structures.

    A build that commits while this reads may delete the segments of the manifest read first; the
    read then starts over from the new manifest.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    for _ in range(3):
        try:
            return _load(folder, manifest)
        except BadIndexError:
            again = read_manifest(folder)
            if again == manifest:
                raise
            manifest = again
    return _load(folder, manifest)


def _load(folder: Path, manifest: Manifest) -> LoadedIndex:
    from kb.store import store_class

    contents, layout = read_layout(folder, manifest)
    for name, digest in (manifest.dense.sha256 if manifest.dense else {}).items():
        verify(folder / name, digest, folder)
    try:
        store = store_class(contents.settings.store).open(folder, manifest, contents, layout)
    except (OSError, RuntimeError, ValueError) as e:
        raise BadIndexError(f"index at {folder} is damaged ({e}); rebuild with --rebuild") from e
    return LoadedIndex(folder, manifest, contents, store)
