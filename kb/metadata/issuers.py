"""The issuer of a document: letterhead, signature, bracketed header, congress, or its 文号's code."""

from __future__ import annotations

import re

from kb.metadata.common import CJK, fold
from kb.metadata.dates import DATE_RE, KIND_RE, iso_date

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
AGENCY_RE = re.compile(rf"^[{CJK}]{{2,30}}(?:{_AGENCY_END})$")
LETTERHEAD_RE = re.compile(rf"^([{CJK}][{CJK} ]{{1,40}}?)\s*文件$")
_CONGRESS_RE = re.compile(
    rf"(?P<place>(?:(?!日)[{CJK}]){{0,8}}?)第[一二三四五六七八九十]+届"
    r"(?P<body>全国人民代表大会(?:常务委员会)?|人民代表大会(?:常务委员会)?)"
)


def code_issuer(doc_number: str) -> str:
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


def letterhead_issuer(units: list[str]) -> str:
    for unit in units[:4]:
        m = LETTERHEAD_RE.match(unit)
        names = m.group(1).split() if m else []
        if names and all(AGENCY_RE.match(n) for n in names):
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
        if not tokens or not all(AGENCY_RE.match(t) for t in tokens):
            break
        names[:0] = tokens
    return " ".join(names[-8:])


_SIGN_AFTER_RE = re.compile(r"\s|$|[（(〔【]")
_SIGN_TAIL_RE = re.compile(r"^\s*(?:$|\n|[（(〔【]|抄送|附件|此件|联系)")


def signature(text: str) -> tuple[int, str, str] | None:
    """(position, iso, issuer) of the signature date of a notice.

    First choice: the first date that stands alone right after a run of body names
    ("教育部 财政部\n2019年4月4日"), wherever it is (attachments may follow it).
    Fallback: the last date near the end with nothing but brackets or 抄送/附件 after it.
    """
    folded = fold(text)
    tail = None
    for m in DATE_RE.finditer(folded):
        iso, after = iso_date(m), folded[m.end():m.end() + 40]
        if not iso or not _SIGN_AFTER_RE.match(after) or KIND_RE.match(after.lstrip()):
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


def bracket_issuer(header: str) -> str:
    m = _BRACKET_ISSUER_RE.search(header)
    return m.group(1) if m and AGENCY_RE.match(m.group(1)) else ""


def congress_issuer(header: str) -> str:
    m = _CONGRESS_RE.search(header)
    if m:
        return m["place"] + m["body"] if m["body"].startswith("人民") else m["body"]
    return "国务院" if re.search(r"国务院令第?\s*\d+\s*号", header) else ""
