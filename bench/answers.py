"""Answer-stage benchmark, per question style, on held-back halves of two mixed sets:

- teacher: conversational teacher/staff questions over ../shared/corpus (bench/data/teacher_dev.jsonl,
  with follow-ups asked after their history) and near-miss questions it cannot answer
  (bench/data/teacher_unanswerable.jsonl);
- ncp: ../shared/eval/ncp/dev.jsonl over the ncp corpus, and bench/data/unanswerable_ncp.jsonl;
- fresh (`--sets teacher,ncp,fresh`): teacher questions written after the answer stage was first tuned
  (bench/data/teacher_fresh.jsonl, teacher_fresh_unanswerable.jsonl); the untouched set until fresh2
  came, now dev data like teacher, in fit and report halves;
- fresh2 (`--sets …,fresh2`): 143 teacher questions and 63 near misses written by someone who never saw
  an answer of the system (bench/data/teacher_fresh2.jsonl, teacher_fresh2_unanswerable.jsonl): held out
  for a round, now dev data in fit and report halves;
- fresh3 (`--sets …,fresh3`): 110 teacher questions and 45 near misses written the same way a round
  later (bench/data/teacher_fresh3.jsonl, teacher_fresh3_unanswerable.jsonl): never fitted on and never
  read for tuning, every one of them in the report half;
- lay (`--sets lay`): questions in everyday words over the laws (bench/data/teacher_lay.jsonl, 19, and
  8 near misses), written together with kb/data/lay_terms.tsv, so tuned on; never fitted on either.

Every question falls in the fit half or the report half by a hash of its id. `--fit` fits the
evidence model (kb/evidence_model.json) on the fit halves only and picks its operating point there;
the figures printed are the report halves' (`--half fit` or `--half all` to see the others).

    python bench/answers.py [--fit] [--corpus-index /tmp/answer-corpus] [--ncp-index /tmp/answer-ncp]
    python bench/answers.py --load run.jsonl --transfer   # fitted on teacher + ncp, scored on fresh

Per style: answer contains the gold span, citations include the gold document, false refusals
(answerable questions refused), correct refusals (unanswerable ones refused), p50/p95 ms per answer,
for list and comparison questions whether the answer holds every item / both sides, for answers leading
with a fact (「三年。[1]」) whether that fact stands in the gold span ("facts"), and "composed":
the answer as composed holds the gold span, refused or not (the answer stage without the refusal). Teacher
questions asking for the same span in other words (span_group) fall in the same half.
Prints a table on stderr and one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.answer import draft  # noqa: E402
from kb.config import AskSettings, BuildSettings  # noqa: E402
from kb.evidence import FEATURES, EvidenceModel, fit, load_model, operating_point, save_model  # noqa: E402
from kb.pipeline import build_index, open_retriever  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
NEVER_REFUSE = AskSettings(min_confidence=0.0)
LEFT_OUT = ("unknown",)  # signals the evidence model is fitted without (see _without_left_out)


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    style: str
    gold_docs: tuple[str, ...] = ()  # empty: unanswerable
    answer: str = ""
    history: tuple[str, ...] = ()
    group: str = ""  # questions asking for the same span in other words share a group (and a half)
    also: tuple[str, ...] = ()  # other spans a complete answer holds: every list item, the other side
    alt_answers: tuple[str, ...] = ()  # a span of another document that answers equally well
    held_out: bool = False  # a set never fitted on: always in the report half

    @property
    def answerable(self) -> bool:
        return bool(self.gold_docs)

    @property
    def half(self) -> str:
        """"fit" or "report", by the id's hash: stable across runs and machines."""
        if self.held_out:
            return "report"
        return "fit" if self._hash() % 2 == 0 else "report"

    def fold(self, folds: int) -> int:
        """Which of `folds` folds of its half the question falls in (the same group, the same fold)."""
        return (self._hash() // 2) % folds

    def _hash(self) -> int:
        key = self.group or self.id
        return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16)


@dataclass
class Result:
    item: Item
    signals: np.ndarray | None  # None: decided without the model (a named document, a version question)
    confidence: float
    refused_anyway: bool
    contains_gold: bool
    cites_gold: bool
    ms: float
    kind: str = ""
    complete: bool | None = None  # holds every span in `also` too (None: nothing more to hold)
    text: str = ""  # the answer as given (refusals included), for reading the failures


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def contains_gold(answer_text: str, gold: str) -> bool:
    """The answer holds the gold answer, or its first 20 characters when the gold is longer."""
    gold = _squash(gold)
    return bool(gold) and gold[:20] in _squash(answer_text)


_FACT_LINE = re.compile(r"^([^《》\n\[]{1,30})。\[\d+\]$")


def fact_right(answer_text: str, golds: tuple[str, ...]) -> bool | None:
    """Whether the fact a short answer leads with (「三年。[1]」) stands in the gold span, or the gold in
    it; None for an answer that leads with no fact."""
    m = _FACT_LINE.match(answer_text.split("\n", 1)[0])
    if m is None:
        return None
    fact = _squash(m.group(1))
    return any(fact in _squash(g) or _squash(g) in fact for g in golds if g)


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{n}: not JSON ({e})") from None
    return rows


def teacher_items(answerable: str = "teacher_dev.jsonl", unanswerable: str = "teacher_unanswerable.jsonl",
                  held_out: bool = False) -> list[Item]:
    items = []
    for r in read_jsonl(HERE / "data" / answerable):
        alt = r.get("alt_gold", [])
        items.append(Item(r["id"], r["question"], r["style"],
                          (r["gold_doc"], *r.get("also_in", ()), *(a["doc"] for a in alt)), r["answer"],
                          tuple(r.get("history", ())), r.get("span_group", ""),
                          tuple(r.get("list_items", ())) + tuple(g["answer"] for g in r.get("second_gold", ())),
                          tuple(a["answer"] for a in alt), held_out))
    path = HERE / "data" / unanswerable
    if path.exists():
        items += [Item(r["id"], r["question"], r["style"], history=tuple(r.get("history", ())), held_out=held_out)
                  for r in read_jsonl(path)]
    return items


def fresh_items() -> list[Item]:
    return teacher_items("teacher_fresh.jsonl", "teacher_fresh_unanswerable.jsonl")


def fresh2_items() -> list[Item]:
    return teacher_items("teacher_fresh2.jsonl", "teacher_fresh2_unanswerable.jsonl")


def fresh3_items() -> list[Item]:
    """The set nobody tuned on: all in the report half, its failures never read to change the code."""
    return teacher_items("teacher_fresh3.jsonl", "teacher_fresh3_unanswerable.jsonl", held_out=True)


def lay_items() -> list[Item]:
    """Questions in everyday words (生孩子, 私立学校) over the laws, written with kb/data/lay_terms.tsv:
    tuned on, unlike the fresh set; never fitted on, all in the report half."""
    return teacher_items("teacher_lay.jsonl", "teacher_lay_unanswerable.jsonl", held_out=True)


def ncp_items() -> list[Item]:
    items = [Item(r["id"], r["question"], "ncp", (r["gold_doc"],), r.get("answer", ""))
             for r in read_jsonl(SHARED / "eval/ncp/dev.jsonl")]
    items += [Item("u" + hashlib.sha1(r["question"].encode("utf-8")).hexdigest()[:12], r["question"], "ncp")
              for r in read_jsonl(HERE / "data/unanswerable_ncp.jsonl")]
    return items


def run(retriever, items: list[Item]) -> list[Result]:
    """Each question answered with the evidence model never refusing, so that any threshold can be
    applied afterwards; a follow-up is asked after its history, each answer the next one's context."""
    draft(retriever, "证书有效期是多久？", NEVER_REFUSE)  # warm: the first question loads jieba and the model
    out = []
    for item in items:
        previous = None
        for earlier in item.history:
            previous = draft(retriever, earlier, AskSettings(), previous).answer
        t = time.perf_counter()
        d = draft(retriever, item.question, NEVER_REFUSE, previous)
        ms = 1000 * (time.perf_counter() - t)
        if d.signals is None and d.answer.kind == "compare":
            # each side is judged by the evidence model inside the answer, so a comparison is asked as
            # the app asks it (by the shipped model): never refusing, a side with no basis would be
            # answered from whatever its documents hold. Timed alone: the first draft was only a probe
            t = time.perf_counter()
            d = draft(retriever, item.question, AskSettings(), previous)
            ms = 1000 * (time.perf_counter() - t)
        answer = d.answer
        found = item.answerable and any(contains_gold(answer.text, g) for g in (item.answer, *item.alt_answers))
        complete = all(contains_gold(answer.text, g) for g in item.also) and found if item.also else None
        out.append(Result(item, None if d.signals is None else d.signals.vector(), d.confidence, answer.refused,
                          found, any(c.doc_id in item.gold_docs for c in answer.citations), ms, answer.kind,
                          complete, answer.text))
    return out


def save_results(results: dict[str, list[Result]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for name, rows in results.items():
            for r in rows:
                f.write(json.dumps({"set": name, "item": r.item.__dict__, "signals": None if r.signals is None
                                    else r.signals.tolist(), "confidence": r.confidence, "refused": r.refused_anyway,
                                    "contains": r.contains_gold, "cites": r.cites_gold, "ms": r.ms, "kind": r.kind,
                                    "complete": r.complete, "text": r.text},
                                   ensure_ascii=False) + "\n")


def load_results(path: Path) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {}
    for row in read_jsonl(path):
        item = Item(**{k: tuple(v) if isinstance(v, list) else v for k, v in row["item"].items()})
        signals = None if row["signals"] is None else np.array(row["signals"])
        results.setdefault(row["set"], []).append(Result(item, signals, row["confidence"], row["refused"],
                                                         row["contains"], row["cites"], row["ms"], row["kind"],
                                                         row["complete"], row.get("text", "")))
    return results


def refused(r: Result, threshold: float) -> bool:
    return r.refused_anyway or (r.signals is not None and r.confidence < threshold)


def scores(rows: list[Result], threshold: float) -> dict:
    answerable = [r for r in rows if r.item.answerable]
    unanswerable = [r for r in rows if not r.item.answerable]
    kept = [r for r in answerable if not refused(r, threshold)]
    ms = np.array([r.ms for r in rows]) if rows else np.zeros(1)
    facts = [fact_right(r.text, (r.item.answer, *r.item.alt_answers)) for r in kept]

    def share(n: int, d: int):
        return round(n / d, 3) if d else None

    return {"answerable": len(answerable), "unanswerable": len(unanswerable),
            "contains_gold": share(sum(r.contains_gold for r in kept), len(answerable)),
            # the answer stage alone: the answer as composed holds the gold, whether refused or not
            "composed_gold": share(sum(r.contains_gold for r in answerable), len(answerable)),
            "cites_gold_doc": share(sum(r.cites_gold for r in kept), len(answerable)),
            "false_refusals": share(sum(refused(r, threshold) for r in answerable), len(answerable)),
            "correct_refusals": share(sum(refused(r, threshold) for r in unanswerable), len(unanswerable)),
            # list and comparison questions: the answer holds every item / both sides
            "complete": share(sum(bool(r.complete) for r in kept if r.complete is not None),
                              sum(r.complete is not None for r in answerable)),
            # answers leading with a fact (「三年。[1]」): the fact stands in the gold span
            "fact_right": share(sum(bool(f) for f in facts), sum(f is not None for f in facts)),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def by_style(rows: list[Result], threshold: float) -> dict:
    styles = sorted({r.item.style for r in rows})
    table = {s: scores([r for r in rows if r.item.style == s], threshold) for s in styles}
    table["all"] = scores(rows, threshold)
    return table


def _without_left_out(x: np.ndarray) -> np.ndarray:
    """The signals with those the model is fitted without set to 0 (weight 0 once fitted): `unknown` counts
    filler no passage holds (来着, 咋) as much as topics, and was fitted with the sign that answers a question
    the more of its words the index lacks (「个人所得税专项附加扣除标准」 on the sample corpus);
    `unknown_topic` carries what it should say."""
    x = x.copy()
    x[:, [FEATURES.index(name) for name in LEFT_OUT]] = 0.0
    return x


def fit_model(rows: list[Result], folds: int = 5, penalties: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)) -> EvidenceModel:
    """The evidence model fitted on the fit halves, its threshold the operating point there.

    The L2 penalty is the one of `penalties` whose out-of-fold probabilities (each fit-half question
    scored by a model fitted on the other folds) have the lowest log loss, and the threshold is read
    off those probabilities too: a model scores the very questions it was fitted on too kindly, so a
    threshold chosen on them refuses more answerable questions than it promises on new ones. It is the
    cautious operating point (kb.evidence.cautious_operating_point): at most 5% false refusals per origin
    with 80% confidence over bootstrap resamples."""
    # imported here, so that this script also scores a checkout from before it (without --fit)
    from kb.evidence import cautious_operating_point

    used = [r for r in rows if r.signals is not None]
    x = np.vstack([r.signals for r in used])
    x = _without_left_out(x)
    y = np.array([r.item.answerable for r in used], dtype=np.float64)
    fold = np.array([r.item.fold(folds) for r in used])

    def out_of_fold(l2: float) -> np.ndarray:
        p = np.zeros(len(used))
        for k in range(folds):
            test = fold == k
            w, b, mean, scale = fit(x[~test], y[~test], l2=l2)
            held = EvidenceModel(tuple(map(float, w)), b, tuple(map(float, mean)), tuple(map(float, scale)), 0.5,
                                 FEATURES)
            p[test] = [held.probability_of(v) for v in x[test]]
        return p

    def log_loss(p: np.ndarray) -> float:
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    l2, p = min(((l2, out_of_fold(l2)) for l2 in penalties), key=lambda lp: log_loss(lp[1]))
    w, b, mean, scale = fit(x, y, l2=l2)
    # refuse at most 5% of each origin's answerable questions (the larger set would hide the other's),
    # with 80% confidence over bootstrap resamples: the plain operating point of these out-of-fold
    # probabilities swings between 0.36 and 0.62 with the sample
    origin = np.array([r.item.style == "ncp" for r in used])
    threshold = cautious_operating_point(p, y == 1, origin, max_false_refusals=0.05, confidence=0.8)
    sets = sorted({r.item.style for r in used})
    return EvidenceModel(tuple(map(float, w)), b, tuple(map(float, mean)), tuple(map(float, scale)),
                         round(threshold, 4), FEATURES,
                         f"fit half of bench/answers.py sets: {len(used)} questions ({int(y.sum())} answerable), "
                         f"styles {', '.join(sets)}; L2 penalty {l2:g} and threshold (the cautious operating point: at "
                         f"most 5% false refusals per origin with 80% confidence) from {folds}-fold out-of-fold "
                         f"probabilities")


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    if not len(positive) or not len(negative):
        return float("nan")
    above = (positive[:, None] > negative[None, :]).mean()
    return float(above + 0.5 * (positive[:, None] == negative[None, :]).mean())


def transfer(results: dict[str, list[Result]], l2: float = 3.0, folds: int = 5) -> dict:
    """How the evidence decision carries over to a question set it was not fitted on: fitted on the
    teacher and ncp fit halves, its operating point read off their out-of-fold probabilities (5% false
    refusals per origin), then scored on every fresh question (both halves)."""
    train = [r for name in ("teacher", "ncp") for r in results.get(name, []) if r.item.half == "fit"
             and r.signals is not None]
    test = [r for r in results.get("fresh", []) if r.signals is not None]
    if not train or not test:
        return {}
    x, y = np.vstack([r.signals for r in train]), np.array([r.item.answerable for r in train])
    x, xt = _without_left_out(x), _without_left_out(np.vstack([r.signals for r in test]))
    yt = np.array([r.item.answerable for r in test])
    fold = np.array([r.item.fold(folds) for r in train])
    p = np.zeros(len(train))
    for k in range(folds):
        w, b, mean, scale = fit(x[fold != k], y[fold != k], l2=l2)
        p[fold == k] = 1 / (1 + np.exp(-(((x[fold == k] - mean) / scale) @ w + b)))
    origin = np.array([r.item.style == "ncp" for r in train])
    threshold = min(operating_point(p[y & (origin == o)], p[~y], 0.05) for o in (True, False))
    w, b, mean, scale = fit(x, y, l2=l2)
    q = 1 / (1 + np.exp(-(((xt - mean) / scale) @ w + b)))
    out = {"threshold": round(threshold, 4),
           "out_of_fold_false_refusals": round(float(np.mean(p[y] < threshold)), 3),
           "out_of_fold_auc": round(auc(p[y], p[~y]), 3),
           "fresh_false_refusals": round(float(np.mean(q[yt] < threshold)), 3),
           "fresh_correct_refusals": round(float(np.mean(q[~yt] < threshold)), 3),
           "fresh_auc": round(auc(q[yt], q[~yt]), 3)}
    print(f"\ntransfer (fitted on teacher + ncp fit halves, scored on all of fresh): threshold {out['threshold']}; "
          f"out of fold: false refusals {out['out_of_fold_false_refusals']}, AUC {out['out_of_fold_auc']}; "
          f"fresh: false refusals {out['fresh_false_refusals']}, correct refusals {out['fresh_correct_refusals']}, "
          f"AUC {out['fresh_auc']}", file=sys.stderr)
    return out


def _print(name: str, table: dict) -> None:
    print(f"\n{name}", file=sys.stderr)
    print(f"{'style':>15} {'n':>4} {'un':>4}  contains  cites  false-ref  correct-ref  complete   p50ms   p95ms"
          "  composed  facts", file=sys.stderr)
    for style, s in table.items():
        def f(v):
            return "   -" if v is None else f"{v:.3f}"
        print(f"{style:>15} {s['answerable']:>4} {s['unanswerable']:>4}  {f(s['contains_gold']):>8}  "
              f"{f(s['cites_gold_doc']):>5}  {f(s['false_refusals']):>9}  {f(s['correct_refusals']):>11}  "
              f"{f(s['complete']):>8}  {s['p50_ms']:>6}  {s['p95_ms']:>6}  {f(s['composed_gold']):>8}  "
              f"{f(s['fact_right']):>5}", file=sys.stderr)


def markdown(out: dict, sets: list[str]) -> str:
    """The report as the README's table: one row per set and style, the set's total in bold."""
    def f(v):
        return "–" if v is None else f"{v:.3f}"
    lines = ["| set, style | answerable / unanswerable | contains gold | cites gold doc | false refusals | "
             "correct refusals | lists/comparisons complete | leading facts right | p50 / p95 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in sets:
        for style, s in out[name].items():
            label = f"**{name}, all**" if style == "all" else f"{name}, {style}"
            if style == "all" and len(out[name]) == 2:
                continue  # one style: its row is the total
            lines.append(f"| {label} | {s['answerable']} / {s['unanswerable']} | {f(s['contains_gold'])} | "
                         f"{f(s['cites_gold_doc'])} | {f(s['false_refusals'])} | {f(s['correct_refusals'])} | "
                         f"{f(s['complete'])} | {f(s['fact_right'])} | {s['p50_ms']:.0f} / {s['p95_ms']:.0f} |")
    return "\n".join(lines) + "\n"


def _retriever(corpus: Path, index: str, rebuild: bool):
    build_index(corpus, Path(index), BuildSettings(), rebuild=rebuild)
    return open_retriever(Path(index))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus-index", default="/tmp/policykb-bench-corpus")
    ap.add_argument("--ncp-index", default="/tmp/policykb-bench-ncp")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--fit", action="store_true", help="refit kb/evidence_model.json on the fit halves")
    ap.add_argument("--half", choices=["report", "fit", "all"], default="report")
    ap.add_argument("--sets", default="teacher,ncp")
    ap.add_argument("--save", help="write every question's result (signals included) to this JSONL file")
    ap.add_argument("--load", help="score (and with --fit, refit on) a file written by --save instead of asking")
    ap.add_argument("--markdown", help="also write the report as a Markdown table (the README's) to this file")
    ap.add_argument("--transfer", action="store_true",
                    help="also fit on the teacher and ncp fit halves and score all of fresh: how the evidence "
                         "decision carries over to questions of a set it was not fitted on")
    args = ap.parse_args()
    if not (SHARED / "corpus").exists():
        print(f"{SHARED} is absent: this benchmark needs ../shared", file=sys.stderr)
        return 2
    sets = {"teacher": (SHARED / "corpus", args.corpus_index, teacher_items),
            "ncp": (SHARED / "eval/ncp/corpus.jsonl", args.ncp_index, ncp_items),
            "fresh": (SHARED / "corpus", args.corpus_index, fresh_items),
            "fresh2": (SHARED / "corpus", args.corpus_index, fresh2_items),
            "fresh3": (SHARED / "corpus", args.corpus_index, fresh3_items),
            "lay": (SHARED / "corpus", args.corpus_index, lay_items)}
    results = {}
    if args.load:
        results = load_results(Path(args.load))
    for name in ([] if args.load else args.sets.split(",")):
        corpus, index, items = sets[name]
        results[name] = run(_retriever(corpus, index, args.rebuild), items())
    if args.save:
        save_results(results, Path(args.save))
    if args.fit:
        save_model(fit_model([r for rows in results.values() for r in rows if r.item.half == "fit"]))
    model = load_model()
    # a saved run is scored by the model in kb/evidence_model.json now, not the one it was asked with
    for rows in results.values():
        for r in rows:
            if r.signals is not None:
                r.confidence = model.probability_of(r.signals)
    out = {"threshold": model.threshold, "fitted_on": model.fitted_on, "half": args.half,
           "weights": dict(zip(FEATURES, (round(w, 3) for w in model.weights)))}
    for name, rows in results.items():
        chosen = [r for r in rows if args.half == "all" or r.item.half == args.half]
        out[name] = by_style(chosen, model.threshold)
        _print(f"{name} ({args.half} half, threshold {model.threshold})", out[name])
    if args.markdown:
        Path(args.markdown).write_text(markdown(out, list(results)), encoding="utf-8")
    if args.transfer:
        out["transfer"] = transfer(results)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
