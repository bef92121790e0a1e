"""The document register: each document's type, status and versions, and the relations between
documents (cites, revises, abolishes, implements), resolved against what the index holds.

Status comes from the texts (施行 dates, "…同时废止" in another document, a newer version of the
same work) unless a sidecar `metadata.csv` or front matter sets it. Built from the DocRecords of
an index in milliseconds, so it is recomputed on load rather than stored.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import date as _date
from pathlib import Path

from kb.errors import IngestError
from kb.metadata import _PLACE_RE, normalize_doc_number, normalize_title, parse_date
from kb.types import DocMeta, DocRecord, Reference

STATUSES = ("现行有效", "已修订", "已废止", "未知")
# Who vouches for a document. Files visitors upload without logging in land in VISITOR_UPLOADS and
# are "visitor" documents: they cannot change the status of staff documents (abolish, revise,
# supersede them), never take a staff document's 文号 or title, and rank below staff documents.
# Staff accept one by moving it out of that folder, or with trust=staff in metadata.csv.
TRUST_LEVELS = ("staff", "visitor")
VISITOR_UPLOADS = "uploads"
# A visitor passage keeps this share of its score: it answers what no staff document does, but does
# not outrank a staff passage even when it repeats the question's words more often.
VISITOR_FACTOR = 0.3
# Documents that are in force or not; a paper or a news item is neither.
NOT_NORMATIVE = ("论文", "新闻", "其他")
SIDECAR = "metadata.csv"
_PRC = "中华人民共和国"
_NOTE = re.compile(r"[（(][^（）()]{1,12}[）)]$")  # （试行）, （2019年修订）


def work_key(title: str) -> str:
    """What the versions of one work share: the title without 中华人民共和国 and a trailing note."""
    core = _NOTE.sub("", title.strip()).removeprefix(_PRC)
    return normalize_title(core)


@dataclass(frozen=True)
class Link:
    """A relation stated in document `source` about document `target` ("" when not indexed)."""

    kind: str  # cites | revises | abolishes | implements
    source: str
    target: str
    ref: Reference  # how the source names the target
    sentence: str
    start: int  # the sentence's offsets in the source document's text
    end: int

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "target": self.target, "title": self.ref.title,
                "doc_number": self.ref.doc_number, "sentence": self.sentence, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Entry:
    """What the register says of one document."""

    doc_id: str
    doc_type: str
    status: str  # one of STATUSES
    reason: str  # what the status rests on, for people
    effective: str  # ISO date it took effect (施行), or ""
    version_date: str  # when this version was made: latest 通过/修订/修正, else the issue date
    versions: tuple[str, ...]  # every version of the same work, oldest first (this one alone: itself)
    current: str  # the version of the work in force now, or "" when none is
    superseded_by: str  # the document that replaced or abolished it, or ""
    amended_by: tuple[str, ...] = ()  # documents that change some of its clauses (关于修改…的决定)
    trust: str = "staff"  # one of TRUST_LEVELS

    @property
    def rank_factor(self) -> float:
        """How much a passage of this document counts in ranking, by who vouches for it."""
        return VISITOR_FACTOR if self.trust == "visitor" else 1.0

    @property
    def in_force(self) -> bool:
        return self.status == "现行有效"

    @property
    def superseded(self) -> bool:
        return self.status in ("已修订", "已废止")

    def to_dict(self) -> dict:
        return {"doc_type": self.doc_type, "status": self.status, "status_reason": self.reason,
                "effective": self.effective, "version_date": self.version_date, "versions": list(self.versions),
                "current_version": self.current, "superseded_by": self.superseded_by,
                "amended_by": list(self.amended_by), "trust": self.trust}


def _version_date(meta: DocMeta) -> str:
    return meta.date_of("通过", "修订", "修正") or meta.date or meta.date_of("施行")


def _start_date(meta: DocMeta) -> str:
    """From when a version applied: its 施行 date when that follows its making, else its making."""
    made, effective = _version_date(meta), meta.date_of("施行")
    return effective if effective and effective >= made else made


def trust_of(record: DocRecord) -> str:
    """Who vouches for a document: metadata.csv when it says, else visitor for VISITOR_UPLOADS/."""
    if record.meta.trust:
        return record.meta.trust
    return "visitor" if record.source.startswith(VISITOR_UPLOADS + "/") else "staff"


def staff_first(ids: list[str], trust: dict[str, str]) -> list[str]:
    """The staff documents among `ids` when there are any: a visitor's upload never takes a staff
    document's 文号 or title."""
    staff = [d for d in ids if trust[d] == "staff"]
    return staff or ids


class Register:
    """Type, status, versions and relations of every document of an index."""

    def __init__(self, records: list[DocRecord], today: str | None = None):
        self.today = today or _date.today().isoformat()
        self.records = {r.doc_id: r for r in records}
        self.trust = {r.doc_id: trust_of(r) for r in records}
        self._by_number: dict[str, list[str]] = {}
        self._by_title: dict[str, list[str]] = {}
        self.works: dict[str, list[str]] = {}
        for r in records:
            if r.meta.doc_number:
                self._by_number.setdefault(r.meta.doc_number, []).append(r.doc_id)
            key = work_key(r.meta.title)
            if len(key) >= 3:
                self._by_title.setdefault(key, []).append(r.doc_id)
                # a visitor's document is nobody's newer version
                if r.meta.doc_type not in NOT_NORMATIVE and self.trust[r.doc_id] == "staff":
                    self.works.setdefault(key, []).append(r.doc_id)
        for table in (self._by_number, self._by_title):
            for key, ids in table.items():
                table[key] = staff_first(ids, self.trust)
        for key, ids in self.works.items():
            ids.sort(key=lambda d: (_version_date(self.records[d].meta), _start_date(self.records[d].meta), d))
        self.outgoing: dict[str, list[Link]] = {d: [] for d in self.records}
        self.incoming: dict[str, list[Link]] = {d: [] for d in self.records}
        self.unresolved: list[Link] = []  # relations to documents the index does not hold
        for r in records:
            for rel in r.meta.relations:
                link = Link(rel.kind, r.doc_id, self.resolve(rel.target, r.doc_id), rel.target,
                            rel.sentence, rel.start, rel.end)
                self.outgoing[r.doc_id].append(link)
                if link.target:
                    self.incoming[link.target].append(link)
                else:
                    self.unresolved.append(link)
        self.entries = {r.doc_id: self._entry(r) for r in records}
        self.entries = {d: replace(e, current=self._current(d)) for d, e in self.entries.items()}

    # --- resolving names ----------------------------------------------------------------------

    def named(self, ref: Reference) -> list[str]:
        """Indexed documents a reference names: by 文号, else by title (any version)."""
        if ref.doc_number and ref.doc_number in self._by_number:
            return list(self._by_number[ref.doc_number])
        if ref.title:
            return list(self._by_title.get(work_key(ref.title), []))
        return []

    def resolve(self, ref: Reference, source: str) -> str:
        """The one document a relation points at; of several versions, the one it meant then: the
        newest version made no later than the stating document (what it abolishes, revises or cites
        was the version it knew).
        """
        ids = [d for d in self.named(ref) if d != source]
        if len(ids) <= 1:
            return ids[0] if ids else ""
        made = _version_date(self.records[source].meta)
        dated = sorted(ids, key=lambda d: _version_date(self.records[d].meta))
        older = [d for d in dated if not made or _version_date(self.records[d].meta) <= made]
        return (older or dated)[-1]

    # --- status -------------------------------------------------------------------------------

    def _entry(self, r: DocRecord) -> Entry:
        m = r.meta
        key = work_key(m.title)
        versions = tuple(self.works.get(key, [r.doc_id])) if r.doc_id in self.works.get(key, []) else (r.doc_id,)
        status, reason, by = self._status(r, versions)
        amended = tuple(dict.fromkeys(link.source for link in self._changing(r.doc_id) if link.kind == "revises"))
        return Entry(r.doc_id, m.doc_type, status, reason, m.date_of("施行"), _version_date(m), versions, "", by,
                     amended, self.trust[r.doc_id])

    def _changing(self, doc_id: str) -> list[Link]:
        """The relations stated about a document that may change its status: all of them for a
        visitor's document, only those of staff documents for a staff one."""
        return [link for link in self.incoming[doc_id]
                if self.trust[doc_id] == "visitor" or self.trust[link.source] == "staff"]

    def _status(self, r: DocRecord, versions: tuple[str, ...]) -> tuple[str, str, str]:
        m = r.meta
        replacement = self._named_by_file(m.replaced_by)
        if replacement:  # a new version put in its place from the app or `kb replace`
            return "已修订", f"已被 {self.name(replacement)} 取代（由 {SIDECAR} 设定）", replacement
        if m.status:
            return m.status, f"由 {SIDECAR} 或文件头设定", ""
        abolished = [link for link in self._changing(r.doc_id) if link.kind == "abolishes"]
        if abolished:
            link = abolished[0]
            return "已废止", f"{self.name(link.source)}：{link.sentence}", link.source
        if m.date_of("废止") and m.date_of("废止") <= self.today:
            return "已废止", f"{m.date_of('废止')} 废止", ""
        newer = [d for d in versions if self._replaces(d, r.doc_id)]
        if newer:
            return "已修订", f"已被 {self.name(newer[0])} 取代", newer[0]
        if m.doc_type in NOT_NORMATIVE:
            return "未知", f"{m.doc_type}不涉及是否有效", ""
        effective = m.date_of("施行")
        if effective and effective > self.today:
            return "未知", f"自 {effective} 起施行，尚未生效", ""
        made = _version_date(m)
        if not (effective or made):
            return "未知", "文中没有施行或发布日期", ""
        # an amendment (关于修改…的决定) changes some clauses; the document stays in force
        amended = [link for link in self._changing(r.doc_id) if link.kind == "revises"]
        since = f"自 {effective} 起施行" if effective else f"{made} 发布"
        if any(k in ("修订", "修正") for k, _ in m.dates):
            since += f"，{m.date_of('修订', '修正')} 最近修订"
        if amended:
            return "现行有效", f"{since}；部分条款已被 {self.name(amended[-1].source)} 修改", ""
        return "现行有效", f"{since}；知识库中没有修订或废止它的文件", ""

    def _replaces(self, new: str, old: str) -> bool:
        """Whether document `new` is a later version of `old`, not a copy of it.

        A later version is dated later and says it is one: a 修订/修正 date, its own 文号, or a
        sentence abolishing or revising the old one. The same notice reposted under another id
        (often with another date read off the page) says none of these.
        """
        a, b = self.records[new].meta, self.records[old].meta
        made_new, made_old = _version_date(a), _version_date(b)
        if not (made_new and made_old and made_new > made_old):
            return False
        says = any(link.target == old and link.kind in ("abolishes", "revises") for link in self.outgoing[new])
        own_number = bool(a.doc_number and b.doc_number and a.doc_number != b.doc_number)
        return says or own_number or bool(a.date_of("修订", "修正") > b.date_of("修订", "修正"))

    def _current(self, doc_id: str) -> str:
        entry = self.entries[doc_id]
        live = [d for d in entry.versions if self.entries[d].in_force]
        if doc_id in live:
            return doc_id
        if not live and entry.superseded_by and self.entries[entry.superseded_by].in_force:
            return entry.superseded_by  # replaced by a version that does not share its title
        return live[-1] if live else ""

    def _named_by_file(self, key: str) -> str:
        """The indexed document a sidecar names by doc_id or by file (its first document), or ""."""
        if not key:
            return ""
        if key in self.records:
            return key
        return next((d for d, r in self.records.items() if r.source == key), "")

    def name(self, doc_id: str) -> str:
        """《title》（文号 or year）: how answers name a document, the year telling versions apart."""
        m = self.records[doc_id].meta
        name = f"《{m.title}》" if m.title else doc_id
        made = _version_date(m)
        tag = m.doc_number or (f"{made[:4]}年" if made else "")
        return f"{name}（{tag}）" if tag else name

    # --- questions about time -----------------------------------------------------------------

    def version_at(self, doc_id: str, when: str) -> str:
        """The version of `doc_id`'s work that applied on ISO date `when` (`doc_id` itself when it is
        one of several copies of that version); "" if none had begun."""
        versions = self.entries[doc_id].versions
        started = [d for d in versions if _start_date(self.records[d].meta) and _start_date(self.records[d].meta) <= when]
        if not started:
            return ""
        if self.same_version(doc_id, started[-1]):
            return doc_id
        return started[-1]

    def same_version(self, a: str, b: str) -> bool:
        """Whether two documents are copies of one version: same work, same date made."""
        ra, rb = self.records[a].meta, self.records[b].meta
        return work_key(ra.title) == work_key(rb.title) and _version_date(ra) == _version_date(rb)

    def cited_but_missing(self, ref: Reference) -> list[Link]:
        """Sentences of indexed documents that cite a document the index does not hold."""
        number, key = ref.doc_number, work_key(ref.title) if ref.title else ""
        if number and not key:  # a citation elsewhere may pair the 文号 with its title
            key = next((work_key(link.ref.title) for link in self.unresolved
                        if link.ref.doc_number == number and link.ref.title), "")
        return [link for link in self.unresolved
                if (number and link.ref.doc_number == number)
                or (key and not link.ref.doc_number and link.ref.title and work_key(link.ref.title) == key)]

    def places(self) -> tuple[str, ...]:
        """Places the documents are about, from titles such as 青岛市职业教育条例: 青岛, 青岛市."""
        names = set()
        for r in self.records.values():
            m = _PLACE_RE.match(r.meta.title.removeprefix(_PRC))
            if m and len(m.group(0)) >= 2:
                names.add(m.group(0))
                if len(m.group(0)) >= 3 and m.group(0)[-1] in "省市":
                    names.add(m.group(0)[:-1])
        return tuple(sorted(names))

    def describe(self, doc_id: str) -> dict:
        """Register entry plus relations both ways, for `kb doc` and `kb docs --json`."""
        return {**self.entries[doc_id].to_dict(),
                "relations": [link.to_dict() for link in self.outgoing[doc_id]],
                "cited_by": [link.to_dict() for link in self.incoming[doc_id]]}

    def counts(self) -> dict:
        """How many documents have each piece of metadata, and each status and type."""
        recs = list(self.records.values())
        status, types = {}, {}
        for e in self.entries.values():
            status[e.status] = status.get(e.status, 0) + 1
            types[e.doc_type] = types.get(e.doc_type, 0) + 1
        links = {}
        for out in self.outgoing.values():
            for link in out:
                links[link.kind] = links.get(link.kind, 0) + 1
        return {"documents": len(recs), "doc_number": sum(bool(r.meta.doc_number) for r in recs),
                "issuer": sum(bool(r.meta.issuer) for r in recs), "date": sum(bool(r.meta.date) for r in recs),
                "doc_type": sum(bool(r.meta.doc_type) and r.meta.doc_type != "其他" for r in recs),
                "status_known": sum(e.status != "未知" for e in self.entries.values()),
                "versioned_works": sum(len(v) > 1 for v in self.works.values()),
                "status": status, "types": types, "relations": links,
                "resolved_relations": sum(len(v) for v in self.incoming.values())}


# --- sidecar metadata ---------------------------------------------------------------------------

# column -> DocMeta field; Chinese headers are accepted too
_COLUMNS = {
    "file": "file", "文件": "file", "doc_id": "file", "title": "title", "标题": "title",
    "doc_number": "doc_number", "文号": "doc_number", "issuer": "issuer", "发文机关": "issuer",
    "date": "date", "日期": "date", "发布日期": "date", "doc_type": "doc_type", "类型": "doc_type",
    "文种": "doc_type", "status": "status", "状态": "status", "effective": "effective", "施行日期": "effective",
    "abolished": "abolished", "废止日期": "abolished", "replaced_by": "replaced_by", "取代文件": "replaced_by",
    "trust": "trust", "可信度": "trust",
}


def read_sidecar(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a metadata.csv: file (path relative to the corpus, or document id) -> fields it sets.

    Raises IngestError naming the file, the line and the reason for an unknown column, status or
    an unreadable date: a silently ignored correction would be worse than none.
    """
    source = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IngestError(source, "metadata.csv must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    unknown = [c for c in reader.fieldnames or [] if c.strip() not in _COLUMNS]
    if unknown or not reader.fieldnames:
        valid = ", ".join(sorted({k for k in _COLUMNS if k.isascii()}))
        raise IngestError(source, f"unknown column(s) {', '.join(unknown) or '(none)'}; valid: {valid}")
    if "file" not in {_COLUMNS[c.strip()] for c in reader.fieldnames}:
        raise IngestError(source, "needs a 'file' column: the document's path relative to the corpus folder")
    rows: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        fields = {_COLUMNS[k.strip()]: (v or "").strip() for k, v in row.items() if k is not None}
        file = fields.pop("file", "")
        if not file:
            raise IngestError(source, f"line {line}: the file column is empty")
        rows[file] = checked_fields(fields, source, f"line {line}")
    return rows


def checked_fields(fields: dict[str, str], source: str, where: str) -> dict[str, str]:
    """Metadata fields set by hand, normalised; IngestError(source, where: reason) when one is bad."""
    return {k: _checked(k, v, source, where) for k, v in fields.items() if v}


def _checked(name: str, value: str, source: str, where: str) -> str:
    if name == "trust" and value not in TRUST_LEVELS:
        raise IngestError(source, f"{where}: trust {value!r} is not one of {'/'.join(TRUST_LEVELS)}")
    if name == "status" and value not in STATUSES:
        raise IngestError(source, f"{where}: status {value!r} is not one of {'/'.join(STATUSES)}")
    if name in ("date", "effective", "abolished"):
        iso = parse_date(value) or (value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None)
        if not iso:
            raise IngestError(source, f"{where}: {name} {value!r} is not a date (use 2021-09-01)")
        return iso
    if name == "doc_number":
        return normalize_doc_number(value) or value
    return value


def with_overrides(records: list[DocRecord], overrides: dict[str, dict[str, str]]) -> list[DocRecord]:
    """Records with their metadata.csv rows applied (rows are kept apart from what was extracted)."""
    return [replace(r, meta=apply_overrides(r.meta, overrides[r.doc_id])) if r.doc_id in overrides else r
            for r in records]


def outline(chunks) -> list[dict]:
    """A document's structure from its chunks' paths: each heading once, in order, with its depth."""
    seen, out = set(), []
    for c in chunks:
        for depth in range(len(c.path)):
            key = c.path[: depth + 1]
            if key not in seen:
                seen.add(key)
                out.append({"depth": depth, "label": c.path[depth], "chunk_id": c.chunk_id, "pages": list(c.pages)})
    return out


def apply_overrides(meta: DocMeta, fields: dict[str, str]) -> DocMeta:
    """The metadata with a sidecar row's or front matter's fields set over what was extracted."""
    if not fields:
        return meta
    dates = [d for d in meta.dates if not (d[0] == "施行" and "effective" in fields)]
    if "effective" in fields:
        dates.append(("施行", fields["effective"]))
    if "abolished" in fields:
        dates.append(("废止", fields["abolished"]))
    plain = {k: v for k, v in fields.items()
             if k in ("title", "doc_number", "issuer", "date", "doc_type", "status", "replaced_by", "trust")}
    return replace(meta, **plain, dates=tuple(dates), overridden=tuple(sorted(fields)))
