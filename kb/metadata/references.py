"""Titles, the documents a text cites (《title》 and 文号), and how it relates to them (revises, abolishes, implements)."""

from __future__ import annotations

import re
import unicodedata

from kb.metadata.docnumber import find_doc_numbers
from kb.types import Reference, Relation

# --- titles -----------------------------------------------------------------------------------

DOC_TYPE = (
    "通知|意见|办法|方案|规定|条例|法|决定|规划|纲要|标准|细则|批复|复函|函|公告|通告|报告|指南|目录"
    "|清单|计划|规则|规程|章程|措施|要点|决议|命令|令|指引|通报|制度|实施意见|指导意见|答复|公报"
)
DOC_TYPE_END_RE = re.compile(rf"(?:{DOC_TYPE})$")
TRAILING_NOTE_RE = re.compile(r"[（(〔][^（）()]{1,12}[）)〕]$")  # （试行）, （2019年版）


def normalize_title(s: str) -> str:
    """Key for matching titles: NFKC, no 《》/quotes/punctuation/spaces, lower case."""
    folded = unicodedata.normalize("NFKC", s)
    kept = (c for c in folded if unicodedata.category(c)[0] not in "PZC")
    return "".join(kept).lower()


def _looks_like_doc_title(title: str) -> bool:
    core = TRAILING_NOTE_RE.sub("", title)
    return len(core) >= 4 and bool(DOC_TYPE_END_RE.search(core))


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
