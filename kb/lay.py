"""A question in one's own words, read in the documents' words: 「女员工生孩子能休多少天假？」 is searched
with 女职工 生育 产假 too, and the evidence decision reads those words in the everyday ones' place (the
passage that answers says 生育, never 生孩子). The word list is kb/data/lay_terms.tsv."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from kb.errors import KBError
from kb.tokenize import tagged_words

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
    # a lookahead finds the longest word at every position, overlapping ones too (see _matches)
    return re.compile("(?=(" + "|".join(map(re.escape, words)) + "))") if words else None


# jieba's tags of names: places (宝山区), organisations (交通银行), people, and the domain terms (学分银行)
_NAME_TAGS = ("ns", "nt", "nr", "nz", "x")


def _name_insides(text: str) -> set[int]:
    """The offsets inside a name of `text` (after its first character)."""
    inside, offset = set(), 0
    for word, tag in tagged_words(text):
        if tag.startswith(_NAME_TAGS) and len(word) > 1:
            inside.update(range(offset + 1, offset + len(word)))
        offset += len(word)
    return inside


def _matches(text: str, path: Path = LEXICON_PATH) -> list[re.Match]:
    """The everyday words of `text`, left to right, the longest at each place, none overlapping.

    A word that starts inside a name is part of that name: 宝山区 holds 山区 and 学分银行 holds
    银行, and neither is about mountains or banks."""
    pattern = _pattern(path)
    if pattern is None:
        return []
    found = list(pattern.finditer(text))
    if not found:
        return []
    inside = _name_insides(text)
    out, end = [], 0
    for m in found:
        if m.start(1) >= end and m.start(1) not in inside:
            out.append(m)
            end = m.end(1)
    return out


def lay_words(text: str, path: Path = LEXICON_PATH) -> tuple[str, ...]:
    """The everyday words of the lexicon a text uses, longest first where they overlap."""
    return tuple(dict.fromkeys(m.group(1) for m in _matches(text, path)))


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
    table = lexicon(path)
    out, end = [], 0
    for m in _matches(text, path):
        out += [text[end:m.start(1)], " " + " ".join(table[m.group(1)]) + " "]
        end = m.end(1)
    return "".join(out) + text[end:]
