"""JSONL files: one document a line ({"doc_id" or "id", "text", "title", ...}); bad lines are reported."""

from __future__ import annotations

import json
from pathlib import Path

from kb.ingest.clean import clean_line, clean_text, decode
from kb.types import Document, Failure

def load(path: Path, source: str, *, ocr: bool) -> tuple[list[Document], list[Failure]]:
    text = decode(path.read_bytes(), source)
    docs: list[Document] = []
    failures: list[Failure] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            doc = _jsonl_document(line, source)
        except ValueError as e:
            failures.append(Failure(where, str(e)))
            continue
        if doc.doc_id in first_line:
            first = first_line[doc.doc_id]
            failures.append(Failure(where, f"duplicate id {doc.doc_id!r} (first on line {first})"))
            continue
        first_line[doc.doc_id] = lineno
        docs.append(doc)
    return docs, failures


def _jsonl_document(line: str, source: str) -> Document:
    """One JSONL line -> Document; ValueError with a plain reason when the line is unusable."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    id_key = "doc_id" if "doc_id" in record else "id"
    doc_id = record.get(id_key)
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or not str(doc_id).strip():
        raise ValueError("no doc_id or id")
    raw_text = record.get("text")
    if not isinstance(raw_text, str) or not (text := clean_text(raw_text)):
        raise ValueError("no text")
    title = record.get("title")
    extra = {k: v for k, v in record.items() if k not in (id_key, "text", "title")}
    return Document(
        doc_id=str(doc_id).strip(), source=source, text=text, format="jsonl",
        title_hint=clean_line(title) if isinstance(title, str) else "", extra=extra,
    )
