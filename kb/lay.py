"""A question in one's own words, read in the documents' words: 「女员工生孩子能休多少天假？」 is searched
with 女职工 生育 产假 too, and the evidence decision reads those words in the everyday ones' place (the
passage that answers says 生育, never 生孩子). The word list is kb/data/lay_terms.tsv."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from kb.errors import KBError

LEXICON_PATH = Path(__file__).with_name("data") / "lay_terms.tsv"


@lru_cache(maxsize=4)
def lexicon(path: Path = LEXICON_PATH) -> dict[str, tuple[str, ...]]:
    """Everyday word -> the documents' words for it, read from a `lay<TAB>formal words` file."""
    out: dict[str, tuple[str, ...]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise KBError(f"{path}: cannot read the lay-word list ({e})") from e
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        lay, sep, formal = line.partition("\t")
        words = tuple(w for w in formal.split() if w != lay.strip())
        if not sep or not lay.strip() or not words:
            raise KBError(f"{path}:{n}: expected 'everyday word<TAB>formal words', got {line!r}")
        out[lay.strip()] = words
    return out


@lru_cache(maxsize=4)
def _pattern(path: Path = LEXICON_PATH) -> re.Pattern | None:
    words = sorted(lexicon(path), key=len, reverse=True)  # 非遗传承人 before 传人, 加班费 before 加班
    return re.compile("|".join(map(re.escape, words))) if words else None


def lay_words(text: str, path: Path = LEXICON_PATH) -> tuple[str, ...]:
    """The everyday words of the lexicon a text uses, longest first where they overlap."""
    pattern = _pattern(path)
    return tuple(dict.fromkeys(m.group(0) for m in pattern.finditer(text))) if pattern else ()


def formal_words(text: str, path: Path = LEXICON_PATH) -> tuple[str, ...]:
    """The documents' words for the everyday words of `text`, those it does not say itself."""
    table = lexicon(path)
    return tuple(dict.fromkeys(w for lay in lay_words(text, path) for w in table[lay] if w not in text))


def search_text(text: str, path: Path = LEXICON_PATH) -> str:
    """What to search for: the text and the documents' words for its everyday ones."""
    extra = formal_words(text, path)
    return f"{text} {' '.join(extra)}" if extra else text


def formalize(text: str, path: Path = LEXICON_PATH) -> str:
    """The text with each everyday word replaced by the documents' words (what a basis must hold)."""
    pattern = _pattern(path)
    if pattern is None:
        return text
    table = lexicon(path)
    return pattern.sub(lambda m: " " + " ".join(table[m.group(0)]) + " ", text)
