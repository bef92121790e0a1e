"""Lexical analysis: jieba words with the policy dictionary, character n-grams for documents and questions."""

from pathlib import Path

from kb.tokenize import analyzer_fingerprint, char_query_tokens, char_tokens, word_tokens


def test_domain_terms_stay_whole():
    tokens = word_tokens("职业技能等级证书由培训评价组织颁发，推进产教融合")
    for term in ("职业技能等级证书", "培训评价组织", "产教融合"):
        assert term in tokens
    assert "1+x" in word_tokens("1+X证书")


def test_stop_words_and_punctuation_are_dropped():
    assert word_tokens("请问什么是学分银行？") == ["学分", "银行", "学分银行"]
    assert word_tokens("？！，。") == []


def test_full_width_and_case_are_folded():
    assert word_tokens("ＡＢＣ１２３") == word_tokens("abc123") == ["abc123"]


def test_document_char_tokens_are_unigrams_bigrams_and_ascii_words():
    # per run of CJK: unigrams (stop words such as 有 dropped), then bigrams; ASCII words last
    assert char_tokens("证书有效期 3年") == ["证", "书", "效", "期", "证书", "书有", "有效", "效期", "年", "3"]


def test_question_char_tokens_drop_unigrams_of_longer_runs():
    assert char_query_tokens("证书有效期？省") == ["证书", "书有", "有效", "效期", "省"]


def test_tokens_are_interned():
    a, b = char_tokens("证书"), char_tokens("有证书")
    assert a[-1] is b[-1]  # the same "证书" string object: large corpora would otherwise hold millions of copies


GOLDEN_TEXT = "关于１＋Ｘ证书制度试点的通知：证书有效期为3年，ABC等级考核由培训评价组织实施。省"
# Pinned: a change to any rule, the dictionary or the stop words changes these tokens or this
# fingerprint, or both. Update them together, knowing that every index recounts its terms.
GOLDEN_FINGERPRINT = "020d18405928769d"


def test_golden_tokens_and_the_analyzer_version_that_names_them():
    assert word_tokens(GOLDEN_TEXT) == [
        "证书", "1+x", "1+x证书", "制度", "试点", "通知", "证书", "有效", "效期", "有效期", "3", "年", "abc", "等级",
        "考核", "培训", "评价", "组织", "培训评价组织", "实施", "省"]
    assert char_tokens(GOLDEN_TEXT) == [
        "关", "关于", "证", "书", "制", "度", "试", "点", "通", "知", "证书", "书制", "制度", "度试", "试点", "点的",
        "的通", "通知", "证", "书", "效", "期", "证书", "书有", "有效", "效期", "期为", "年", "级", "考", "核", "培",
        "训", "评", "价", "组", "织", "实", "施", "等级", "级考", "考核", "核由", "由培", "培训", "训评", "评价", "价组",
        "组织", "织实", "实施", "省", "1+x", "3", "abc"]
    assert char_query_tokens(GOLDEN_TEXT) == [
        "关于", "证书", "书制", "制度", "度试", "试点", "点的", "的通", "通知", "证书", "书有", "有效", "效期", "期为",
        "年", "等级", "级考", "考核", "核由", "由培", "培训", "训评", "评价", "价组", "组织", "织实", "实施", "省",
        "1+x", "3", "abc"]
    assert analyzer_fingerprint() == GOLDEN_FINGERPRINT


def _variant(tmp_path, old: str, new: str) -> str:
    """The fingerprint of a copy of kb/tokenize.py with one rule changed."""
    import importlib.util

    import kb.tokenize

    source = Path(kb.tokenize.__file__).read_text(encoding="utf-8")
    assert source.count(old) == 1
    path = tmp_path / f"variant_{abs(hash(new))}.py"
    path.write_text(source.replace(old, new), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.analyzer_fingerprint()


def test_any_rule_change_changes_the_analyzer_version(tmp_path):
    same = _variant(tmp_path, '"""Lexical analysis', '"""A docstring and comment change no rule.\n# -\nLexical')
    assert same == analyzer_fingerprint()
    changed = [
        # document n-grams: trigrams instead of bigrams
        _variant(tmp_path, "\n        tokens.extend(c for c in run if c not in STOP_WORDS)\n        tokens.extend(run[i : i + 2]",
                 "\n        tokens.extend(c for c in run if c not in STOP_WORDS)\n        tokens.extend(run[i : i + 3]"),
        # question n-grams: unigrams of every run
        _variant(tmp_path, "        if len(run) == 1:\n", "        if len(run) >= 1:\n"),
        # the CJK ranges
        _variant(tmp_path, r"\uf900-\ufaff]+", r"\uf900-\ufaff\u3040-\u30ff]+"),
        # the dictionary's weight
        _variant(tmp_path, "freq=200_000", "freq=100_000"),
    ]
    assert analyzer_fingerprint() not in changed and len(set(changed)) == len(changed)
