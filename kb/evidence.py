"""Is there a basis for an answer? Signals read off the question and its passages, combined by a
logistic regression fitted on mixed-style dev questions (bench/answers.py --fit), not by one cut-off."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.entities import holds_year
from kb.errors import ConfigError
from kb.focus import focus_absent, is_topical
from kb.tokenize import normalize
from kb.types import Hit

MODEL_PATH = Path(__file__).with_name("evidence_model.json")
Terms = dict[str, float]  # content word -> weight (its rarity among the indexed chunks)

_DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月|[一二三四五六七八九十]{1,2}月|\d{1,2}\s*月\s*\d{1,2}\s*日|[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日|日起施行")
_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万两半]+\s*(?:个|名|人|元|万|亿|年|月|日|天|次|项|类|种|所|%|分之|倍|级|学时|小时|周|岁|门)")
_ARTICLE = re.compile(r"第[一二三四五六七八九十百千零〇\d]+条")
_DOCUMENT = re.compile(r"《[^《》]{2,80}》|〔\d{4}〕\d+号|第\d+号")
_MONEY = re.compile(r"[\d.]+\s*(?:多)?(?:万|亿|千)?元|[一二三四五六七八九十百千万两]+(?:多)?元")
EXPECTED = {"date": _DATE, "number": _NUMBER, "article": _ARTICLE, "document": _DOCUMENT, "money": _MONEY}
# 「顶岗实习学生的报酬最低是多少？」: a bound asked for, which a clause may set by reference, with no figure
# (不得低于当地职工最低工资标准)
BOUND_ASKED = re.compile(r"(?:最低|最少|至少|最高|最多|不低于|不少于|不超过|不高于|上限|下限)[^，。？?]{0,4}?(?:多少|几)")
_BOUND_SET = re.compile(r"(?:不得|不应|不|应当不)(?:低于|少于|高于|超过)[^，。；]{0,24}?(?:标准|水平|数额|限额)")


@dataclass(frozen=True)
class Signals:
    """What the evidence decision looks at, each in [0, 1] (the model's features, in this order)."""

    coverage: float  # best weighted share of the question's content terms in one of the top 3 passages
    coverage_top: float  # the same in the first passage
    doc_coverage: float  # in the first document's passages together (terms spread over a section)
    missing: float  # weight share of the rarest content term no top passage holds (an entity swapped)
    unknown: float  # weight share of the content terms no indexed passage holds at all
    absent_year: float  # 1 when the question names a year (not an as-of 「2020年时」) no passage or date holds
    similarity: float  # best cosine of a passage sentence with the question
    margin: float  # how far the first passage's fused score leads the second's, relative
    agree: float  # share of the retrievers (dense, words, chars) that found the first passage
    expected_found: float  # the answer type the question wants (date, number, article) is present
    expected_missing: float  # it is wanted and absent
    named: float  # the question names a document the index holds
    few_terms: float  # 1 / (1 + number of content terms): little to judge by
    rare_absent: float  # IDF of the rarest content term no top passage holds, over the IDF of an unseen term
    best_sentence: float  # best weighted share of the content terms in one sentence of the top passages
    name_absent: float  # 1 when the question names a document (law title, 文号) the index does not hold
    number_absent: float  # 1 when it names a figure (16岁, 六部门, 第800号) no top passage holds
    rare_seen: float  # rare_absent among the terms some indexed passage holds (not a word never indexed)
    expected_in_best: float  # the answer type wanted is in the sentence that would lead the answer
    passage_similarity: float  # cosine of the first passage as a whole with the question (paraphrases)
    doc_absent: float  # rare_absent over the whole of the documents the question names (0: it names none)
    focus_absent: float  # share of the words at its asking words (主题是什么 -> 主题) no top passage holds
    focus_absent_best: float  # the same in the sentence that would lead the answer
    focus_doc_absent: float  # focus_absent over the whole of the documents the question names (0: it names none)
    unknown_topic: float  # `unknown` over the terms that name a thing (碳排放, not 来着): a topic not indexed
    lead_meaning: float  # e5 closeness of the sentence that would lead the answer to the question (kb.check)
    count_absent: float  # 1 when it counts in a unit (多少家, 多少吨, 多长时间) no top passage has a figure in

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


FEATURES = tuple(f.name for f in fields(Signals))


def coverage(terms: Terms, text: str) -> float:
    """Weighted share of `terms` found in `text`; 0.0 for a question with no content terms."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    text = normalize(text)  # terms are folded the same way (full-width, case)
    return sum(w for t, w in terms.items() if t in text) / total


@dataclass(frozen=True)
class Named:
    """What the question names that a basis must hold too, read off the question and the index."""

    years: tuple[str, ...] = ()  # years it asks about (not an as-of 「2020年时」)
    numbers: tuple[str, ...] = ()  # other figures, in Arabic digits (不满16岁 -> 16, 六部门 -> 6)
    document: bool = False  # it names a document the index holds
    absent_document: bool = False  # it names a document (title or 文号) the index does not hold
    named_text: str = ""  # the whole text of the documents it names, folded (「职业教育法对幼儿园…」: none says 幼儿园)
    bound: bool = False  # it asks for a bound (最低是多少): one set by reference is the answer wanted too


def read_signals(hits: list[Hit], terms: Terms, *, similarity: float, expects: str, years: tuple[str, ...] = (),
                 dates: tuple[str, ...] = (), named: bool = False, unseen: frozenset[str] = frozenset(),
                 top_idf: float = 0.0, best_sentence: float = 0.0, names: Named | None = None,
                 sources: tuple[str, ...] = (), best_text: str = "", passage_similarity: float = 0.0,
                 focus: tuple[str, ...] = (), lead_meaning: float = 0.0, counts_held: bool | None = None) -> Signals:
    """The signals of one question over its ranked passages.

    `similarity` is the best sentence cosine, `years` the years the question names, `dates` the
    ISO dates of the passages' documents, `named` whether it names an indexed document, `unseen`
    the terms that occur in no indexed passage, `top_idf` the IDF of such a term, `best_sentence`
    the best term coverage of one sentence, `best_text` the sentence that would lead the answer,
    `passage_similarity` the first passage's cosine, `names` what else the question names (its years and
    named flag take over from `years` and `named`), `sources` the titles and issuers of the top
    passages' documents (a figure they name counts as held), `focus` the words at its asking words
    (kb.focus.focus_words), `lead_meaning` the e5 closeness of `best_text` to the question (kb.check),
    `counts_held` whether a top passage has a figure in the unit the question counts in (None: it counts
    in none; kb.compose.counts_held).
    """
    names = names or Named(years=years, document=named)
    total = sum(terms.values()) or 1.0
    unknown = sum(w for t, w in terms.items() if t in unseen) / total
    if not hits:
        return Signals(0, 0, 0, 1, unknown, float(bool(names.years)), 0, 0, 0, 0, float(bool(expects)),
                       float(names.document), 1 / (1 + len(terms)), 1.0 if terms else 0.0, 0.0,
                       float(names.absent_document), float(bool(names.numbers)),
                       1.0 if terms else 0.0, 0.0, 0.0, _rare_absent(terms, names.named_text, top_idf),
                       float(bool(focus)), float(bool(focus)), _focus_in_named(focus, names, terms),
                       _unknown_topic(terms, unseen), 0.0, float(counts_held is not None))
    top = [h.chunk.text for h in hits[:3]]
    first_doc = " ".join(h.chunk.text for h in hits if h.chunk.doc_id == hits[0].chunk.doc_id)
    joined = normalize(" ".join(top))
    absent = [w for t, w in terms.items() if t not in joined]
    absent_seen = [w for t, w in terms.items() if t not in joined and t not in unseen]
    around = normalize(" ".join([*top, *sources]))
    scores = [h.score for h in hits[:2]]
    margin = (scores[0] - scores[1]) / scores[0] if len(scores) == 2 and scores[0] > 0 else 1.0
    pattern = EXPECTED.get(expects)

    def holds_wanted(text: str) -> bool:  # the kind of answer wanted, or a bound set by reference when one is asked
        return bool(pattern.search(text) or (names.bound and _BOUND_SET.search(text)))

    found = bool(pattern and any(holds_wanted(t) or (expects == "article" and _ARTICLE.search(h.chunk.label))
                                 for t, h in zip(top, hits)))
    held = " ".join(top) + " " + " ".join(dates)
    figures = set(re.findall(r"\d+", arabic(around)))
    return Signals(
        coverage=max(coverage(terms, t) for t in top),
        coverage_top=coverage(terms, top[0]),
        doc_coverage=coverage(terms, first_doc),
        missing=max(absent, default=0.0) / total,
        unknown=unknown,
        absent_year=float(any(not holds_year(y, held) for y in names.years)),
        similarity=max(0.0, min(1.0, similarity)),
        margin=max(0.0, min(1.0, margin)),
        agree=len({"dense", "words", "chars"} & set(hits[0].retrievers)) / 3,
        expected_found=float(found),
        expected_missing=float(bool(pattern) and not found),
        named=float(names.document or "exact" in hits[0].retrievers),
        few_terms=1 / (1 + len(terms)),
        rare_absent=min(1.0, max(absent, default=0.0) / top_idf) if top_idf > 0 else 0.0,
        best_sentence=max(0.0, min(1.0, best_sentence)),
        name_absent=float(names.absent_document),
        number_absent=float(any(n not in figures for n in names.numbers)),
        rare_seen=min(1.0, max(absent_seen, default=0.0) / top_idf) if top_idf > 0 else 0.0,
        expected_in_best=float(bool(pattern) and bool(best_text) and holds_wanted(best_text)),
        passage_similarity=max(0.0, min(1.0, passage_similarity)),
        doc_absent=_rare_absent(terms, names.named_text, top_idf),
        focus_absent=focus_absent(focus, around, terms),
        focus_absent_best=focus_absent(focus, normalize(best_text), terms) if best_text else float(bool(focus)),
        focus_doc_absent=_focus_in_named(focus, names, terms),
        unknown_topic=_unknown_topic(terms, unseen),
        lead_meaning=lead_meaning,
        count_absent=float(counts_held is False),
    )


def _focus_in_named(focus: tuple[str, ...], names: Named, terms: Terms) -> float:
    """「职业教育法对幼儿园教师资格有什么规定？」: the law it names never says 幼儿园."""
    return focus_absent(focus, names.named_text, terms) if names.named_text else 0.0


def _unknown_topic(terms: Terms, unseen: frozenset[str]) -> float:
    total = sum(terms.values()) or 1.0
    return sum(w for t, w in terms.items() if t in unseen and is_topical(t)) / total


def _rare_absent(terms: Terms, folded: str, top_idf: float) -> float:
    """The weight of the rarest term the folded text (kb.tokenize.normalize) lacks over that of a term
    never indexed; 0 for no text."""
    if not folded or top_idf <= 0:
        return 0.0
    return min(1.0, max((w for t, w in terms.items() if t not in folded), default=0.0) / top_idf)


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万]+")


def chinese_number(numeral: str) -> int:
    """十六 -> 16, 二十 -> 20, 三百五十 -> 350, 二〇一九 -> 2019 (digits read one by one)."""
    if not any(c in _UNITS for c in numeral):
        return int("".join(str(_DIGITS[c]) for c in numeral))
    total, section, digit = 0, 0, 0
    for c in numeral:
        if c in _DIGITS:
            digit = _DIGITS[c]
        elif c == "万":
            total += (section + digit) * 10000
            section, digit = 0, 0
        else:
            section += (digit or 1) * _UNITS[c]
            digit = 0
    return total + section + digit


def arabic(text: str) -> str:
    """Chinese numerals written in Arabic digits, so that 十六周岁 and 16岁 share the figure 16."""
    return _CHINESE_NUMBER.sub(lambda m: str(chinese_number(m.group(0))), text)


# a figure that says what is asked about: 不满16岁, 六部门, 第800号, 三年 (not a year, not 第N条)
_FIGURE = re.compile(r"(?<![\d第])(\d+)\s*(?=(?:年|个|名|人|元|万元|万|亿|月|日|天|次|项|类|种|所|倍|级|批|届|号|学时|小时|周岁|岁|"
                     r"部门|家|期|门|%|％))|第(\d+)(?=届|批|号|期|次)")


def figures_asked(question: str) -> tuple[str, ...]:
    """The figures a question names, in Arabic digits, years and article numbers left out."""
    text = re.sub(r"第[一二三四五六七八九十百零〇两\d]+条|(?:19|20)\d{2}\s*年", " ", arabic(question))
    return tuple(dict.fromkeys(a or b for a, b in _FIGURE.findall(text)))


@dataclass(frozen=True)
class EvidenceModel:
    """Logistic regression over standardised Signals; `threshold` is the chosen operating point."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    features: tuple[str, ...] = FEATURES
    fitted_on: str = ""  # which questions, for people reading the file

    def probability(self, signals: Signals) -> float:
        """Probability that the passages hold an answer."""
        return self.probability_of(signals.vector())

    def probability_of(self, vector: np.ndarray) -> float:
        """The same for a feature vector in FEATURES order."""
        x = (vector - np.array(self.mean)) / np.array(self.scale)
        return float(_sigmoid(x @ np.array(self.weights) + self.bias))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "EvidenceModel":
        model = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        if model.features != FEATURES:
            raise ConfigError(f"evidence model features {model.features} differ from {FEATURES}; "
                              f"refit with `python bench/answers.py --fit`")
        return model


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float, np.ndarray,
                                                                                     np.ndarray]:
    """L2-regularised logistic regression by Newton's method on standardised features.

    Returns (weights, bias, mean, scale); a feature constant on the data gets scale 1.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = _sigmoid(z @ w)
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, scale


def operating_point(p_answerable: np.ndarray, p_unanswerable: np.ndarray, max_false_refusals: float = 0.05) -> float:
    """The threshold that refuses the most unanswerable questions while refusing at most
    `max_false_refusals` of the answerable ones (refuse when probability < threshold)."""
    candidates = np.unique(np.concatenate([p_answerable, p_unanswerable, [0.5]]))
    best, best_key = 0.0, (-1.0, 0.0)
    for t in candidates:
        false = float(np.mean(p_answerable < t)) if len(p_answerable) else 0.0
        correct = float(np.mean(p_unanswerable < t)) if len(p_unanswerable) else 0.0
        if false <= max_false_refusals and (correct, -false) > best_key:
            best, best_key = float(t), (correct, -false)
    # midway to the next score below, so that a question scored exactly at the cut still answers
    lower = [p for p in np.concatenate([p_answerable, p_unanswerable]) if p < best]
    return (best + max(lower)) / 2 if lower else best


def cautious_operating_point(p: np.ndarray, answerable: np.ndarray, groups: np.ndarray,
                             max_false_refusals: float = 0.05, confidence: float = 0.8, resamples: int = 200,
                             seed: int = 0) -> float:
    """A threshold that keeps false refusals within `max_false_refusals` for every group (question set)
    with `confidence`, not only on this sample: the (1 - confidence) quantile of the operating points
    of `resamples` bootstrap resamples of the questions. On a few hundred questions the plain operating
    point swings widely with the sample, and a new set of questions is refused more often than the
    sample promises."""
    p, answerable, groups = np.asarray(p), np.asarray(answerable, dtype=bool), np.asarray(groups)
    rng = np.random.default_rng(seed)

    def point(i: np.ndarray) -> float:
        q, a, g = p[i], answerable[i], groups[i]
        return min(operating_point(q[a & (g == k)], q[~a], max_false_refusals) for k in np.unique(g[a]))

    points = [point(rng.integers(0, len(p), len(p))) for _ in range(resamples)]
    return float(np.quantile(points, 1 - confidence))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> EvidenceModel:
    """The fitted model shipped with the code."""
    try:
        return EvidenceModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"{path}: cannot read the evidence model ({e}); refit with "
                          f"`python bench/answers.py --fit`") from e


def save_model(model: EvidenceModel, path: Path = MODEL_PATH) -> None:
    Path(path).write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    load_model.cache_clear()
