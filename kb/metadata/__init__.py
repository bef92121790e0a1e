"""Read metadata off a document: title, 文号 (normalised), issuer, dates and cited documents.

One module per kind of fact: kb.metadata.docnumber (文号), .dates, .issuers, .references (titles,
citations, relations), .doctype; `extract_metadata` here puts them together for one document.
"""

from __future__ import annotations

import re

from kb.metadata.common import CJK, fold
from kb.metadata.dates import DATE_RE, LAW_KINDS, dated_events, parse_date
from kb.metadata.docnumber import find_doc_numbers, normalize_doc_number
from kb.metadata.doctype import _PLACE_RE, document_type
from kb.metadata.issuers import (AGENCY_RE, LETTERHEAD_RE, bracket_issuer, code_issuer, congress_issuer,
                                 letterhead_issuer, signature)
from kb.metadata.references import (DOC_TYPE, DOC_TYPE_END_RE, TRAILING_NOTE_RE, extract_references,
                                    extract_relations, normalize_title, strip_span)
from kb.types import DocMeta, Document

__all__ = ["_PLACE_RE", "document_type", "extract_metadata", "extract_references", "extract_relations",
           "find_doc_numbers", "normalize_doc_number", "normalize_title", "parse_date", "strip_span"]

# --- document-level extraction ----------------------------------------------------------------

_HEADER_LIMIT = 600
_INFO_END = "<!-- INFO END -->"
_SKIP_LINE_RE = re.compile(
    r"^(?:<!--.*-->|签发人.*|[★☆]?\s*(?:特急|加急|急件|平急|特提|机密|秘密|绝密|明电).*|\d{1,8}|"
    r"第?\d+页.*|[-—=_*]{3,})$"
)


def _header(text: str) -> str:
    cut = text.find(_INFO_END, 0, 3000)
    return text[:cut] if cut >= 0 else text[:_HEADER_LIMIT]


def _head_units(text: str) -> list[str]:
    """Non-empty stripped lines of the header; long lines (joined scraped text) split on spaces."""
    units: list[str] = []
    for line in _header(text).split("\n"):
        line = line.strip().lstrip("#").strip()
        if not line:
            continue
        units.extend(line.split() if len(line) > 80 else [line])
    return units


def _is_noise_unit(unit: str) -> bool:
    return bool(
        _SKIP_LINE_RE.match(unit)
        or LETTERHEAD_RE.match(unit)
        or normalize_doc_number(unit)
        or (parse_date(unit) and len(DATE_RE.sub("", fold(unit)).strip("（）() ")) < 4)
    )


def _short(s: str, cap: int = 60) -> str:
    """`s` cut at its first sentence end, at most `cap` characters."""
    head = re.split(r"[。！？!?；;]", s, maxsplit=1)[0]
    return head[:cap].rstrip("，,、：: ")


def _strip_numbers(unit: str) -> str:
    """A unit without a 文号 glued to its start or (in brackets) to its end."""
    spans = find_doc_numbers(unit)
    if spans and not unit[:spans[0][0]].strip():
        unit = unit[spans[0][1]:].strip()
        spans = find_doc_numbers(unit)
    if spans and not unit[spans[-1][1]:].strip(" ）)〕】") and \
            re.search(r"[\s（(〔【]$", unit[:spans[-1][0]]):
        unit = re.sub(r"[（(〔【\s]*$", "", unit[:spans[-1][0]])
    return unit.strip()


def _title_like(unit: str) -> bool:
    if "。" in unit:
        return False
    return bool(re.match(r"[^《]{0,28}关于", unit)) or _ends_like_title(unit)


def _ends_like_title(unit: str) -> bool:
    return bool(DOC_TYPE_END_RE.search(TRAILING_NOTE_RE.sub("", unit)))


def _join_wrapped(units: list[str], i: int) -> str:
    """units[i], joined with up to two following units when the title wraps onto them."""
    title = units[i]
    for nxt in units[i + 1:i + 3]:
        if _ends_like_title(title) or len(title + nxt) > 100:
            break
        title += nxt
    return title if _ends_like_title(title) else units[i]


def _with_issuers(units: list[str], i: int, title: str) -> str:
    """Put back issuer names split off a title by spaces: 财政部 税务总局关于…的公告."""
    if title.find("关于") <= 0:
        return title
    names: list[str] = []
    for unit in reversed(units[max(0, i - 6):i]):
        if not AGENCY_RE.match(unit):
            break
        names.insert(0, unit)
    return " ".join(names + [title])


def _title_from_text(text: str) -> str:
    if _NEWS_OPENING_RE.match(text):  # "2023-07-24 17:16:54，正文：…", "，正文：…": no title line
        return _headline(text)
    units = [u for u in (_strip_numbers(u) for u in _head_units(text)) if u]
    units = [u for u in units if not _is_noise_unit(u)]
    for i, unit in enumerate(units[:8]):
        if len(unit) <= 120 and _title_like(unit):
            return _with_issuers(units, i, _clean_display(_join_wrapped(units, i)))
    return _headline(units[0], cap=60) if units else ""


# What opens a scraped news item before its first real words: a time stamp, 正文：, a source line,
# a 【…消息】 tag, a photo caption, a dateline (中国台湾网8月9日讯, 中新网重庆7月18日电(记者 马东)).
_DATELINE = r"[^\s，。；]{0,16}?\d{1,2}月\d{1,2}日[电讯](?:\s*[（(][^）)]{0,20}[）)])?"
_NEWS_LEAD_RE = re.compile(
    r"\s+|\d{1,6}[-/.]\d{1,2}(?:[-/.]\d{1,2})?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?|正文[：:]|据?新华社电"
    rf"|来源[：:]\s*(?:\S*?(?={_DATELINE})|[^\s，,]{{1,20}})|【[^】]{{1,20}}】|[（(]图片来源[：:][^）)]{{1,20}}[）)]|{_DATELINE}"
    r"|[^\s，。]{0,12}[讯电]\s*[（(][^）)]{0,30}[）)]|[^\w《“]+"
)
_NEWS_OPENING_RE = re.compile(r"\s*(?:\d{1,6}[-/.]\d{1,2}|[，。、：；,.:;|)）])")
_ORIGINAL_TITLE_RE = re.compile(r"原标题[：:]\s*([^\s。；]{4,80})")
_BYLINE_RE = re.compile(r"本报讯|[讯电]\s*[（(]记者")  # where a headline runs into the article


def _headline(text: str, cap: int = 30) -> str:
    """A title for a text without a title line (a scraped news item): its 原标题 when it gives one,
    else its first words once stamps, source lines and datelines are dropped; never a date or a
    fragment starting with punctuation. Cut at `cap` characters with an ellipsis."""
    original = _ORIGINAL_TITLE_RE.search(text[:200])
    if original:
        head = _BYLINE_RE.split(original.group(1), maxsplit=1)[0].strip("“”\"|")
    else:
        rest = text
        while m := _NEWS_LEAD_RE.match(rest):
            rest = rest[m.end():]
        head = _short(_clean_display(rest), 200).strip("“”\"|")
    return head if len(head) <= cap else head[:cap].rstrip("，,、：:（(“") + "…"


def _clean_display(s: str) -> str:
    """Drop spaces a PDF put between CJK characters; keep those between Latin words."""
    s = re.sub(rf"\s+(?=[{CJK}《》（）“”])|(?<=[{CJK}《》（）“”])\s+", "", s.strip())
    return re.sub(r"\s+", " ", s)


def _meaningful_hint(hint: str) -> bool:
    return len(re.findall(rf"[{CJK}]", hint)) >= 4 and not re.search(r"\.\w{2,4}$", hint)


def _own_doc_number(text: str) -> str:
    """The document's own 文号: standing alone (or in brackets) near the top, not a citation."""
    header = _header(text)
    orders: list[str] = []
    for start, end, canon in find_doc_numbers(header):
        before = header[max(0, start - 4):start]
        after = header[end:end + 4]
        if "》" in before or "。" in header[:start]:
            # a document's own 文号 comes before its first sentence; later ones are citations
            continue
        if "令第" in canon and re.match(r"\s*(?:公布|发布|修订)", after):
            orders.append(canon)
            continue
        # Standing alone, or glued to the end of an unquoted title ("…的通知人社部发〔2020〕11号").
        alone_before = re.search(rf"(?:^|[\s（(〔【]|{DOC_TYPE})$", before)
        alone_after = re.match(r"(?:$|[\s）)〕】]|附件|文件)", after)
        if alone_before and alone_after:
            return canon
    return orders[-1] if orders else ""


def _collect_dates(text: str, signed: str) -> tuple[tuple[str, str], ...]:
    """Dated events of the header, the signature date (成文) and those of the last lines."""
    header = _header(text)
    events = dated_events(header)
    if signed:
        events.append(("成文", signed))
    tail_start = max(len(header), len(text) - 200)
    # The last lines also hold 自…起施行 and the 版记's …印发; other dates there are history.
    events += [e for e in dated_events(text[tail_start:]) if e[0] in ("施行", "印发")]
    unique: list[tuple[str, str]] = []
    for event in events:
        if event not in unique and not (event[0] == "成文" and any(e[1] == event[1] for e in unique)):
            unique.append(event)
    return tuple(unique)


def _issue_date(dates: tuple[tuple[str, str], ...], signed: str) -> str:
    law = [iso for kind, iso in dates if kind in LAW_KINDS]
    if law:
        return max(law)
    if signed:
        return signed
    issued = [iso for kind, iso in dates if kind in ("成文", "印发", "发布")]
    return issued[0] if issued else ""


def _leading_iso_date(text: str) -> str:
    """"2023-07-24 17:16:54，正文：…": the date a news item or a web page export opens with."""
    m = re.match(r"\s*((?:19|20)\d{2}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2})?)?(?=[，,\s]|$)", text)
    return m.group(1) if m else ""


def extract_metadata(doc: Document) -> DocMeta:
    """Title, own 文号, issuer, issue date, dated events and references of one document."""
    text = doc.text
    title = _clean_display(doc.title_hint) if _meaningful_hint(doc.title_hint) else ""
    title = title or _title_from_text(text)
    own = _own_doc_number(text)
    header = _header(text)
    _pos, signed, signer = signature(text) or (0, "", "")
    dates = _collect_dates(text, signed)
    issuer = (
        letterhead_issuer(_head_units(text))
        or signer
        or bracket_issuer(header)
        or congress_issuer(header)
        or code_issuer(own)
    )
    refs = tuple(r for r in extract_references(text) if not (own and r.doc_number == own))
    # a document naming itself is no relation; one with its own title and another 文号 is (an older version)
    relations = tuple(r for r in extract_relations(text, title) if not (own and r.target.doc_number == own)
                      and (r.target.doc_number or normalize_title(r.target.title) != normalize_title(title)))
    return DocMeta(
        title=title,
        doc_number=own,
        issuer=issuer,
        date=_issue_date(dates, signed) or _leading_iso_date(text),
        dates=dates,
        references=refs,
        doc_type=document_type(title, issuer, dates, text, doc.format),
        relations=relations,
    )
