"""Checks on what people send (questions, dates, document names, top_k) before any search runs.

The CLI and the web app call these and show the InputError's message (English) or its `zh`; the
library below them may then assume well-formed input.
"""

from __future__ import annotations

import math
import re
from datetime import date

from kb.errors import InputError

# A question is a sentence or two; pasting a whole document costs the server seconds per thousand
# characters (tokenising, embedding, scoring) and holds up every other visitor's question.
MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BAD_DATE_ZH = "日期格式应为 YYYY-MM-DD，例如 2020-01-01。"


def text(value: object, what: str = "question", zh: str = "问题") -> str:
    """`value` as stripped text: a str of valid Unicode (no lone surrogates); else InputError."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, got {type(value).__name__}", f"{zh}必须是文字。")
    if _SURROGATE.search(value):
        # what Python makes of bytes that are not UTF-8 in argv, or a lone \ud800 sent as JSON
        raise InputError(f"{what} is not valid UTF-8 text", f"{zh}含有无法识别的字符。")
    return value.strip()


def question(value: object) -> str:
    """A question as text within MAX_QUESTION_CHARS; "" when empty (callers say how to fill it)."""
    q = text(value)
    if len(q) > MAX_QUESTION_CHARS:
        raise InputError(f"question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}",
                         f"问题太长（{len(q)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。")
    return q


def iso_date(value: object, what: str = "date") -> str:
    """A real calendar date as YYYY-MM-DD, or "" for none; 2020-13-45 and 2019/01/01 are refused."""
    if value is None:
        return ""
    d = text(value, what, "日期")
    if not d:
        return ""
    try:
        if not _ISO_DATE.fullmatch(d):
            raise ValueError
        date.fromisoformat(d)
    except ValueError:
        raise InputError(f"{what} {d!r} is not a date: use YYYY-MM-DD, e.g. 2020-01-01",
                         f"“{d}”不是有效日期。{BAD_DATE_ZH}") from None
    return d


def top_k(value: object) -> int:
    """How many passages: a whole number from 1 to MAX_TOP_K (a float from a slider is fine)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or int(value) != value):
        raise InputError(f"top_k must be a whole number, got {value!r}", "条数必须是整数。")
    if not 1 <= value <= MAX_TOP_K:
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}, got {int(value)}",
                         f"条数必须在 1 到 {MAX_TOP_K} 之间。")
    return int(value)


def missing_documents(index, names: tuple[str, ...] | list[str]) -> list[str]:
    """The names (document ids or 文号 in any bracket form) that name no document of `index`."""
    from kb.metadata import normalize_doc_number

    return [n for n in names if n not in index.records and normalize_doc_number(n) not in index.by_doc_number]
