"""Understand a question before searching: strip the chat around it, tell what kind of answer it
wants, and resolve the documents it names (「职业教育法」, 「新职教法」, 「那篇讲…的文章」, 「它」)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from kb.followup import (THIS_THING, ask_of_other_people, ask_the_same_of, points_back, resolve_references, subject_of,
                         swap_entities)
from kb.entities import places_named
from kb.intent import Intent, read_intent
from kb.tokenize import normalize, tagged_words

KINDS = ("what", "when", "who", "how_many", "which_doc", "list", "compare", "version", "definition", "yes_no",
         "can_i")

# Conversation around the question: greetings, politeness, hedges, who is asking and why.
# Only words that never carry what a question is about.
_FILLER = re.compile(
    r"^(?:老师|同学|领导)?[，,、\s]*(?:你好|您好|在吗|哈喽)[！!，,。\s]*|"
    r"(?:请问一下|请问|麻烦(?:你|您)?(?:帮(?:我|忙))?(?:查|看|问|说)?(?:一下)?|劳驾|打扰一下|不好意思|冒昧问一下|想请教一下|请教一下|请教|"
    r"(?:我|我们|老师们|同事们|大家)?想(?:问|了解|知道|确认|咨询)(?:一下|下)?|我(?:有个|有一个)问题|"
    r"(?:能|可以)(?:不能)?(?:帮我)?(?:告诉我|说一下|讲讲|查一下|查查|看一下|看看)|帮(?:我|忙)(?:查|看|找)(?:一下|一查)?|"
    r"你(?:知道|清楚)|谁知道|有人知道|我记得|记不清了?|我忘了|忘了|"
    r"(?:我们|咱们)(?:学校|学院|系|院|这边|单位)(?:里)?有(?:个)?(?:老师|同事|人|学生|家长)(?:想|在)?(?:问|知道|了解)?|"
    r"有(?:老师|同事|学生|家长)(?:问|想知道|想了解)|"
    r"具体(?:来说|地说|一点)?|大概|大致|大体上|一般来说|简单(?:说|讲)(?:一下)?|到底|究竟|"
    r"谢谢(?:你|您|了)?|多谢|感谢|辛苦了|来着|呢|呀|啊|吧|哈|嘛|哦)")
# Reading a paper: 「那篇讲1+X证书的文章里说…」 names the document by what it is about.
_PAPER = re.compile(r"(?:那|这|有)?(?:一)?[篇份个](?:讲|说|谈|关于|介绍|写)(.{2,30}?)的(?:文章|论文|报告|材料|调研|稿子)"
                    r"(?:里|中|上)?(?:面)?(?:说|讲|提到|写|谈)?(?:的|了|到)?")
_PAPER_PLAIN = re.compile(r"(?:文章|论文|那篇|这篇)(?:里|中)?(?:说|讲|提到)?(?:的|了)?")
# Nicknames of laws as people say them.
_ALIASES = (("新职教法", "职业教育法"), ("旧职教法", "职业教育法"), ("老职教法", "职业教育法"), ("职教法", "职业教育法"),
            ("高教法", "高等教育法"), ("民促法", "民办教育促进法"), ("民办教育法", "民办教育促进法"), ("就促法", "就业促进法"))
_NEW = re.compile(r"新[旧老](?=法|版|职|两|条例|办法|规定)|新职教法|新法|新版|新修订|修订后|现行|现在的|目前的")
_OLD = re.compile(r"新[旧老](?=法|版|职|两|条例|办法|规定)|旧职教法|老职教法|旧法|旧版|老版|原来的|修订前|之前的版本|以前的版本")
# 「它」, 「该法」, 「这个文件」: the document of the previous answer
_PRONOUN = re.compile(r"它|其|他们|她们|该法|本法|这部法|那部法|这个法|该文件|该通知|该办法|该条例|这个文件|这份文件|这个通知|"
                      r"上述|此文件|这篇|那篇文章|这篇文章|该文|^那(?:么)?(?=.{0,12}(?:呢|版本|年的))")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
# 「那存在的问题呢？」: a follow-up that only names what to ask about next
_ELLIPTIC = re.compile(r"^(?:那|那么|还有|另外)|呢[？?]?$")
_COMPARED = re.compile(r"(?:和|与|跟)(?:的)?(?:有什么|有何)?(?:不同|区别|变化)")
# 「职业教育法第十五条规定了什么？」: the article asked about
# (「第二条建议」 is an item of a list of suggestions, not an article)
_ARTICLE_ASKED = re.compile(r"第[一二三四五六七八九十百零〇两\d]+条(?:之[一二三四五六七八九十]+)?(?!建议|措施|意见|举措|经验|原则|任务)")

# Kind of question, tried in this order (the first that matches wins).
_KIND_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("version", re.compile(r"(?:(?:19|20)\d{2}年.{0,12}(?:和|与|跟|同|比|相比).{0,12}(?:19|20)\d{2}年)|新旧|修订前后|修改前后|"
                           r"两[版个]|(?:新法|新版).{0,12}(?:旧法|老法|旧版|老版)|(?:旧法|老法|旧版|老版).{0,12}(?:新法|新版)|"
                           r"(?:修订|修改|修正)(?:了|后)?(?:哪些|什么|啥)|(?:和|与|跟|比)(?:旧法|老版|旧版|新法|原来).{0,8}"
                           r"(?:不同|区别|变化)|(?:有|发生了)?(?:哪些|什么)(?:变化|改动|修改)|变了什么")),
    ("compare", re.compile(r"(?:和|与|跟|同)[^，。？?]{1,20}(?:有什么|有何|有哪些)?(?:不同|区别|差异|异同)|对比|相比|比较")),
    ("which_doc", re.compile(r"哪[个份部项一]{0,2}(?:文件|通知|规定|法律|法规|办法|条例|政策|方案|文)|第几条|哪一?条|什么文件|"
                             r"依据是什么|依据是哪|(?:法律|政策)依据|根据什么|出自哪|出处|文号是|是哪个文")),
    ("definition", re.compile(r"是指什么|指的是什么|什么是|何为|何谓|的定义|的含义|的概念|是什么意思|指什么")),
    ("when", re.compile(r"什么时候|何时|哪一?年|哪天|几月|(?<!第)几号|什么时间|日期是|时间是|多会儿|起施行|生效时间|实施时间")),
    ("list", re.compile(r"(?:有|包括|包含|分为|存在|提|提出|采取|出台|推出|给出|列出)(?:了)?哪(?:些|几)|什么(?:问题|建议|措施|成效|举措)|"
                        r"哪些(?:方面|问题|建议|措施|成效|内容|情形|权利|义务|职责|要求|条件|形式|途径|做法|举措|任务|对策|意见|特点|"
                        r"亮点|经验|政策|优惠|渠道|环节|步骤|材料)|都有什么|有什么(?:问题|建议|措施|成效|要求|举措)|列举|几个方面")),
    # 「哪几个市」 asks which, not how many
    ("how_many", re.compile(r"多少|(?<!哪)几[个类种项年天次名所门级条]|多久|多长|多大|多高|比例|百分之|占比|几成")),
    ("who", re.compile(r"由谁|是谁|谁来|谁负责|谁(?:可以|能|有权)|哪个部门|哪些部门|哪几个部门|哪几家|什么部门|哪个机构|哪级|什么机构|"
                       r"哪个单位|"
                       r"(?:由|归)哪")),
    ("can_i", re.compile(r"(?:我|我们|学生|学校|老师|教师|单位|企业)?(?:可以|能不能|能否|可不可以|允许|是否允许)")),
    ("yes_no", re.compile(r"是否|是不是|有没有|要不要|需不需要|算不算|吗[？?]?$")),
)
# What the words after 哪些 ask a list of: the heading of the section that holds it.
LIST_TOPICS = {
    "问题": ("问题", "不足", "困难", "挑战"), "建议": ("建议", "对策", "思考", "措施"), "成效": ("成效", "成绩", "成果", "效果"),
    "措施": ("措施", "举措", "做法", "对策"), "经验": ("经验", "做法"), "原则": ("原则",), "任务": ("任务",), "目标": ("目标",),
    "权利": ("权利",), "义务": ("义务",), "职责": ("职责",), "条件": ("条件",), "情况": ("情况",),
}
_EXPECTS = {"when": "date", "how_many": "number", "which_doc": "document"}
# The words that ask (是什么时候, 有哪些, 是多少…): cut before the question is split into words, or the
# segmenter glues their first character to a content word (活动周是什么时候 -> 周是).
_ASKING = re.compile(r"(?:最早|最初|首次|第一次)|(?:是|为|有|要|会)?(?:什么时候|何时|哪一年|哪年|哪天|哪一天|几月|几号|什么时间|多少钱|多少|多久|多长时间|多长|"
                     r"哪些|哪几[个类种项条]?|哪个|哪一?条|第几条|哪种|什么样的?|什么|怎么样|怎样|怎么|如何|为什么|为何|是谁|由谁|谁|"
                     r"是否|是不是|有没有|能不能|能否|可不可以|可以吗|吗|呢|呀|啊|吧)|[？?。！!，,、：:；;“”\"\s]")


# 「要不要」, 「给不给」, 「需不需要」: a yes-no question asked as A-not-A; the A stays, what it asks about
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])不(?=\1)")


def question_core(question: str) -> str:
    """What a question is about, its asking words cut out: 「职业教育活动周是什么时候？」 -> 职业教育活动周;
    「学生去应聘要不要交钱？」 -> 学生去应聘 要交钱 (not 不要)."""
    return _ASKING.sub(" ", _A_NOT_A.sub("", question)).strip()


@dataclass(frozen=True)
class Question:
    """A question as the answer stage reads it."""

    asked: str  # as typed
    text: str  # what is searched: filler stripped, nicknames spelled out, a follow-up completed
    kind: str  # one of KINDS
    expects: str  # what an answer must hold: date | number | article | document | ""
    intent: Intent
    doc_ids: tuple[str, ...] = ()  # documents it refers to, when it names them
    list_topic: str = ""  # the kind of items a list question wants (问题, 建议, …)
    follow_up: bool = False
    versions: tuple[str, ...] = field(default=())  # for version questions: the versions set side by side
    article: str = ""  # the article it names (第十五条), or ""
    absent: str = ""  # what it names that the index holds nothing of: a version year (2025年版), a place
    swapped: tuple[str, ...] = ()  # what a follow-up put in the previous question's place (天津 for 北京)


def strip_filler(question: str) -> str:
    """The question without greetings, politeness and hedges; never empty when it had words."""
    out = _FILLER.sub("", question.strip())
    out = re.sub(r"^[，,。、\s！!]+|[，,\s]+(?=[？?。！!]?$)", "", out)
    return out if len(out) >= 2 else question.strip()


def kind_of(question: str) -> str:
    """The kind of answer wanted, by the first rule of _KIND_RULES that matches; "what" else."""
    for kind, pattern in _KIND_RULES:
        if pattern.search(question):
            return kind
    return "what"


def list_topic(question: str) -> str:
    """What a list question enumerates (问题, 建议, 成效, …), or "": of several, the one named last, as
    the thing asked for comes last (「对这些问题给了什么建议」 asks for 建议)."""
    at = {topic: question.rfind(words[0]) for topic, words in LIST_TOPICS.items()}
    best = max(at, key=lambda t: at[t])
    return best if at[best] >= 0 else ""


# 「补贴是多少」, 「多少钱」: an amount of money, not any figure
_MONEY_ASKED = re.compile(r"多少钱|多少元|几元|(?:费|补贴|补助|奖励|奖金|津贴|薪资|工资|薪酬|经费|资金|报酬)[^，。？?]{0,6}?多少|"
                          r"多少(?:万元|经费|资金|补贴|补助|奖金|奖励|费用|工资|报酬)")


# 「学位分几种？」: kinds are answered by naming them (学士、硕士和博士), often with no figure
_KINDS_ASKED = re.compile(r"(?:分|设|实行|有)(?:为)?(?:哪)?几[类种级等]")


def expected(kind: str, question: str) -> str:
    if "第几条" in question or "哪一条" in question or "哪条" in question:
        return "article"
    if kind == "how_many" and _MONEY_ASKED.search(question):
        return "money"
    if kind == "how_many" and _KINDS_ASKED.search(question):
        return ""
    return _EXPECTS.get(kind, "")


def spell_out(question: str) -> str:
    """Nicknames of laws written out: 新职教法 -> 职业教育法 (the 新/旧 is read by `versions_wanted`)."""
    for short, full in _ALIASES:
        question = question.replace(short, full)
    return question


def understand(asked: str, register=None, places: tuple[str, ...] = (), previous=None,
               previous_question: str = "") -> Question:
    """Read a question: its kind, what an answer must hold, and the documents it refers to.

    `register` resolves law names and papers to indexed documents; `previous` (the last Answer of
    the conversation) and `previous_question` complete a follow-up such as 「那它是哪年通过的？」.
    """
    text = strip_filler(asked)
    old, new = bool(_OLD.search(text)), bool(_NEW.search(text))
    text = spell_out(text)
    old = old or (register is not None and _called_old(register, text))
    doc_ids: tuple[str, ...] = ()
    paper = _PAPER.search(text)
    if paper and register is not None:
        doc_ids = _papers_about(register, paper.group(1))
        text = (text[:paper.start()] + paper.group(1) + text[paper.end():]).strip()
    elif register is not None and _PAPER_PLAIN.search(text):
        doc_ids = _papers_about(register, text, floor=0.0)
    # a follow-up of a refused question still asks it again of something else (「那青岛的呢？」),
    # only the document to read comes from an answer that cited one
    elliptic = bool(_ELLIPTIC.search(text) or _ELLIPTIC.search(asked.strip()))  # 呢 is stripped as filler
    marked = bool(_PRONOUN.search(text) or elliptic or THIS_THING.search(text))
    subjectless = not marked and subject_missing(text)  # 「违反了会怎么罚？」: asked of the turn before's subject
    follow_up = (previous is not None or bool(previous_question)) and (marked or subjectless)
    kind = kind_of(text)
    before = strip_filler(spell_out(previous_question)) if follow_up else ""
    cited = _about(register, tuple(getattr(previous, "citations", ()) or ()), before, places)
    # 「那青岛的呢？」 after 「上海市职业教育条例是哪天施行的？」 asks the same of 青岛's
    swapped, put_in = swap_entities(text, before, places) if before and not doc_ids and elliptic else ("", ())
    if swapped:
        text, kind = swapped, kind_of(swapped)
    own = text  # the documents it names are looked up in its own words: 「它」 is the previous answer's
    if before and not swapped:
        # 「它」, 「这个计划」, 「那版」: what the previous question was about; 「那学生呢？」 the same of
        # other people; 「那硕士呢？」 the same of 硕士, read after the work the previous question names
        # (「那义务呢？」 after 「教师法里老师享有哪些权利？」 asks 教师法's 义务): the work its answer cited
        # (高等教育法, for 「专科教育的基本修业年限是几年？」) is only where to read
        work = _work_named(register, before, cited)
        named = _work_named(register, before, ())
        text = (ask_of_other_people(text, asked, before) or ask_the_same_of(text, asked, before, named)
                or resolve_references(text, before, work))
    if not doc_ids and register is not None:
        doc_ids = _named_works(register, own) or (_the_versioned_work(register) if old and new else ())
    if swapped and not doc_ids and register is not None:
        doc_ids = _documents_of(register, places_named(" ".join(put_in), places))
    if follow_up:
        # 「那宁波的终身学习活动周呢？」 after a question on 职业教育法: a place the previous question did not
        # name, when the index has documents of it, is read in those, not in the previous answer's (unless
        # it points back at that: 「那湖南省…给它捐了多少钱？」)
        moved = () if swapped or doc_ids or points_back(own) or register is None else _documents_of(
            register, tuple(p for p in places_named(own, places) if p not in places_named(before, places)))
        doc_ids = doc_ids or moved
        if not doc_ids and cited and not swapped:  # what it swapped in is not in the previous answer's document
            doc_ids = (cited[0].doc_id,)
        if asked.rstrip("？?。 ").endswith("呢") and kind == "what" and previous_question:
            # 「那存在的问题呢？」 after a list question; 「那1996年的版本呢？」 asks about one version, not two
            inherited = kind_of(strip_filler(previous_question))
            kind = "what" if inherited in ("version", "compare") else inherited
        text = _complete(text, previous_question, register, doc_ids, subjectless=subjectless)
        if not doc_ids and register is not None:  # the previous question named it, its answer cited nothing
            doc_ids = _named_works(register, text)
    intent = read_intent(text, places)
    versions: tuple[str, ...] = ()
    absent = ""
    if intent.compare:  # 「广东和江苏实施职业教育法的办法」: two places, each answered from its own documents
        doc_ids = ()
    if register is not None and not doc_ids:
        absent = _absent_place(register, text, places)
    if register is not None and doc_ids:
        # 「江苏省实施职业教育法办法」 names 职业教育法 inside the document of a place the index lacks
        absent = (_absent_version(register, doc_ids, text) or _absent_place(register, text, places)
                  or _unheld_derivative(register, doc_ids, text))
        doc_ids, versions = _pick_versions(register, doc_ids, text, old=old, new=new, kind=kind)
        if kind == "compare" and len(versions) > 1:
            kind = "version"
    article = _ARTICLE_ASKED.search(text)
    article_asked = article.group(0) if article else ""
    if not article_asked and doc_ids and LEGAL_BASIS.search(text):
        article_asked = "第一条"  # a law states its purpose and its basis (根据宪法，制定本法) in its first article
    return Question(asked, text, kind, expected(kind, text), intent, doc_ids,
                    list_topic(text) if kind == "list" else "", follow_up, versions, article_asked, absent, put_in)


# 「职业教育法是根据什么制定的？」, 「新旧职教法的立法依据有什么区别？」: the basis a law names for itself
LEGAL_BASIS = re.compile(r"立法(?:依据|目的|宗旨)|(?:根据|依据|依照)(?:什么|哪些|哪部|哪个)[^，。？?]{0,6}制定|制定(?:的)?(?:依据|目的)")


_PLACE_DOCUMENT = re.compile(r"([\u4e00-\u9fff]{2,3}?)(?:省|市|自治区)?(?:的)?[\u4e00-\u9fff]{0,12}?(?:条例|办法|规定|实施意见)")


def _absent_place(register, text: str, places: tuple[str, ...]) -> str:
    """「天津市职业教育条例…」: a document of a place none of whose documents the index holds; the
    place, else ""."""
    from kb.intent import _PROVINCES

    for m in _PLACE_DOCUMENT.finditer(text):
        for place in sorted(set(_PROVINCES) | set(places), key=len, reverse=True):
            if text.startswith(place, m.start()) or text[m.start():m.end()].startswith(place):
                held = any(place in r.meta.title or place in r.meta.issuer for r in register.records.values())
                return "" if held else place
    return ""


_VERSION_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:的)?(?:那|这)?(?:版|修订|修正|修改|个?版本|(?:新|旧)?(?:职业教育法|职教法))")


def _absent_version(register, doc_ids: tuple[str, ...], text: str) -> str:
    """「2025年版职业教育法」: a year given as a version that none of the named work's versions was made
    in; that year, else ""."""
    entry = register.entries.get(doc_ids[0])
    if entry is None:
        return ""
    made = {(register.entries[v].version_date or "")[:4] for v in entry.versions if v in register.entries}
    made |= {d[:4] for v in entry.versions if v in register.records for _k, d in register.records[v].meta.dates}
    for year in _VERSION_YEAR.findall(text):
        if year not in made:
            return year
    return ""


# words that name no subject of their own: what is done or asked (违反, 处罚, 办理, 多久)
_NO_SUBJECT = frozenset(["违反", "违法", "处罚", "罚款", "处理", "办理", "申请", "手续", "流程", "时间", "期限", "费用", "标准",
                         "规定", "要求", "条件", "情况", "责任", "后果", "结果", "材料", "部门", "单位", "地方", "时候"])
_SUBJECT_FLAGS = ("n", "vn", "nz", "nr", "ns", "nt", "nw", "l", "j", "eng")


def subject_missing(question: str) -> bool:
    """Whether a question names nothing it is about — no noun beyond the asking and doing words
    (「违反了会怎么罚？」, 「多久能办下来？」): in a chat it asks about what the turn before was about."""
    words = tagged_words(question)
    if not words or _YEAR.search(question) or _ARTICLE_ASKED.search(question):
        return False
    return not any(len(w) >= 2 and f.startswith(_SUBJECT_FLAGS) and w not in _NO_SUBJECT for w, f in words)


# 「…是第几条规定的这个？」: what the previous question asked about, not a document
_THAT_TOPIC = re.compile(r"这(?:个|些|样|一点|件事|种情况)[？?。]?$")


def _complete(text: str, previous_question: str, register, doc_ids: tuple[str, ...], *, subjectless: bool = False) -> str:
    """A follow-up with little of its own to ask about takes the previous question's subject:
    「那1996年的版本呢？」 after 「职业学校教育分为哪些？」 asks how 1996 divided them, and 「违反了会怎么罚？」
    after 「用人单位能不能招不满十六岁的人？」 asks it of that."""
    own = _PRONOUN.sub("", _YEAR.sub("", text))
    for doc_id in [d for d in doc_ids if register is not None and d in register.records]:
        own = own.replace(register.records[doc_id].meta.title.removeprefix("中华人民共和国"), "")
    own = re.sub(r"^那(?:么)?|版本|那版|这版|现在|现行|目前|那个|这个|的|呢|吗|了|[？?。！!，,\s]|第几条|哪一?条|规定|哪年|什么时候|怎么|是", "", own)
    if (len(own) >= 2 and not _THAT_TOPIC.search(text) and not subjectless) or not previous_question:
        return text
    base = _YEAR.sub("", strip_filler(spell_out(previous_question)))
    base = _COMPARED.sub("", base)
    years = "".join(f"{y}年" for y in _YEAR.findall(text))
    return f"{years}{base} {text}".strip()


def _about(register, cited: tuple, previous_question: str, places: tuple[str, ...]) -> tuple:
    """The previous answer's citations, those of documents about the place its question named first:
    「那每天能干几个小时？」 after a question on 宁波 reads 宁波's regulation, not another one it quoted."""
    named = places_named(previous_question, places)
    if register is None or not named:
        return cited

    def about(c) -> bool:
        record = register.records.get(c.doc_id)
        return record is not None and any(p in record.meta.title for p in named)

    return tuple(c for c in cited if about(c)) + tuple(c for c in cited if not about(c))


def _documents_of(register, places: tuple[str, ...]) -> tuple[str, ...]:
    """The documents about a place (by title or issuer): 「上海那边呢？」 is read in 上海's documents."""
    return tuple(d for d, r in register.records.items()
                 if any(p in r.meta.title or p in r.meta.issuer for p in places))


def _unheld_derivative(register, doc_ids: tuple[str, ...], text: str) -> str:
    """「职业教育法实施条例」, 「山东省实施职业教育法办法」: a document the index lacks whose name holds a
    work it has (职业教育法); its name, else "". The work is not what the question asks about."""
    name = unheld_document(register, text)
    titles = {register.records[d].meta.title.removeprefix("中华人民共和国") for d in doc_ids if d in register.records}
    return name if name and any(t and t in name and t != name for t in titles) else ""


# what the name of a document ends in: a subject ending so names one (1+X证书制度试点方案)
_DOCUMENT_WORDS = ("方案", "通知", "意见", "办法", "规定", "计划", "条例", "法", "决定", "纲要", "规划", "细则", "标准", "指南")


def _work_named(register, previous_question: str, cited) -> str:
    """The short title of the work the previous question named (职业教育法), else of the document its
    answer cited when that title is a name and not a news item's opening words; "" else."""
    if register is None:
        return ""
    ids = _named_works(register, previous_question)
    if not ids and cited:
        own = subject_of(previous_question)
        about = register.records.get(cited[0].doc_id)
        if own.endswith(_DOCUMENT_WORDS) and about is not None and name_key(own) not in name_key(about.meta.title):
            # 「1+X证书制度试点方案是哪一年印发的？」 answered from a paper about it: 「它」 is the plan
            return ""
        ids = (cited[0].doc_id,)
    record = register.records.get(ids[0]) if ids else None
    title = record.meta.title.removeprefix("中华人民共和国") if record is not None else ""
    return title if 2 <= len(title) <= 25 and "…" not in title else ""


def _the_versioned_work(register) -> tuple[str, ...]:
    """「新法比旧法…」 naming no law: the one work the index holds several versions of, if only one."""
    versioned = [ids for ids in register.works.values() if len(ids) > 1]
    return tuple(versioned[0]) if len(versioned) == 1 else ()


def _papers_about(register, about: str, floor: float = 0.3) -> tuple[str, ...]:
    """Papers and news whose title shares most of the words of `about` (「讲1+X证书试点的文章」);
    with floor 0 (「那篇1+X的论文」 says it is a paper), the papers sharing the most, however few."""
    want = _bigrams(about)
    if not want:
        return ()
    kinds = ("论文",) if floor == 0.0 else ("论文", "新闻")
    scored = []
    for doc_id, record in register.records.items():
        if register.entries[doc_id].doc_type not in kinds:
            continue
        share = len(want & _bigrams(record.meta.title)) / len(want)
        if share > floor:
            scored.append((-share, doc_id))
    scored.sort()
    if floor == 0.0:
        scored = [x for x in scored if x[0] == scored[0][0]]
    return tuple(d for _s, d in scored[:3])


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"[^\w+]", "", normalize(text))
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _named_works(register, text: str) -> tuple[str, ...]:
    """Every version of the works (laws, regulations) the question names by title, longest first."""
    return tuple(doc for key, _span in _work_names(register, _folded_names(text)) for doc in register.works[key])


def _called_old(register, text: str) -> bool:
    """「老职业教育法」, 「旧的教师法」, 「原职业教育法」: 旧/老/原 right before the name of a work."""
    folded = _folded_names(text)
    return any(re.search(r"(?:旧|老|原)(?:的|版)?$", folded[:start]) for _key, (start, _end)
               in _work_names(register, folded))


def _folded_names(text: str) -> str:
    """The question folded (kb.tokenize.normalize), a title bracketed inside a name unbracketed."""
    return _unbracketed(normalize(text))


def _work_names(register, folded: str) -> list[tuple[str, tuple[int, int]]]:
    """The works a folded question names by title and where, longest title first; 「职业教育法」 inside
    「北京市实施职业教育法办法」 is that other work, taken first."""
    taken: list[tuple[str, tuple[int, int]]] = []
    spans: list[tuple[int, int]] = []  # every place a name taken stands (「新职业教育法和老职业教育法」: both)
    for key in sorted(register.works, key=len, reverse=True):
        if len(key) < 3:
            continue
        # 「高等教育法和教育法」: 教育法 is named where it stands alone, not inside 高等教育法
        free = [m for m in _title_pattern(key).finditer(folded)
                if not any(s < m.end() and m.start() < e for s, e in spans)]
        if free:
            taken.append((key, free[0].span()))
            spans += [m.span() for m in free]
    return taken


@lru_cache(maxsize=4096)
def _title_pattern(key: str) -> re.Pattern:
    """A work's title as people write it: 「北京实施职业教育法办法」 and 「上海的职业教育条例」 name
    北京市实施中华人民共和国职业教育法办法 and 上海市职业教育条例."""
    short = key.replace("中华人民共和国", "")
    place = re.match(r"^([\u4e00-\u9fff]{2,3}?)(省|市|自治区)(?=.{3})", short)
    if place:
        rest = short[place.end():]
        whole = key[place.end():] if key.startswith(place.group(0)) else rest  # 实施中华人民共和国职业教育法办法
        return re.compile(re.escape(place.group(1)) + f"(?:{place.group(2)})?的?(?:{re.escape(whole)}|{re.escape(rest)})")
    return re.compile(re.escape(key) + "|" + re.escape(short))


def _pick_versions(register, doc_ids: tuple[str, ...], text: str, *, old: bool, new: bool,
                   kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Of the versions of a named work, the ones the question is about: the one in force unless a
    year or 旧法 says otherwise; both for a version question. Returns (doc_ids, versions compared)."""
    entry = register.entries.get(doc_ids[0])
    if entry is None:
        return doc_ids, ()
    versions = tuple(v for v in entry.versions if v in register.entries) if len(entry.versions) > 1 else ()
    if not versions:
        return doc_ids, ()
    others = tuple(d for d in doc_ids if d not in versions)
    years = _YEAR.findall(text)
    by_year = [v for v in versions for y in years if _made(register, v).startswith(y)]
    # 「劳动法和职业教育法…有什么不同」 compares two works, not the versions of one
    if kind == "version" or (kind == "compare" and not others) or len(set(by_year)) > 1:
        return versions + others, versions
    if by_year:
        return (by_year[0],) + others, ()
    if years:  # a year no version was made in: the version in force then
        then = register.version_at(versions[0], f"{years[0]}-12-31")
        return ((then,) if then else versions) + others, ()
    if old and not new:
        past = tuple(v for v in versions if register.entries[v].superseded)
        return (past or versions) + others, ()
    current = entry.current or versions[-1]
    return (current,) + others, ()


def _made(register, doc_id: str) -> str:
    return register.entries[doc_id].version_date or ""


# A name ending like a law or regulation: 教师法实施细则, 江苏省实施职业教育法办法, 职业培训法
_LAW_NAME = re.compile(r"[\u4e00-\u9fff]{1,20}?(?:法|条例|细则|办法)(?![\u4e00-\u9fff]{0,12}?(?:法|条例|细则|办法))")
# where a name starts: after the words around it (对, 的, 里 …), never inside it
_NAME_BREAK = re.compile(r"[的对在和与及按照据是那这把给向从里说了有哪怎么吗呢个部该其它会要将就都还也]|现行|新|旧|老|原")
_NOT_A_NAME = ("方法", "做法", "说法", "看法", "想法", "合法", "违法", "依法", "立法", "执法", "守法", "用法", "算法", "写法",
               "手法", "教法", "新法", "旧法", "老法", "本法", "该法", "此法", "办法")


def name_key(text: str) -> str:
    """A document name folded for comparison: 中华人民共和国, 省/市 and brackets dropped."""
    return re.sub(r"中华人民共和国|自治区|[省市《》\s]", "", normalize(text))


_BRACKETED_IN_NAME = re.compile(r"(实施)《([^《》]{2,30})》(?=办法|条例|细则|规定)")


def _unbracketed(text: str) -> str:
    """A law's title bracketed inside a name made part of it: 「北京市实施《职业教育法》办法」 names
    北京市实施职业教育法办法, not 职业教育法, and 「山东省实施《职业教育法》办法」 is one name too."""
    return _BRACKETED_IN_NAME.sub(lambda m: m.group(1) + m.group(2).removeprefix("中华人民共和国"), text)


def unheld_document(register, text: str) -> str:
    """A document the question names that the index does not hold — a law or regulation by its name
    (「教师法实施细则」, 「职业培训法」) or a 文号 no document carries — else ""."""
    from kb.metadata import find_doc_numbers

    for _start, _end, number in find_doc_numbers(text):
        if not any(r.meta.doc_number == number for r in register.records.values()):
            return number
    titles = [name_key(r.meta.title) for r in register.records.values()]
    for m in _LAW_NAME.finditer(_unbracketed(text).replace("中华人民共和国", " ")):
        name = _NAME_BREAK.split(m.group(0))[-1]
        if len(name) < 3 or any(name.endswith(w) for w in _NOT_A_NAME if w != "办法"):
            continue
        key = name_key(name)
        # 「违反教育法」, 「1996年职业教育法」: words before a held work's name are not part of a name
        if not any(_in_order(key, t) or (len(t) >= 3 and key.endswith(t)) for t in titles):
            return name
    return ""


def _in_order(short: str, title: str) -> bool:
    """Whether `short` is `title` with words left out, as people shorten names: 宁波校企合作条例 for
    宁波市职业教育校企合作促进条例 (but not 教师法实施细则 for 教师法)."""
    rest = iter(title)
    return all(c in rest for c in short)
