"""Writing an index: one build's new segments, merges and store files, committed by replacing the manifest."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from kb.config import BuildSettings
from kb.errors import BadIndexError, IndexBusyError
from kb.ondisk.manifest import (MANIFEST, OURS, DenseState, DocEntry, EmbedderInfo, Manifest, SegmentEntry, SourceEntry,
                               has_manifest, library_versions, now, read_manifest)
from kb.ondisk.segments import VECTORS, Segment, checksums, fsync, read_segment, sha256_of, write_segment
from kb.terms import TermCounts
from kb.tokenize import ANALYZERS, analyzer_fingerprint
from kb.types import Failure

# what a format-1 index held; deleted once a format-2 manifest is committed in its place
_FORMAT_1 = ("chunks.jsonl", "docs.jsonl", "vectors.npy", "dense.faiss", "bm25_words", "bm25_chars", "tokens_words.txt")

# Merge policy (as Lucene's LogMergePolicy): segments are sized by live rows in powers of MERGE_FACTOR,
# and MERGE_FACTOR segments of one size become one, so a row is rewritten about log(N) times in
# all and each update stays small. When more than COMPACT_DEAD_FRACTION of the stored rows are
# dead, everything is rewritten into one segment.
MERGE_FACTOR = 8
COMPACT_DEAD_FRACTION = 0.3


@contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold the index folder for one build; a second build of the same folder fails at once."""
    import fcntl

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{folder.name}.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another `python -m kb index` is writing {folder}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)



def plan_merges(sizes: dict[str, tuple[int, int]], factor: int = MERGE_FACTOR,
                dead_fraction: float = COMPACT_DEAD_FRACTION) -> list[str]:
    """The segments to merge into one next, [] when none; `sizes` maps segment -> (rows, live rows)."""
    rows = sum(r for r, _ in sizes.values())
    live = sum(n for _, n in sizes.values())
    if live < rows and rows - live > dead_fraction * rows:
        return list(sizes)  # compaction: too much of what is stored is dead
    levels: dict[int, list[str]] = {}
    for name, (_, n) in sizes.items():
        levels.setdefault(int(math.log(max(n, 1), factor) + 1e-9), []).append(name)
    for level in sorted(levels):
        if len(levels[level]) >= factor:
            return levels[level]
    return []


class IndexWriter:
    """One build's changes to an index folder, made visible all at once by `commit`.

    In order: `add` the new segment, `merge` as the policy asks, let the store bring its files up to
    date (it reads `documents`, `vectors_of` and writes through `new_path` and `dense`), `commit`. Use
    as a context manager: if the build fails before the commit, what it wrote is removed and the
    previous index is as it was.
    """

    def __init__(self, folder: Path, previous: Manifest | None, *, dim: int):
        self.folder = Path(folder)
        self.dim = dim
        self.segments: dict[str, SegmentEntry] = dict(previous.segments) if previous else {}
        self.documents: dict[str, DocEntry] = {}  # every document of the build, in corpus order
        self.next_row = previous.next_row if previous else 0
        self.dense: DenseState | None = previous.dense if previous else None  # the store's dense files
        self._written: list[Path] = []
        self._counter = 0

    def __enter__(self) -> "IndexWriter":
        _prepare(self.folder)
        self._counter = max((int(m.group(1)) for p in self.folder.iterdir()
                             if (m := re.match(r"^(?:seg|dense)-(\d{6})", p.name))), default=0)
        return self

    def __exit__(self, kind, error, trace) -> None:
        if error is not None:
            for path in self._written:
                _remove(path)

    def new_path(self, prefix: str, suffix: str = "") -> Path:
        """A fresh name in the index folder for a file or folder this build writes."""
        self._counter += 1
        path = self.folder / f"{prefix}-{self._counter:06d}{suffix}"
        self._written.append(path)
        return path

    def add(self, order: list[str], kept: dict[str, DocEntry], segment: Segment) -> None:
        """Write the new documents as one segment and place every document of the corpus.

        `order` is every document id in corpus order; `kept` the manifest entries of those that stay
        where the last build put them; `segment` holds the others, in corpus order.
        """
        new: dict[str, DocEntry] = {}
        if segment.records:
            path = self.new_path("seg")
            row = 0
            for r in segment.records:
                new[r.doc_id] = DocEntry(r.content_hash, path.name, row, self.next_row + row, r.n_chunks)
                row += r.n_chunks
            self.segments[path.name] = SegmentEntry(len(segment.chunks), write_segment(path, segment))
            self.next_row += len(segment.chunks)
        self.documents = {d: kept[d] if d in kept else new[d] for d in order}
        self._drop_empty()

    def merge(self, factor: int = MERGE_FACTOR, dead_fraction: float = COMPACT_DEAD_FRACTION) -> None:
        """Merge segments by the policy above until it asks for nothing more."""
        while group := plan_merges(self.sizes(), factor, dead_fraction):
            self._merge(group)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Segment -> (stored rows, live rows)."""
        live = dict.fromkeys(self.segments, 0)
        for e in self.documents.values():
            live[e.segment] += e.chunks
        return {name: (info.rows, live[name]) for name, info in self.segments.items()}

    def vectors_of(self, entries: list[DocEntry]) -> np.ndarray:
        """The vectors of these documents' rows, in the order given."""
        by_segment: dict[str, np.ndarray] = {}
        parts = []
        for e in entries:
            if e.segment not in by_segment:
                by_segment[e.segment] = np.load(self.folder / e.segment / VECTORS, mmap_mode="r")
            parts.append(by_segment[e.segment][e.row: e.row + e.chunks])
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def live(self, group: list[str] | None = None) -> Segment:
        """The live rows of these segments (default: all) as one segment, documents in corpus order."""
        group = list(self.segments) if group is None else group
        members = set(group)
        sources = {name: read_segment(self.folder / name, self.segments[name].files, self.dim) for name in group}
        records = {name: {r.doc_id: r for r in s.records} for name, s in sources.items()}
        offsets = dict(zip(group, np.cumsum([0] + [len(sources[n].chunks) for n in group]).tolist()))
        moved = [(d, e) for d, e in self.documents.items() if e.segment in members]
        rows = np.concatenate([np.arange(e.chunks) + offsets[e.segment] + e.row for _, e in moved]) \
            if moved else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate([sources[n].vectors for n in group]) if group else np.zeros((0, self.dim))
        return Segment(
            records=[records[e.segment][d] for d, e in moved],
            chunks=[sources[e.segment].chunks[e.row + i] for d, e in moved for i in range(e.chunks)],
            vectors=vectors[rows].astype(np.float32),
            terms={a: TermCounts.concat([sources[n].terms[a] for n in group]).take(rows) for a in ANALYZERS},
            titles=_moved_titles(sources, moved))

    def commit(self, *, settings: BuildSettings, embedder: EmbedderInfo, dense_index: str,
               sources: dict[str, SourceEntry], failures: list[Failure], overrides: dict[str, dict[str, str]],
               build_seconds: float) -> Manifest:
        """Replace the manifest by one naming this build's segments: the moment the new index is in place."""
        self._record_checksums()
        manifest = Manifest(
            settings=settings, embedder=embedder, documents=self.documents, segments=self.segments,
            next_row=self.next_row, sources=sources, failures=tuple(failures), metadata_overrides=overrides,
            dense=self.dense, dense_index=dense_index, analyzer=analyzer_fingerprint(),
            libraries=library_versions(), built_at=now(), build_seconds=build_seconds)
        tmp = self.folder / f"{MANIFEST}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / MANIFEST)
        fsync(self.folder)
        self._written.clear()
        _collect_garbage(self.folder, manifest)
        return manifest

    def _record_checksums(self) -> None:
        """sha256 of every file the manifest will name: segments written before checksums existed get
        theirs now, and the store's dense files theirs (computed once, when first committed)."""
        for name, info in self.segments.items():
            if info.files is None:
                self.segments[name] = replace(info, files=checksums(self.folder / name))
        if self.dense:
            known = self.dense.sha256
            self.dense = replace(self.dense, sha256={f: known.get(f) or sha256_of(self.folder / f)
                                                     for f in self.dense.files})

    def _drop_empty(self) -> None:
        for name, (_, live) in self.sizes().items():
            if live == 0:
                del self.segments[name]

    def _merge(self, group: list[str]) -> None:
        """Rewrite the live rows of `group` as one segment."""
        merged = self.live(group)
        path = self.new_path("seg")
        files = write_segment(path, merged)
        row = 0
        for r in merged.records:
            self.documents[r.doc_id] = replace(self.documents[r.doc_id], segment=path.name, row=row)
            row += r.n_chunks
        for name in group:
            del self.segments[name]
        self.segments[path.name] = SegmentEntry(len(merged.chunks), files)


def _moved_titles(sources: dict[str, Segment], moved: list[tuple[str, DocEntry]]) -> np.ndarray | None:
    """The title vectors of the moved documents, in their order; None when a segment they come from has
    none (written before title vectors existed): the merged segment then has none either."""
    if not moved or any(sources[e.segment].titles is None for _, e in moved):
        return None
    position = {name: {r.doc_id: i for i, r in enumerate(s.records)} for name, s in sources.items()}
    return np.vstack([sources[e.segment].titles[position[e.segment][d]] for d, e in moved]).astype(np.float32)


def _prepare(folder: Path) -> None:
    """Make `folder` ready for a build: create it, refuse a folder that is not an index, and remove
    what killed builds left."""
    folder.mkdir(parents=True, exist_ok=True)
    if not has_manifest(folder) and any(not OURS.search(p.name) for p in folder.iterdir()):
        raise BadIndexError(f"{folder} exists and is not a PolicyKB index; refusing to replace it")
    remove_leftovers(folder)


def remove_leftovers(folder: Path) -> None:
    """Delete what killed builds left: files the manifest on disk does not name. Call under the build lock.

    Nothing is deleted while the manifest on disk cannot be read (damaged, or of another format): its
    segments are what a rebuild replaces, and they go only once the new manifest is committed.
    """
    for stale in [*folder.parent.glob(f".{folder.name}.tmp-*"), folder.with_name(f".{folder.name}.old")]:
        _remove(stale)  # a format-1 build's temporary folders
    if not folder.is_dir():
        return
    keep: set[str] = set()
    if has_manifest(folder):
        try:
            keep = read_manifest(folder).files()
        except BadIndexError:
            return
    for path in folder.iterdir():
        if OURS.search(path.name) and path.name not in keep:
            _remove(path)


def _collect_garbage(folder: Path, manifest: Manifest) -> None:
    """Delete what the committed manifest no longer names; a crash here only leaves garbage behind."""
    keep = manifest.files()
    for path in folder.iterdir():
        if (OURS.search(path.name) or path.name in _FORMAT_1) and path.name not in keep:
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
