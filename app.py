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
from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import ConfigError, IndexBusyError, InputError, KBError
from kb.index import built_settings
from kb.llm import LLMSettings
from kb.register import VISITOR_UPLOADS
from kb.types import Answer, Citation, Hit
from kb.webguard import LoginGate, chat_text

TITLE = "PolicyKB 政策文件检索"
STATUS = "已索引 {documents} 份文件、{chunks} 个条块；回答方式：{mode}。"
INTRO = "输入问题，查看回答它的原文条款：每条都注明文件、文号、条款和页码。可按文号（任何括号写法）或《标题》直接查找文件。"
EXAMPLES = ["1+X证书由谁颁发？", "证书有效期是多久？", "教职成[2019]6号讲了什么？", "哪个文件规定了考核站点的要求？"]
EMPTY_QUESTION = "请输入问题。"
NO_HITS = "知识库中没有找到与这个问题相关的条款。"
BAD_DATE = validate.BAD_DATE_ZH
SEARCH_FAILED = "检索出错：{reason}"
SOURCES_EMPTY = "回答引用的原文条款会显示在这里。"
SOURCES_WAITING = "正在生成回答……"
RELATED_TITLE = "知识库中没有依据；可能相关的文件："


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


def render_sources(answer: Answer, retriever) -> str:
    """HTML for the sources panel: each [n] with its clause, the quoted span marked; all escaped."""
    if answer.refused:
        items = "".join(f"<li>{html.escape(_name(h.title, h.doc_number, h.chunk.doc_id))} "
                        f"{html.escape(h.chunk.path_str)}</li>" for h in answer.related)
        return f'<div class="kb-notice">{html.escape(RELATED_TITLE)}<ul>{items}</ul></div>'
    return "\n".join(_render_citation(c, retriever) for c in answer.citations) or _notice(SOURCES_EMPTY)


def _render_citation(c: Citation, retriever) -> str:
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
        f'{html.escape(" · ".join([_name(c.title, c.doc_number, c.doc_id), *where]))}'
        f'{_status_tag(entry.status if entry else "")}'
        f'<div class="kb-quote">{html.escape(c.quote)}</div></summary>'
        f'<div class="kb-source">{html.escape(c.source)}</div><blockquote class="kb-text">{clause}</blockquote></details>'
    )


def _name(title: str, doc_number: str, doc_id: str) -> str:
    return (f"《{title}》" if title else doc_id) + (f"（{doc_number}）" if doc_number else "")


def make_chat(source, llm=None):
    """The chat handler: streams the answer into the conversation and fills the sources panel.

    Yields (messages, sources HTML, last Answer); the last Answer lets a follow-up name its subject.
    """
    from kb.answer import AnswerSettings, rewrite_followup, stream_answer

    current = _getter(source)

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
        question = rewrite_followup(message, last)
        # the chat renders HTML: every message, the documents' quotes in answers above all, is escaped
        history += [{"role": "user", "content": chat_text(message)}, {"role": "assistant", "content": ""}]
        retriever = current()
        settings = AnswerSettings(filters=SearchFilters(doc_ids=tuple(scope or ())))
        streamed = ""
        try:
            for item in stream_answer(retriever, question, settings, llm):
                if isinstance(item, str):
                    streamed += item
                    history[-1] = {"role": "assistant", "content": chat_text(streamed)}
                    yield history, _notice(SOURCES_WAITING), last
                else:
                    history[-1] = {"role": "assistant", "content": chat_text(item.text)}
                    yield history, render_sources(item, retriever), item
        except KBError as e:
            history[-1] = {"role": "assistant", "content": chat_text(SEARCH_FAILED.format(reason=e))}
            yield history, _notice(SEARCH_FAILED.format(reason=e)), last

    return chat


def make_ask_api(source, llm=None):
    """The `ask` API endpoint: one question in, the answer out as the JSON text `kb ask --json` prints.

    A JSON string rather than a dict: gradio_client takes any dict with a "path" key for a file.
    """
    from kb.answer import AnswerSettings, answer_question

    current = _getter(source)

    def ask(question: str) -> str:
        try:
            question = validate.question("" if question is None else question)
        except InputError as e:
            return json.dumps({"question": "", "answer": e.zh, "citations": [], "refused": True, "error": e.zh},
                              ensure_ascii=False)
        if not question:
            result = {"question": "", "answer": EMPTY_QUESTION, "citations": [], "refused": True}
        else:
            result = answer_question(current(), question, AnswerSettings(), llm).to_dict()
        return json.dumps(result, ensure_ascii=False)

    return ask


UPLOAD_SUFFIXES = (".pdf", ".docx", ".txt", ".md", ".html", ".htm")
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

    def add(self, paths: list[str]) -> list[tuple[str, str]]:
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
                    report = build_index(self.corpus, self.index, self.settings)
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

    def _remove(self, sources) -> None:
        for source in sources:
            (self.corpus / source).unlink(missing_ok=True)

    def _copy(self, paths: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        import shutil

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
                target = _free_path(folder / name)
                shutil.copyfile(path, target)
                copied.append((target.name, target.relative_to(self.corpus).as_posix()))
        return copied, results


def _free_path(path: Path) -> Path:
    stem, suffix, n = path.stem, path.suffix, 1
    while path.exists():
        path = path.with_name(f"{stem}-{n}{suffix}")
        n += 1
    return path


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

CSS = """
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
        rows.append([m.title, m.doc_number, m.doc_type, entries[r.doc_id].status, m.issuer, m.date, r.n_chunks,
                     r.source])
    return rows


def document_outline(retriever, source: str) -> str:
    """HTML of one document: its metadata, then each chunk under its structural path; escaped."""
    records = [r for r in retriever.index.contents.records if r.source == source]
    if not records:
        return ""
    parts = []
    for r in records:
        m = r.meta
        head = " · ".join(x for x in (_name(m.title, m.doc_number, r.doc_id), m.doc_type, m.issuer, m.date) if x)
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
    return [f'<div class="kb-relation">{html.escape(line)}</div>' for line in lines]


def _doc_choices(retriever) -> list[tuple[str, str]]:
    return [(_name(r.meta.title, r.meta.doc_number, r.doc_id), r.doc_id) for r in retriever.index.contents.records]


def _status(retriever, llm) -> str:
    mode = f"生成式（{llm.model}）" if llm else "原文摘录"
    return STATUS.format(documents=len(retriever.index.contents.records), chunks=len(retriever.index.chunks), mode=mode)


def build_ui(source, llm=None, *, allow_upload: bool = False):
    """The page: a cited-answer chat, passage search, the documents, and (if allowed) upload.

    `source` is a Retriever, or a Library when uploads may replace the index while serving.
    """
    import gradio as gr

    current = _getter(source)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        status = gr.Markdown(_status(current(), llm), elem_id="status")
        with gr.Tab("问答"):
            scope = _chat_tab(gr, make_chat(source, llm), _doc_choices(current()))
        with gr.Tab("检索"):
            _search_tab(gr, make_search(source))
        with gr.Tab("文件"):
            table = _documents_tab(gr, current)
        if allow_upload and isinstance(source, Library):
            with gr.Tab("上传"):
                _upload_tab(gr, source, lambda: (_status(current(), llm), document_rows(current()),
                                                 gr.update(choices=_doc_choices(current()))),
                            [status, table, scope])
        # after the tabs: anything placed between two tabs splits them into separate tab groups
        # two at a time: the machine has two cores, and numpy, FAISS and the embedder release the GIL
        gr.api(make_ask_api(source, llm), api_name="ask", concurrency_limit=2)
    return demo


def _chat_tab(gr, chat, choices):
    """Conversation on the left, the cited clauses of the last answer on the right."""
    last = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="对话", height=480, render_markdown=False, elem_id="chat")
            with gr.Row():
                message = gr.Textbox(label="问题", placeholder=EXAMPLES[0], scale=5, elem_id="ask")
                send = gr.Button("提问", variant="primary", scale=1, elem_id="send")
            scope = gr.Dropdown(choices, multiselect=True, label="只在这些文件中回答（可不选）", elem_id="scope")
            gr.Examples(EXAMPLES, inputs=message)
        with gr.Column(scale=2):
            gr.Markdown("### 引用的原文")
            sources = gr.HTML(_notice(SOURCES_EMPTY), elem_id="sources")
    inputs, outputs = [message, chatbot, last, scope], [chatbot, sources, last]
    send.click(chat, inputs, outputs, api_visibility="private").then(lambda: "", None, message)
    message.submit(chat, inputs, outputs, api_visibility="private").then(lambda: "", None, message)
    return scope


def _documents_tab(gr, current):
    """The indexed documents, searchable and filterable; a selected one is shown whole."""
    with gr.Row():
        text = gr.Textbox(label="查找（标题、文号、文件名）", elem_id="doc-filter")
        issuer = gr.Textbox(label="发文机关（包含）")
        year = gr.Textbox(label="年份", placeholder="2020")
    table = gr.Dataframe(document_rows(current()), headers=DOC_COLUMNS, interactive=False, wrap=True,
                         column_widths=["30%", "13%", "7%", "7%", "14%", "9%", "6%", "14%"], elem_id="documents")
    detail = gr.HTML(elem_id="document")
    filters = [text, issuer, year]
    for box in filters:
        box.change(lambda t, i, y: document_rows(current(), t.strip(), i.strip(), y.strip()), filters, table,
                   api_visibility="private")

    def show(rows, event) -> str:
        row = event.index[0]
        source = rows.iloc[row, -1] if hasattr(rows, "iloc") else rows[row][-1]
        return document_outline(current(), source)

    # Gradio finds the event-data argument by its annotation, which must be the class itself here
    # (this module's annotations are strings under `from __future__ import annotations`).
    show.__annotations__["event"] = gr.SelectData
    table.select(show, table, detail, api_visibility="private")
    return table


def _upload_tab(gr, library: Library, refreshed, refresh_outputs) -> None:
    """Add files to the corpus; each gets 已加入知识库 or the reason it was not."""
    files = gr.File(label="上传文件（PDF、DOCX、TXT、MD、HTML）", file_count="multiple",
                    file_types=list(UPLOAD_SUFFIXES), elem_id="upload")
    button = gr.Button("加入知识库", variant="primary", elem_id="add")
    result = gr.Dataframe(headers=["文件", "结果"], interactive=False, elem_id="upload-result")

    def add(paths):
        paths = [p if isinstance(p, str) else p.name for p in (paths or [])]
        return library.add(paths) if paths else []

    button.click(add, files, result, api_name="upload").then(refreshed, None, refresh_outputs)


def _search_tab(gr, search) -> None:
    """Question, filters, and the cited passages."""
    with gr.Row():
        question = gr.Textbox(label="问题", placeholder=EXAMPLES[0], scale=5, elem_id="question")
        button = gr.Button("检索", variant="primary", scale=1, elem_id="search")
    with gr.Accordion("筛选", open=False), gr.Row():
        issuer = gr.Textbox(label="发文机关（包含）", placeholder="教育部")
        date_from = gr.Textbox(label="起始日期", placeholder="2019-01-01")
        date_to = gr.Textbox(label="截止日期", placeholder="2020-12-31")
        top_k = gr.Slider(1, 20, value=5, step=1, label="条数")
    results = gr.HTML(elem_id="results")
    gr.Examples(EXAMPLES, inputs=question)
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
    demo = build_ui(library, llm, allow_upload=args.allow_upload or bool(auth))
    launch(demo, server_name=args.host, server_port=args.port, auth=auth or None)
    return 0


def launch(demo, **options):
    """Serve the page with its style, the marker script and the upload size limit; with auth, nothing
    but the login page before logging in (kb.webguard.LoginGate)."""
    from starlette.middleware import Middleware

    return demo.queue().launch(css=CSS, js=MARKER_JS, max_file_size=MAX_UPLOAD_BYTES,
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
