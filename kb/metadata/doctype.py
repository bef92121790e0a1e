"""The type of a document (law, regulation, notice, paper, ...) from its title, issuer, dates and text."""

from __future__ import annotations

import re

from kb.metadata.common import CJK, PRC
from kb.metadata.dates import LAW_KINDS
from kb.metadata.references import TRAILING_NOTE_RE

# --- document types -----------------------------------------------------------------------------

_PLACE_RE = re.compile(rf"^(?:[{CJK}]{{1,8}}?(?:省|自治区|市|自治州|州|县|区|盟|旗)|北京|天津|上海|重庆)")
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
    core = TRAILING_NOTE_RE.sub("", title.strip())
    passed = any(kind in LAW_KINDS for kind, _ in dates)
    congress = "人民代表大会" in issuer or (passed and not issuer)
    if _LAW_TITLE_RE.search(core) and not _PLACE_RE.match(core.removeprefix(PRC)):
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
