"""Lay-to-statute term translation: which words of a question predict which words of the clause that
answers it, learned from (question, gold clause) pairs and used to expand a query with weights."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kb.errors import KBError

FORMAT = "policykb-term-translation-1"
# What PolicyKB ships: fitted by `bench/lecoqa.py --fit-table` on the LeCoQA dev (question, gold
# clause) pairs. It holds word pairs and their weights only, no question text and no labels.
DEFAULT_TABLE = Path(__file__).with_name("data") / "term_translation.json"
# Article and chapter numbers (第一千零七十九条 gives jieba 一千, 千零, 第一千 …) say where a clause sits
# in one law's numbering, not what it is about; single characters (编, 条) match everywhere.
_NUMBERING = re.compile(r"^[第零〇一二三四五六七八九十百千万两]+[条章节编分款项之]?[一二三四五六七八九十]?$")


def is_statute_word(term: str) -> bool:
    """Whether a clause's word may be a translation target: two characters or more, not a number."""
    return len(term) >= 2 and not _NUMBERING.match(term)


@dataclass(frozen=True)
class TermTranslation:
    """Lay word -> the statute words it predicts, each with a positive weight, strongest first."""

    table: dict[str, tuple[tuple[str, float], ...]]
    pairs: int = 0  # how many (question, clause) pairs it was learned from

    def expand(self, words: Iterable[str], per_word: int = 8) -> dict[str, float]:
        """Statute words for a question's words, weighted: the mean over the question's distinct words of
        each one's weight for that statute word. Words the question already has are left out (the
        plain query matches them), so this is only what the question does not say itself."""
        asked = list(dict.fromkeys(words))
        if not asked:
            return {}
        out: dict[str, float] = {}
        for word in asked:
            for target, weight in self.table.get(word, ())[:per_word]:
                out[target] = out.get(target, 0.0) + weight / len(asked)
        for word in asked:
            out.pop(word, None)
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def coverage(self, words: Iterable[str]) -> float:
        """The share of a question's distinct words the table knows: high for lay legal questions like
        those it was learned from, low for other wording (a notice's 职业教育, 疫情防控)."""
        asked = set(words)
        return sum(w in self.table for w in asked) / len(asked) if asked else 0.0

    def save(self, path: Path) -> None:
        data = {"format": FORMAT, "pairs": self.pairs,
                "table": {w: [[t, round(x, 4)] for t, x in ts] for w, ts in sorted(self.table.items())}}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "TermTranslation":
        """The table in a file `save` wrote; any fault is a KBError naming the file."""
        try:
            data = read_format(path, FORMAT)
            table = {str(w): tuple((str(t), float(x)) for t, x in ts) for w, ts in data["table"].items()}
            return cls(table, int(data.get("pairs", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise KBError(f"{path}: not a term translation table ({e})") from e


def read_format(path: Path, expected: str) -> dict:
    """A JSON data file PolicyKB wrote, whose "format" must be `expected`; ValueError (or OSError) else."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != expected:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"format is {found!r}, expected {expected!r}")
    return data


@lru_cache(maxsize=4)
def load_table(path: Path = DEFAULT_TABLE) -> TermTranslation:
    """A table file, read once per process."""
    return TermTranslation.load(path)


def fit_translation(pairs: Iterable[tuple[list[str], list[str]]], background: Callable[[str], float], *,
                    min_pairs: int = 2, min_lift: float = 3.0, per_word: int = 20,
                    smoothing: float = 1.0) -> TermTranslation:
    """Learn which statute words follow which lay words.

    `pairs`: (question words, gold clause words); `background(t)`: the share of all indexed chunks that
    hold statute word t. A lay word w predicts t with P(t in clause | w in question), smoothed, times
    log(lift), lift being that probability over background(t): a word every clause has (应当) predicts
    nothing, one the gold clauses of 离婚 questions share (婚姻, 抚养) does. A pair seen fewer than
    `min_pairs` times is noise at this data size and is dropped.
    """
    with_word: Counter[str] = Counter()
    together: dict[str, Counter[str]] = {}
    n = 0
    for question, clause in pairs:
        n += 1
        targets = {t for t in clause if is_statute_word(t)}
        for w in set(question):
            with_word[w] += 1
            together.setdefault(w, Counter()).update(targets)
    table: dict[str, tuple[tuple[str, float], ...]] = {}
    for w, counts in together.items():
        scored = []
        for t, c in counts.items():
            if c < min_pairs:
                continue
            p = c / (with_word[w] + smoothing)
            lift = p / max(background(t), 1e-6)
            if lift >= min_lift:
                scored.append((t, p * math.log(lift)))
        if scored:
            scored.sort(key=lambda tx: (-tx[1], tx[0]))
            table[w] = tuple(scored[:per_word])
    return TermTranslation(table, n)


def refit_ibm1(table: TermTranslation, pairs: Iterable[tuple[list[str], list[str]]],
               background: Callable[[str], float], iterations: int = 10, per_word: int = 20) -> TermTranslation:
    """The table's weights refitted by IBM model 1 EM, started from the table: t(statute word | lay word)
    over the pairs the table holds, a NULL word producing each statute word at its `background` share.

    E-step: each distinct statute word of a gold clause is shared among the question's words that the
    table pairs it with, and NULL, in proportion to t; M-step: t(. | w) = w's shares, normalised. A statute
    word that several words of a question predict is credited to the one that predicts it best (婚姻 to
    离婚 rather than to 孩子), which co-occurrence counts cannot do. The pairs kept are the table's (the
    same words, so its coverage gate is unchanged); only their weights move.
    """
    t = {}
    for w, ts in table.table.items():
        total = sum(x for _, x in ts)
        t[w] = {s: x / total for s, x in ts}
    links = []
    for question, clause in pairs:
        words = [w for w in dict.fromkeys(question) if w in t]
        for s in dict.fromkeys(c for c in clause if is_statute_word(c)):
            by = [w for w in words if s in t[w]]
            if by:
                links.append((s, background(s), by))
    for _ in range(iterations):
        counts: dict[str, dict[str, float]] = {w: {} for w in t}
        for s, null, by in links:
            z = null + sum(t[w][s] for w in by)
            for w in by:
                counts[w][s] = counts[w].get(s, 0.0) + t[w][s] / z
        for w, cs in counts.items():
            total = sum(cs.values())
            if total > 0:  # a word no pair links keeps its start
                t[w] = {s: c / total for s, c in cs.items()}
    out = {w: tuple(sorted(ts.items(), key=lambda kv: (-kv[1], kv[0]))[:per_word]) for w, ts in t.items()}
    return TermTranslation({w: ts for w, ts in out.items() if ts}, table.pairs)
