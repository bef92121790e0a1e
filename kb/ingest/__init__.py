"""Files -> Documents: the loader of each format by suffix, finding a corpus's files, reading one file.

Each format is its own module with a `load(path, source, *, ocr)` that returns the file's documents
and the parts it skipped (a JSONL file's bad lines); `LOADERS` names it by suffix. Cleanup and
decoding every format shares are in kb.ingest.clean, limits and the OCR budget in kb.ingest.limits.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from kb.errors import IngestError
from kb.ingest.clean import garbled_share
from kb.ingest.limits import (DEFAULT_MAX_BYTES, MAX_DOCX_EXPANDED, MAX_DOCX_PARAGRAPHS, MAX_DOCX_XML, MAX_OCR_PAGES,
                              MAX_PAGES, SYMLINK_LOOP, OcrBudget, ocr_budget)
from kb.types import Document, Failure

__all__ = ["DEFAULT_MAX_BYTES", "LOADERS", "MAX_DOCX_EXPANDED", "MAX_DOCX_PARAGRAPHS",
           "MAX_DOCX_XML", "MAX_OCR_PAGES", "MAX_PAGES", "SUPPORTED_SUFFIXES", "SYMLINK_LOOP", "UPLOAD_SUFFIXES",
           "OcrBudget", "find_files", "garbled_share", "loader_for", "ocr_budget", "read_file", "resolved"]

log = logging.getLogger(__name__)

Loader = Callable[..., tuple[list[Document], list[Failure]]]

# suffix -> "module:function"; a format is its module plus one line here, imported when a file of it
# is first read (the app and the CLI read the suffixes without importing any format)
LOADERS: dict[str, str] = {
    ".pdf": "kb.ingest.pdf:load",
    ".docx": "kb.ingest.docx:load",
    ".html": "kb.ingest.html:load",
    ".htm": "kb.ingest.html:load",
    ".txt": "kb.ingest.text:load",
    ".md": "kb.ingest.markdown:load",
    ".jsonl": "kb.ingest.jsonl:load",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(LOADERS)
# What the web UI accepts for upload: every format but those whose files name their own document
# ids (a visitor's JSONL line could take the id of a staff document).
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(s for s in LOADERS if s != ".jsonl")


def loader_for(suffix: str) -> Loader:
    """The load function registered for a file suffix (".pdf"); KeyError for an unsupported one."""
    module, name = LOADERS[suffix.lower()].split(":")
    return getattr(importlib.import_module(module), name)


# --- finding files -----------------------------------------------------------------------


def find_files(corpus: Path) -> list[Path]:
    """Supported files under `corpus` (recursively, sorted), or `[corpus]` if it is a file."""
    if corpus.is_file():
        return [corpus]
    if not corpus.is_dir():
        raise IngestError(str(corpus), "no such file or folder")
    root = corpus.resolve()
    found: list[Path] = []
    seen_dirs: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(corpus, followlinks=True):
        real = Path(dirpath).resolve()
        # Symlinks may point outside the corpus or back up the tree (a loop).
        if real in seen_dirs or not real.is_relative_to(root):
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        for name in filenames:
            path = Path(dirpath) / name
            if _is_hidden(name) or path.suffix.lower() not in LOADERS:
                continue
            real = resolved(path)
            # a symlink loop is kept, for reading it to report it; links out of the corpus are not
            if real is None or (real.is_relative_to(root) and path.is_file()):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(corpus).as_posix())


def resolved(path: Path) -> Path | None:
    """The real path of `path`, or None when it is a symlink loop (x1 -> x2 -> x1)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError before Python 3.13, OSError (ELOOP) since
        return None


def _is_hidden(name: str) -> bool:
    # "~$x.docx" is the lock file Word leaves next to an open document.
    return name.startswith((".", "~$"))


# --- one file ----------------------------------------------------------------------------


def read_file(
    path: Path, root: Path, *, ocr: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Document], list[Failure]]:
    """The documents in one file and its skipped JSONL lines; IngestError when nothing is usable.

    Any parser exception becomes an IngestError too: parsers raise anything on hostile files,
    and one file must never stop a run.
    """
    try:
        return _load(path, root, ocr=ocr, max_bytes=max_bytes)
    except IngestError:
        raise
    except Exception as e:  # noqa: BLE001
        log.debug("unexpected error reading %s", path, exc_info=True)
        raise IngestError(_source(path, root), f"unexpected error: {type(e).__name__}: {e}") from e


def _load(
    path: Path, root: Path, *, ocr: bool, max_bytes: int
) -> tuple[list[Document], list[Failure]]:
    source = _source(path, root)
    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise IngestError(source, f"unsupported file type {suffix or '(none)'!r}")
    if resolved(path) is None:
        raise IngestError(source, SYMLINK_LOOP)
    if not path.is_file():
        raise IngestError(source, "file not found")
    size = path.stat().st_size
    if size > max_bytes:
        limit = f"{size / 2**20:.1f} MiB > {max_bytes / 2**20:.1f} MiB"
        raise IngestError(source, f"file too large ({limit})")
    if size == 0:
        raise IngestError(source, "empty file")
    docs, skipped = loader_for(suffix)(path, source, ocr=ocr)
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        detail = "; ".join(f"{f.source}: {f.reason}" for f in skipped[:3])
        raise IngestError(source, f"no usable line ({detail})" if detail else "no text")
    return docs, skipped


def _source(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
