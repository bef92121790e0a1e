"""Complete a follow-up from the turn before it: 「那天津呢？」 after 「北京2023年打算遴选多少个资源库？」
asks 「天津2023年打算遴选多少个资源库？」; 「它」, 「这个计划」 and 「那版」 become what the previous
question was about, so that retrieval and the evidence judge the question actually asked."""

from __future__ import annotations

import re

from kb.entities import ORGANISATIONS, organisations_named, places_named, years_asked
from kb.tokenize import tagged_words

# 「这个计划」, 「该通知」, 「那个方案」: a thing of the previous question, by the kind of thing it is
_THING = (r"计划|方案|行动|通知|文件|条例|办法|意见|规定|政策|项目|平台|大赛|比赛|活动|制度|法律|法|共同体|工程|补贴|证书|"
          r"资源库|意见|细则|试点|名单|标准|文章|论文|报道|会议")
THIS_THING = re.compile(rf"(?:这个|那个|该|此|这项|那项|这份|那份|这部|那部|这次|那次|这篇|那篇)({_THING})")
# 「它」, 「该法」, 「这部法」, 「那版」: the previous question's subject itself (not 其: 其他, 其中, 及其)
_IT = re.compile(r"(?<!其)它们|(?<!其)它|该法|本法|这部法|那部法|这个法|(?:的)?(?:那|这)(?:个)?版(?:本)?")
# what a subject of the previous question runs up to: the words that ask or act on it
_SUBJECT_END = re.compile(r"的(?:作者|文号|目标|要求|规定|内容)|规定|提出|要求|明确|印发|发布|分为|包括|享有|施行|实施|成立|开始|"
                          r"打算|可以|是否|能否|能不能|有没有|要不要|会不会|什么|哪|几|多少|怎么|如何|谁|吗|呢|"
                          r"是|为|有|由|在|对|从|要|能|会|里|中|[，,。？?！!、：:；;\s]")
# the words that ask, which may open a longer word (哪年, 几年, 多少钱)
_ASKING_START = re.compile(r"什么|哪|几|多少|怎么|如何|谁")
# what may stand before 「这个计划」 when it refers back (not a descriptor: 「名单那个通知」)
_BEFORE_THIS = re.compile(r"(?:^|[，,。？?！!、：:；;\s]|那|那么|对|在|按|从|和|跟|与|把|给|还有|另外)$")
_CLAUSE_BREAK = re.compile(r"[，,。？?！!、：:；;\s]")
_LEADING = re.compile(r"^(?:那么|那|还有|另外|请问|我想问|想问)")


def subject_of(previous_question: str, work: str = "") -> str:
    """What the previous question was about: the work it names (`work`, e.g. 职业教育法) when it
    names one, else its opening words up to the first that asks (国家轨道交通装备行业产教融合共同体)."""
    if work:
        return work
    text = _LEADING.sub("", previous_question.strip())
    # the words that end it are words of their own outside quotation marks: not the 能 of 「技能」 or the
    # 中 of 「中心」, nor anything inside 「“技能自贸港”」 (a word that asks may open a longer one: 哪年)
    bounds, quoted = _word_bounds(text), _quoted(text)
    end = next((m.start() for m in _SUBJECT_END.finditer(text, 2)
                if m.start() in bounds and m.start() not in quoted
                and (m.end() in bounds or _ASKING_START.fullmatch(m.group(0)))), len(text))
    subject = text[:end]
    return subject if len(subject) >= 2 else ""


_QUOTES = {"“": "”", "《": "》", "「": "」", "『": "』", "‘": "’"}


def _word_bounds(text: str) -> set[int]:
    """The offsets where a word of `text` (jieba, precise mode) starts or ends."""
    bounds, offset = {0}, 0
    for word, _flag in tagged_words(text):
        offset += len(word)
        bounds.add(offset)
    return bounds


def _quoted(text: str) -> set[int]:
    """The offsets inside quotation marks (“…”, 《…》, 「…」), nested ones too."""
    inside, open_quotes = set(), []
    for i, c in enumerate(text):
        if open_quotes and c == open_quotes[-1]:
            open_quotes.pop()
        elif c in _QUOTES:
            open_quotes.append(_QUOTES[c])
        elif open_quotes:
            inside.add(i)
    return inside


def thing_of(previous_question: str, thing: str) -> str:
    """The phrase of the previous question naming a `thing` (计划 -> 新时代职业学校名师（名匠）名校长
    培养计划), from the start of its clause; "" when it names none."""
    at = previous_question.rfind(thing)
    if at < 0:
        return ""
    start = max((m.end() for m in _CLAUSE_BREAK.finditer(previous_question, 0, at)), default=0)
    phrase = _LEADING.sub("", previous_question[start:at + len(thing)])
    return phrase if len(phrase) > len(thing) else ""


# 「他们」, 「她们」: the people the previous question was about (未成年工, 民办学校的老师)
_THEM = re.compile(r"他们|她们")
_PERSON_END = tuple("工生员师者户童人") + ("家长", "青年", "主任", "校长", "院长", "妇女", "农民", "少年")
_NOT_PEOPLE = frozenset(["法人", "他人", "本人", "别人", "有人", "人人", "个人", "某人", "生人", "证人"])


def _is_people(word: str) -> bool:
    """残疾人, 未成年工, 民办学校的老师: people a follow-up's 他们 may stand for."""
    return len(word) >= 2 and word.endswith(_PERSON_END) and word not in _NOT_PEOPLE


def people_of(previous_question: str) -> str:
    """The first people the previous question names, with the 「X的」 before them when X is a thing
    (民办学校的老师; not 说的未成年工); "" when it names none."""
    words = tagged_words(previous_question)
    for i, (word, flag) in enumerate(words):
        if _is_people(word) and (flag[0] in "nl" or flag == "x" and word.isalnum()):
            if i >= 2 and words[i - 1][0] == "的" and words[i - 2][1][0] in "nx" and words[i - 2][0].isalnum():
                return words[i - 2][0] + "的" + word
            return word
    return ""


def resolve_references(text: str, previous_question: str, work: str = "") -> str:
    """「它」, 「这个计划」, 「那版」 and 「他们」 replaced by what they stand for in the previous question;
    `text` unchanged when it has none or the previous question does not say."""
    def thing(m: re.Match) -> str:
        if m.start() > 0 and not _BEFORE_THIS.search(text[:m.start()]):
            return m.group(0)  # 「名单那个通知」 names its own thing
        return thing_of(previous_question, m.group(1)) or m.group(0)

    out = THIS_THING.sub(thing, text)
    if _THEM.search(out):
        people = people_of(previous_question)
        if people:
            out = _THEM.sub(people, out, count=1)
    subject = subject_of(previous_question, work)
    if subject:
        # 「它的实施条例」 is a document of its own: 职业教育法实施条例, not 职业教育法的实施条例
        out = re.sub(r"(?:(?<!其)它|该法|本法)的(?=实施(?:条例|细则|办法))", subject, out)
        out = _IT.sub(lambda m: ("的" if m.group(0).startswith("的") else "") + subject, out, count=1)
    return out


def swap_entities(text: str, previous_question: str, places: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """The previous question asked again of the place, organisation or year this follow-up names
    instead (「那天津呢？」, 「那2021年的呢？」), and what was put in; ("", ()) when it swaps nothing
    the previous one named."""
    out = previous_question
    swapped: list[str] = []
    spellings = {o[0]: o[1:] for o in ORGANISATIONS}
    for here_all, before_all, spell in ((places_named(text, places), places_named(previous_question, places), None),
                                        (organisations_named(text), organisations_named(previous_question),
                                         spellings),
                                        (years_asked(text), years_asked(previous_question), None)):
        here = [h for h in here_all if h not in before_all]
        before = [b for b in before_all if b not in here_all]
        if not here or not before:
            continue
        old = before[0]
        if spell is not None:  # the organisation as the previous question spelled it
            old = next(s for s in spell[old] if s in out)
        out = out.replace(old, here[0], 1)
        swapped.append(here[0])
    return (out, tuple(swapped)) if swapped else ("", ())


# 「那硕士呢？」: a follow-up naming only the thing to ask the same of
_ONLY_THING = re.compile(r"^(?:那么|那)?([\u4e00-\u9fff0-9A-Za-z+（）()]{2,10}?)(?:的)?(?:呢)?[？?。]?$")
_ASKS = re.compile(r"什么|哪|几|多少|怎么|如何|谁|吗|是否|能否|可以|有没有|要不要")


def ask_the_same_of(text: str, asked: str, previous_question: str, work: str = "") -> str:
    """「那硕士呢？」 after 「专科教育的基本修业年限是几年？」 asks 「硕士的基本修业年限是几年？」: the
    previous question with the head of its subject (the words before its first 的) replaced, read after
    the work it names (「高等教育法规定专科教育的…」); failing that, with the word most like the thing
    replaced (每周 for 每天) or the thing asked about (「教育法规定学校有哪些权利？」 then 「那义务呢？」);
    "" when the follow-up asks more than a name or nothing in the previous question stands for it."""
    m = _ONLY_THING.match(text.strip())
    if not m or not asked.rstrip("？?。 ").endswith("呢") or _ASKS.search(m.group(1)):
        return ""
    thing = _IF.sub("", m.group(1))
    if len(thing) < 2:
        return ""
    at = previous_question.find(work) if work else -1
    after = at + len(work) if at >= 0 else 0
    subject = subject_of(_AFTER_WORK.sub("", previous_question[after:]))
    head, of, _rest = subject.partition("的")
    if of and len(head) >= 2 and head != thing and previous_question.find(head, after) >= 0:
        at = previous_question.find(head, after)
        return previous_question[:at] + thing + previous_question[at + len(head):]
    return _in_place_of_alike(previous_question, thing, work) if len(thing) <= 4 else ""


_IF = re.compile(r"^(?:要是|如果|假如|若是|若|对于|对)")  # 「要是收押金呢？」, 「那对残疾人呢？」
_AFTER_WORK = re.compile(r"^(?:里面|里|中|上|规定了|规定|对于|对|关于|的)+")
# words a question asks with, and words that say what kind of answer, not what it is about
_ASKING_WORDS = ("哪些", "什么", "哪个", "哪几", "哪种", "多少", "几", "吗", "是否", "有没有", "能不能", "要不要", "可不可以")
_NOT_ASKED = frozenset(["规定", "要求", "内容", "情况", "问题", "方面", "意见", "标准", "办法", "措施", "政策", "法律", "文件",
                        "条件", "时候", "时间", "程序", "作用"])


def _in_place_of_alike(previous_question: str, thing: str, work: str) -> str:
    """The previous question with `thing` in place of the word sharing most of its characters
    (每天 for 每周, 本科 for 专科), else of the thing it asked about — the noun right after its asking
    word (有哪些权利) or right before it (要签协议吗); "" when neither stands there."""
    words = tagged_words(previous_question)
    starts = [0]
    for w, _f in words:
        starts.append(starts[-1] + len(w))
    spans = [(w, f, starts[i]) for i, (w, f) in enumerate(words)]
    usable = [(w, f, s) for w, f, s in spans if len(w) >= 2 and w not in work and w not in _NOT_ASKED and w != thing
              and not w.startswith(_ASKING_WORDS)]
    shared = [(len(set(w) & set(thing)), -s, w, s) for w, _f, s in usable if set(w) & set(thing)]
    if shared:
        _n, _neg, word, at = max(shared)
        return previous_question[:at] + thing + previous_question[at + len(word):]
    nouns = {s: w for w, f, s in usable if f[0] == "n"}
    for i, (w, _f, s) in enumerate(spans):
        if not w.startswith(_ASKING_WORDS):
            continue
        for j in (i + 1, i - 1):
            if 0 <= j < len(spans) and spans[j][2] in nouns:
                word, at = spans[j][0], spans[j][2]
                return previous_question[:at] + thing + previous_question[at + len(word):]
        break
    return ""


def points_back(text: str) -> bool:
    """Whether a follow-up refers to what the turn before was about (它, 该法, 那版, 这个计划, 他们)."""
    return bool(_IT.search(text) or THIS_THING.search(text) or _THEM.search(text))


def ask_of_other_people(text: str, asked: str, previous_question: str) -> str:
    """「那学生呢？」 after 「民办学校的老师和公办学校的老师法律地位一样吗？」 asks the same of 学生: the
    previous question with its people (every mention) replaced; "" when either names none."""
    m = _ONLY_THING.match(text.strip())
    thing = _IF.sub("", m.group(1)) if m else ""
    if not m or not asked.rstrip("？?。 ").endswith("呢") or not _is_people(thing):
        return ""
    people = people_of(previous_question).rpartition("的")[2]
    if not people or people == thing:
        return ""
    return previous_question.replace(people, thing)
