"""文号: find them in text and write each in its one canonical form."""

from __future__ import annotations

import re

from kb.metadata.common import CJK, PRC, SPACE, YEAR, fold, year_of

# --- 文号 -------------------------------------------------------------------------------------
#
# Three shapes are recognised, each with one canonical form:
#   bracket   机关代字〔年份〕序号号          教职成〔2019〕6号
#   order     机关令第序号号                  国务院令第741号 (a leading 中华人民共和国 is dropped,
#                                            because citations almost always omit it)
#   notice    机关公告年份年第序号号          财政部税务总局公告2020年第8号 (joint issuers are
#                                            written together, without spaces or 、)
# Matching runs on a length-preserving translation of the text (full-width digits -> ASCII,
# every bracket variant -> 〔〕), so spans found there are spans of the original text.

# Without a trailing 号 the number must be followed by a clear end, so 〔2019〕6条 never matches.
_NUM_END = r"(?:号|(?=[\s〕，,。;；、》：:]|$))"

_BRACKET_RE = re.compile(
    rf"(?P<code>[{CJK}]{{1,10}}){SPACE}〔{SPACE}(?P<year>{YEAR}){SPACE}〕{SPACE}(?:第{SPACE})?"
    rf"(?P<num>\d{{1,5}})(?!\d){SPACE}{_NUM_END}"
)
# The same end rule keeps "本令第3条" (an article of the order) from reading as 本令第3号.
_ORDER_RE = re.compile(
    rf"(?P<code>[{CJK}]{{1,24}}?令){SPACE}(?P<ob>〔)?{SPACE}(?:第{SPACE})?(?P<num>\d{{1,5}})(?!\d){SPACE}"
    rf"(?:(?P<hao>号)|{_NUM_END})(?(ob){SPACE}〕)"
)
_JOINT_END = "部|局|署|委|厅|院|办|会|行|府"  # one of several issuers of a joint 公告
_NOTICE_RE = re.compile(
    rf"(?P<code>(?:[{CJK}]{{1,12}}(?:{_JOINT_END})[ \u3000\xa0、]{{1,2}}){{0,4}}[{CJK}]{{1,16}}?公告)"
    rf"{SPACE}(?P<ob>〔)?{SPACE}(?P<year>(?:19|20)\d{{2}}){SPACE}年?{SPACE}第{SPACE}(?P<num>\d{{1,5}}){SPACE}号"
    rf"(?(ob){SPACE}〕)"
)

# Words that end the text in front of an agency code: citing verbs, particles, and document
# words. None of them occurs inside real 机关代字, so the code starts after the last one.
_CODE_BOUNDARY_RE = re.compile(
    "印发|转发|下发|发布|公布|根据|按照|依据|依照|参照|遵照|对照|执行|落实|贯彻|详见|文件|通知|意见"
    "|精神|要求|规定|办法|决定|以及|关于|有关|相关|什么|[问查讲说看找见的和及与了按据在对是即于由将以等为向把或并号年月日》、]"
)
# Full names of bodies that precede a code in running text ("教育部教职成〔2019〕6号").
# Real codes use abbreviations, so a full name at the start is never part of the code.
_CODE_ISSUER_RE = re.compile(
    rf"^[{CJK}]{{0,6}}?(?:教育部|财政部|国务院|办公厅|人民政府|委员会|教育厅|教育局"
    rf"|[省市区县][{CJK}]{{1,4}}?(?:委员会|[委局厅]))"
)


def _trim_code(code: str, strip_issuer: bool) -> int:
    """Offset in `code` where the real agency code starts (len(code) if nothing is left)."""
    start = 0
    # 中华人民共和国 contains 和, which must not count as a boundary.
    for m in _CODE_BOUNDARY_RE.finditer(code.replace(PRC, "Ｘ" * len(PRC))):
        start = m.end()
    if strip_issuer:
        m = _CODE_ISSUER_RE.match(code, start)
        if m and m.end() < len(code) - 1:
            start = m.end()
    return start


def _canonical(kind: str, m: re.Match[str], code: str) -> str | None:
    code = re.sub(r"[\s、]", "", code)
    if kind == "order":
        code = code.removeprefix(PRC)
        return f"{code}第{int(m['num'])}号" if len(code) >= 2 else None
    year = year_of(m["year"])
    if not 1949 <= year <= 2099:
        return None
    if kind == "notice":
        return f"{code}{year}年第{int(m['num'])}号" if len(code) >= 3 else None
    return f"{code}〔{year}〕{int(m['num'])}号"


def _matches(folded: str) -> list[tuple[int, int, str]]:
    """All 文号 in already-folded text, overlapping ones included."""
    found: list[tuple[int, int, str]] = []
    for kind, regex in (("bracket", _BRACKET_RE), ("order", _ORDER_RE), ("notice", _NOTICE_RE)):
        for m in regex.finditer(folded):
            code = m["code"]
            if kind == "order" and not (m["hao"] or "第" in m.group()):
                continue
            # In a joint 公告 "财政部、税务总局" the 、 separates issuers, it is no boundary.
            probe = code.replace("、", " ") if kind == "notice" else code
            cut = _trim_code(probe, strip_issuer=kind == "bracket")
            if cut >= len(code):
                continue
            canon = _canonical(kind, m, code[cut:])
            if canon:
                found.append((m.start() + cut, m.end(), canon))
    return found


def _extend_wrapped(text: str, start: int) -> int:
    """Pull in a code head cut off by a line wrap: "（教\\n\\n职成〔2020〕1号）" starts at 教."""
    m = re.search(rf"[（(《“]([{CJK}]{{1,3}})\s*\n\s*$", text[max(0, start - 12):start])
    return start - (len(m.group()) - 1) if m else start


def find_doc_numbers(text: str) -> list[tuple[int, int, str]]:
    """Every 文号 in `text` as (start, end, canonical), in order, without overlaps.

    The agency code is the run of CJK characters right before the bracket (at most 10),
    cut after the last citing verb, particle or document word (印发, 根据, 的, 》, 文件, …)
    and after a leading full body name (教育部, …办公厅, …人民政府).
    """
    spans = sorted(_matches(fold(text)), key=lambda s: (s[0], -s[1]))
    result: list[tuple[int, int, str]] = []
    for start, end, canon in spans:
        if result and start < result[-1][1]:
            continue
        start2 = _extend_wrapped(text, start)
        if start2 != start:
            head = re.sub(r"\s", "", text[start2:start])
            canon = head + canon
        result.append((start2, end, canon))
    return result


def normalize_doc_number(s: str) -> str | None:
    """The canonical 文号 for `s` (教职成〔2019〕6号, 国务院令第741号), or None if it is not one.

    `s` must be a 文号 alone, optionally wrapped in brackets, quotes or 《》, with any spacing.
    """
    compact = re.sub(r"\s", "", fold(s)).strip("《》“”\"'：:，,。")
    while compact.startswith("〔") and compact.endswith("〕") and not re.match(r"〔\d", compact):
        compact = compact[1:-1]
    found = _matches(compact)
    whole = [c for start, end, c in found if start == 0 and end == len(compact)]
    return whole[0] if whole else None
