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

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import ConfigError, KBError
from kb.index import built_settings
from kb.llm import LLMSettings
from kb.types import Answer, Citation, Hit

TITLE = "PolicyKB 政策文件检索"
STATUS = "已索引 {documents} 份文件、{chunks} 个条块；回答方式：{mode}。"
INTRO = "输入问题，查看回答它的原文条款：每条都注明文件、文号、条款和页码。可按文号（任何括号写法）或《标题》直接查找文件。"
EXAMPLES = ["1+X证书由谁颁发？", "证书有效期是多久？", "教职成[2019]6号讲了什么？", "哪个文件规定了考核站点的要求？"]
EMPTY_QUESTION = "请输入问题。"
NO_HITS = "知识库中没有找到与这个问题相关的条款。"
BAD_DATE = "日期格式应为 YYYY-MM-DD，例如 2020-01-01。"
SEARCH_FAILED = "检索出错：{reason}"
SOURCES_EMPTY = "回答引用的原文条款会显示在这里。"
SOURCES_WAITING = "正在生成回答……"
RELATED_TITLE = "知识库中没有依据；可能相关的文件："

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
        f'<div class="kb-hit"><div class="kb-head">{rank}. {html.escape(title)} {exact}</div>'
        f'<div class="kb-where">{html.escape(" · ".join(where))}</div>'
        f'<div class="kb-source">{html.escape(c.source)}</div>'
        f'<blockquote class="kb-text">{html.escape(c.text)}</blockquote></div>'
    )


def _notice(text: str) -> str:
    return f'<div class="kb-notice">{html.escape(text)}</div>'


def make_search(retriever):
    """The UI's search handler over one loaded retriever; returns HTML, never raises."""

    def search(question: str, issuer: str = "", date_from: str = "", date_to: str = "", top_k: float = 5) -> str:
        question = (question or "").strip()
        if not question:
            return _notice(EMPTY_QUESTION)
        date_from, date_to = (date_from or "").strip(), (date_to or "").strip()
        if any(d and not _ISO_DATE.fullmatch(d) for d in (date_from, date_to)):
            return _notice(BAD_DATE)
        issuers = tuple(x for x in re.split(r"[\s,，、]+", issuer or "") if x)
        settings = SearchSettings(top_k=int(top_k), filters=SearchFilters((), issuers, date_from, date_to))
        try:
            return render_hits(retriever.search(question, settings))
        except KBError as e:
            return _notice(SEARCH_FAILED.format(reason=e))

    return search


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
    return (
        f'<details class="kb-cite" id="kb-cite-{c.n}"><summary><b>[{c.n}]</b> '
        f'{html.escape(" · ".join([_name(c.title, c.doc_number, c.doc_id), *where]))}'
        f'<div class="kb-quote">{html.escape(c.quote)}</div></summary>'
        f'<div class="kb-source">{html.escape(c.source)}</div><blockquote class="kb-text">{clause}</blockquote></details>'
    )


def _name(title: str, doc_number: str, doc_id: str) -> str:
    return (f"《{title}》" if title else doc_id) + (f"（{doc_number}）" if doc_number else "")


def make_chat(retriever, llm=None):
    """The chat handler: streams the answer into the conversation and fills the sources panel.

    Yields (messages, sources HTML, last Answer); the last Answer lets a follow-up name its subject.
    """
    from kb.answer import AnswerSettings, rewrite_followup, stream_answer

    def chat(message: str, history: list | None, last: Answer | None):
        message = (message or "").strip()
        history = list(history or [])
        if not message:
            yield history, _notice(EMPTY_QUESTION), last
            return
        question = rewrite_followup(message, last)
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        try:
            for item in stream_answer(retriever, question, AnswerSettings(), llm):
                if isinstance(item, str):
                    history[-1] = {"role": "assistant", "content": history[-1]["content"] + item}
                    yield history, _notice(SOURCES_WAITING), last
                else:
                    history[-1] = {"role": "assistant", "content": item.text}
                    yield history, render_sources(item, retriever), item
        except KBError as e:
            history[-1] = {"role": "assistant", "content": SEARCH_FAILED.format(reason=e)}
            yield history, _notice(SEARCH_FAILED.format(reason=e)), last

    return chat


def make_ask_api(retriever, llm=None):
    """The `ask` API endpoint: one question in, the answer out as the JSON text `kb ask --json` prints.

    A JSON string rather than a dict: gradio_client takes any dict with a "path" key for a file.
    """
    from kb.answer import AnswerSettings, answer_question

    def ask(question: str) -> str:
        if not (question or "").strip():
            result = {"question": "", "answer": EMPTY_QUESTION, "citations": [], "refused": True}
        else:
            result = answer_question(retriever, question, AnswerSettings(), llm).to_dict()
        return json.dumps(result, ensure_ascii=False)

    return ask


CSS = """
.kb-hit {border-bottom: 1px solid #ddd; padding: 10px 0;}
.kb-head {font-weight: 600; font-size: 1.05em;}
.kb-where {color: #555; margin-top: 2px;}
.kb-source {color: #888; font-size: 0.85em;}
.kb-text {white-space: pre-wrap; margin: 6px 0 0 0; padding-left: 10px; border-left: 3px solid #c33;}
.kb-exact {font-size: 0.8em; color: #fff; background: #c33; border-radius: 3px; padding: 0 4px;}
.kb-notice {padding: 10px 0; color: #555;}
.kb-cite {border-bottom: 1px solid #ddd; padding: 8px 0;}
.kb-cite summary {cursor: pointer;}
.kb-quote {color: #333; margin: 4px 0 0 1.2em;}
.kb-cite mark {background: #ffe08a;}
"""


DOC_COLUMNS = ["标题", "文号", "发文机关", "日期", "条块数", "文件"]


def document_rows(retriever) -> list[list]:
    """One row per indexed document, in corpus order, for the 文件 tab."""
    return [[r.meta.title, r.meta.doc_number, r.meta.issuer, r.meta.date, r.n_chunks, r.source]
            for r in retriever.index.contents.records]


def build_ui(retriever, llm=None):
    """The page: a cited-answer chat, passage search, and the list of documents."""
    import gradio as gr

    search = make_search(retriever)
    records = retriever.index.contents.records
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        gr.Markdown(STATUS.format(documents=len(records), chunks=len(retriever.index.chunks),
                                  mode="生成式（" + llm.model + "）" if llm else "原文摘录"), elem_id="status")
        with gr.Tab("问答"):
            _chat_tab(gr, make_chat(retriever, llm))
        with gr.Tab("检索"):
            _search_tab(gr, search)
        gr.api(make_ask_api(retriever, llm), api_name="ask")
        with gr.Tab(f"文件（{len(records)}）"):
            gr.Dataframe(document_rows(retriever), headers=DOC_COLUMNS, interactive=False, wrap=True,
                         column_widths=["38%", "15%", "17%", "10%", "6%", "14%"], elem_id="documents")
    return demo


def _chat_tab(gr, chat) -> None:
    """Conversation on the left, the cited clauses of the last answer on the right."""
    last = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="对话", height=480, render_markdown=False, elem_id="chat")
            with gr.Row():
                message = gr.Textbox(label="问题", placeholder=EXAMPLES[0], scale=5, elem_id="ask")
                send = gr.Button("提问", variant="primary", scale=1, elem_id="send")
            gr.Examples(EXAMPLES, inputs=message)
        with gr.Column(scale=2):
            gr.Markdown("### 引用的原文")
            sources = gr.HTML(_notice(SOURCES_EMPTY), elem_id="sources")
    inputs, outputs = [message, chatbot, last], [chatbot, sources, last]
    send.click(chat, inputs, outputs, api_visibility="private").then(lambda: "", None, message)
    message.submit(chat, inputs, outputs, api_visibility="private").then(lambda: "", None, message)


def _search_tab(gr, search) -> None:
    """Question, filters, and the cited passages."""
    with gr.Row():
        question = gr.Textbox(label="问题", placeholder=EXAMPLES[0], scale=5, elem_id="question")
        button = gr.Button("检索", variant="primary", scale=1, elem_id="search")
    with gr.Accordion("筛选", open=False):
        with gr.Row():
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
    from kb.pipeline import build_index, open_retriever

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
    retriever = open_retriever(index)
    retriever.embedder.embed_query("预热")  # load the model before the first visitor, not during
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
    build_ui(retriever, llm).queue().launch(server_name=args.host, server_port=args.port, css=CSS,
                                            auth=auth or None)
    return 0


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
