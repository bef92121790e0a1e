"""Check the lay-word list (kb/data/lay_terms.tsv) against the documents it is meant to reach.

    python bench/data/check_lay_terms.py [LIST] [--corpus ../shared/corpus] [--laws ../shared/corpus-scale/laws]
                                         [--max-laws 3] [--show [--notices ../shared/eval/ncp/corpus.jsonl]]

An entry is `everyday word<TAB>formal words`. Rules:
- every formal word occurs in some document of the corpus or of the wider law collection, so putting
  it in the everyday word's place can match something;
- the everyday word is colloquial: it occurs in at most --max-laws of the corpus's laws (the .md files
  under vocational-law/). A word the laws use a lot (学校, 教师, 工资) is no lay word: replacing it would
  take the word the answering clause holds out of the question;
- no entry maps a word to itself, no everyday word is listed twice, no line lacks its tab or formal words.

Prints each problem and exits 1 when there is any, else prints a summary and exits 0 (2: a folder is
missing). --show prints, per entry, in how many laws the everyday word stands, and with --notices in how
many records of a JSONL file of notices: a word notices say themselves (银行, 社保) is no lay word for
questions asked of notices either, though that is left to judgement and measurement, not a rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
LIST = REPO / "kb" / "data" / "lay_terms.tsv"


@dataclass(frozen=True)
class Entry:
    line: int
    lay: str
    formal: tuple[str, ...]


def read_entries(path: Path) -> tuple[list[Entry], list[str]]:
    """The entries of a list file, and the problems of its lines (format, duplicates, self-maps)."""
    entries: list[Entry] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{path.name}:{n}"
        lay, sep, rest = line.partition("\t")
        lay, formal = lay.strip(), tuple(rest.split())
        if not sep or not lay or not formal:
            problems.append(f"{where}: expected 'everyday word<TAB>formal words', got {line!r}")
            continue
        if lay in seen:
            problems.append(f"{where}: {lay!r} is listed already on line {seen[lay]}")
        seen.setdefault(lay, n)
        if lay in formal:
            problems.append(f"{where}: {lay!r} maps to itself")
        if len(set(formal)) != len(formal):
            problems.append(f"{where}: a formal word of {lay!r} is repeated")
        entries.append(Entry(n, lay, formal))
    return entries, problems


def corpus_texts(root: Path) -> dict[str, str]:
    """File (or JSONL record) -> its text, for every .md/.txt file and .jsonl record under `root`."""
    texts: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix in {".md", ".txt"}:
            texts[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
        elif path.suffix == ".jsonl":
            texts.update(corpus_texts_of_file(path, path.relative_to(root).as_posix()))
    return texts


def corpus_texts_of_file(path: Path, name: str = "") -> dict[str, str]:
    """`name:line` -> the `text` of each record of a JSONL file."""
    name = name or path.name
    return {f"{name}:{n}": str(json.loads(line).get("text", ""))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()}


def check(entries: list[Entry], corpus: dict[str, str], laws: dict[str, str], max_laws: int) -> list[str]:
    """The problems of entries against the corpus (its laws: files under vocational-law/) and the wider laws."""
    corpus_laws = [text for name, text in corpus.items() if name.startswith("vocational-law/")]
    everything = "\n".join(list(corpus.values()) + list(laws.values()))
    problems = []
    for e in entries:
        where = f"line {e.line} ({e.lay})"
        missing = [w for w in e.formal if w not in everything]
        if missing:
            problems.append(f"{where}: formal words no document holds: {' '.join(missing)}")
        used = sum(e.lay in text for text in corpus_laws)
        if used > max_laws:
            problems.append(f"{where}: the everyday word stands in {used} of the {len(corpus_laws)} laws "
                            f"(at most {max_laws}): the laws say it themselves")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("list", nargs="?", type=Path, default=LIST)
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    ap.add_argument("--laws", type=Path, default=SHARED / "corpus-scale" / "laws")
    ap.add_argument("--max-laws", type=int, default=3)
    ap.add_argument("--show", action="store_true", help="print in how many laws each everyday word stands")
    ap.add_argument("--notices", type=Path, help="with --show: a JSONL file of notices to count the words in too")
    args = ap.parse_args(argv)
    for folder in (args.corpus, args.laws):
        if not folder.is_dir():
            print(f"{folder}: no such folder (the ../shared data folder beside the repo)", file=sys.stderr)
            return 2
    for path in (args.list, args.notices):
        if path is not None and not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
    entries, problems = read_entries(args.list)
    corpus, laws = corpus_texts(args.corpus), corpus_texts(args.laws)
    problems += check(entries, corpus, laws, args.max_laws)
    if args.show:
        corpus_laws = [t for n, t in corpus.items() if n.startswith("vocational-law/")]
        notices = list(corpus_texts_of_file(args.notices).values()) if args.notices else []
        for e in entries:
            held = f"{sum(e.lay in t for t in notices):4d}  " if args.notices else ""
            print(f"{sum(e.lay in t for t in corpus_laws):2d}  {held}{e.lay}\t{' '.join(e.formal)}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems in {args.list}", file=sys.stderr)
        return 1
    print(f"{args.list}: {len(entries)} entries, each formal word in the documents, each everyday word in at most "
          f"{args.max_laws} of the laws")
    return 0


if __name__ == "__main__":
    sys.exit(main())
