"""Read metadata off a document: title, 文号 (normalised), issuer, dates and cited documents."""

from __future__ import annotations

import re
import unicodedata
from datetime import date as _date

from kb.types import DocMeta, Document, Reference, Relation

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

_OPEN = "〔[［（(【〈﹝{｛〖"
_CLOSE = "〕]］）)】〉﹞}｝〗"
_FOLD = str.maketrans(
    {**{c: "〔" for c in _OPEN}, **{c: "〕" for c in _CLOSE},
     **{chr(0xFF10 + i): str(i) for i in range(10)}}
)
_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0, "0": 0}

_CJK = r"\u4e00-\u9fff"
_S = r"[ \t\u3000\xa0]*"  # horizontal space: allowed around brackets and digits
_YEAR = r"(?:19|20)\d{2}|[〇○零一二三四五六七八九]{4}"
# Without a trailing 号 the number must be followed by a clear end, so 〔2019〕6条 never matches.
_NUM_END = r"(?:号|(?=[\s〕，,。;；、》：:]|$))"

_BRACKET_RE = re.compile(
    rf"(?P<code>[{_CJK}]{{1,10}}){_S}〔{_S}(?P<year>{_YEAR}){_S}〕{_S}(?:第{_S})?"
    rf"(?P<num>\d{{1,5}})(?!\d){_S}{_NUM_END}"
)
# The same end rule keeps "本令第3条" (an article of the order) from reading as 本令第3号.
_ORDER_RE = re.compile(
    rf"(?P<code>[{_CJK}]{{1,24}}?令){_S}(?P<ob>〔)?{_S}(?:第{_S})?(?P<num>\d{{1,5}})(?!\d){_S}"
    rf"(?:(?P<hao>号)|{_NUM_END})(?(ob){_S}〕)"
)
_JOINT_END = "部|局|署|委|厅|院|办|会|行|府"  # one of several issuers of a joint 公告
_NOTICE_RE = re.compile(
    rf"(?P<code>(?:[{_CJK}]{{1,12}}(?:{_JOINT_END})[ \u3000\xa0、]{{1,2}}){{0,4}}[{_CJK}]{{1,16}}?公告)"
    rf"{_S}(?P<ob>〔)?{_S}(?P<year>(?:19|20)\d{{2}}){_S}年?{_S}第{_S}(?P<num>\d{{1,5}}){_S}号"
    rf"(?(ob){_S}〕)"
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
    rf"^[{_CJK}]{{0,6}}?(?:教育部|财政部|国务院|办公厅|人民政府|委员会|教育厅|教育局"
    rf"|[省市区县][{_CJK}]{{1,4}}?(?:委员会|[委局厅]))"
)
_PRC = "中华人民共和国"


def _fold(text: str) -> str:
    """Full-width digits to ASCII and all bracket variants to 〔〕; keeps every offset."""
    return text.translate(_FOLD)


def _year(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    return int("".join(str(_CN_DIGIT[c]) for c in raw))


def _trim_code(code: str, strip_issuer: bool) -> int:
    """Offset in `code` where the real agency code starts (len(code) if nothing is left)."""
    start = 0
    # 中华人民共和国 contains 和, which must not count as a boundary.
    for m in _CODE_BOUNDARY_RE.finditer(code.replace(_PRC, "Ｘ" * len(_PRC))):
        start = m.end()
    if strip_issuer:
        m = _CODE_ISSUER_RE.match(code, start)
        if m and m.end() < len(code) - 1:
            start = m.end()
    return start


def _canonical(kind: str, m: re.Match[str], code: str) -> str | None:
    code = re.sub(r"[\s、]", "", code)
    if kind == "order":
        code = code.removeprefix(_PRC)
        return f"{code}第{int(m['num'])}号" if len(code) >= 2 else None
    year = _year(m["year"])
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
    m = re.search(rf"[（(《“]([{_CJK}]{{1,3}})\s*\n\s*$", text[max(0, start - 12):start])
    return start - (len(m.group()) - 1) if m else start


def find_doc_numbers(text: str) -> list[tuple[int, int, str]]:
    """Every 文号 in `text` as (start, end, canonical), in order, without overlaps.

    The agency code is the run of CJK characters right before the bracket (at most 10),
    cut after the last citing verb, particle or document word (印发, 根据, 的, 》, 文件, …)
    and after a leading full body name (教育部, …办公厅, …人民政府).
    """
    spans = sorted(_matches(_fold(text)), key=lambda s: (s[0], -s[1]))
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
    compact = re.sub(r"\s", "", _fold(s)).strip("《》“”\"'：:，,。")
    while compact.startswith("〔") and compact.endswith("〕") and not re.match(r"〔\d", compact):
        compact = compact[1:-1]
    found = _matches(compact)
    whole = [c for start, end, c in found if start == 0 and end == len(compact)]
    return whole[0] if whole else None


# --- titles -----------------------------------------------------------------------------------

_DOC_TYPE = (
    "通知|意见|办法|方案|规定|条例|法|决定|规划|纲要|标准|细则|批复|复函|函|公告|通告|报告|指南|目录"
    "|清单|计划|规则|规程|章程|措施|要点|决议|命令|令|指引|通报|制度|实施意见|指导意见|答复|公报"
)
_DOC_TYPE_END_RE = re.compile(rf"(?:{_DOC_TYPE})$")
_TRAILING_NOTE_RE = re.compile(r"[（(〔][^（）()]{1,12}[）)〕]$")  # （试行）, （2019年版）


def normalize_title(s: str) -> str:
    """Key for matching titles: NFKC, no 《》/quotes/punctuation/spaces, lower case."""
    folded = unicodedata.normalize("NFKC", s)
    kept = (c for c in folded if unicodedata.category(c)[0] not in "PZC")
    return "".join(kept).lower()


def _looks_like_doc_title(title: str) -> bool:
    core = _TRAILING_NOTE_RE.sub("", title)
    return len(core) >= 4 and bool(_DOC_TYPE_END_RE.search(core))


def _title_spans(text: str) -> list[tuple[int, int]]:
    """Spans of outermost 《…》 pairs; an unbalanced 《 restarts the scan."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for i, c in enumerate(text):
        if c == "《":
            if depth == 0:
                start = i
            depth += 1
        elif c == "》" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
        elif c in "。\n" and depth and i - start > 150:
            depth = 0
    return spans


def _clean_title(raw: str) -> str:
    return re.sub(r"\s+", "", raw).replace("《", "〈").replace("》", "〉")


# --- references -------------------------------------------------------------------------------

_ABBREV_RE = re.compile(r"(?:简称|下称|称)[：:“\"]?$")
_PAIR_GAP_RE = re.compile(r"^\s{0,3}[（(〔\[［]\s*$")


def _pair_number(text: str, title_end: int, numbers: list[tuple[int, int, str]]) -> str:
    for start, _end, canon in numbers:
        if start >= title_end and _PAIR_GAP_RE.match(text[title_end:start]):
            return canon
    return ""


def _abbreviations(text: str, spans: list[tuple[int, int]]) -> set[str]:
    """Normalised short names defined in the text: （以下简称《试点方案》）."""
    return {
        normalize_title(text[start + 1:end - 1])
        for start, end in spans
        if _ABBREV_RE.search(re.sub(r"\s", "", text[max(0, start - 8):start]))
    }


def _reference_events(text: str) -> list[tuple[int, Reference]]:
    numbers = find_doc_numbers(text)
    spans = _title_spans(text)
    short_names = _abbreviations(text, spans)
    events: list[tuple[int, Reference]] = []
    paired: set[int] = set()
    for start, end in spans:
        title = _clean_title(text[start + 1:end - 1])
        number = _pair_number(text, end, numbers)
        if number:
            paired.update(i for i, n in enumerate(numbers) if n[2] == number and n[0] >= end)
        elif not _looks_like_doc_title(title) or normalize_title(title) in short_names:
            continue
        events.append((start, Reference(title=title, doc_number=number)))
    events += [(s, Reference("", c)) for i, (s, _e, c) in enumerate(numbers) if i not in paired]
    return sorted(events, key=lambda e: e[0])


def extract_references(text: str) -> tuple[Reference, ...]:
    """Documents cited in `text`: 《title》（文号）, bare 文号, and 《title》 that name a document.

    De-duplicated by 文号, else by normalised title; first-seen order. A later mention that
    adds the missing half (title or 文号) fills it in.
    """
    refs: list[Reference] = []
    for _pos, ref in _reference_events(text):
        key_title = normalize_title(ref.title)
        for i, old in enumerate(refs):
            same_number = ref.doc_number and old.doc_number == ref.doc_number
            same_title = key_title and normalize_title(old.title) == key_title
            if same_number or (same_title and not (old.doc_number and ref.doc_number)):
                refs[i] = Reference(old.title or ref.title, old.doc_number or ref.doc_number)
                break
        else:
            refs.append(ref)
    return tuple(refs)


# --- relations --------------------------------------------------------------------------------

_SENTENCE_END = "。；;！？!?\n"
_ABOLISH_RE = re.compile(r"废止|停止执行|不再执行|同时失效")
# "对《X》作如下修改", "将《X》第五条修改为": the sentence changes X. A law's header line
# "…《关于修改〈X〉的决定》修正" only cites the decision that changed the law itself.
_REVISES_RE = re.compile(r"《[^》]*》(?:[^。；《]{0,20}?(?:作如下|作出如下)(?:修改|修订)|第[^。；《]{1,12}?(?:修改|修订)为)")
_TITLE_REVISES_RE = re.compile(r"关于(?:修改|修订)[《〈]([^《》〈〉]{2,60})[》〉]")
# "根据《…》…制定本办法", "为实施《…》", "为贯彻落实《…》": the document exists to carry the cited one out
_BASIS_RE = re.compile(r"^[^。；]*?(?:根据|依据|为了?实施|为了?贯彻(?:落实|执行|实施)?|按照)[^。；]*$")
_MAKES_OWN_RE = re.compile(r"制定本(?:办法|条例|规定|细则|实施办法|实施细则|方案|意见|规则|决定)")
_TITLE_IMPLEMENTS_RE = re.compile(r"实施《([^《》]{2,60})》(?:的)?(?:办法|细则|条例|规定|意见)")


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding text[start:end]: from after the previous end mark to the next one."""
    left = max((text.rfind(c, 0, start) for c in _SENTENCE_END), default=-1) + 1
    rights = [i for i in (text.find(c, end) for c in _SENTENCE_END) if i >= 0]
    right = min(rights) + 1 if rights else len(text)
    return strip_span(text, left, right)


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) narrowed past the whitespace at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _relation_kind(sentence: str, at: int) -> str:
    """What a sentence does with the document it cites at offset `at` (within the sentence)."""
    after = sentence[at:]
    if _ABOLISH_RE.search(after):
        return "abolishes"
    # "关于修改《X》的决定", "对《X》作如下修改", "《X》修订为"
    if _REVISES_RE.match(after):
        return "revises"
    if _BASIS_RE.match(sentence[:at]) and _MAKES_OWN_RE.search(sentence):
        return "implements"
    if re.match(r"^[^。；]{0,8}(?:为实施|为了实施|为贯彻落实|为贯彻实施)$", sentence[:at]):
        return "implements"
    return "cites"


def extract_relations(text: str, title: str = "") -> tuple[Relation, ...]:
    """Each document cited in `text`, with what the citing sentence does to it and the sentence.

    A document cited several times gets its strongest relation (abolishes > revises > implements >
    cites), stated by the first sentence that says so. A title "…实施《X》办法" implements X.
    """
    rank = {"abolishes": 0, "revises": 1, "implements": 2, "cites": 3}
    best: dict[tuple[str, str], Relation] = {}
    order: list[tuple[str, str]] = []
    for pos, ref in _reference_events(text):
        start, end = _sentence_around(text, pos, pos + 1)
        sentence = text[start:end]
        kind = _relation_kind(sentence, pos - start)
        key = (ref.doc_number, "" if ref.doc_number else normalize_title(ref.title))
        merged = next((k for k in order if (ref.doc_number and k[0] == ref.doc_number)
                       or (ref.title and best[k].target.title and normalize_title(best[k].target.title) == key[1])), None)
        if merged is None:
            order.append(key)
            best[key] = Relation(kind, ref, sentence, start, end)
            continue
        old = best[merged]
        target = Reference(old.target.title or ref.title, old.target.doc_number or ref.doc_number)
        if rank[kind] < rank[old.kind]:
            best[merged] = Relation(kind, target, sentence, start, end)
        else:
            best[merged] = Relation(old.kind, target, old.sentence, old.start, old.end)
    relations = [best[k] for k in order]
    m = _TITLE_REVISES_RE.search(title)
    if m:
        key = normalize_title(_clean_title(m.group(1)))
        relations = [Relation("revises", r.target, r.sentence, r.start, r.end)
                     if normalize_title(r.target.title) == key else r for r in relations]
    m = _TITLE_IMPLEMENTS_RE.search(title)
    if m:
        law = _clean_title(m.group(1))
        for i, r in enumerate(relations):
            if normalize_title(r.target.title) == normalize_title(law):
                relations[i] = Relation("implements", r.target, r.sentence, r.start, r.end)
                break
        else:
            at = text.find(title[:20]) if title else -1
            start, end = (at, at + len(title)) if at >= 0 else (0, 0)
            relations.insert(0, Relation("implements", Reference(law, ""), title, start, end))
    return tuple(relations)


# --- document types -----------------------------------------------------------------------------

_PLACE_RE = re.compile(rf"^(?:[{_CJK}]{{1,8}}?(?:省|自治区|市|自治州|州|县|区|盟|旗)|北京|天津|上海|重庆)")
_LAW_TITLE_RE = re.compile(r"(?<!办)(?<!方)法(?:（[^）]*）)?$")
_PAPER_RE = re.compile(r"\[?摘\s*要\s*[]:：】]|关\s*键\s*词\s*[]:：】]|参考文献")
_TYPE_WORDS = (
    ("实施意见", "意见"), ("指导意见", "意见"), ("意见", "意见"), ("通知", "通知"), ("通报", "通知"),
    ("方案", "方案"), ("办法", "办法"), ("细则", "办法"), ("规定", "规定"), ("规则", "规定"),
    ("决定", "决定"), ("公告", "公告"), ("规划", "规划"), ("纲要", "规划"), ("计划", "规划"),
    ("标准", "标准"), ("指南", "指南"), ("批复", "批复"), ("函", "函"), ("报告", "报告"),
)


def document_type(title: str, issuer: str, dates: tuple[tuple[str, str], ...], text: str, fmt: str) -> str:
    """The kind of document: 法律, 行政法规, 地方性法规, 规章, 通知, 方案, 意见, 办法, …, 论文, 新闻, 其他.

    Read off the title's last word and who made it: a 条例 passed by a local people's congress is
    a 地方性法规, by the State Council a 行政法规; a title ending in 法 (not 办法) is a 法律.
    """
    core = _TRAILING_NOTE_RE.sub("", title.strip())
    passed = any(kind in _LAW_KINDS for kind, _ in dates)
    congress = "人民代表大会" in issuer or (passed and not issuer)
    if _LAW_TITLE_RE.search(core) and not _PLACE_RE.match(core.removeprefix(_PRC)):
        return "法律"
    if core.endswith("条例") or (congress and passed and re.search(r"(?:办法|规定)$", core)):
        if _PLACE_RE.match(core) or (congress and issuer != "全国人民代表大会常务委员会" and "人民代表大会" in issuer
                                     and not issuer.startswith("全国")):
            return "地方性法规"
        return "行政法规"
    if fmt == "jsonl" and re.search(r"^\s*\d{4}-\d{2}-\d{2}|正文[:：]", text[:200]):
        return "新闻"
    if issuer.endswith("令") or re.search(r"令第?\d+号", text[:600]):
        return "规章"
    for word, kind in _TYPE_WORDS:
        if core.endswith((word, word + "（试行）")):
            return kind
    if fmt in ("md", "txt", "pdf", "docx") and _PAPER_RE.search(text[:5000]):
        return "论文"
    for word, kind in _TYPE_WORDS:
        if word in core:
            return kind
    return "其他"


# --- dates ------------------------------------------------------------------------------------

_CN_MONTH = r"十[一二]?|[一二三四五六七八九]"
_CN_DAY = r"三十一?|[二]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_DATE_RE = re.compile(
    rf"(?P<y>(?:19|20)\d{{2}}){_S}年{_S}(?P<m>\d{{1,2}}){_S}月{_S}(?P<d>\d{{1,2}}){_S}日"
    rf"|(?P<cy>[〇○零O0一二三四五六七八九]{{4}}){_S}年{_S}(?P<cm>{_CN_MONTH}){_S}月{_S}"
    rf"(?P<cd>{_CN_DAY}){_S}日"
)
_KIND_RE = re.compile("通过|修订|修正|施行|发布|公布|印发|成文")
_KIND_BEFORE_RE = re.compile(r"(成文|发布|印发|施行|公布)(?:日期|时间)[:：]?\s*$")
_KIND_ALIAS = {"公布": "发布"}
_LAW_KINDS = ("通过", "修订", "修正")
_QUOTED_TITLE_RE = re.compile(r"《[^》]*》")
_OPEN_BRACKET_END_RE = re.compile(r"〔\s*$")
_CLOSE_BRACKET_START_RE = re.compile(r"\s*〕")


def _cn_number(s: str) -> int:
    if "十" not in s:
        return _CN_DIGIT[s]
    tens, _, units = s.partition("十")
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0)


def _iso(m: re.Match[str]) -> str | None:
    if m["y"]:
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    else:
        y, mo, d = _year(m["cy"]), _cn_number(m["cm"]), _cn_number(m["cd"])
    try:
        return _date(y, mo, d).isoformat()
    except ValueError:
        return None


def parse_date(s: str) -> str | None:
    """ISO date for the first 2019年4月4日 / 二〇一九年四月四日 in `s`, or None."""
    for m in _DATE_RE.finditer(_fold(s)):
        iso = _iso(m)
        if iso:
            return iso
    return None


def _kind_after(seg: str) -> str:
    seg = _QUOTED_TITLE_RE.sub("", seg)  # a 修正/印发 inside 《…》 belongs to a cited title, not to this date
    # "2018年3月20日印发的《…》同时废止": a kind word used attributively dates another document
    kinds = [m.group() for m in _KIND_RE.finditer(seg) if not seg.startswith("的", m.end())]
    return _KIND_ALIAS.get(kinds[-1], kinds[-1]) if kinds else ""


def _dated_events(text: str) -> list[tuple[str, str]]:
    """(kind, iso) for dates with a kind word after them (same line, before the next date)."""
    folded = _fold(text)
    dated = [(m, iso) for m in _DATE_RE.finditer(folded) if (iso := _iso(m))]
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


# --- issuers ----------------------------------------------------------------------------------

_PROVINCES = dict(zip(
    "京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川黔贵滇云藏陕甘青宁新",
    ["北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省", "四川省", "贵州省", "贵州省", "云南省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区"],
    strict=True,
))
# Longest prefix wins; checked against the canonical 文号's agency code.
_CODE_ISSUERS = {
    "国发": "国务院", "国函": "国务院", "国办发": "国务院办公厅", "国办函": "国务院办公厅",
    "中发": "中共中央 国务院", "中办发": "中共中央办公厅 国务院办公厅",
    "厅字": "中共中央办公厅 国务院办公厅", "教": "教育部", "人社部": "人力资源社会保障部",
    "人社厅": "人力资源社会保障部办公厅", "财": "财政部", "财办": "财政部办公厅",
    "发改": "国家发展改革委", "发改办": "国家发展改革委办公厅", "国卫": "国家卫生健康委",
    "国卫办": "国家卫生健康委办公厅", "工信部": "工业和信息化部", "工信厅": "工业和信息化部办公厅",
    "交运": "交通运输部", "民发": "民政部", "商": "商务部", "商办": "商务部办公厅",
}
_AGENCY_END = (
    "部|厅|局|委|会|院|办|署|室|府|行|中心|组|处|司|所|校|队|站|团|社|部门|委员会|政府|办公室|指挥部|小组"
)
_AGENCY_RE = re.compile(rf"^[{_CJK}]{{2,30}}(?:{_AGENCY_END})$")
_LETTERHEAD_RE = re.compile(rf"^([{_CJK}][{_CJK} ]{{1,40}}?)\s*文件$")
_CONGRESS_RE = re.compile(
    rf"(?P<place>(?:(?!日)[{_CJK}]){{0,8}}?)第[一二三四五六七八九十]+届"
    r"(?P<body>全国人民代表大会(?:常务委员会)?|人民代表大会(?:常务委员会)?)"
)


def _code_issuer(doc_number: str) -> str:
    code = re.split(r"〔|令第|公告", doc_number, maxsplit=1)[0]
    if doc_number.startswith("国务院令"):
        return "国务院"
    if code[:1] in _PROVINCES and code[1:3] in ("政发", "政办"):
        suffix = "人民政府" if code[1:3] == "政发" else "人民政府办公厅"
        return _PROVINCES[code[0]] + suffix
    for n in range(len(code), 0, -1):
        if code[:n] in _CODE_ISSUERS:
            issuer = _CODE_ISSUERS[code[:n]]
            return issuer + "办公厅" if issuer == "教育部" and "厅" in code else issuer
    return ""


def _letterhead_issuer(units: list[str]) -> str:
    for unit in units[:4]:
        m = _LETTERHEAD_RE.match(unit)
        names = m.group(1).split() if m else []
        if names and all(_AGENCY_RE.match(n) for n in names):
            return " ".join(names)
    return ""


def _signature_issuer(text: str, date_pos: int) -> str:
    """Issuing bodies written just before the closing date, e.g. "教育部 财政部\\n2019年4月4日"."""
    before = text[max(0, date_pos - 120):date_pos]
    chunk = re.split(r"[。；;！？!?：:）)\]】”]", before)[-1]
    lines = [ln.strip() for ln in chunk.split("\n") if ln.strip()]
    names: list[str] = []
    for line in reversed(lines):
        tokens = line.split()
        if not tokens or not all(_AGENCY_RE.match(t) for t in tokens):
            break
        names[:0] = tokens
    return " ".join(names[-8:])


_SIGN_AFTER_RE = re.compile(r"\s|$|[（(〔【]")
_SIGN_TAIL_RE = re.compile(r"^\s*(?:$|\n|[（(〔【]|抄送|附件|此件|联系)")


def _signature(text: str) -> tuple[int, str, str] | None:
    """(position, iso, issuer) of the signature date of a notice.

    First choice: the first date that stands alone right after a run of body names
    ("教育部 财政部\n2019年4月4日"), wherever it is (attachments may follow it).
    Fallback: the last date near the end with nothing but brackets or 抄送/附件 after it.
    """
    folded = _fold(text)
    tail = None
    for m in _DATE_RE.finditer(folded):
        iso, after = _iso(m), folded[m.end():m.end() + 40]
        if not iso or not _SIGN_AFTER_RE.match(after) or _KIND_RE.match(after.lstrip()):
            continue
        issuer = _signature_issuer(text, m.start())
        if issuer:
            return m.start(), iso, issuer
        if m.start() >= len(text) - 300 and _SIGN_TAIL_RE.match(after):
            tail = (m.start(), iso, "")
    return tail


# "（2021年7月15日示例市人民政府印发）" under a title names who issued it and when
_BRACKET_ISSUER_RE = re.compile(
    r"[（(][^（）()]{6,20}日\s*([\u4e00-\u9fff]{2,30}?)(?:第[^（）()]{1,20}次[^（）()]*?)?(?:印发|发布|公布)[）)]")


def _bracket_issuer(header: str) -> str:
    m = _BRACKET_ISSUER_RE.search(header)
    return m.group(1) if m and _AGENCY_RE.match(m.group(1)) else ""


def _congress_issuer(header: str) -> str:
    m = _CONGRESS_RE.search(header)
    if m:
        return m["place"] + m["body"] if m["body"].startswith("人民") else m["body"]
    return "国务院" if re.search(r"国务院令第?\s*\d+\s*号", header) else ""


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
        or _LETTERHEAD_RE.match(unit)
        or normalize_doc_number(unit)
        or (parse_date(unit) and len(_DATE_RE.sub("", _fold(unit)).strip("（）() ")) < 4)
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
    return bool(_DOC_TYPE_END_RE.search(_TRAILING_NOTE_RE.sub("", unit)))


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
        if not _AGENCY_RE.match(unit):
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
    return _headline(units[0]) if units else ""


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
    s = re.sub(rf"\s+(?=[{_CJK}《》（）“”])|(?<=[{_CJK}《》（）“”])\s+", "", s.strip())
    return re.sub(r"\s+", " ", s)


def _meaningful_hint(hint: str) -> bool:
    return len(re.findall(rf"[{_CJK}]", hint)) >= 4 and not re.search(r"\.\w{2,4}$", hint)


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
        alone_before = re.search(rf"(?:^|[\s（(〔【]|{_DOC_TYPE})$", before)
        alone_after = re.match(r"(?:$|[\s）)〕】]|附件|文件)", after)
        if alone_before and alone_after:
            return canon
    return orders[-1] if orders else ""


def _collect_dates(text: str, signed: str) -> tuple[tuple[str, str], ...]:
    """Dated events of the header, the signature date (成文) and those of the last lines."""
    header = _header(text)
    events = _dated_events(header)
    if signed:
        events.append(("成文", signed))
    tail_start = max(len(header), len(text) - 200)
    # The last lines also hold 自…起施行 and the 版记's …印发; other dates there are history.
    events += [e for e in _dated_events(text[tail_start:]) if e[0] in ("施行", "印发")]
    unique: list[tuple[str, str]] = []
    for event in events:
        if event not in unique and not (event[0] == "成文" and any(e[1] == event[1] for e in unique)):
            unique.append(event)
    return tuple(unique)


def _issue_date(dates: tuple[tuple[str, str], ...], signed: str) -> str:
    law = [iso for kind, iso in dates if kind in _LAW_KINDS]
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
    _pos, signed, signer = _signature(text) or (0, "", "")
    dates = _collect_dates(text, signed)
    issuer = (
        _letterhead_issuer(_head_units(text))
        or signer
        or _bracket_issuer(header)
        or _congress_issuer(header)
        or _code_issuer(own)
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
