"""Retrieval metrics on QA files: document-level (ncp: question, gold_doc, answer) and clause-level
(LeCoQA: question, gold_articles [{law, article}])."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from kb.config import SearchSettings
from kb.errors import KBError
from kb.metadata import normalize_title
from kb.types import Hit

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class QAItem:
    question: str
    gold_doc: str = ""
    answer: str = ""
    gold_articles: tuple[tuple[str, str], ...] = ()  # (law title, 第N条)


def read_qa(path: Path) -> list[QAItem]:
    """Read a QA JSONL file; a line without question or gold_doc is an error naming the line."""
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise KBError(f"{path}: cannot be read as UTF-8 text ({type(e).__name__})") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(_qa_item(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, KBError) as e:
            raise KBError(f"{path}:{lineno}: not a QA line with question and gold_doc or gold_articles ({e})") from e
    if not items:
        raise KBError(f"{path}: no questions")
    return items


def _qa_item(row: object) -> QAItem:
    from kb import validate

    if not isinstance(row, dict):
        raise ValueError(f"a JSON object is needed, not {type(row).__name__}")
    question = validate.question(row.get("question"))
    if not question:
        raise ValueError("empty question")
    articles = tuple((str(g["law"]), str(g["article"])) for g in row.get("gold_articles") or ())
    if "gold_doc" not in row and not articles:
        raise ValueError("no gold_doc and no gold_articles")
    answer = row.get("answer", "")
    return QAItem(question, str(row.get("gold_doc", "")), answer if isinstance(answer, str) else str(answer), articles)


def law_key(title: str) -> str:
    """A law's title as LeCoQA names it: without 中华人民共和国 (also inside 《》 of a judicial
    interpretation's title), spaces or punctuation."""
    return normalize_title(title.replace("中华人民共和国", ""))


def clause_found(hits: list[Hit], gold: tuple[tuple[str, str], ...], k: int) -> float:
    """1.0 when one of the first k hits is a gold (law, 第N条)."""
    wanted = {(law_key(law), article) for law, article in gold}
    return 1.0 if any((law_key(h.title), h.chunk.label) in wanted for h in hits[:k]) else 0.0


def clause_reciprocal_rank(hits: list[Hit], gold: tuple[tuple[str, str], ...], k: int = 10) -> float:
    """1 / the rank of the first gold (law, 第N条) among the first k hits, 0.0 when none is."""
    wanted = {(law_key(law), article) for law, article in gold}
    for rank, h in enumerate(hits[:k], start=1):
        if (law_key(h.title), h.chunk.label) in wanted:
            return 1.0 / rank
    return 0.0


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
    """Doc-level Recall@1/5/10, MRR@10 and answer-level Recall@5 for items with a gold_doc,
    clause-level Recall@1/5/10 and MRR@10 for items with gold_articles, and query latency."""
    deep = replace(settings, top_k=max(50, settings.top_k))
    sums: dict[str, float] = {}
    counts = {"doc": 0, "answer": 0, "clause": 0}
    latencies = []
    retriever.search(items[0].question, deep)  # warm-up: first-use loading is not query latency
    for item in items:
        t = time.perf_counter()
        hits = retriever.search(item.question, deep)
        latencies.append((time.perf_counter() - t) * 1000)
        for name, value in _scores(item, hits).items():
            sums[name] = sums.get(name, 0.0) + value
        counts["doc"] += bool(item.gold_doc)
        counts["answer"] += bool(item.gold_doc and item.answer)
        counts["clause"] += bool(item.gold_articles)
    result = {}
    for name, total in sums.items():
        kind = "answer" if name.startswith("answer") else "clause" if name.startswith("clause") else "doc"
        result[name] = round(total / counts[kind], 4)
    if counts["doc"] and not counts["answer"]:
        result["answer_recall@5"] = None
    n = len(items)
    latencies.sort()
    result.update({"questions": n, "latency_ms_p50": round(latencies[n // 2], 2),
                   "latency_ms_p95": round(latencies[min(n - 1, int(n * 0.95))], 2)})
    return result


def _scores(item: QAItem, hits: list[Hit]) -> dict[str, float]:
    scores = {}
    if item.gold_doc:
        ranking = doc_ranking(hits)
        for k in (1, 5, 10):
            scores[f"recall@{k}"] = recall_at(ranking, item.gold_doc, k)
        scores["mrr@10"] = reciprocal_rank(ranking, item.gold_doc)
        if item.answer:
            scores["answer_recall@5"] = answer_found(hits, item.answer)
    if item.gold_articles:
        for k in (1, 5, 10):
            scores[f"clause_recall@{k}"] = clause_found(hits, item.gold_articles, k)
        scores["clause_mrr@10"] = clause_reciprocal_rank(hits, item.gold_articles)
    return scores
