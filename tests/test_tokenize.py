"""Lexical analysis: jieba words with the policy dictionary, character n-grams for documents and questions."""

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


def test_fingerprint_is_stable():
    assert analyzer_fingerprint() == analyzer_fingerprint() and len(analyzer_fingerprint()) == 16
