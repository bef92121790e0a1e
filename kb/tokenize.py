"""Lexical analysis for BM25: jieba words with a policy dictionary, and character n-grams."""

from __future__ import annotations

import re
import threading
from sys import intern
import unicodedata
from functools import lru_cache

# Terms jieba would otherwise split; they are what teachers and staff search for.
DOMAIN_TERMS = (
    "1+X", "1+x证书", "1+X证书", "职业技能等级证书", "职业技能等级标准", "培训评价组织", "产教融合",
    "产教融合型企业", "校企合作", "学历证书", "职业资格证书", "学分银行", "双师型", "双师型教师",
    "职业教育", "职业学校", "职业培训", "高等职业学校", "中等职业学校", "技工学校", "职业本科",
    "现代学徒制", "订单培养", "实训基地", "考核站点", "国家资历框架", "教育行政部门",
    "人力资源社会保障部", "国家发展改革委", "市场监管总局", "职业教育法", "教育部办公厅",
    "试点院校", "试点方案", "技术技能人才", "复工复产", "疫情防控", "社会保险费", "小微企业",
    "个体工商户", "减免", "缓缴", "延期", "贴息贷款", "稳岗返还", "留抵退税",
)

STOP_WORDS = frozenset(
    "的 了 和 与 及 或 等 是 在 对 为 以 由 于 将 把 被 所 其 之 也 而 并 且 就 都 又 还 这 那 该 此 各 "
    "有 无 个 上 下 中 从 到 向 给 让 吗 呢 吧 啊 呀 么 什么 哪些 哪个 哪 怎么 怎样 如何 为什么 多少 "
    "谁 讲 说 写 讲了 说了 文件 是否 能否 可以 可否 请问 一下 一个 有关 关于 进行 相关 方面 情况 问题 规定 要求".split()
)

_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.+][a-z0-9]+)*\+?")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()


def normalize(text: str) -> str:
    """Full-width to half-width letters/digits and lower case, so ＡＢ１ and ab1 match."""
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=1)
def _jieba():
    """One private jieba tokenizer with the domain dictionary, built on first use."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    with _lock:
        tokenizer.initialize()
        for term in DOMAIN_TERMS:
            tokenizer.add_word(normalize(term), freq=200_000)
    return tokenizer


def word_tokens(text: str) -> list[str]:
    """jieba search-mode words, without stop words and punctuation."""
    tokens = _jieba().lcut_for_search(normalize(text))
    return [intern(t) for t in (t.strip() for t in tokens) if t and t not in STOP_WORDS and not _PUNCT.match(t)]


@lru_cache(maxsize=1)
def _tagger():
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_jieba())


def tagged_words(text: str) -> list[tuple[str, str]]:
    """jieba precise-mode words with their part-of-speech flags (n, v, vn, nz, …), as written."""
    return [(t.word, t.flag) for t in _tagger().lcut(text)]


def char_tokens(text: str) -> list[str]:
    """CJK unigrams and bigrams within runs of CJK characters, plus ASCII words and numbers.

    Bigrams carry most of the matching power on policy text (measured on ../shared/eval/ncp), and
    unigrams keep single-character queries (省, 税) answerable.
    """
    text = normalize(text)
    tokens: list[str] = []
    for run in _CJK_RUN.findall(text):
        tokens.extend(c for c in run if c not in STOP_WORDS)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    tokens.extend(_ASCII_WORD.findall(text))
    # one shared string per distinct token: 13M tokens of the law corpus took 1.1 GB as separate
    # strings and 0.14 GB interned
    return list(map(intern, tokens))


def char_query_tokens(text: str) -> list[str]:
    """A question's character tokens: bigrams, plus unigrams only where a CJK run is one character.

    Unigrams of a whole question mostly add common characters that match everywhere; dropping
    them raised MRR@10 on ncp dev from 0.869 to 0.876 (bench/ncp.py).
    """
    text = normalize(text)
    tokens: list[str] = []
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            tokens.extend(c for c in run if c not in STOP_WORDS)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    tokens.extend(_ASCII_WORD.findall(text))
    return tokens


# How documents are analysed for indexing, and how questions are analysed for searching them.
ANALYZERS = {"words": word_tokens, "chars": char_tokens}
QUERY_ANALYZERS = {"words": word_tokens, "chars": char_query_tokens}


# The code of every rule that makes tokens; `analyzer_fingerprint` covers each of them.
_RULES = (normalize, _jieba, word_tokens, char_tokens, char_query_tokens)


@lru_cache(maxsize=1)
def analyzer_fingerprint() -> str:
    """Changes whenever tokens could: dictionary, stop words, jieba version, the patterns, and the
    code of every rule here (words and character n-grams alike; comments and docstrings aside).

    An index whose terms were counted under another fingerprint has them counted again.
    """
    import hashlib
    from importlib.metadata import version

    h = hashlib.sha256()
    for part in (*DOMAIN_TERMS, "|", *sorted(STOP_WORDS), "|", version("jieba"), "|", _PUNCT.pattern,
                 _ASCII_WORD.pattern, _CJK_RUN.pattern, "|", *map(_code, _RULES), "|",
                 " ".join(f"{k}={f.__name__}" for table in (ANALYZERS, QUERY_ANALYZERS) for k, f in table.items())):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _code(function) -> str:
    """A function's code as a syntax tree, without its docstring, comments or layout."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function)))).body[0]
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        tree.body = body[1:]  # the docstring
    tree.decorator_list = []
    return ast.dump(tree)
