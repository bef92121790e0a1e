"""The budgets against hostile files and visitors, measured: how long each hostile input of issue 14
takes to be read or refused now, and what verifying index checksums adds to loading an index.

    python bench/hostile.py [--index-root /tmp/hostile-bench] [--rebuild]

Hostile files are generated in a temporary folder; the checksum figures use an index of
../shared/eval/ncp built with the hashing embedder (reused across runs). Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kb.errors import IngestError  # noqa: E402
from kb.ingest import read_file  # noqa: E402


def _timed(fn) -> tuple[float, str]:
    """Seconds fn() took, and "read" or the reason it was refused."""
    started = time.perf_counter()
    try:
        fn()
        outcome = "read"
    except IngestError as e:
        outcome = e.reason
    return round(time.perf_counter() - started, 3), outcome


def markup(folder: Path) -> dict:
    """1 MB and 256 KB of markup that the old patterns took quadratic time over (128 KB: 24.5 s)."""
    out = {}
    for suffix, unit in ((".txt", "<script>"), (".txt", "<!--"), (".md", "["), (".md", "**a ")):
        for size in (256 * 1024, 1024 * 1024):
            path = folder / f"markup-{size}{suffix}"
            path.write_text("第一条 正常文字。\n" + unit * (size // len(unit.encode())), encoding="utf-8")
            out[f"{unit!r} x {size // 1024} KB {suffix}"] = _timed(lambda: read_file(path, folder, ocr=False))[0]
    return out


def docx_body(folder: Path) -> dict:
    """The DOCX of the issue: 95 MB of one-line paragraphs, zipped to a few hundred KB."""
    import docx

    base = io.BytesIO()
    docx.Document().save(base)
    source = zipfile.ZipFile(base)
    path = folder / "paragraphs.docx"
    paragraph = "<w:p><w:r><w:t>第一条 甲</w:t></w:r></w:p>".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info.filename, source.read(info))
        with archive.open("word/document.xml", "w") as body:
            body.write(b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            for _ in range(95 * 2**20 // (len(paragraph) * 10_000)):
                body.write(paragraph * 10_000)
            body.write(b"</w:body></w:document>")
    seconds, outcome = _timed(lambda: read_file(path, folder, ocr=False))
    return {"zipped_kb": path.stat().st_size // 1024, "seconds": seconds, "outcome": outcome}


def ocr_pages(folder: Path, pages: int = 1999) -> dict:
    """The PDF of the issue: 1,999 pages, each the same image and no text."""
    from tests.test_hostile import image_pages_pdf

    path = folder / "scans.pdf"
    path.write_bytes(image_pages_pdf(pages))
    seconds, outcome = _timed(lambda: read_file(path, folder, ocr=True))
    return {"pages": pages, "mb": round(path.stat().st_size / 2**20, 2), "seconds": seconds, "outcome": outcome}


def long_question(index: Path) -> dict:
    """A 100,000-character question to the /ask handler (it took 52 s and 3 GB before the cap)."""
    import app
    from kb.pipeline import open_retriever

    ask = app.make_ask_api(open_retriever(index))
    started = time.perf_counter()
    reply = json.loads(ask("证" * 100_000))
    return {"seconds": round(time.perf_counter() - started, 4), "answer": reply["answer"]}


def checksums(index_root: Path, rebuild: bool) -> tuple[Path, dict]:
    """Load time of the ncp index with its checksums verified, and the share hashing takes."""
    from kb import index as kb_index
    from kb.config import BuildSettings
    from kb.pipeline import build_index

    corpus = REPO.parent / "shared" / "eval" / "ncp"
    folder = index_root / "ncp-hashing"
    if rebuild or not (folder / "manifest.json").exists():
        build_index(corpus, folder, BuildSettings(embedder="hashing"), rebuild=rebuild)
    manifest = kb_index.read_manifest(folder)
    files = [folder / seg / name for seg, info in manifest.segments.items() for name in info.files]
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        kb_index.load_index(folder)
        loads.append(time.perf_counter() - started)
    started = time.perf_counter()
    for path in files:
        kb_index.sha256_of(path)
    hashing = time.perf_counter() - started
    size = sum(p.stat().st_size for p in files)
    return folder, {"index_mb": round(size / 2**20, 1), "files": len(files), "load_s_best_of_3": round(min(loads), 3),
                    "hashing_s": round(hashing, 3), "hash_mb_per_s": round(size / 2**20 / hashing)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-root", default="/tmp/hostile-bench")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {"markup_seconds": markup(folder), "docx_95mb_body": docx_body(folder), "ocr_1999_pages": ocr_pages(folder)}
    index, result["checksums_ncp"] = checksums(Path(args.index_root), args.rebuild)
    result["question_100k_chars"] = long_question(index)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
