"""Retrieval metrics on QA files shaped like ncp dev.jsonl: question, gold_doc, answer."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from kb.config import SearchSettings
from kb.errors import KBError
from kb.types import Hit

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class QAItem:
    question: str
    gold_doc: str
    answer: str = ""


def read_qa(path: Path) -> list[QAItem]:
    """Read a QA JSONL file; a line without question or gold_doc is an error naming the line."""
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(QAItem(row["question"], str(row["gold_doc"]), row.get("answer", "")))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise KBError(f"{path}:{lineno}: not a QA line with question and gold_doc ({e})") from e
    if not items:
        raise KBError(f"{path}: no questions")
    return items


def doc_ranking(hits: list[Hit]) -> list[str]:
    """Distinct document ids in the order their first chunk appears."""
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


def recall_at(ranking: list[str], gold: str, k: int) -> float:
    return 1.0 if gold in ranking[:k] else 0.0


def reciprocal_rank(ranking: list[str], gold: str, k: int = 10) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if doc == gold:
            return 1.0 / rank
    return 0.0


def answer_found(hits: list[Hit], answer: str, k: int = 5) -> float:
    """1.0 when one of the first k chunks contains the answer (whitespace ignored)."""
    target = _SPACE.sub("", answer)
    return 1.0 if target and any(target in _SPACE.sub("", h.chunk.text) for h in hits[:k]) else 0.0


def evaluate(retriever, items: list[QAItem], settings: SearchSettings = SearchSettings()) -> dict:
    """Doc-level Recall@1/5/10, MRR@10, answer-level Recall@5 and query latency."""
    deep = replace(settings, top_k=max(50, settings.top_k))
    sums = {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "answer_recall@5": 0.0}
    latencies = []
    answered = 0
    retriever.search(items[0].question, deep)  # warm-up: first-use loading is not query latency
    for item in items:
        t = time.perf_counter()
        hits = retriever.search(item.question, deep)
        latencies.append((time.perf_counter() - t) * 1000)
        ranking = doc_ranking(hits)
        for k in (1, 5, 10):
            sums[f"recall@{k}"] += recall_at(ranking, item.gold_doc, k)
        sums["mrr@10"] += reciprocal_rank(ranking, item.gold_doc)
        if item.answer:
            answered += 1
            sums["answer_recall@5"] += answer_found(hits, item.answer)
    n = len(items)
    result = {k: round(v / n, 4) for k, v in sums.items()}
    result["answer_recall@5"] = round(sums["answer_recall@5"] / answered, 4) if answered else None
    latencies.sort()
    result.update({"questions": n, "latency_ms_p50": round(latencies[n // 2], 2),
                   "latency_ms_p95": round(latencies[min(n - 1, int(n * 0.95))], 2)})
    return result
