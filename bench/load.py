"""Load benchmark: the app serving 10% of ../shared/corpus-scale/laws, 20 concurrent gradio_client
users asking LeCoQA questions through /ask, while one upload adds a document through /upload.

    python bench/load.py [--clients 20] [--questions 1000] [--fraction 0.1] [--port 7890] [--start-index DIR]

Bounded in count and time, on 127.0.0.1 only. Reports throughput, latency p50/p95, errors, the
server's RSS over time, and whether the uploaded document is answerable afterwards (JSON).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coldstart import (  # bench/ is on sys.path when this runs as a script
    rss_mb,
    wait_http,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UPLOADED = "示例新增规定\n第一条 专业教师每五年累计到企业实践不少于六个月。\n"


def _subset(fraction: float) -> Path:
    laws = SHARED / "corpus-scale/laws"
    files = sorted(p for p in laws.rglob("*.md") if not p.relative_to(laws).parts[0] in ("DLC", "案例"))
    picked = files[:: max(1, round(1 / fraction))]
    out = Path(tempfile.mkdtemp(prefix="policykb-load-")) / "corpus"
    for f in picked:
        target = out / f.relative_to(laws)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--port", type=int, default=7890)
    ap.add_argument("--seconds", type=float, default=900, help="stop asking after this long")
    ap.add_argument("--start-index", help="start from a copy of this index of the same subset (`kb index` of it) "
                    "instead of building one; the app still checks it against the files on start")
    args = ap.parse_args()
    from gradio_client import Client, handle_file

    corpus = _subset(args.fraction)
    index = corpus.parent / "index"
    url = f"http://127.0.0.1:{args.port}/"
    server_log = corpus.parent / "app.log"  # a failed request is the server's fault only if it logged one
    if args.start_index:
        shutil.copytree(args.start_index, index)
    started = time.time()
    with open(server_log, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--corpus", str(corpus), "--index", str(index),
                                 "--port", str(args.port), "--allow-upload"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=log)
    rss: list[tuple[float, float]] = []
    stop = threading.Event()
    try:
        wait_http(url, proc, limit=1800)
        ready_s = time.time() - started

        def sample():
            while not stop.is_set():
                rss.append((round(time.time() - started, 1), round(rss_mb(proc.pid), 1)))
                stop.wait(2)

        threading.Thread(target=sample, daemon=True).start()
        rows = [json.loads(line) for line in open(SHARED / "eval/lecoqa/dev.jsonl", encoding="utf-8")]
        questions = [r["question"] for r in rows][: args.questions]
        # One Client per user, asking one question after another, as a person at a browser does. A
        # Client reads all its jobs' results from one event stream, which the server closes as soon as
        # the session has no job left; a job another thread submits on the same Client in that instant
        # is attached to the closing stream and ends as concurrent.futures.CancelledError on the client
        # while the server answers it (gradio_client 2.7.2; gradio issue #9968 is the same family).
        # Sharing 20 Clients among 20 threads by question number did that once in 1,000 questions.
        clients = [Client(url, verbose=False) for _ in range(args.clients)]
        latencies, errors = [], []
        deadline = time.time() + args.seconds

        def user(n: int) -> None:
            for question in questions[n:: len(clients)]:
                if time.time() > deadline:
                    return
                t = time.perf_counter()
                try:
                    json.loads(clients[n].predict(question, api_name="/ask"))
                    latencies.append(time.perf_counter() - t)
                except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                    errors.append(f"{type(e).__module__}.{type(e).__qualname__}: {e}"[:200])

        upload_result: list = []

        def upload() -> None:
            time.sleep(5)  # while the questions are flowing
            path = corpus.parent / "新增规定.txt"
            path.write_text(UPLOADED, encoding="utf-8")
            upload_result.append(Client(url, verbose=False).predict([handle_file(str(path))], api_name="/upload"))

        t0 = time.time()
        uploader = threading.Thread(target=upload)
        uploader.start()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(user, range(len(clients))))
        wall = time.time() - t0
        uploader.join(timeout=300)
        after = json.loads(Client(url, verbose=False).predict("专业教师每五年累计到企业实践多久？", api_name="/ask"))
        latencies.sort()
        n = len(latencies)
        out = {"documents_dir": str(corpus), "app_ready_seconds": round(ready_s, 1), "clients": args.clients,
               "answered": n, "errors": len(errors), "error_samples": errors[:5],
               "throughput_qps": round(n / wall, 2) if wall else None,
               "latency_s_p50": round(latencies[n // 2], 3) if n else None,
               "latency_s_p95": round(latencies[min(n - 1, int(n * 0.95))], 3) if n else None,
               "rss_mb_first": rss[0][1] if rss else None, "rss_mb_max": max(r[1] for r in rss) if rss else None,
               "rss_mb_last": rss[-1][1] if rss else None, "rss_over_time": rss[:: max(1, len(rss) // 20)],
               "upload": upload_result[0] if upload_result else None,
               "uploaded_document_answers": any("新增规定" in c["source"] for c in after["citations"]),
               "server_log": str(server_log),
               "server_tracebacks": server_log.read_text(encoding="utf-8", errors="replace").count("Traceback")}
        print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
