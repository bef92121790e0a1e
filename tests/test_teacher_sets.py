"""bench/data/check_teacher_set.py: it finds each kind of fault on a small corpus of its own, and both
pairs of teacher question files (the tuned dev pair, the fresh, lay and fresh2 pairs and the untouched fresh3 pair)
pass it on ../shared/corpus."""

import importlib.util
import json
import sys

import pytest

from tests.conftest import REPO, shared_path

DATA = REPO / "bench" / "data"
PAIRS = [("teacher_dev.jsonl", "teacher_unanswerable.jsonl"),
         ("teacher_fresh.jsonl", "teacher_fresh_unanswerable.jsonl"),
         ("teacher_lay.jsonl", "teacher_lay_unanswerable.jsonl"),
         ("teacher_fresh2.jsonl", "teacher_fresh2_unanswerable.jsonl"),
         ("teacher_fresh3.jsonl", "teacher_fresh3_unanswerable.jsonl")]
LAW = "laws/示例条例.md"


def _checker():
    spec = importlib.util.spec_from_file_location("check_teacher_set", DATA / "check_teacher_set.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


check_teacher_set = _checker()


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    """One law with two articles and two news records, one repeating a sentence of the other."""
    root = tmp_path / "corpus"
    (root / "laws").mkdir(parents=True)
    (root / LAW).write_text("# 示例条例\n\n第一条 职业学校应当开设实训课程。\n\n第二条 本条例自2020年1月1日起施行。\n",
                            encoding="utf-8")
    _write(root / "news.jsonl", [{"id": "n1", "text": "市教委公布了五十个资源库，将在春季上线。"},
                                 {"id": "n2", "text": "转载：市教委公布了五十个资源库。"}])
    return root


def _row(**changes):
    row = {"id": "x1", "question": "条例什么时候施行？", "gold_doc": LAW, "gold_file": LAW, "answer": "本条例自2020年1月1日起施行",
           "gold_article": "第二条", "kind": "when", "style": "formal", "history": [], "also_in": [], "span_group": "g1"}
    return row | changes


def _missing(**changes):
    row = {"id": "u1", "question": "条例对食堂有什么规定？", "style": "formal", "reason": "uncovered topic: no canteen",
           "history": [], "absent_terms": ["食堂"]}
    return row | changes


def _problems(tmp_path, corpus, rows, missing=()):
    answerable = _write(tmp_path / "a.jsonl", rows)
    unanswerable = _write(tmp_path / "u.jsonl", list(missing) or [_missing()])
    return check_teacher_set.check(answerable, unanswerable, corpus)[0]


def test_a_correct_pair_has_no_problem(tmp_path, corpus):
    news = _row(id="x2", gold_doc="n1", gold_file="news.jsonl", answer="市教委公布了五十个资源库", gold_article=None,
                also_in=["n2"], span_group="g2")
    assert _problems(tmp_path, corpus, [_row(), news]) == []


@pytest.mark.parametrize(("changes", "fault"), [
    ({"answer": "本条例自2021年1月1日起施行"}, "not verbatim"),
    ({"list_items": ["职业学校应当开设理论课程"]}, "list item"),
    ({"second_gold": [{"doc": "n1", "answer": "秋季上线"}]}, "second_gold"),
    ({"gold_article": "第一条"}, "stands under '第二条'"),
    ({"gold_file": "laws/其他.md"}, "gold_file"),
    ({"also_in": ["n1"]}, "without the span"),
    ({"gold_doc": "laws/没有.md"}, "no document of the corpus"),
    ({"style": "chatty"}, "unknown style"),
    ({"kind": "why"}, "unknown kind"),
    ({"history": ["上一个问题？"]}, "history"),
])
def test_each_fault_of_an_answerable_row_is_named(tmp_path, corpus, changes, fault):
    problems = _problems(tmp_path, corpus, [_row(**changes)])
    assert len(problems) == 1 and fault in problems[0], problems


def test_an_other_document_holding_the_span_must_be_in_also_in(tmp_path, corpus):
    news = _row(gold_doc="n1", gold_file="news.jsonl", answer="市教委公布了五十个资源库", gold_article=None)
    problems = _problems(tmp_path, corpus, [news])
    assert problems == ["a.jsonl:1 (x1): also_in misses ['n2']"]


def test_one_span_group_per_span(tmp_path, corpus):
    twice = [_row(), _row(id="x2", question="条例哪天施行？", span_group="g2")]
    assert any("the same span is in group 'g1'" in p for p in _problems(tmp_path, corpus, twice))
    shared = [_row(), _row(id="x2", answer="职业学校应当开设实训课程", gold_article="第一条")]
    assert any("holds two different spans" in p for p in _problems(tmp_path, corpus, shared))


@pytest.mark.parametrize(("missing", "fault"), [
    (_missing(absent_terms=["资源库"]), "absent term '资源库' occurs in ['n1', 'n2']"),
    (_missing(absent_terms=[], absent_in_doc={LAW: ["实训"]}), f"'实训' occurs in {LAW}"),
    (_missing(absent_terms=[], absent_in_doc={"n9": ["实训"]}), "no document of the corpus"),
    (_missing(absent_terms=[]), "says what is absent"),
    (_missing(reason=""), "no reason"),
    (_missing(style="followup"), "history"),
])
def test_each_fault_of_an_unanswerable_row_is_named(tmp_path, corpus, missing, fault):
    problems = _problems(tmp_path, corpus, [_row()], [missing])
    assert len(problems) == 1 and fault in problems[0], problems


def test_a_question_repeated_from_an_older_file_is_a_problem(tmp_path, corpus):
    older = _write(tmp_path / "older.jsonl", [_row(id="t9")])
    answerable, unanswerable = _write(tmp_path / "a.jsonl", [_row()]), _write(tmp_path / "u.jsonl", [_missing()])
    problems, summary = check_teacher_set.check(answerable, unanswerable, corpus, [older])
    assert problems == ["x1: question repeats an existing one: 条例什么时候施行？"]
    assert "not among the 1 existing spans: 0/1" in summary


@pytest.mark.parametrize(("answerable", "unanswerable"), PAIRS)
def test_the_teacher_question_files_pass_the_check(answerable, unanswerable):
    corpus = shared_path("corpus")
    problems, summary = check_teacher_set.check(DATA / answerable, DATA / unanswerable, corpus)
    assert problems == [], "\n".join(problems)
    assert summary.endswith("over 111 documents")


def test_the_fresh_pair_repeats_no_question_of_the_tuned_pair():
    corpus = shared_path("corpus")
    problems, _ = check_teacher_set.check(DATA / PAIRS[1][0], DATA / PAIRS[1][1], corpus,
                                          [DATA / name for name in PAIRS[0]])
    assert problems == [], "\n".join(problems)


def test_the_fresh2_pair_repeats_no_question_of_the_earlier_pairs():
    corpus = shared_path("corpus")
    problems, _ = check_teacher_set.check(DATA / PAIRS[3][0], DATA / PAIRS[3][1], corpus,
                                          [DATA / name for pair in PAIRS[:3] for name in pair])
    assert problems == [], "\n".join(problems)


def test_the_fresh3_pair_repeats_no_question_of_the_earlier_pairs():
    corpus = shared_path("corpus")
    problems, _ = check_teacher_set.check(DATA / PAIRS[4][0], DATA / PAIRS[4][1], corpus,
                                          [DATA / name for pair in PAIRS[:4] for name in pair])
    assert problems == [], "\n".join(problems)


def test_a_repeated_id_is_a_problem(tmp_path, corpus):
    rows = [_row(), _row(question="条例哪天施行？")]
    assert _problems(tmp_path, corpus, rows) == ["a.jsonl:2 (x1): duplicate id"]


def test_the_command_exits_1_on_a_problem_and_0_without(tmp_path, corpus, capsys):
    unanswerable = _write(tmp_path / "u.jsonl", [_missing()])
    good, bad = _write(tmp_path / "good.jsonl", [_row()]), _write(tmp_path / "bad.jsonl", [_row(gold_article=None)])
    assert check_teacher_set.main([str(good), str(unanswerable), "--corpus", str(corpus)]) == 0
    assert check_teacher_set.main([str(bad), str(unanswerable), "--corpus", str(corpus)]) == 1
    assert "1 problem(s)" in capsys.readouterr().out
    assert check_teacher_set.main([str(tmp_path / "none.jsonl"), str(unanswerable), "--corpus", str(corpus)]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
