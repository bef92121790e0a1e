"""Segments: immutable folders of some documents' records, chunks, vectors and term counts, checksummed."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.errors import BadIndexError
from kb.ondisk.manifest import damaged
from kb.terms import TermCounts
from kb.tokenize import ANALYZERS
from kb.types import Chunk, DocRecord

CHUNKS = "chunks.jsonl"
DOCS = "docs.jsonl"
VECTORS = "vectors.npy"
# one vector per document, its title embedded (the law prior, kb/lawprior.py); segments written before
# it existed have none
TITLES = "titles.npy"


@dataclass
class Segment:
    """One immutable folder of an index: some documents' records, their chunks, vectors and term counts."""

    records: list[DocRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    terms: dict[str, TermCounts]  # analyzer -> counts, row-aligned with chunks
    titles: np.ndarray | None = None  # (records, dim): each record's title embedded; None in older segments



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


def fsync(path: Path) -> None:
    """Flush a written file (or a folder's entries) to disk, so a power cut cannot reorder it after the commit."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)



def write_segment(folder: Path, segment: Segment) -> dict[str, str]:
    """Write a segment folder and flush it to disk; -> file name -> sha256, for the manifest."""
    if not np.isfinite(segment.vectors).all() or segment.titles is not None and not np.isfinite(segment.titles).all():
        raise BadIndexError("the embedder returned vectors that are not finite numbers (NaN or inf); nothing was written")
    folder.mkdir()
    _write_jsonl(folder / CHUNKS, (_chunk_to_dict(c) for c in segment.chunks))
    _write_jsonl(folder / DOCS, (r.to_dict() for r in segment.records))
    np.save(folder / VECTORS, np.ascontiguousarray(segment.vectors, dtype=np.float32))
    if segment.titles is not None:
        np.save(folder / TITLES, np.ascontiguousarray(segment.titles, dtype=np.float32))
    for name, terms in segment.terms.items():
        terms.save(folder / f"terms_{name}.npz")
    for path in folder.iterdir():
        fsync(path)
    fsync(folder)
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
        titles = np.load(folder / TITLES) if (folder / TITLES).exists() else None
    except (OSError, KeyError, ValueError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as e:
        raise damaged(index, f"{folder.name} is unreadable ({type(e).__name__}: {e})") from e
    problem = _segment_problem(chunks, records, vectors, terms, dim) or _titles_problem(titles, records, vectors)
    if problem:
        raise damaged(index, f"{folder.name}: {problem}")
    return Segment(records, chunks, vectors, terms, titles)


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



def _titles_problem(titles: np.ndarray | None, records: list[DocRecord], vectors: np.ndarray) -> str:
    """What does not fit in a segment's title vectors, or ""."""
    if titles is None:
        return ""
    if titles.dtype != np.float32 or titles.shape != (len(records), vectors.shape[1]):
        return f"title vectors of shape {titles.shape} ({titles.dtype}), not ({len(records)}, {vectors.shape[1]}) float32"
    return ""
