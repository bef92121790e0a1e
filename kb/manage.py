"""Keeping the knowledge base: remove a document, replace it with a new version (the old one is
marked 已修订 and linked to the new), and correct its metadata in CORPUS/metadata.csv, the file
`kb index` reads. Each change is made to the corpus, then indexed by the one incremental
build_index, so the index never holds what the corpus does not."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from kb.config import BuildSettings
from kb.errors import IngestError, KBError
from kb.register import SIDECAR, checked_fields, read_sidecar

# the columns metadata.csv is written with, in this order (read_sidecar also takes Chinese headers)
COLUMNS = ("file", "title", "doc_number", "issuer", "date", "doc_type", "status", "effective", "abolished",
           "replaced_by")
EDITABLE = COLUMNS[1:]


def _contents(index: Path):
    from kb.ondisk import read_contents, read_manifest

    return read_contents(index, read_manifest(index))


def find_record(index: Path, doc: str):
    """The indexed document with doc_id or file `doc`; KBError naming the index when there is none."""
    records = _contents(index).records
    match = next((r for r in records if r.doc_id == doc), None) or next((r for r in records if r.source == doc), None)
    if match is None:
        raise KBError(f"no document {doc!r} in {index}: give a doc_id or file from `kb docs`")
    return match


def _build(corpus: Path, index: Path, settings: BuildSettings | None, progress):
    from kb.ondisk import built_settings
    from kb.pipeline import build_index

    settings = settings or built_settings(index) or BuildSettings()
    return build_index(corpus, index, settings, **({"progress": progress} if progress else {}))


def remove_document(corpus: Path, index: Path, doc: str, settings: BuildSettings | None = None, progress=None):
    """Take a document out of the corpus and the index: its file is deleted, or, for one record of
    a JSONL file, that line is dropped; its metadata.csv row goes too. Returns the BuildReport."""
    corpus, index = Path(corpus), Path(index)
    record = find_record(index, doc)
    path = corpus / record.source
    if not path.is_file():
        raise KBError(f"{record.source}: not in the corpus folder {corpus}")
    if record.format == "jsonl" and _jsonl_ids(path) != [record.doc_id]:
        _drop_jsonl_record(path, record.doc_id)
    else:
        path.unlink()
    _edit_sidecar(corpus, lambda rows: {k: v for k, v in rows.items()
                                        if k not in (record.source, record.doc_id)
                                        and v.get("replaced_by") not in (record.source, record.doc_id)})
    return _build(corpus, index, settings, progress)


def replace_document(corpus: Path, index: Path, doc: str, new_file: Path, settings: BuildSettings | None = None,
                     progress=None):
    """Put `new_file` into the corpus beside the document `doc` replaces, and mark the old one
    已修订, replaced by the new (a metadata.csv row). Returns (new file's corpus path, BuildReport)."""
    corpus, index, new_file = Path(corpus), Path(index), Path(new_file)
    record = find_record(index, doc)
    if not new_file.is_file():
        raise KBError(f"{new_file}: no such file")
    folder = (corpus / record.source).parent
    target = free_path(folder / new_file.name)
    shutil.copyfile(new_file, target)
    new_source = target.relative_to(corpus).as_posix()
    key = record.source if record.format != "jsonl" else record.doc_id
    try:
        set_fields(corpus, key, {"status": "已修订", "replaced_by": new_source})
    except KBError:
        target.unlink()
        raise
    report = _build(corpus, index, settings, progress)
    failed = {f.source: f.reason for f in report.failures}
    if new_source in failed:  # the new version could not be read: undo, keep the old one in force
        target.unlink()
        set_fields(corpus, key, {"status": "", "replaced_by": ""})
        _build(corpus, index, settings, None)
        raise IngestError(new_source, failed[new_source])
    return new_source, report


def set_metadata(corpus: Path, index: Path, doc: str, fields: dict[str, str], settings: BuildSettings | None = None,
                 progress=None):
    """Correct a document's 文号, issuer, date, type, status, … in metadata.csv, then index the
    change. An empty value removes that correction. Returns the BuildReport."""
    corpus, index = Path(corpus), Path(index)
    record = find_record(index, doc)
    set_fields(corpus, record.source if record.format != "jsonl" else record.doc_id, fields)
    return _build(corpus, index, settings, progress)


def set_fields(corpus: Path, key: str, fields: dict[str, str]) -> None:
    """Set (or, with "", clear) fields of metadata.csv's row for `key`; KBError for a bad field or value."""
    unknown = [k for k in fields if k not in EDITABLE]
    if unknown:
        raise KBError(f"unknown metadata field(s) {', '.join(unknown)}; valid: {', '.join(EDITABLE)}")
    given = {k: (v or "").strip() for k, v in fields.items()}
    try:
        checked = checked_fields(given, SIDECAR, f"row for {key}")
    except IngestError as e:
        raise KBError(e.reason) from e

    def edit(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        row = {k: v for k, v in rows.get(key, {}).items() if k not in given}
        row.update(checked)
        rows = dict(rows)
        if row:
            rows[key] = row
        else:
            rows.pop(key, None)
        return rows

    _edit_sidecar(corpus, edit)


def _edit_sidecar(corpus: Path, edit) -> None:
    """Rewrite CORPUS/metadata.csv with edit(rows) through a temporary file, so a crash leaves the
    old file or the new one, never half of one."""
    path = Path(corpus) / SIDECAR
    try:
        rows = read_sidecar(path) if path.is_file() else {}
    except IngestError as e:
        raise KBError(f"{path}: {e.reason}; fix it by hand first") from e
    new = edit(rows)
    if new == rows:
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for file, row in new.items():
        writer.writerow({"file": file, **row})
    tmp = path.with_name(f".{SIDECAR}.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _jsonl_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            ids.append(str(row.get("doc_id", row.get("id", ""))).strip())
    return ids


def _drop_jsonl_record(path: Path, doc_id: str) -> None:
    """Rewrite a JSONL file without the line of `doc_id`; every other line is kept byte for byte."""
    kept = []
    for line in path.read_text(encoding="utf-8-sig").splitlines(keepends=True):
        try:
            row = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict) and str(row.get("doc_id", row.get("id", ""))).strip() == doc_id:
            continue
        kept.append(line)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    os.replace(tmp, path)


def free_path(path: Path) -> Path:
    """`path`, or name-1.ext, name-2.ext, … when it is taken."""
    stem, suffix, n = path.stem, path.suffix, 1
    while path.exists():
        path = path.with_name(f"{stem}-{n}{suffix}")
        n += 1
    return path
