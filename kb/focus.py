"""What a question asks about: the words at its asking words (「主题是什么」 -> 主题, 「几篇论文」 -> 论文,
「对幼儿园教师资格有什么规定」 -> 幼儿园 教师 资格, 「要不要放假」 -> 放假). A passage that answers the question
holds them; one that only shares the question's setting (职业教育活动周, 教师, 1+X) need not."""

from __future__ import annotations

import re
from functools import lru_cache

from kb.tokenize import STOP_WORDS, normalize, tagged_words

_WH = re.compile(r"^(?:什么样?的?|多少钱|哪些|哪几[个类种项级]?|哪个|哪种|哪类|哪项|多少|几[个种类项篇家所名位节条次批门天元]?)$")
_YES_NO = ("要不要", "能不能", "可不可以", "会不会", "有没有", "是否", "给不给", "发不发", "用不用", "算不算")
# between the asking word and what it asks about: counters, copulas
_SKIP = frozenset("个 种 类 项 篇 家 所 名 位 节 条 次 批 门 样 的 具体 主要".split())
_COUNTERS = frozenset("个种类项篇家所名位节条次批门天元年月周岁")
_COPULA = frozenset("是 为 有 要 都 还 会 能 可以 需要 应该 应当 包括 分为 分 要交 叫 算".split())
# words that say how something is asked, or the setting every passage shares, not what about
_GENERIC = frozenset("规定 要求 内容 情况 方面 问题 东西 相关 有关 文件 政策 说法 标准 条件 措施 办法 意见 通知 方案 "
                     "法律 法规 条例 部门 单位 时候 时间 日期 年份 地方 意思 作用 区别 不同 变化 关系 一共 总共 "
                     "这个 那个 一个 这些 那些 我们 你们 他们 来着 怎么 如何 怎样 什么 哪些 "
                     # the kind of answer wanted, which the answer gives without naming: 「有哪些建议」 is answered
                     # by the suggestions, 「什么定位」 by 龙头
                     "建议 举措 优惠 优惠政策 照顾 便利 范围 地点 资源 意义 目的 定位 种类 类型 机构 额度 "
                     "关键点 指代 处理 做法 方式 方法 途径 原则 导向 特点 成效 任务 目标 重点 形式 程序 流程 后果 "
                     "影响 好处 依据 理由 原因 结果 效果 用途 对象 名称 名字 含义 定义 规矩 "
                     # a figure or a number answers these: 「文号是多少」 is 鲁人社发〔2023〕5号, 「多少比例」 百分之一点五,
                     # 「网址是多少」 https://…, 「热线电话」 12366
                     "文号 编号 比例 数量 金额 人数 规模 次数 时长 期限 年限 年龄 数字 网址 电话 号码 热线 邮箱 "
                     "联系方式 适用范围".split())
# everyday words and the ones the documents use for the same thing
_SAME = {"老师": ("教师",), "职校": ("职业学校", "职业院校"), "高职": ("高等职业",), "中职": ("中等职业",),
         "社保": ("社会保险",), "学生": ("受教育者",), "钱": ("经费", "资金", "费用")}
_NOUNISH = re.compile(r"^(?:n|vn|nz|eng|x|l|j|an|v)")
_CLAUSE = re.compile(r"^[，,。？?！!；;：:\s]+$")


@lru_cache(maxsize=1024)  # the answer stage reads it again when it judges the whole index too
def focus_words(question: str) -> tuple[str, ...]:
    """The content words at the question's asking words, in order, generic ones left out; () when it
    has no asking words to read them by (a bare topic, 「第十二条」, 「什么时候」)."""
    tokens = tagged_words(normalize(question))
    words: list[str] = []
    for i, (word, _flag) in enumerate(tokens):
        if _WH.match(word):
            if i + 1 < len(tokens) and tokens[i + 1][0] in ("时候", "时间"):  # a when-question wants a date
                continue
            after = _noun_after(tokens, i + 1)
            words.extend(after or _before(tokens, i))
        elif word in ("怎么", "如何", "怎样"):  # 「对校园食品安全是怎么规定的」, 「票价如何制定」
            words.extend(_before(tokens, i, only_topic=word == "怎么"))
        elif word in _YES_NO or (word == "要" and i + 1 < len(tokens) and tokens[i + 1][0] == "不要"):
            words.extend(_phrase_after(tokens, i + (2 if word == "要" else 1)))
    return tuple(dict.fromkeys(words))


def _content(word: str, flag: str) -> bool:
    """A word of two characters or more that names something: a noun, a verb or a term, not a number."""
    return (len(word) >= 2 and word not in _GENERIC and word not in STOP_WORDS and not re.search(r"\d|第", word)
            and bool(_NOUNISH.match(flag)))


def _noun_after(tokens: list[tuple[str, str]], j: int) -> list[str]:
    """The first content word after the asking word (counters skipped), and a noun right after it."""
    while j < len(tokens) and tokens[j][0] in _SKIP | {"规定", "明确", "了"}:
        j += 1
    if j < len(tokens) and tokens[j][0][0] in _COUNTERS:  # 「多少天假」 cut as 多少 / 天假: the counter is no word
        return []
    if j >= len(tokens) or _CLAUSE.match(tokens[j][0]) or not _content(*tokens[j]):
        return []
    out = [tokens[j][0]]
    if j + 1 < len(tokens) and _content(*tokens[j + 1]) and tokens[j + 1][1].startswith("n"):
        out.append(tokens[j + 1][0])
    return out


def _phrase_after(tokens: list[tuple[str, str]], j: int) -> list[str]:
    """「有没有规定职业学校的生师比」: the content words up to the clause's end, the first three."""
    while j < len(tokens) and tokens[j][0] in {"规定", "明确", "了", "要求"}:
        j += 1
    out = []
    while j < len(tokens) and not _CLAUSE.match(tokens[j][0]) and len(out) < 3:
        if _content(*tokens[j]):
            out.append(tokens[j][0])
        j += 1
    return out


def _before(tokens: list[tuple[str, str]], i: int, only_topic: bool = False) -> list[str]:
    """「主题是什么」: the last content word before the asking word in its clause; 「对X有什么规定」: all of X."""
    start = i
    while start > 0 and not _CLAUSE.match(tokens[start - 1][0]):
        start -= 1
    clause = tokens[start:i]
    at = max((k for k, (w, _f) in enumerate(clause) if w == "对"), default=-1)
    if at >= 0:
        return [w for w, f in clause[at + 1:] if _content(w, f) and f != "v"]  # not 给出, 提出
    if only_topic:
        return []
    for w, f in reversed(clause):
        if w in _COPULA:
            continue
        if _content(w, f) and f != "v":
            return [w]
        if f in ("uj", "v", "p"):  # 「…的是什么」「发了什么」: no noun names it
            break
    return []


def focus_absent(focus: tuple[str, ...], text: str, weights: dict[str, float] | None = None) -> float:
    """Share of the focus words the folded `text` (kb.tokenize.normalize) lacks, each weighted by
    `weights` (the question's term weights; their largest for a word they do not weigh) or all alike;
    0.0 for no focus words."""
    if not focus:
        return 0.0
    weights = weights or {}
    default = max(weights.values(), default=1.0)
    weight = {w: weights.get(w, default) for w in focus}
    absent = (v for w, v in weight.items() if w not in text and not any(s in text for s in _SAME.get(w, ())))
    return sum(absent) / (sum(weight.values()) or 1.0)


_NOT_TOPICAL = re.compile(r"^(?:r|d|m|y|u|zg|k|p|c|e|o|q|t|f)")


def is_topical(term: str) -> bool:
    """Whether a word names a thing or a field (碳排放, 配额, 花艺) rather than being talk around a question
    (来着, 我们系, 大概, 想问): a question term no indexed passage holds says the topic is absent only then."""
    tags = [flag for _word, flag in tagged_words(term)]
    if not tags or any(_NOT_TOPICAL.match(f) for f in tags):
        return False
    return not all(f[0] in "va" and f != "vn" for f in tags)

