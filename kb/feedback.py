"""有用 / 没用 on an answer, appended with the question, answer and citations to a JSONL log in the
index folder. Each line is also a QA line (question, gold_doc, answer) that `kb eval` reads: a
helpful answer's first cited document is its gold document and that citation's quote its answer;
an unhelpful one has no gold document, so eval times it but scores nothing on it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from kb.types import Answer

LOG = "feedback.jsonl"
VERDICTS = ("有用", "没用")
_LOCK = threading.Lock()  # two visitors clicking at once must not interleave their lines


def record(index_dir: Path, answer: Answer, verdict: str) -> dict:
    """Append one verdict on `answer` to INDEX/feedback.jsonl; the line written is returned."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {'/'.join(VERDICTS)}, got {verdict!r}")
    first = answer.citations[0] if answer.citations else None
    helpful = bool(first) and verdict == "有用"
    # gold_doc and answer are what `kb eval` scores: the cited document, and the quote it should find
    row = {"question": answer.question, "verdict": verdict, "gold_doc": first.doc_id if helpful else "",
           "answer": first.quote if helpful else "", "answer_text": answer.text,
           "citations": [c.to_dict() for c in answer.citations], "refused": answer.refused,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    line = json.dumps(row, ensure_ascii=False) + "\n"
    with _LOCK, open(Path(index_dir) / LOG, "a", encoding="utf-8") as f:
        f.write(line)
    return row
