"""Gradio UI on kb.pipeline: ask a question, read the passages that answer it, each cited to
document, 文号, clause and page.

    python app.py [--corpus corpus] [--index index] [--port 7860]

On start the corpus is indexed (incrementally: an unchanged corpus costs a second), then the index
and embedder are loaded once and every question is searched against them.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from pathlib import Path

from kb import validate
from kb.compose import passage_place
from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import ConfigError, IndexBusyError, InputError, KBError
from kb.ondisk import built_settings
from kb.ingest import UPLOAD_SUFFIXES
from kb.llm import LLMSettings
from kb.register import VISITOR_UPLOADS
from kb.types import Answer, Citation, Hit
from kb.webguard import LoginGate, chat_text

TITLE = "PolicyKB 政策文件检索"
STATUS = "已索引 {documents} 份文件、{chunks} 个条块；回答方式：{mode}。"
INTRO = "输入问题，查看回答它的原文条款：每条都注明文件、文号、条款和页码。可按文号（任何括号写法）或《标题》直接查找文件。"
PLACEHOLDER = "例如：证书有效期是多久？"
EXAMPLES_LABEL = "示例问题（由知识库中的条款生成）"
EMPTY_QUESTION = "请输入问题。"
NO_HITS = "知识库中没有找到与这个问题相关的条款。"
BAD_DATE = validate.BAD_DATE_ZH
SEARCH_FAILED = "检索出错：{reason}"
SOURCES_EMPTY = "回答引用的原文条款会显示在这里。"
SOURCES_WAITING = "正在生成回答……"
RELATED_TITLE = "知识库中没有依据；可能相关的文件："
PAGE_MARKED = "{source} 第 {pages} 页：引文已用黄色标出（{chars} 字）。"
PAGE_UNMARKED = "{source} 第 {pages} 页：没能在页面的文字层中找到引文，请对照上面的条款阅读。"
PAGE_FAILED = "无法显示原文页：{reason}"
FEEDBACK_SAVED = "已记录：{verdict}。谢谢！"
FEEDBACK_NOTHING = "请先提问，再评价回答。"
STAGES_ZH = {"load": "读取文件", "embed": "计算向量", "tokenize": "建立词索引"}
MANAGE_INTRO = ("删除文件、用新版本替换、更正文号、发文机关、日期和状态。更正写入语料目录的 metadata.csv（命令行 "
                "`python -m kb index` 读取的同一个文件），每次修改后立即重新索引。清空一项即恢复为从原文读取的值。")
META_LABELS = {"title": "标题", "doc_number": "文号", "issuer": "发文机关", "date": "发布日期", "doc_type": "类型",
               "status": "状态", "effective": "施行日期", "abolished": "废止日期"}
MANAGE_NO_DOC = "请先选择一个文件。"
META_UNCHANGED = "元数据没有改动。"
META_SAVED = "已保存 {doc} 的{fields}，并已重新索引。"
REPLACE_NEEDS = "请先选择要替换的文件和新版本文件。"
REPLACED = "已用新版本替换 {doc}：旧版标为已修订，并链接到新版本；已重新索引。"
REMOVE_CONFIRM = "请勾选“确认删除这个文件”后再删除。"
REMOVED = "已删除 {doc}，并已重新索引。"
MANAGE_FAILED = "操作没有完成：{reason}"


def render_hits(hits: list[Hit]) -> str:
    """HTML for the cited passages; every piece of document text is escaped."""
    if not hits:
        return _notice(NO_HITS)
    return "\n".join(_render_hit(rank, hit) for rank, hit in enumerate(hits, 1))


def _render_hit(rank: int, hit: Hit) -> str:
    c = hit.chunk
    title = f"《{hit.title}》" if hit.title else c.doc_id
    where = [part for part in (hit.doc_number, c.path_str) if part]
    if c.pages:
        where.append("第 " + "、".join(map(str, c.pages)) + " 页")
    exact = '<span class="kb-exact">按文号/标题命中</span>' if "exact" in hit.retrievers else ""
    return (
        f'<div class="kb-hit"><div class="kb-head">{rank}. {html.escape(title)} {exact}{_status_tag(hit.status)}</div>'
        f'<div class="kb-where">{html.escape(" · ".join(where))}</div>'
        f'<div class="kb-source">{html.escape(c.source)}</div>'
        f'<blockquote class="kb-text">{html.escape(c.text)}</blockquote></div>'
    )


def _status_tag(status: str) -> str:
    """A tag for a document no longer in force (已修订, 已废止); nothing for the others."""
    if status not in ("已修订", "已废止"):
        return ""
    return f' <span class="kb-status">{html.escape(status)}</span>'


def _notice(text: str) -> str:
    return f'<div class="kb-notice">{html.escape(text)}</div>'


def make_search(source):
    """The UI's search handler over one loaded retriever; returns HTML, never raises."""
    current = _getter(source)

    def search(question: str, issuer: str = "", date_from: str = "", date_to: str = "", top_k: float = 5) -> str:
        try:
            question, issuers, date_from, date_to, top_k = _search_inputs(question, issuer, date_from, date_to, top_k)
        except InputError as e:
            return _notice(e.zh)
        if not question:
            return _notice(EMPTY_QUESTION)
        settings = SearchSettings(top_k=top_k, filters=SearchFilters((), issuers, date_from, date_to))
        try:
            return render_hits(current().search(question, settings))
        except KBError as e:
            return _notice(SEARCH_FAILED.format(reason=e))

    return search


def _search_inputs(question, issuer, date_from, date_to, top_k):
    """The search form's fields checked, whatever an API client sent: InputError (with `zh`) if bad."""
    issuer = validate.text("" if issuer is None else issuer, "issuer", "发文机关")
    issuers = tuple(x for x in re.split(r"[\s,，、]+", issuer) if x)
    return (validate.question("" if question is None else question), issuers, validate.iso_date(date_from),
            validate.iso_date(date_to), validate.top_k(5 if top_k is None else top_k))


def _clause_of(retriever, doc_id: str, start: int, end: int):
    """The indexed chunk that holds [start, end) of a document, for showing a quote in context."""
    index = retriever.index
    for row in index.doc_rows.get(doc_id, []):
        chunk = index.chunks[row]
        if chunk.start <= start and end <= chunk.end:
            return chunk
    return None


def render_sources(answer: Answer, retriever, page_buttons: bool = False) -> str:
    """HTML for the sources panel: each [n] with its clause, the quoted span marked; all escaped.
    With `page_buttons`, a PDF citation carries a 查看原文页 button that opens its page."""
    if answer.refused:
        items = "".join(f"<li>{html.escape(_doc_name(retriever, h.chunk.doc_id))} "
                        f"{html.escape(passage_place(h.chunk.path, h.chunk.text))}</li>" for h in answer.related)
        return f'<div class="kb-notice">{html.escape(RELATED_TITLE)}<ul>{items}</ul></div>'
    return "\n".join(_render_citation(c, retriever, page_buttons) for c in answer.citations) or _notice(SOURCES_EMPTY)


def _render_citation(c: Citation, retriever, page_button: bool = False) -> str:
    where = [" > ".join(c.path)] if c.path else []
    if c.pages:
        where.append("第 " + "、".join(map(str, c.pages)) + " 页")
    chunk = _clause_of(retriever, c.doc_id, c.start, c.end)
    if chunk is None:
        clause = f"<mark>{html.escape(c.quote)}</mark>"
    else:
        i, j = c.start - chunk.start, c.end - chunk.start
        clause = (html.escape(chunk.text[:i]) + f"<mark>{html.escape(chunk.text[i:j])}</mark>"
                  + html.escape(chunk.text[j:]))
    entry = retriever.index.register.entries.get(c.doc_id)
    return (
        f'<details class="kb-cite" id="kb-cite-{c.n}"><summary><b>[{c.n}]</b> '
        f'{html.escape(" · ".join([_doc_name(retriever, c.doc_id), *where]))}'
        f'{_status_tag(entry.status if entry else "") or _in_force_tag(entry)}'
        f'<div class="kb-quote">{html.escape(c.quote)}</div>{_page_button(c) if page_button else ""}</summary>'
        f'<div class="kb-source">{html.escape(c.source)}</div><blockquote class="kb-text">{clause}</blockquote></details>'
    )


def _page_button(c: Citation) -> str:
    """A button that opens citation n's PDF page in the page view (PAGE_JS sends n to the server)."""
    if not (c.pages and c.source.lower().endswith(".pdf")):
        return ""
    return f'<button type="button" class="kb-page-open" data-n="{c.n}">查看原文页</button>'


def _in_force_tag(entry) -> str:
    return ' <span class="kb-status kb-in-force">现行有效</span>' if entry and entry.in_force else ""


def _doc_name(retriever, doc_id: str) -> str:
    """《title》（文号 or year）: the register's name, which tells versions of one law apart."""
    register = retriever.index.register
    return register.name(doc_id) if doc_id in register.records else doc_id


def make_chat(source, llm=None):
    """The chat handler: streams the answer into the conversation and fills the sources panel.

    Yields (messages, sources HTML, last Answer); the last Answer lets a follow-up name its subject.
    """
    from dataclasses import replace

    from kb.config import AskSettings
    from kb.pipeline import ask_stream

    current = _getter(source)
    page_buttons = isinstance(source, Library)  # the page view needs the corpus folder's files

    def chat(message: str, history: list | None, last: Answer | None, scope: list[str] | None = None):
        history = list(history or [])
        try:
            message = validate.question("" if message is None else message)
        except InputError as e:
            yield history, _notice(e.zh), last
            return
        if not message:
            yield history, _notice(EMPTY_QUESTION), last
            return
        # the chat renders HTML: every message, the documents' quotes in answers above all, is escaped
        history += [{"role": "user", "content": chat_text(message)}, {"role": "assistant", "content": ""}]
        retriever = current()
        search = replace(AskSettings().search, filters=SearchFilters(doc_ids=tuple(scope or ())))
        settings = AskSettings(search=search, llm=llm)
        streamed = ""
        try:
            # a follow-up (「那它是哪年通过的？」) is asked about the last answer's document
            for item in ask_stream(retriever, message, settings, previous=last):
                if isinstance(item, str):
                    streamed += item
                    history[-1] = {"role": "assistant", "content": chat_text(streamed)}
                    yield history, _notice(SOURCES_WAITING), last
                else:
                    history[-1] = {"role": "assistant", "content": chat_text(item.text)}
                    yield history, render_sources(item, retriever, page_buttons), item
        except KBError as e:
            history[-1] = {"role": "assistant", "content": chat_text(SEARCH_FAILED.format(reason=e))}
            yield history, _notice(SEARCH_FAILED.format(reason=e)), last

    return chat


def answer_sent(chat):
    """The chat tab's handler: answers, in order, every question of the conversation's send log (a JSON
    list the browser appends to, SEND_JS) from the `answered`-th on, through `chat`.

    Yields (messages, sources HTML, last Answer, questions answered or begun). A log that is not a list
    of strings (it comes from the browser) or holds nothing new leaves everything as it is.
    """
    import gradio as gr

    def answer(log: str | None, history: list | None, last: Answer | None, answered: int | None,
               scope: list[str] | None = None):
        try:
            sent = json.loads(log or "[]")
        except ValueError:
            sent = None
        answered = answered or 0
        if not isinstance(sent, list) or not all(isinstance(q, str) for q in sent) or len(sent) <= answered:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        for n, question in enumerate(sent[answered:], answered + 1):
            for history, sources, last in chat(question, history, last, scope):
                yield history, sources, last, n

    return answer


def make_ask_api(source, llm=None):
    """The `ask` API endpoint: one question in, the answer out as the JSON text `kb ask --json` prints.

    A JSON string rather than a dict: gradio_client takes any dict with a "path" key for a file.
    """
    from kb.config import AskSettings
    from kb.pipeline import ask as pipeline_ask

    current = _getter(source)
    settings = AskSettings(llm=llm)

    def ask(question: str) -> str:
        try:
            question = validate.question("" if question is None else question)
        except InputError as e:
            return json.dumps({"question": "", "answer": e.zh, "citations": [], "refused": True, "error": e.zh},
                              ensure_ascii=False)
        if not question:
            result = {"question": "", "answer": EMPTY_QUESTION, "citations": [], "refused": True}
        else:
            result = pipeline_ask(current(), question, settings).to_dict()
        return json.dumps(result, ensure_ascii=False)

    return ask


MAX_UPLOAD_BYTES = 50 * 2**20
UPLOAD_DIR = VISITOR_UPLOADS  # visitors who did not log in: their documents rank below the staff's
STAFF_UPLOAD_DIR = "staff-uploads"  # with --auth: logged-in users are staff
UPLOAD_OK = "已加入知识库"
UPLOAD_BUSY = "知识库正在更新（另一个索引任务正在进行），请稍后再试。"
# What one upload (all its files) may spend on OCR: ~2-3 s a page here.
UPLOAD_OCR_PAGES = 100
UPLOAD_OCR_SECONDS = 300
# File systems allow 255 bytes a name (85 Chinese characters); this leaves room for the "-2" that
# tells two uploads of one name apart.
MAX_NAME_BYTES = 240
# Plain reasons from ingestion, as a person reading the page should see them
REASONS_ZH = {
    "encrypted": "文件已加密，需要密码", "scanned PDF": "扫描件无法识别文字", "garbled text layer": "文字层损坏且无法识别",
    "empty file": "空文件", "no text": "没有可读的文字", "corrupt": "文件已损坏", "file too large": "文件过大",
    "undecodable text": "无法识别文字编码", "unsupported file type": "不支持的文件类型",
    "DOCX": "文件内容过大", "too many pages": "页数过多", "OCR took too long": "文字识别超时",
}


def reason_zh(reason: str) -> str:
    for prefix, text in REASONS_ZH.items():
        if reason.startswith(prefix):
            return text
    return f"无法读取（{reason}）"


def safe_name(name: str) -> str:
    """A file name that stays inside the upload folder: no directories, controls or leading dots."""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".-").strip()
    if len(name.encode()) > MAX_NAME_BYTES:  # cut the stem, never the extension the file type is read from
        stem, dot, suffix = name.rpartition(".")
        suffix = dot + suffix if dot and len(suffix) <= 8 else ""
        stem = stem if suffix else name
        while len(stem.encode()) > MAX_NAME_BYTES - len(suffix.encode()):
            stem = stem[:-1]
        name = stem.rstrip() + suffix
    return name or "upload"


class Library:
    """The served index, replaced whole when uploads change the corpus; handlers read `.retriever`."""

    def __init__(self, retriever, corpus: Path, index: Path, settings: BuildSettings, *, staff: bool = False):
        """`staff`: uploads come from logged-in users (--auth) and count as staff documents."""
        import threading

        self.retriever, self.corpus, self.index, self.settings = retriever, Path(corpus), Path(index), settings
        self.upload_dir = STAFF_UPLOAD_DIR if staff else UPLOAD_DIR
        self._lock = threading.Lock()

    def add(self, paths: list[str], progress=None) -> list[tuple[str, str]]:
        """Copy uploads into the corpus, index them incrementally; (file name, result) for each.

        A file that is rejected is deleted again, so that it is not re-read at every start; so is
        every file of an upload that could not be indexed at all (another build holds the index).
        """
        from kb.ingest import ocr_budget
        from kb.pipeline import build_index

        with self._lock:
            copied, results = self._copy(paths)
            if not copied:
                return results
            try:
                with ocr_budget(UPLOAD_OCR_PAGES, UPLOAD_OCR_SECONDS):
                    report = build_index(self.corpus, self.index, self.settings,
                                         **({"progress": progress} if progress else {}))
            except KBError as e:
                self._remove(source for _, source in copied)
                reason = UPLOAD_BUSY if isinstance(e, IndexBusyError) else f"无法加入知识库（{e}）"
                return results + [(name, reason) for name, _ in copied]
            failed = {f.source: f.reason for f in report.failures}
            for name, source in copied:
                results.append((name, reason_zh(failed[source]) if source in failed else UPLOAD_OK))
            self._remove(source for _, source in copied if source in failed)
            # swapped in warm: otherwise the next question would wait while the model loads
            self.retriever = open_warm(self.index)
        return results

    def change(self, operation, *args, progress=None):
        """Run a kb.manage operation (remove_document, replace_document, set_metadata) on the corpus
        and index, then serve the new index; returns what the operation returned."""
        with self._lock:
            result = operation(self.corpus, self.index, *args, self.settings, progress)
            self.retriever = open_warm(self.index)
        return result

    def _remove(self, sources) -> None:
        for source in sources:
            (self.corpus / source).unlink(missing_ok=True)

    def _copy(self, paths: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        import shutil

        from kb.manage import free_path

        folder = self.corpus / self.upload_dir
        folder.mkdir(parents=True, exist_ok=True)
        copied, results = [], []
        for path in map(Path, paths):
            name = safe_name(path.name)
            if not name.lower().endswith(UPLOAD_SUFFIXES):
                results.append((name, REASONS_ZH["unsupported file type"]))
            elif path.stat().st_size > MAX_UPLOAD_BYTES:
                results.append((name, f"文件过大（上限 {MAX_UPLOAD_BYTES // 2**20} MB）"))
            else:
                target = free_path(folder / name)
                shutil.copyfile(path, target)
                copied.append((target.name, target.relative_to(self.corpus).as_posix()))
        return copied, results


def _getter(source):
    """Handlers take a Retriever, or a Library whose retriever may be replaced while serving."""
    if isinstance(source, Library):
        return lambda: source.retriever
    return lambda: source


# Clicking a [n] in the conversation opens source n in the panel. The chat shows plain text (document
# text must never render as markup), so the marker is found from the character under the click.
MARKER_JS = """
() => {
  document.addEventListener('click', (event) => {
    if (!event.target.closest('#chat') || !document.caretRangeFromPoint) return;
    const range = document.caretRangeFromPoint(event.clientX, event.clientY);
    if (!range || range.startContainer.nodeType !== Node.TEXT_NODE) return;
    const text = range.startContainer.textContent, at = range.startOffset;
    const open = text.lastIndexOf('[', at), close = text.indexOf(']', Math.max(open, 0));
    if (open < 0 || close < at - 1 || close - open > 4) return;
    const n = text.slice(open + 1, close);
    const source = /^[0-9]{1,3}$/.test(n) && document.getElementById('kb-cite-' + n);
    if (source) { source.open = true; source.scrollIntoView({block: 'nearest'}); }
  });
}
"""

# the send button and Enter, in the browser: the box empties at once and its question joins the send
# log; an empty box says so under the buttons and sends nothing
SEND_JS = """(text, log) => {
    if (!text || !text.trim()) return [text, EMPTY, log];
    const sent = JSON.parse(log || "[]");
    sent.push(text);
    return ["", "", JSON.stringify(sent)];
}"""

# A 查看原文页 button in the sources panel writes its citation's number (and the time, so the same
# number twice is still a change) into a hidden textbox, whose input event renders that page.
PAGE_JS = """
() => {
  document.addEventListener('click', (event) => {
    const button = event.target.closest('.kb-page-open');
    if (!button) return;
    event.preventDefault();  // inside <summary>: do not fold the citation
    const box = document.querySelector('#page-request textarea');
    if (!box) return;
    box.value = button.dataset.n + ':' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  });
}
"""

FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif")
CSS = """
#kb-title h1 {font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  font-weight: 700;}
.kb-in-force {background: #3a7d44;}
/* Gradio's status text while an event runs ("processing | 1.2s", "queue: 1/2") is English; the
   spinner and the progress bars (labelled in Chinese) stay */
.meta-text, .meta-text-center {display: none !important;}
.kb-hit {border-bottom: 1px solid #ddd; padding: 10px 0;}
.kb-head {font-weight: 600; font-size: 1.05em;}
.kb-where {color: #555; margin-top: 2px;}
.kb-source {color: #888; font-size: 0.85em;}
.kb-text {white-space: pre-wrap; margin: 6px 0 0 0; padding-left: 10px; border-left: 3px solid #c33;}
.kb-exact {font-size: 0.8em; color: #fff; background: #c33; border-radius: 3px; padding: 0 4px;}
.kb-status {font-size: 0.8em; color: #fff; background: #888; border-radius: 3px; padding: 0 4px;}
.kb-relation {font-size: 0.9em; color: #444; margin: 2px 0;}
.kb-notice {padding: 10px 0; color: #555;}
.kb-cite {border-bottom: 1px solid #ddd; padding: 8px 0;}
.kb-cite summary {cursor: pointer;}
.kb-quote {color: #333; margin: 4px 0 0 1.2em;}
.kb-cite mark {background: #ffe08a;}
.kb-page-open {margin: 4px 0 0 1.2em; font-size: 0.85em; padding: 1px 8px; border: 1px solid #bbb;
  border-radius: 4px; background: #fafafa; cursor: pointer;}
"""


DOC_COLUMNS = ["标题", "文号", "类型", "状态", "发文机关", "日期", "条块数", "文件"]


def document_rows(retriever, text: str = "", issuer: str = "", year: str = "") -> list[list]:
    """One row per indexed document, in corpus order, for the 文件 tab; optionally filtered by
    words in the title/文号/file, by issuing body and by year."""
    rows = []
    entries = retriever.index.register.entries
    for r in retriever.index.contents.records:
        m = r.meta
        if text and not any(text in x for x in (m.title, m.doc_number, r.source)):
            continue
        if (issuer and issuer not in m.issuer) or (year and not m.date.startswith(year)):
            continue
        rows.append([_table_title(r), m.doc_number, m.doc_type, entries[r.doc_id].status, m.issuer, m.date,
                     r.n_chunks, r.source])
    return rows


def _table_title(record) -> str:
    """The title, with the year when there is no 文号 column entry to tell versions apart."""
    m = record.meta
    year = (m.date_of("通过", "修订", "修正") or m.date)[:4]
    if not m.title:
        return record.doc_id
    return m.title if m.doc_number or not year else f"{m.title}（{year}年）"


def document_outline(retriever, source: str) -> str:
    """HTML of one document: its metadata, then each chunk under its structural path; escaped."""
    records = [r for r in retriever.index.contents.records if r.source == source]
    if not records:
        return ""
    parts = []
    for r in records:
        m = r.meta
        head = " · ".join(x for x in (_doc_name(retriever, r.doc_id), m.doc_type, m.issuer, m.date) if x)
        parts.append(f'<div class="kb-head">{html.escape(head)}</div>')
        parts += _register_lines(retriever.index.register, r.doc_id)
        for row in retriever.index.doc_rows.get(r.doc_id, []):
            c = retriever.index.chunks[row]
            pages = f" · 第 {'、'.join(map(str, c.pages))} 页" if c.pages else ""
            parts.append(f'<div class="kb-where">{html.escape(c.path_str or "（开头）")}{html.escape(pages)}</div>'
                         f'<blockquote class="kb-text">{html.escape(c.text)}</blockquote>')
    return "\n".join(parts)


_KIND_ZH = {"cites": "引用", "revises": "修改", "abolishes": "废止", "implements": "实施"}


def _register_lines(register, doc_id: str) -> list[str]:
    """Status, versions and relations both ways of one document, as escaped HTML lines."""
    e = register.entries[doc_id]
    lines = [f"状态：{e.status}（{e.reason}）"]
    if len(e.versions) > 1:
        names = [register.name(v) + ("（现行）" if v == e.current else "") for v in e.versions]
        lines.append("版本：" + " → ".join(names))
    for link in register.outgoing[doc_id]:
        target = register.name(link.target) if link.target else f"《{link.ref.title}》{link.ref.doc_number}（不在知识库中）"
        lines.append(f"{_KIND_ZH[link.kind]}{target}：{link.sentence}")
    for link in register.incoming[doc_id]:
        lines.append(f"被{register.name(link.source)}{_KIND_ZH[link.kind]}：{link.sentence}")
    for older in (d for d, other in register.entries.items() if other.superseded_by == doc_id):
        lines.append(f"取代了{register.name(older)}（{register.entries[older].status}）")
    return [f'<div class="kb-relation">{html.escape(line)}</div>' for line in lines]


def _doc_choices(retriever) -> list[tuple[str, str]]:
    return [(_doc_name(retriever, r.doc_id), r.doc_id) for r in retriever.index.contents.records]


def _status(retriever, llm) -> str:
    mode = f"生成式（{llm.model}）" if llm else "原文摘录"
    return STATUS.format(documents=len(retriever.index.contents.records), chunks=len(retriever.index.chunks), mode=mode)


def build_ui(source, llm=None, *, allow_upload: bool = False, allow_manage: bool = False):
    """The page: a cited-answer chat, passage search, the documents, and (if allowed) upload and
    management (remove, replace, correct metadata).

    `source` is a Retriever, or a Library when uploads may replace the index while serving.
    """
    import gradio as gr

    from kb.examples import derive_examples

    current = _getter(source)
    corpus = source.corpus if isinstance(source, Library) else None
    examples = derive_examples(current())
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}", elem_id="kb-title")
        status = gr.Markdown(_status(current(), llm), elem_id="status")
        with gr.Tab("问答"):
            scope = _chat_tab(gr, make_chat(source, llm), _doc_choices(current()), examples, current, corpus)
        with gr.Tab("检索"):
            _search_tab(gr, make_search(source), examples)
        with gr.Tab("文件"):
            table = _documents_tab(gr, current, corpus)
        library = source if isinstance(source, Library) else None
        pickers, changes = [], []
        if (allow_upload or allow_manage) and library:
            with gr.Tab("上传"):
                changes.append(_upload_tab(gr, library))
        if allow_manage and library:
            with gr.Tab("管理"):
                pickers, more = _manage_tab(gr, library)
                changes += more
        refresh_outputs = [status, table, scope, *pickers]

        def refreshed():
            retriever = current()
            choices = gr.update(choices=_doc_choices(retriever))
            return (_status(retriever, llm), document_rows(retriever), choices, *[choices for _ in pickers])

        for change in changes:
            change.then(refreshed, None, refresh_outputs, api_visibility="private")
        if library:  # the page as built shows the documents of start-up; a visitor after a change sees today's
            demo.load(refreshed, None, refresh_outputs, api_visibility="private")
        # after the tabs: anything placed between two tabs splits them into separate tab groups
        # two at a time: the machine has two cores, and numpy, FAISS and the embedder release the GIL
        gr.api(make_ask_api(source, llm), api_name="ask", concurrency_limit=2)
    return demo


def _chat_tab(gr, chat, choices, examples, current, corpus):
    """Conversation on the left; the cited clauses of the last answer on the right, with the PDF page
    of a cited clause, the answer to copy or download, and 有用/没用."""
    last = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="对话", height=480, render_markdown=False, elem_id="chat", buttons=[])
            with gr.Row():
                message = gr.Textbox(label="问题", placeholder=_placeholder(examples), scale=5, elem_id="ask")
                send = gr.Button("提问", variant="primary", scale=1, elem_id="send")
            scope = gr.Dropdown(choices, multiselect=True, label="只在这些文件中回答（可不选）", elem_id="scope")
            if examples:
                gr.Examples(examples, inputs=message, label=EXAMPLES_LABEL, elem_id="examples")
            with gr.Row():
                useful = gr.Button("有用", size="sm", elem_id="fb-useful")
                useless = gr.Button("没用", size="sm", elem_id="fb-useless")
                download = gr.DownloadButton("下载为 Word 文档", size="sm", elem_id="download", interactive=False)
            feedback_note = gr.HTML(elem_id="fb-note")
            with gr.Accordion("复制回答（Markdown，含编号来源）", open=False):
                markdown = gr.Textbox(show_label=False, lines=8, elem_id="answer-markdown", buttons=["copy"])
        with gr.Column(scale=2):
            gr.Markdown("### 引用的原文")
            sources = gr.HTML(_notice(SOURCES_EMPTY), elem_id="sources")
            page_pick, page_image, page_note = _page_view(gr, "查看引文所在的原文页（PDF）", "page")
    # every question sent in this conversation, in order, appended to in the browser (SEND_JS) the
    # moment it is sent; `answered` counts those taken up. So a question sent while the last one is
    # still being answered is neither wiped nor dropped: "always_last" runs answer_sent again when the
    # running answer ends (Gradio's default, "once", would skip it), and it answers all that wait.
    sent, answered = gr.Textbox("[]", visible="hidden", elem_id="sent"), gr.State(0)

    def after(answer):
        choices = _page_choices(current(), answer, corpus)
        return (*_takeaway(current(), answer), gr.update(choices=choices, value=None, visible=bool(choices)))

    # one event for both triggers, so a click and an Enter never answer the same log twice at once;
    # the previous answer's 已记录 note goes now, not later, where it would wipe out a verdict given on
    # the new answer meanwhile
    (gr.on([send.click, message.submit], None, [message, sent], [message, feedback_note, sent],
           js=SEND_JS.replace("EMPTY", json.dumps(_notice(EMPTY_QUESTION))))
     .then(answer_sent(chat), [sent, chatbot, last, answered, scope], [chatbot, sources, last, answered],
           api_visibility="private", trigger_mode="always_last")
     .then(after, last, [markdown, download, page_pick], api_visibility="private", trigger_mode="always_last"))
    page_pick.input(lambda n, answer: _cited_page(current(), corpus, answer, n), [page_pick, last],
                    [page_image, page_note], api_visibility="private")
    # the 查看原文页 buttons of the sources panel (PAGE_JS); "n:time", so a second click is still a change
    page_request = gr.Textbox(visible="hidden", elem_id="page-request")
    def requested(value: str, answer):
        n = (value or "").split(":")[0]
        if not n.isdigit():
            return gr.update(), *_no_page()
        return gr.update(value=int(n)), *_cited_page(current(), corpus, answer, int(n))

    page_request.change(requested, [page_request, last], [page_pick, page_image, page_note], api_visibility="private")
    for button, verdict in ((useful, "有用"), (useless, "没用")):
        button.click(lambda answer, v=verdict: _feedback(current(), answer, v), last, feedback_note,
                     api_visibility="private")
    return scope


def _placeholder(examples: list[str]) -> str:
    return f"例如：{examples[0]}" if examples else PLACEHOLDER


def _page_view(gr, label: str, prefix: str):
    """A picker of clauses, the rendered page with the clause highlighted, and a caption."""
    pick = gr.Dropdown([], label=label, elem_id=f"{prefix}-pick", interactive=True, visible=False)
    image = gr.Image(show_label=False, type="pil", interactive=False, elem_id=f"{prefix}-view", buttons=["fullscreen"],
                     visible=False)
    note = gr.HTML(elem_id=f"{prefix}-note")
    return pick, image, note


def _page_choices(retriever, answer: Answer | None, corpus: Path | None) -> list[tuple[str, int]]:
    """The answer's PDF citations, as (label, n), when the corpus folder holds their files."""
    if answer is None or corpus is None:
        return []
    return [(f"[{c.n}] {_doc_name(retriever, c.doc_id)} · 第 {'、'.join(map(str, c.pages))} 页", c.n)
            for c in answer.citations if c.pages and c.source.lower().endswith(".pdf")]


def _cited_page(retriever, corpus: Path | None, answer: Answer | None, n):
    """The page image of citation n with its quote highlighted, and a caption; never raises."""
    citation = next((c for c in answer.citations if c.n == n), None) if answer and n else None
    if citation is None or corpus is None:
        return _no_page()
    return _render_page(corpus, citation.source, citation.pages, citation.quote)


def _no_page():
    import gradio as gr

    return gr.update(value=None, visible=False), ""


def _render_page(corpus: Path, source: str, pages: tuple[int, ...], quote: str):
    from kb.pageview import render_quote

    import gradio as gr

    try:
        view = render_quote(corpus / source, pages, quote)
    except KBError as e:
        return gr.update(value=None, visible=False), _notice(PAGE_FAILED.format(reason=e))
    pages_zh = "、".join(map(str, view.pages))
    note = (PAGE_MARKED.format(source=source, pages=pages_zh, chars=view.marked_chars) if view.marked_chars
            else PAGE_UNMARKED.format(source=source, pages=pages_zh))
    return gr.update(value=view.image, visible=True), _notice(note)


def _takeaway(retriever, answer: Answer | None):
    """The answer as Markdown with numbered sources, and a .docx of it to download."""
    import gradio as gr
    import tempfile

    from kb.export import to_markdown, write_docx

    if answer is None or answer.refused:
        return "", gr.update(value=None, interactive=False)
    name = lambda c: _doc_name(retriever, c.doc_id)  # noqa: E731
    folder = Path(tempfile.mkdtemp(prefix="kb-answer-"))
    path = write_docx(answer, folder / f"{_file_stem(answer.question)}.docx", name)
    return to_markdown(answer, name), gr.update(value=str(path), interactive=True)


def _file_stem(question: str) -> str:
    return safe_name(re.sub(r"[\s？?！!。，,；;：:]+", "_", question).strip("_")[:40] or "回答")


def _feedback(retriever, answer: Answer | None, verdict: str) -> str:
    from kb.feedback import record

    if answer is None:
        return _notice(FEEDBACK_NOTHING)
    record(retriever.index.folder, answer, verdict)
    return _notice(FEEDBACK_SAVED.format(verdict=verdict))


def _documents_tab(gr, current, corpus):
    """The indexed documents, searchable and filterable; a selected one is shown whole, a PDF one
    also page by page with a chosen clause highlighted."""
    with gr.Row():
        text = gr.Textbox(label="查找（标题、文号、文件名）", elem_id="doc-filter")
        issuer = gr.Textbox(label="发文机关（包含）")
        year = gr.Textbox(label="年份", placeholder="2020")
    table = gr.Dataframe(document_rows(current()), headers=DOC_COLUMNS, interactive=False, wrap=True,
                         column_widths=["30%", "13%", "7%", "7%", "14%", "9%", "6%", "14%"], elem_id="documents",
                         buttons=[])
    with gr.Row():
        with gr.Column(scale=3):
            detail = gr.HTML(elem_id="document")
        with gr.Column(scale=2):
            pick, image, note = _page_view(gr, "查看条款所在的原文页（PDF）", "doc-page")
    filters = [text, issuer, year]
    for box in filters:
        box.change(lambda t, i, y: document_rows(current(), t.strip(), i.strip(), y.strip()), filters, table,
                   api_visibility="private")

    def show(rows, event):
        row = event.index[0]
        source = rows.iloc[row, -1] if hasattr(rows, "iloc") else rows[row][-1]
        choices = _clause_choices(current(), source, corpus)
        return (document_outline(current(), source), gr.update(choices=choices, value=None, visible=bool(choices)),
                *_no_page())

    def page(chunk_id):
        chunk = next((c for c in current().index.chunks if c.chunk_id == chunk_id), None)
        if chunk is None or corpus is None:
            return _no_page()
        return _render_page(corpus, chunk.source, chunk.pages, chunk.text)

    # Gradio finds the event-data argument by its annotation, which must be the class itself here
    # (this module's annotations are strings under `from __future__ import annotations`).
    show.__annotations__["event"] = gr.SelectData
    table.select(show, table, [detail, pick, image, note], api_visibility="private")
    pick.input(page, pick, [image, note], api_visibility="private")
    return table


def _clause_choices(retriever, source: str, corpus: Path | None) -> list[tuple[str, str]]:
    """(label, chunk_id) of each paged clause of a PDF document, for the page view."""
    if corpus is None or not source.lower().endswith(".pdf"):
        return []
    index = retriever.index
    return [(f"{c.path_str or '（开头）'} · 第 {'、'.join(map(str, c.pages))} 页", c.chunk_id)
            for r in index.contents.records if r.source == source
            for c in (index.chunks[row] for row in index.doc_rows.get(r.doc_id, [])) if c.pages]


def _progress_bar(progress):
    """kb's progress(stage, done, total, detail) shown on a gr.Progress bar, in Chinese."""
    def update(stage: str, done: int, total: int, detail: str) -> None:
        if total:
            progress((done, total), desc=STAGES_ZH.get(stage, stage), unit="项")
    return update


def _upload_tab(gr, library: Library):
    """Add files to the corpus; each gets 已加入知识库 or the reason it was not. Returns the add event."""
    chooser = gr.UploadButton("选择文件（PDF、DOCX、TXT、MD、HTML）", file_count="multiple",
                              file_types=list(UPLOAD_SUFFIXES), elem_id="upload")
    # the files chosen: hidden, but the `upload` API endpoint takes them, as gradio_client sends files
    files = gr.File(file_count="multiple", visible=False)
    pending = gr.Markdown(elem_id="upload-pending")
    button = gr.Button("加入知识库", variant="primary", elem_id="add")
    result = gr.Dataframe(headers=["文件", "结果"], interactive=False, elem_id="upload-result", buttons=[])

    def chosen(paths):
        paths = _paths(paths)
        return paths, "待加入：" + "、".join(safe_name(Path(p).name) for p in paths) if paths else ""

    def add(paths, progress=gr.Progress()):
        paths = _paths(paths)
        return library.add(paths, _progress_bar(progress)) if paths else []

    chooser.upload(chosen, chooser, [files, pending], api_visibility="private")
    return button.click(add, files, result, api_name="upload")


def _paths(files) -> list[str]:
    return [p if isinstance(p, str) else p.name for p in (files or [])]


def _manage_tab(gr, library: Library) -> tuple[list, list]:
    """Staff only: remove a document, replace it with a new version, correct its metadata; each
    change indexed with a progress bar. Returns the document picker to refresh after a change, and
    the change events."""
    from kb.manage import remove_document, replace_document, set_metadata
    from kb.register import STATUSES

    gr.Markdown(MANAGE_INTRO)
    doc = gr.Dropdown(_doc_choices(library.retriever), label="文件", elem_id="manage-doc")
    with gr.Row():
        fields = {name: gr.Textbox(label=label, elem_id=f"meta-{name}") for name, label in META_LABELS.items()
                  if name != "status"}
        fields["status"] = gr.Dropdown(["", *STATUSES], label=META_LABELS["status"], elem_id="meta-status")
    save = gr.Button("保存元数据", variant="primary", elem_id="meta-save")
    with gr.Row():
        chooser = gr.UploadButton("选择新版本文件", file_count="single", file_types=list(UPLOAD_SUFFIXES),
                                  elem_id="replace-file")
        new_file = gr.File(visible=False)
        replace = gr.Button("用新版本替换（旧版标为已修订）", elem_id="manage-replace")
    with gr.Row():
        confirm = gr.Checkbox(label="确认删除这个文件", elem_id="manage-confirm")
        remove = gr.Button("删除文件", variant="stop", elem_id="manage-remove")
    result = gr.HTML(elem_id="manage-result")
    names = list(fields)

    def load(doc_id):
        values = _meta_values(library.retriever, doc_id)
        return [values.get(name, "") for name in names]

    def set_meta(doc_id, *values, progress=gr.Progress()):
        if not doc_id:
            return _notice(MANAGE_NO_DOC)
        old = _meta_values(library.retriever, doc_id)
        record = library.retriever.index.records.get(doc_id)
        overridden = record.meta.overridden if record else ()
        # an emptied field clears a correction; one that was never corrected stays as read
        changed = {n: v for n, v in ((n, (v or "").strip()) for n, v in zip(names, values))
                   if v != old.get(n, "") and (v or n in overridden)}
        if not changed:
            return _notice(META_UNCHANGED)
        return _managed(lambda: library.change(set_metadata, doc_id, changed, progress=_progress_bar(progress)),
                        META_SAVED.format(doc=doc_id, fields="、".join(META_LABELS[n] for n in changed)))

    def replace_with(doc_id, file, progress=gr.Progress()):
        paths = _paths([file] if file and not isinstance(file, list) else file)
        if not doc_id or not paths:
            return _notice(REPLACE_NEEDS)
        return _managed(lambda: library.change(replace_document, doc_id, Path(paths[0]),
                                               progress=_progress_bar(progress)),
                        REPLACED.format(doc=doc_id))

    def remove_doc(doc_id, confirmed=True, progress=gr.Progress()):
        if not doc_id:
            return _notice(MANAGE_NO_DOC)
        if not confirmed:
            return _notice(REMOVE_CONFIRM)
        return _managed(lambda: library.change(remove_document, doc_id, progress=_progress_bar(progress)),
                        REMOVED.format(doc=doc_id))

    doc.input(load, doc, list(fields.values()), api_visibility="private")
    chooser.upload(lambda f: f, chooser, new_file, api_visibility="private")
    changes = [save.click(set_meta, [doc, *fields.values()], result, api_name="set_meta"),
               replace.click(replace_with, [doc, new_file], result, api_name="replace"),
               remove.click(remove_doc, [doc, confirm], result, api_name="remove")]
    return [doc], changes


def _managed(change, done: str) -> str:
    """Run one management change; its outcome, or the reason it failed, in Chinese."""
    try:
        change()
    except KBError as e:
        return _notice(MANAGE_FAILED.format(reason=e))
    return _notice(done)


def _meta_values(retriever, doc_id: str) -> dict[str, str]:
    """What the metadata form shows for a document: its fields as indexed, sidecar rows applied."""
    record = retriever.index.records.get(doc_id)
    if record is None:
        return {}
    m = record.meta
    return {"title": m.title, "doc_number": m.doc_number, "issuer": m.issuer, "date": m.date,
            "doc_type": m.doc_type, "status": m.status, "effective": m.date_of("施行"), "abolished": m.date_of("废止")}


def _search_tab(gr, search, examples) -> None:
    """Question, filters, and the cited passages."""
    with gr.Row():
        question = gr.Textbox(label="问题", placeholder=_placeholder(examples), scale=5, elem_id="question")
        button = gr.Button("检索", variant="primary", scale=1, elem_id="search")
    with gr.Accordion("筛选", open=False), gr.Row():
        issuer = gr.Textbox(label="发文机关（包含）", placeholder="教育部")
        date_from = gr.Textbox(label="起始日期", placeholder="2019-01-01")
        date_to = gr.Textbox(label="截止日期", placeholder="2020-12-31")
        top_k = gr.Slider(1, 20, value=5, step=1, label="条数")
    results = gr.HTML(elem_id="results")
    if examples:
        gr.Examples(examples, inputs=question, label=EXAMPLES_LABEL)
    inputs = [question, issuer, date_from, date_to, top_k]
    button.click(search, inputs, results, api_name="search")
    question.submit(search, inputs, results, api_name=False)


def prepare(corpus: Path, index: Path, settings: BuildSettings, *, build: bool = True):
    """Bring the index up to date with the corpus (with progress bars), then load it once."""
    from kb.cli import ProgressBars
    from kb.pipeline import build_index

    if build:
        bars = ProgressBars(quiet=False)
        try:
            report = build_index(corpus, index, settings, progress=bars)
        finally:
            bars.close()
        print(f"index: {report.documents} documents, {report.chunks} chunks "
              f"({report.reused_documents} unchanged); skipped {len(report.failures)}", file=sys.stderr)
        for failure in report.failures:
            print(f"  skipped {failure.source}: {failure.reason}", file=sys.stderr)
    return open_warm(index)


def open_warm(index: Path):
    """Load the index, then search it once: that loads the embedding model and jieba's dictionary,
    which would otherwise load during a visitor's first question (seconds, and holding up others)."""
    from kb.pipeline import open_retriever

    retriever = open_retriever(index)
    retriever.search("预热")
    return retriever


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent  # defaults work from any working directory
    ap = argparse.ArgumentParser(description="PolicyKB web UI")
    ap.add_argument("--corpus", default=str(here / "corpus"), help="folder to index on start (default: corpus/)")
    ap.add_argument("--index", default=str(here / "index"), help="index folder (default: index/)")
    ap.add_argument("--no-build", action="store_true", help="serve the index as it is, without indexing")
    ap.add_argument("--embedder", help="embedder for a new index; env KB_EMBEDDER")
    ap.add_argument("--model", help="model for a new index; env KB_MODEL")
    ap.add_argument("--host", default="127.0.0.1", help="address to serve on (default: loopback only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--allow-upload", action="store_true", help="let visitors add files (on anyway with --auth)")
    ap.add_argument("--allow-manage", action="store_true",
                    help="let visitors remove and replace documents and edit their metadata (on anyway with --auth)")
    ap.add_argument("--auth", action="append", metavar="USER:PASSWORD",
                    help="require a login (repeatable); env KB_AUTH=user:pw,user2:pw2")
    args = ap.parse_args(argv)
    try:
        auth = parse_auth(args.auth or [], os.environ.get("KB_AUTH", ""))
        settings = BuildSettings.from_env(args.embedder, args.model, base=built_settings(Path(args.index)))
        retriever = prepare(Path(args.corpus), Path(args.index), settings, build=not args.no_build)
        llm = LLMSettings.from_env()
    except KBError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {args.host} without --auth: anyone who can reach it can read every "
              "indexed document", file=sys.stderr)
    library = Library(retriever, Path(args.corpus), Path(args.index), settings, staff=bool(auth))
    demo = build_ui(library, llm, allow_upload=args.allow_upload or bool(auth),
                    allow_manage=args.allow_manage or bool(auth))
    launch(demo, server_name=args.host, server_port=args.port, auth=auth or None)
    return 0


def launch(demo, **options):
    """Serve the page with its style, the marker script and the upload size limit; no footer (its
    links are in English and lead to Gradio's pages, not the knowledge base); with auth, nothing
    but the login page before logging in (kb.webguard.LoginGate)."""
    import gradio as gr
    from starlette.middleware import Middleware

    # local fonts only: the default theme's web font is unreachable offline, and the title's
    # letters then came from two fonts
    theme = gr.themes.Default(font=list(FONTS), font_mono=["Noto Sans Mono CJK SC", "monospace"])
    return demo.queue().launch(css=CSS, js=f"() => {{ ({MARKER_JS})(); ({PAGE_JS})(); }}",
                               max_file_size=MAX_UPLOAD_BYTES, footer_links=[], theme=theme,
                               app_kwargs={"middleware": [Middleware(LoginGate)]}, **options)


def parse_auth(flags: list[str], env: str) -> list[tuple[str, str]]:
    """user:password pairs from --auth flags and KB_AUTH; a malformed pair is an error."""
    pairs = []
    for item in [*flags, *(x for x in env.split(",") if x.strip())]:
        user, sep, password = item.strip().partition(":")
        if not (sep and user and password):
            raise ConfigError(f"--auth/KB_AUTH expects user:password, got {item.strip()!r}")
        pairs.append((user, password))
    return pairs


if __name__ == "__main__":
    sys.exit(main())
