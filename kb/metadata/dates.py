"""Dates in Chinese and ISO forms, and the dated events of a document (通过, 发布, 施行, ...)."""

from __future__ import annotations

import re
from datetime import date as _date

from kb.metadata.common import CN_DIGIT, SPACE, fold, year_of

# --- dates ------------------------------------------------------------------------------------

_CN_MONTH = r"十[一二]?|[一二三四五六七八九]"
_CN_DAY = r"三十一?|[二]?十[一二三四五六七八九]?|[一二三四五六七八九]"
DATE_RE = re.compile(
    rf"(?P<y>(?:19|20)\d{{2}}){SPACE}年{SPACE}(?P<m>\d{{1,2}}){SPACE}月{SPACE}(?P<d>\d{{1,2}}){SPACE}日"
    rf"|(?P<cy>[〇○零O0一二三四五六七八九]{{4}}){SPACE}年{SPACE}(?P<cm>{_CN_MONTH}){SPACE}月{SPACE}"
    rf"(?P<cd>{_CN_DAY}){SPACE}日"
)
KIND_RE = re.compile("通过|修订|修正|施行|发布|公布|印发|成文")
_KIND_BEFORE_RE = re.compile(r"(成文|发布|印发|施行|公布)(?:日期|时间)[:：]?\s*$")
_KIND_ALIAS = {"公布": "发布"}
LAW_KINDS = ("通过", "修订", "修正")
_QUOTED_TITLE_RE = re.compile(r"《[^》]*》")
_OPEN_BRACKET_END_RE = re.compile(r"〔\s*$")
_CLOSE_BRACKET_START_RE = re.compile(r"\s*〕")


def _cn_number(s: str) -> int:
    if "十" not in s:
        return CN_DIGIT[s]
    tens, _, units = s.partition("十")
    return (CN_DIGIT[tens] if tens else 1) * 10 + (CN_DIGIT[units] if units else 0)


def iso_date(m: re.Match[str]) -> str | None:
    if m["y"]:
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    else:
        y, mo, d = year_of(m["cy"]), _cn_number(m["cm"]), _cn_number(m["cd"])
    try:
        return _date(y, mo, d).isoformat()
    except ValueError:
        return None


def parse_date(s: str) -> str | None:
    """ISO date for the first 2019年4月4日 / 二〇一九年四月四日 in `s`, or None."""
    for m in DATE_RE.finditer(fold(s)):
        iso = iso_date(m)
        if iso:
            return iso
    return None


def _kind_after(seg: str) -> str:
    seg = _QUOTED_TITLE_RE.sub("", seg)  # a 修正/印发 inside 《…》 belongs to a cited title, not to this date
    # "2018年3月20日印发的《…》同时废止": a kind word used attributively dates another document
    kinds = [m.group() for m in KIND_RE.finditer(seg) if not seg.startswith("的", m.end())]
    return _KIND_ALIAS.get(kinds[-1], kinds[-1]) if kinds else ""


def dated_events(text: str) -> list[tuple[str, str]]:
    """(kind, iso) for dates with a kind word after them (same line, before the next date)."""
    folded = fold(text)
    dated = [(m, iso) for m in DATE_RE.finditer(folded) if (iso := iso_date(m))]
    events: list[tuple[str, str]] = []
    for i, (m, iso) in enumerate(dated):
        stop = dated[i + 1][0].start() if i + 1 < len(dated) else len(folded)
        seg = folded[m.end():stop].split("\n", 1)[0][:80]
        before = _KIND_BEFORE_RE.search(folded[max(0, m.start() - 8):m.start()])
        kind = before.group(1) if before else _kind_after(seg)
        bracketed = (_OPEN_BRACKET_END_RE.match(folded[max(0, m.start() - 2):m.start()])
                     and _CLOSE_BRACKET_START_RE.match(seg))
        if not kind and bracketed:
            kind = "成文"  # "（2019年1月24日）" under a title
        if kind:
            events.append((_KIND_ALIAS.get(kind, kind), iso))
    return events
