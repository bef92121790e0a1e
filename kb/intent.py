"""What a question asks beyond its words: a past version, a date, a definition, the document that
requires something, or a comparison of two places or documents."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.metadata import parse_date

# "旧法", "修订前", "原来的规定": the question is about a version no longer in force
_HISTORY = re.compile(r"旧法|旧版|老版|原法|原来|原先|修订前|修改前|修正前|废止前|以前的|过去的|曾经|当年|原《|"
                      r"原(?:办法|条例|规定|法律)|历史上")
# "修订后有什么变化", "新旧对比": every version is wanted
_CHANGE = re.compile(r"变化|演变|变迁|修订了什么|修改了什么|改了什么|新旧|前后|区别|不同|对比|比较")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?)?")
_DEFINITION = re.compile(r"是指|指的是|什么是|何为|何谓|定义|含义|概念|是什么意思|所称")
# "哪个文件规定了…", "…的依据是什么": the question wants the document and article, not only the rule.
# (Measured on ncp dev: widening this to 要求/由谁 ranks obligation clauses up where it does not help.)
_BASIS = re.compile(r"哪[个份些项部条一]{0,2}(?:文件|通知|规定|法律|法规|办法|条例|政策|条)|依据是什么|法律依据|政策依据|"
                    r"根据什么|出自哪|什么文件")
_PROVINCES = ["北京", "天津", "上海", "重庆", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆"]
_TITLE = re.compile(r"《([^《》]{2,80})》")
_VERSUS = re.compile(r"和|与|跟|同|及|、|vs|VS|对比|相比|比较")


@dataclass(frozen=True)
class Intent:
    """What a question asks for, read off its wording."""

    history: bool = False  # a superseded version is wanted (旧法, 修订前)
    change: bool = False  # every version is wanted (有什么变化)
    when: str = ""  # ISO date the question is about (2020年时 -> 2020-12-31), or ""
    definition: bool = False  # …是指什么, 什么是…
    basis: bool = False  # 哪个文件规定了…, …的依据是什么
    compare: tuple[str, ...] = ()  # two places or 《titles》 set side by side


def read_intent(question: str, places: tuple[str, ...] = ()) -> Intent:
    """The intent of a question; an empty Intent for an ordinary one.

    `places` are the place names the index's documents are about (青岛, 示例市): with the
    provinces, what a comparison "上海和青岛…" can set side by side.
    """
    q = question.strip()
    return Intent(
        history=bool(_HISTORY.search(q)),
        change=bool(_CHANGE.search(q)),
        when=_when(q),
        definition=bool(_DEFINITION.search(q)),
        basis=bool(_BASIS.search(q)),
        compare=_compared(q, places),
    )


_MARKERS = re.compile(_HISTORY.pattern + "|" + _CHANGE.pattern + r"|时候?|期间|当时|那时|现行|目前|现在")


def without_markers(question: str) -> str:
    """The question without its dates and words of time (2020年时, 旧法, 修订前): what it is about."""
    return _MARKERS.sub(" ", _YEAR.sub(" ", question))


def _when(question: str) -> str:
    """The date a question is set at: a full date, or the last day of a bare year."""
    m = _YEAR.search(question)
    if not m:
        return ""
    if m.group(2):
        iso = parse_date(m.group(0) if m.group(3) else f"{m.group(0)}1日")
        if iso:
            return iso
    return f"{m.group(1)}-12-31"


def _compared(question: str, places: tuple[str, ...]) -> tuple[str, ...]:
    """Two places ("上海和青岛") or two 《titles》 the question puts side by side, else ()."""
    if not _VERSUS.search(question):
        return ()
    titles = list(dict.fromkeys(_TITLE.findall(question)))
    if len(titles) >= 2:
        return tuple(titles[:2])
    found: list[tuple[int, str]] = []
    for name in sorted(set(_PROVINCES) | set(places), key=len, reverse=True):
        at = question.find(name)
        if at >= 0 and not any(s <= at < s + len(n) for s, n in found):
            found.append((at, name))
    found.sort()
    if len(found) >= 2:
        (a, first), (b, second) = found[:2]
        if _VERSUS.search(question[a + len(first):b]):
            return (first, second)
    return ()
