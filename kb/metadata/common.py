"""What every extractor matches with: character classes, and the length-preserving fold of brackets and digits.

Matching runs on a length-preserving translation of the text (full-width digits -> ASCII, every
bracket variant -> 〔〕), so spans found there are spans of the original text.
"""

from __future__ import annotations

_OPEN = "〔[［（(【〈﹝{｛〖"
_CLOSE = "〕]］）)】〉﹞}｝〗"
_FOLD = str.maketrans(
    {**{c: "〔" for c in _OPEN}, **{c: "〕" for c in _CLOSE},
     **{chr(0xFF10 + i): str(i) for i in range(10)}}
)
CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0, "0": 0}

CJK = r"\u4e00-\u9fff"
SPACE = r"[ \t\u3000\xa0]*"  # horizontal space: allowed around brackets and digits
YEAR = r"(?:19|20)\d{2}|[〇○零一二三四五六七八九]{4}"

PRC = "中华人民共和国"


def fold(text: str) -> str:
    """Full-width digits to ASCII and all bracket variants to 〔〕; keeps every offset."""
    return text.translate(_FOLD)


def year_of(raw: str) -> int:
    """A year written in digits or in Chinese numerals (二〇一九)."""
    if raw.isdigit():
        return int(raw)
    return int("".join(str(CN_DIGIT[c]) for c in raw))
