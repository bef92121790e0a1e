"""Everyday words read in the documents' words (kb.lay, kb/data/lay_terms.tsv)."""

import importlib.util
import sys

import pytest

from kb.errors import KBError
from kb.lay import LEXICON_PATH, formal_words, formalize, lay_words, lexicon, search_text
from tests.conftest import REPO, index_rows, shared_path


def _checker():
    spec = importlib.util.spec_from_file_location("check_lay_terms", REPO / "bench" / "data" / "check_lay_terms.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


check_lay_terms = _checker()


def test_the_shipped_list_loads_and_maps_everyday_words_to_others():
    table = lexicon()
    assert table["生孩子"] == ("生育", "产假") and "民办学校" in table["私立学校"]
    assert all(lay not in words for lay, words in table.items())


def test_the_longest_everyday_word_is_read_first():
    assert lay_words("学校能请非遗传承人来上课吗") == ("非遗传承人",)  # not 传人 or 非遗 alone
    assert formal_words("私立学校能办成赚钱的吗") == ("民办学校", "营利")


def test_words_the_question_already_says_are_not_added():
    assert formal_words("女员工生孩子后女职工的产假") == ("生育",)
    assert search_text("职业学校的设立条件") == "职业学校的设立条件"


def test_an_everyday_word_inside_a_name_is_part_of_that_name():
    # 宝山区 and 石景山区 are districts, not 山区 (remote mountain areas); 学分银行 is no bank
    for question in ("上海市宝山区大场镇针对商铺管理不到位问题是如何处理的？", "石景山区补贴标准是什么？",
                     "职业教育法对国家学分银行有什么规定？", "上海市交通银行提供什么支持？"):
        assert lay_words(question) == () and formalize(question) == question
    assert lay_words("去偏远山区支教有补贴吗") == ("偏远山区",)
    # inside an ordinary word it is still read: 寒暑假, 殴打了
    assert lay_words("老师有没有权利带薪休寒暑假？") == ("暑假",)
    assert "殴打" in formalize("老师被人殴打了怎么办")


def test_formalize_puts_the_documents_words_in_the_everyday_ones_place():
    assert formalize("女员工生孩子能休多少天假？").split() == ["女职工", "生育", "产假", "能休多少天假？"]


@pytest.mark.parametrize("line", ["生孩子", "生孩子\t", "\t生育", "生孩子\t生孩子"])
def test_a_broken_list_is_an_error_naming_the_file_and_line(tmp_path, line):
    path = tmp_path / "lay.tsv"
    path.write_text("# comment\n" + line + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"lay\.tsv:2"):
        lexicon(path)


def test_a_question_in_everyday_words_finds_and_trusts_the_clause_in_the_documents_words(tmp_path, monkeypatch):
    from kb.answer import draft
    from kb.config import AskSettings
    rows = [{"id": "labour", "title": "示例劳动保护条例",
             "text": "第一条 为了保护劳动者的合法权益，制定本条例。\n"
                     "第二条 女职工生育享受不少于九十天的产假。\n"
                     "第三条 用人单位应当按时足额支付劳动者工资。\n"},
            {"id": "school", "title": "示例学校管理办法",
             "text": "第一条 学校应当建立健全安全管理制度。\n第二条 学生宿舍应当定期检查。\n"}]
    retriever = index_rows(tmp_path, rows)
    everyday = AskSettings(min_confidence=0.0)
    read = draft(retriever, "女员工生孩子能休多少天假？", everyday)
    assert "九十天的产假" in read.answer.text and read.answer.citations[0].doc_id == "labour"
    # read in its own words only: nothing in the documents says 女员工 or 生孩子
    monkeypatch.setattr("kb.answer.search_text", lambda text: text)
    monkeypatch.setattr("kb.answer.formalize", lambda text: text)
    literal = draft(retriever, "女员工生孩子能休多少天假？", everyday)
    assert read.signals.coverage > literal.signals.coverage + 0.3
    assert read.confidence > literal.confidence + 0.2


def test_the_checker_finds_each_kind_of_bad_entry(tmp_path):
    path = tmp_path / "lay.tsv"
    path.write_text("# family\n生孩子\t生育 产假\n生孩子\t生育\n怀孕\t孕期 怀孕\n学校\t学校教育\n坐月子\t月子假\n"
                    "加班\n", encoding="utf-8")
    entries, problems = check_lay_terms.read_entries(path)
    assert problems == ["lay.tsv:3: '生孩子' is listed already on line 2", "lay.tsv:4: '怀孕' maps to itself",
                        "lay.tsv:7: expected 'everyday word<TAB>formal words', got '加班'"]
    laws = {f"vocational-law/{n}.md": f"第一条 学校应当保护女职工。生育享受产假，孕期不得{n}。学校教育。" for n in range(4)}
    problems = check_lay_terms.check(entries, {**laws, "seed/paper.txt": "坐月子 怀孕"}, {}, max_laws=3)
    assert problems == ["line 5 (学校): the everyday word stands in 4 of the 4 laws (at most 3): the laws say it themselves",
                        "line 6 (坐月子): formal words no document holds: 月子假"]
    # the wider law collection counts for the formal words, never for how colloquial a word is
    assert check_lay_terms.check(entries, laws, {"社会法/a.md": "坐月子 怀孕 月子假"}, max_laws=4) == []


def test_the_shipped_list_passes_the_checker_on_the_shared_corpus(capsys):
    corpus, laws = shared_path("corpus"), shared_path("corpus-scale", "laws")
    code = check_lay_terms.main([str(LEXICON_PATH), "--corpus", str(corpus), "--laws", str(laws)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert len(lexicon()) >= 350 and f"{len(lexicon())} entries" in out
