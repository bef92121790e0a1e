"""Answer-stage benchmark on ../shared/eval/ncp dev (answerable) and bench/data/unanswerable_ncp.jsonl
(questions the 2020 policy corpus cannot answer, written for this project): answer quality, citation
of the gold document, false refusals, correct refusals, at each refusal threshold.

    python bench/answers.py [--index /tmp/policykb-bench-ncp] [--rebuild]

The threshold on evidence (share of the question's IDF-weighted words in the best passages) is
swept; the row marked * is the AnswerSettings default. Prints a table and one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.answer import AnswerSettings, answer_question, evidence, question_terms, weigh  # noqa: E402
from kb.config import BuildSettings, SearchSettings  # noqa: E402
from kb.evaluate import read_qa  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def contains_gold(answer_text: str, gold: str) -> bool:
    """The answer holds the gold answer, or its first 20 characters when the gold is longer."""
    gold = _squash(gold)
    return bool(gold) and gold[:20] in _squash(answer_text)


def _run(retriever, questions: list[str], golds: list[tuple[str, str]]) -> list[dict]:
    """Per question: evidence score, and the answer it gets when never refused."""
    never = replace(AnswerSettings(), min_coverage=0.0)
    rows = []
    for question, (gold_doc, gold_answer) in zip(questions, golds, strict=True):
        hits = retriever.search(question, SearchSettings(top_k=never.top_k))
        score = evidence(hits, weigh(retriever, question_terms(question)))
        answer = answer_question(retriever, question, never)
        rows.append({"evidence": score, "refused_anyway": answer.refused,
                     "contains_gold": bool(gold_answer) and contains_gold(answer.text, gold_answer),
                     "cites_gold_doc": any(c.doc_id == gold_doc for c in answer.citations)})
    return rows


def _at(threshold: float, answerable: list[dict], unanswerable: list[dict]) -> dict:
    def refused(row):
        return row["refused_anyway"] or row["evidence"] < threshold

    n, m = len(answerable), len(unanswerable)
    kept = [r for r in answerable if not refused(r)]
    return {"threshold": threshold,
            "answer_contains_gold": round(sum(r["contains_gold"] for r in kept) / n, 4),
            "citations_include_gold_doc": round(sum(r["cites_gold_doc"] for r in kept) / n, 4),
            "false_refusals": round(sum(map(refused, answerable)) / n, 4),
            "correct_refusals": round(sum(map(refused, unanswerable)) / m, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", default="/tmp/policykb-bench-ncp")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    corpus = SHARED / "eval/ncp/corpus.jsonl"
    if not corpus.exists():
        print(f"{corpus} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    build_index(corpus, Path(args.index), BuildSettings(), rebuild=args.rebuild)
    retriever = open_retriever(Path(args.index))
    items = read_qa(SHARED / "eval/ncp/dev.jsonl")
    unanswerable = [json.loads(line)["question"] for line in open(HERE / "data/unanswerable_ncp.jsonl", encoding="utf-8")]
    t = time.perf_counter()
    answerable_rows = _run(retriever, [i.question for i in items], [(i.gold_doc, i.answer) for i in items])
    unanswerable_rows = _run(retriever, unanswerable, [("", "")] * len(unanswerable))
    seconds = time.perf_counter() - t
    default = AnswerSettings().min_coverage
    table = [_at(th, answerable_rows, unanswerable_rows) for th in sorted({*THRESHOLDS, default})]
    print("threshold  contains-gold  cites-gold-doc  false-refusals  correct-refusals", file=sys.stderr)
    for row in table:
        mark = "*" if row["threshold"] == default else " "
        print(f"{row['threshold']:>8}{mark}  {row['answer_contains_gold']:>13}  {row['citations_include_gold_doc']:>14}"
              f"  {row['false_refusals']:>14}  {row['correct_refusals']:>16}", file=sys.stderr)
    out = {"answerable": len(items), "unanswerable": len(unanswerable), "default_threshold": default,
           "ms_per_answer": round(1000 * seconds / (len(items) + len(unanswerable)), 1), "sweep": table}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
