"""Check a pair of teacher question files against the corpus they are written over.

    python bench/data/check_teacher_set.py bench/data/teacher_fresh.jsonl bench/data/teacher_fresh_unanswerable.jsonl
    python bench/data/check_teacher_set.py ANSWERABLE UNANSWERABLE [--corpus ../shared/corpus] [--against OTHER.jsonl ...]

Answerable file: every span (answer, list_items, second_gold, alt_gold) stands verbatim in its
document, both as read from disk (a news record's `text`) and as kb.ingest reads it; `also_in` names
exactly the other documents holding the answer span (none missing, none without it); `gold_article`
is the 第N条 / section heading the span stands under; `span_group` is one group per (gold_doc, answer);
fields, styles and kinds are those of bench/data/README_teacher.md. Unanswerable file: every
`absent_terms` string occurs in no document, every `absent_in_doc` string not in its document.
`--against`: no question may repeat one of those files word for word; prints how many spans are new.

Prints each problem and exits 1 when there is any, else prints a summary and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.answers import read_jsonl  # noqa: E402
from kb.errors import IngestError  # noqa: E402
from kb.ingest import find_files, read_file  # noqa: E402

STYLES = {"conversational", "formal", "followup", "article", "list", "compare", "version", "paraphrase"}
KINDS = {"what", "when", "who", "how_many", "which_doc", "list", "compare", "version", "definition", "yes_no", "can_i"}
ANSWERABLE_FIELDS = {"id", "question", "gold_doc", "gold_file", "answer", "gold_article", "kind", "style", "history",
                     "also_in", "span_group"}
UNANSWERABLE_FIELDS = {"id", "question", "style", "reason", "history"}
ARTICLE_LINE = re.compile(r"^(第[一二三四五六七八九十百零〇两]+条)", re.M)
# the seed paper's section headings as kb.ingest reads them; the abstract line is labelled 摘要
PAPER_HEADING = re.compile(r"^(\[摘要\]|[一二三四五六七八九十]、\S+)", re.M)


@dataclass(frozen=True)
class Doc:
    file: str  # path of the file holding it, relative to the corpus
    raw: str  # the file as UTF-8 text, or a JSONL record's `text`
    ingested: str  # the text kb.ingest gives the indexer

    def holds(self, span: str) -> bool:
        return span in self.raw and span in self.ingested

    def has(self, span: str) -> bool:
        return span in self.raw or span in self.ingested


def load_corpus(root: Path) -> dict[str, Doc]:
    """doc_id -> Doc for every document the indexer would read under `root`."""
    docs: dict[str, Doc] = {}
    for path in find_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            ingested = {d.doc_id: d.text for d in read_file(path, root)[0]}
        except IngestError as e:
            raise SystemExit(f"{path}: cannot be read ({e})") from None
        if path.suffix == ".jsonl":
            raw = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    raw[str(record["id"])] = record["text"]
        else:
            raw = {rel: path.read_text(encoding="utf-8")}
        for doc_id, text in ingested.items():
            docs[doc_id] = Doc(rel, raw.get(doc_id, ""), text)
    return docs


def article_of(doc: Doc, span: str) -> str | None:
    """The 第N条 (a law: a file with 第N条 lines) or section heading (a paper) the span stands under;
    None for news records, header lines and a paper's title lines."""
    if doc.file.endswith(".jsonl"):
        return None
    if ARTICLE_LINE.search(doc.raw):
        text, pattern = doc.raw, ARTICLE_LINE
    else:
        text, pattern = doc.ingested, PAPER_HEADING
    at = text.find(span)
    # a heading counts when its line starts at or before the span (a span may begin with 第N条 itself)
    heads = [m.group(1) for m in pattern.finditer(text, 0, at + len(span)) if m.start() <= at]
    heads = ["摘要" if h == "[摘要]" else h for h in heads]
    return heads[-1] if heads else None


def _common(row: dict, fields: set[str], where: str, ids: set[str]) -> list[str]:
    """What both files ask of a row: its fields, a new id, a known style, history only on follow-ups."""
    problems = [f"{where}: missing field {f!r}" for f in sorted(fields - row.keys())]
    if row.get("id") in ids:
        problems.append(f"{where}: duplicate id")
    ids.add(row.get("id"))
    if row.get("style") not in STYLES:
        problems.append(f"{where}: unknown style {row.get('style')!r}")
    history = row.get("history", [])
    if not isinstance(history, list) or (row.get("style") == "followup") != bool(history):
        problems.append(f"{where}: history must be non-empty exactly for style followup")
    return problems


def check_answerable(rows: list[dict], docs: dict[str, Doc], name: str) -> list[str]:
    problems: list[str] = []
    groups: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"{name}:{n} ({row.get('id')})"
        problems += _common(row, ANSWERABLE_FIELDS, where, ids)
        if row.get("kind") not in KINDS:
            problems.append(f"{where}: unknown kind {row.get('kind')!r}")
        gold, answer = row.get("gold_doc"), row.get("answer", "")
        if gold not in docs:
            problems.append(f"{where}: gold_doc {gold!r} is no document of the corpus")
            continue
        if row.get("gold_file") != docs[gold].file:
            problems.append(f"{where}: gold_file {row.get('gold_file')!r} should be {docs[gold].file!r}")
        spans = [(gold, answer, "answer")] + [(gold, s, "list item") for s in row.get("list_items", [])]
        spans += [(g.get("doc"), g.get("answer", ""), "second_gold") for g in row.get("second_gold", [])]
        spans += [(g.get("doc"), g.get("answer", ""), "alt_gold") for g in row.get("alt_gold", [])]
        for doc_id, span, what in spans:
            if not span.strip():
                problems.append(f"{where}: empty {what}")
            elif doc_id not in docs:
                problems.append(f"{where}: {what} names {doc_id!r}, no document of the corpus")
            elif not docs[doc_id].holds(span):
                problems.append(f"{where}: {what} {span!r} is not verbatim in {doc_id} (on disk and as ingested)")
        if not answer or not docs[gold].holds(answer):
            continue
        holders = {d for d, doc in docs.items() if d != gold and doc.has(answer)}
        listed = set(row.get("also_in", []))
        if holders - listed:
            problems.append(f"{where}: also_in misses {sorted(holders - listed)}")
        if listed - holders:
            problems.append(f"{where}: also_in names documents without the span: {sorted(listed - holders)}")
        expected = article_of(docs[gold], answer)
        if row.get("gold_article") != expected:
            problems.append(f"{where}: gold_article {row.get('gold_article')!r}, the span stands under {expected!r}")
        group = groups.setdefault((gold, answer), row.get("span_group"))
        if group != row.get("span_group"):
            problems.append(f"{where}: span_group {row.get('span_group')!r}, the same span is in group {group!r}")
    seen: dict[str, tuple[str, str]] = {}
    for key, group in groups.items():
        if group in seen and seen[group] != key:
            problems.append(f"{name}: span_group {group!r} holds two different spans")
        seen[group] = key
    return problems


def check_unanswerable(rows: list[dict], docs: dict[str, Doc], name: str) -> list[str]:
    problems: list[str] = []
    ids: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"{name}:{n} ({row.get('id')})"
        problems += _common(row, UNANSWERABLE_FIELDS, where, ids)
        if not row.get("reason", "").strip():
            problems.append(f"{where}: no reason (its category, then why, e.g. 'entity swap: ...')")
        terms, per_doc = row.get("absent_terms") or [], row.get("absent_in_doc") or {}
        if not terms and not per_doc:
            problems.append(f"{where}: neither absent_terms nor absent_in_doc says what is absent")
        for term in terms:
            found = sorted(d for d, doc in docs.items() if doc.has(term))
            if found:
                problems.append(f"{where}: absent term {term!r} occurs in {found[:3]}")
        for doc_id, doc_terms in per_doc.items():
            if doc_id not in docs:
                problems.append(f"{where}: absent_in_doc names {doc_id!r}, no document of the corpus")
                continue
            problems += [f"{where}: {term!r} occurs in {doc_id}" for term in doc_terms if docs[doc_id].has(term)]
    return problems


def spans_of(rows: list[dict]) -> set[str]:
    spans = set()
    for row in rows:
        spans.add(row.get("answer", ""))
        spans.update(row.get("list_items", []))
        spans.update(g.get("answer", "") for g in row.get("second_gold", []))
    return spans - {""}


def check_against(answerable: list[dict], unanswerable: list[dict], others: list[Path]) -> tuple[list[str], str]:
    """Questions repeated word for word from `others`, and a line on how many spans are new."""
    old_rows = [row for path in others for row in read_jsonl(path)]
    old_questions = {row["question"] for row in old_rows}
    problems = [f"{row['id']}: question repeats an existing one: {row['question']}"
                for row in answerable + unanswerable if row["question"] in old_questions]
    old_spans = spans_of(old_rows)
    answers = [row["answer"] for row in answerable]
    new = sum(a not in old_spans for a in answers)
    apart = sum(not any(a in s or s in a for s in old_spans) for a in answers)
    return problems, (f"answer spans not among the {len(old_spans)} existing spans: {new}/{len(answers)}; "
                      f"neither inside nor around any of them: {apart}/{len(answers)}")


def check(answerable: Path, unanswerable: Path, corpus: Path, against: list[Path] = ()) -> tuple[list[str], str]:
    """All problems of the pair and a one-line summary."""
    docs = load_corpus(corpus)
    rows, missing = read_jsonl(answerable), read_jsonl(unanswerable)
    problems = check_answerable(rows, docs, answerable.name) + check_unanswerable(missing, docs, unanswerable.name)
    summary = f"{len(rows)} answerable, {len(missing)} unanswerable over {len(docs)} documents"
    if against:
        repeated, overlap = check_against(rows, missing, list(against))
        problems += repeated
        summary += f"; {overlap}"
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("answerable", type=Path)
    parser.add_argument("unanswerable", type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--against", type=Path, nargs="*", default=[],
                        help="earlier question files this pair must not repeat")
    args = parser.parse_args(argv)
    for path in [args.answerable, args.unanswerable, *args.against]:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
    if not args.corpus.is_dir():
        print(f"{args.corpus}: no such corpus folder", file=sys.stderr)
        return 2
    problems, summary = check(args.answerable, args.unanswerable, args.corpus, args.against)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s); {summary}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
