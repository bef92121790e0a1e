"""Example questions derived from the loaded knowledge base: from its definition, duration and
obligation clauses and its 文号, each kept only when the answerer answers it from the document it
was derived from (an example that is refused, or answered about something else, is worse than none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from kb.types import Chunk

_CJK = r"\u4e00-\u9fff"
# 本法所称职业教育，是指… / 职业技能等级证书是指…
_DEFINITION = re.compile(rf"(?:所称(?:的)?|^|(?<=[，。；：\s]))([{_CJK}“”]{{2,14}}?)[，,]?(?:是指|指的是)")
# 证书有效期为三年 / 学制为二至三年
_DURATION = re.compile(rf"(?:^|(?<=[，。；：\s]))([{_CJK}]{{2,10}}?)(?:为|是|不少于|不超过)([一二三四五六七八九十两\d]+(?:至[一二三四五六七八九十\d]+)?)"
                       r"(?:个)?(?:年|个月|月|日|天|学时)")
# 职业学校应当… at the start of a sentence or clause
_OBLIGATION = re.compile(rf"(?:^|[。；：\n]\s*)(?:第[{_CJK}\d]+条\s*)?([{_CJK}]{{2,12}}?)(?:应当|必须)")
_LABEL = re.compile(rf"^\s*第[{_CJK}\d]+[条章节]\s*")
# Subjects too vague to make a question of on their own
_VAGUE = ("本法", "本条例", "本办法", "本规定", "其中", "同时", "并且", "以上", "上述", "有关", "相关", "国家",
          "各级", "对于", "其", "前款", "本条")
_DURATION_WORDS = ("有效期", "期限", "学制", "年限", "时间", "周期", "期")
# Who an obligation binds: a question about what they must do reads naturally
_ACTORS = ("学校", "学院", "政府", "部门", "单位", "组织", "企业", "机构", "教师", "学生", "人员", "用人单位", "者")


@dataclass(frozen=True)
class Example:
    """A question and the document it was derived from."""

    question: str
    doc_id: str
    kind: str  # definition | duration | obligation | doc_number


def candidates(index) -> Iterator[Example]:
    """Questions the index's own clauses suggest, alternating kinds and documents, in-force first."""
    register = index.register
    records = sorted(index.contents.records,
                     key=lambda r: (not register.entries[r.doc_id].in_force, index.contents.records.index(r)))
    pools: dict[str, list[Example]] = {"definition": [], "duration": [], "obligation": [], "doc_number": []}
    for r in records:
        chunks = [index.chunks[row] for row in index.doc_rows.get(r.doc_id, [])]
        for kind, question in _from_chunks(chunks):
            if not any(e.question == question for e in pools[kind]):
                pools[kind].append(Example(question, r.doc_id, kind))
        if r.meta.doc_number:
            pools["doc_number"].append(Example(f"{r.meta.doc_number}讲了什么？", r.doc_id, "doc_number"))
    yield from _interleave(list(pools.values()))


def _from_chunks(chunks: list[Chunk]) -> Iterator[tuple[str, str]]:
    for c in chunks:
        text = _LABEL.sub("", c.text)
        if "definition" in c.roles:
            m = _DEFINITION.search(text.rpartition("所称")[2] if "所称" in text[:40] else text)
            term = m.group(1).lstrip("的").strip("“”") if m else ""
            if _good_subject(term):
                yield "definition", f"什么是{term}？"
        m = _DURATION.search(text)
        if m and _good_subject(m.group(1)) and m.group(1).endswith(_DURATION_WORDS):
            yield "duration", f"{m.group(1)}是多久？"
        if "obligation" in c.roles:
            m = _OBLIGATION.search(text)
            if m and _good_subject(m.group(1)) and m.group(1).endswith(_ACTORS):
                yield "obligation", f"{m.group(1)}应当做什么？"


def _good_subject(subject: str) -> bool:
    subject = subject.strip("“”")
    return len(subject) >= 2 and not subject.startswith(_VAGUE + ("的",)) and not subject.endswith(("的", "和", "或", "及"))


def _interleave(pools: list[list[Example]]) -> Iterator[Example]:
    """One of each kind in turn, skipping a document already used while others remain."""
    used: set[str] = set()
    positions = [0] * len(pools)
    while any(p < len(pool) for p, pool in zip(positions, pools)):
        for i, pool in enumerate(pools):
            rest = pool[positions[i]:]
            if not rest:
                continue
            pick = next((e for e in rest if e.doc_id not in used), rest[0])
            pool.remove(pick)
            used.add(pick.doc_id)
            yield pick


def derive_examples(retriever, n: int = 4, tries: int = 24) -> list[str]:
    """Up to `n` example questions the extractive answerer answers from the document each came from.

    Tries at most `tries` candidates, so start-up stays bounded on a large knowledge base.
    """
    from kb.pipeline import ask

    kept: list[str] = []
    for i, example in enumerate(candidates(retriever.index)):
        if len(kept) == n or i == tries:
            break
        answer = ask(retriever, example.question, use_llm=False)
        if not answer.refused and any(c.doc_id == example.doc_id for c in answer.citations):
            kept.append(example.question)
    return kept
