"""What a question names that an answer's basis must hold too — places, organisations, years — and
which of them the basis lacks: 「那天津呢？」 answered from a 北京 report has no basis."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kb.intent import _PROVINCES
from kb.tokenize import normalize

# Provinces and municipalities by their short names (as people say them: 江苏, not 江苏省).
PROVINCES = (*_PROVINCES, "香港", "澳门", "台湾")
# National bodies a question may name, each with the ways documents write it (first: the name told).
ORGANISATIONS: tuple[tuple[str, ...], ...] = (
    ("国务院办公厅", "国务院办公厅", "国办"),
    ("国务院", "国务院"),
    ("全国人大常委会", "全国人民代表大会常务委员会", "全国人大常委会"),
    ("教育部", "教育部"),
    ("人社部", "人力资源社会保障部", "人力资源和社会保障部", "人社部"),
    ("财政部", "财政部"),
    ("发展改革委", "发展改革委", "发改委", "发展和改革委员会"),
    ("工业和信息化部", "工业和信息化部", "工信部"),
    ("科技部", "科技部", "科学技术部"),
    ("民政部", "民政部"),
    ("商务部", "商务部"),
    ("农业农村部", "农业农村部", "农业部"),
    ("文化和旅游部", "文化和旅游部", "文旅部"),
    ("国家卫生健康委", "卫生健康委", "卫健委"),
    ("退役军人事务部", "退役军人事务部"),
    ("国资委", "国资委", "国有资产监督管理委员会"),
    ("市场监管总局", "市场监管总局", "市场监督管理总局"),
    ("全国总工会", "全国总工会", "中华全国总工会"),
    ("共青团中央", "共青团中央", "团中央"),
    ("中国残联", "中国残联", "残疾人联合会"),
    ("国家乡村振兴局", "乡村振兴局"),
)
_SPELLINGS = {told: tuple(spellings) for told, *spellings in ORGANISATIONS}
# A year asked about, not one the question sets the time by (「2020年时」) nor the year of a full date
_YEAR_ASKED = re.compile(r"((?:19|20)\d{2})\s*年(?!\s*(?:时|的时候|期间|以前|之前|当时|\d{1,2}\s*月\s*\d{1,2}\s*日))")


@lru_cache(maxsize=1)
def _gazetteer() -> frozenset[str]:
    """City and province names: the stem of each word of jieba's dictionary tagged as a place (ns) that
    ends in 市 or 省, when the stem itself is no other kind of word (杭州市 -> 杭州; 和平 is not), and the
    cities of kb/data/cities.txt, which that rule misses (烟台 and 大连 are tagged as other words too)."""
    import jieba

    tags: dict[str, str] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    stems = {w[:-1] for w, t in tags.items() if t == "ns" and w[-1] in "市省" and 3 <= len(w) <= 5
             and tags.get(w[:-1], "ns") == "ns"}
    listed = _listed_cities()
    return frozenset((stems | set(PROVINCES) | {n for n in listed if not n.startswith("-")})
                     - {n[1:] for n in listed if n.startswith("-")})


def _listed_cities() -> list[str]:
    """The names of kb/data/cities.txt; a name after "-" is one not to read as a place (福安 of 幸福安康)."""
    text = (Path(__file__).parent / "data" / "cities.txt").read_text(encoding="utf-8")
    return [name for line in text.splitlines() if not line.startswith("#") for name in line.split()]


def places_named(text: str, places: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The places a text names, longest first and not inside one another: 北京, 青岛, 宁波.
    `places` adds the names the index's own documents are about (示例市)."""
    found: list[tuple[int, str]] = []
    names = _gazetteer() | {p.removesuffix("市").removesuffix("省") for p in places if len(p) >= 2}
    for n in range(4, 1, -1):
        for i in range(len(text) - n + 1):
            word = text[i:i + n]
            if word in names and not any(s <= i < s + len(w) or i <= s < i + n for s, w in found):
                found.append((i, word))
    return tuple(w for _i, w in sorted(found))


def organisations_named(text: str) -> tuple[str, ...]:
    """The national bodies a text names (教育部, 人社部, 国务院办公厅), by the name told, in order."""
    found: list[tuple[int, int, str]] = []
    for told, *spellings in ORGANISATIONS:
        for s in spellings:
            at = text.find(s)
            if at >= 0 and not any(a <= at < b or at <= a < at + len(s) for a, b, _t in found):
                found.append((at, at + len(s), told))
                break
    return tuple(t for _a, _b, t in sorted(found))


def holds_year(year: str, text: str) -> bool:
    """Whether `text` names `year` as a year: 2021年, 2021年度, 2021-2022, a date 2021-05-01 or
    2021.5, a 文号's 〔2021〕 — not a cohort (2021级), a class (2021届) or a figure (12021人) that merely
    holds its digits."""
    return re.search(rf"(?<!\d){year}(?=\s*(?:年|[-—－–~～/.至到]\s*\d))|(?<=\d{{4}}[-—－–~～至到]){year}(?!\d)|"
                     rf"[〔\[［(（【]{year}[〕\]］)）】]", text) is not None


def years_asked(text: str) -> tuple[str, ...]:
    """Years a question asks about, not those it sets the time by: 「2020年时…」 wants the rule then."""
    return tuple(dict.fromkeys(_YEAR_ASKED.findall(text)))


@dataclass(frozen=True)
class Entities:
    """What a question names that its answer must be about."""

    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    years: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.places or self.organisations or self.years)


def entities_of(question: str, places: tuple[str, ...] = ()) -> Entities:
    """The places, organisations and years a (completed) question names."""
    return Entities(places_named(question, places), organisations_named(question), years_asked(question))


def sorted_out(names: tuple[str, ...]) -> Entities:
    """Names (天津, 人社部, 2021) sorted into places, organisations and years."""
    bodies = {o[0] for o in ORGANISATIONS}
    return Entities(tuple(n for n in names if not n.isdigit() and n not in bodies),
                    tuple(n for n in names if n in bodies), tuple(n for n in names if n.isdigit()))


def missing(entities: Entities, basis: str) -> tuple[str, ...]:
    """The entities `basis` (quoted clauses, their documents' titles, issuers and dates) does not hold,
    as named in the question: ("天津",) when a 北京 report would answer 「天津…」."""
    held = normalize(basis)
    out = [p for p in entities.places if p not in held]
    out += [o for o in entities.organisations if not any(s in held for s in _SPELLINGS[o])]
    out += [y for y in entities.years if not holds_year(y, held)]
    return tuple(out)


def other_province(question: str, basis: str, about: tuple[str, ...], indexed: tuple[str, ...]) -> tuple[str, ...]:
    """The provinces the question names that are answered only from another province's documents
    (`answered_elsewhere`): 「陕西…」 from 《山西中等职业教育免学费全覆盖》, 「江西…方案」 from a 海南 report.
    A province merely absent is no sign: a local notice leaves its own place unsaid and names others
    (湖北, in the notices of early 2020), a national document or a digest holds what applies to every
    province, and where the index holds the province's own documents, another province's notice
    restating a national rule answers it too."""
    asked = tuple(p for p in places_named(question) if p in PROVINCES)
    return answered_elsewhere({p: (p,) for p in asked}, [(p,) for p in PROVINCES if p not in asked],
                              basis, about, indexed)


def other_body(question: str, basis: str, about: tuple[str, ...], indexed: tuple[str, ...]) -> tuple[str, ...]:
    """The same for the national bodies a question names (ORGANISATIONS): 「财政部办公厅印发的…计划」
    answered from a report that 教育部办公厅 issued it. 国务院 and 国务院办公厅 are not another body to
    each other."""
    asked = organisations_named(question)
    others = [names for told, *names in ORGANISATIONS if not any(told in o or o in told for o in asked)]
    return answered_elsewhere({o: _SPELLINGS[o] for o in asked}, others, basis, about, indexed)


# 「第二批」, 「首届」, 「第三轮」: which one of a series the question asks about (第一次 is left out: 「第一次任教」
# says when, not which batch)
_ORDINAL = re.compile(r"(?:第\s*([一二三四五六七八九十百零〇两\d]+)|([首头]))\s*(批|届|期|轮)")


def ordinals_named(text: str) -> tuple[tuple[str, int, str], ...]:
    """(as written, its number, what it counts) of each ordinal of a series in `text`: 首批 -> (首批, 1, 批)."""
    from kb.evidence import chinese_number  # kb.evidence reads years with this module

    out = []
    for m in _ORDINAL.finditer(text):
        numeral = m.group(1)
        n = 1 if m.group(2) else int(numeral) if numeral.isdigit() else chinese_number(numeral)
        out.append((m.group(0), n, m.group(3)))
    return tuple(out)


def other_ordinal(question: str, basis: str, documents: Callable[[], str]) -> tuple[str, ...]:
    """The ordinals the question asks about (第二批) answered from a basis about another one of the
    same series (首批) that its documents never name: 「河南省第二批产教融合型城市…」 from the notice of
    the 首批. A basis naming no ordinal is no sign (a report leaves it unsaid). `documents` gives the
    whole text of the cited documents, read only when the basis names another one."""
    held = ordinals_named(normalize(basis))
    suspect = [(w, n, c) for w, n, c in ordinals_named(normalize(question))
               if (n, c) not in {(n2, c2) for _w, n2, c2 in held} and any(c2 == c for _w, _n, c2 in held)]
    if not suspect:
        return ()
    elsewhere = {(n, c) for _w, n, c in ordinals_named(documents())}
    return tuple(w for w, n, c in suspect if (n, c) not in elsewhere)


def answered_elsewhere(asked: dict[str, tuple[str, ...]], others: list[tuple[str, ...]], basis: str,
                       about: tuple[str, ...], indexed: tuple[str, ...]) -> tuple[str, ...]:
    """The names `asked` (each with its spellings) that `basis` lacks and no indexed document is about
    (`indexed`: every document's title and issuer, folded), when every cited document (`about`: their
    titles and issuers) names one of `others`: the answer is about another place or body."""
    held = normalize(basis)
    gone = tuple(n for n, spellings in asked.items()
                 if not any(s in held or any(s in t for t in indexed) for s in spellings))
    about = [normalize(a) for a in about]
    elsewhere = bool(about) and all(any(s in a for names in others for s in names) for a in about)
    return gone if gone and elsewhere else ()


def documents_about(index, doc_ids) -> tuple[str, ...]:
    """The title and issuer of each of these documents."""
    records = [index.records.get(d) for d in dict.fromkeys(doc_ids)]
    return tuple(f"{r.meta.title} {r.meta.issuer}" for r in records if r is not None)


def _about_document(meta) -> list[str]:
    """What a document's record says of it besides its text: title, issuer, 文号 and dates."""
    return [meta.title, meta.issuer, meta.doc_number, *(d for _k, d in meta.dates)]


def passages_text(index, hits) -> str:
    """The same for passages no answer quotes (a refusal's nearest ones): their text and metadata."""
    parts: list[str] = []
    for h in hits:
        parts += [h.chunk.text, *_about_document(index.records[h.chunk.doc_id].meta)]
    return " ".join(parts)


def basis_text(index, citations) -> str:
    """What an answer rests on, for `missing`: each cited clause (the whole passage that holds the
    quote), and its document's title, issuer, 文号 and dates."""
    parts: list[str] = []
    for c in citations:
        record = index.records.get(c.doc_id)
        if record is not None:
            parts += _about_document(record.meta)
        rows = getattr(index, "doc_rows", {}).get(c.doc_id, ())
        held = [index.chunks[r].text for r in rows if index.chunks[r].start <= c.start < index.chunks[r].end]
        parts += held or [c.quote]
    return " ".join(parts)
