"""Gradio UI on kb.pipeline: ask a question, read the passages that answer it, each cited to
document, 文号, clause and page.

    python app.py [--corpus corpus] [--index index] [--port 7860]

On start the corpus is indexed (incrementally: an unchanged corpus costs a second), then the index
and embedder are loaded once and every question is searched against them.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.errors import KBError
from kb.index import built_settings
from kb.types import Hit

TITLE = "PolicyKB 政策文件检索"
INTRO = "输入问题，查看回答它的原文条款：每条都注明文件、文号、条款和页码。可按文号（任何括号写法）或《标题》直接查找文件。"
EXAMPLES = ["1+X证书由谁颁发？", "证书有效期是多久？", "教职成[2019]6号讲了什么？", "哪个文件规定了考核站点的要求？"]
EMPTY_QUESTION = "请输入问题。"
NO_HITS = "知识库中没有找到与这个问题相关的条款。"
BAD_DATE = "日期格式应为 YYYY-MM-DD，例如 2020-01-01。"
SEARCH_FAILED = "检索出错：{reason}"

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


CSS = """
.kb-hit {border-bottom: 1px solid #ddd; padding: 10px 0;}
.kb-head {font-weight: 600; font-size: 1.05em;}
.kb-where {color: #555; margin-top: 2px;}
.kb-source {color: #888; font-size: 0.85em;}
.kb-text {white-space: pre-wrap; margin: 6px 0 0 0; padding-left: 10px; border-left: 3px solid #c33;}
.kb-exact {font-size: 0.8em; color: #fff; background: #c33; border-radius: 3px; padding: 0 4px;}
.kb-notice {padding: 10px 0; color: #555;}
"""


DOC_COLUMNS = ["标题", "文号", "发文机关", "日期", "条块数", "文件"]


def document_rows(retriever) -> list[list]:
    """One row per indexed document, in corpus order, for the 文件 tab."""
    return [[r.meta.title, r.meta.doc_number, r.meta.issuer, r.meta.date, r.n_chunks, r.source]
            for r in retriever.index.contents.records]


def build_ui(retriever):
    """The page: question, optional filters, and the cited passages; a tab lists the documents."""
    import gradio as gr

    search = make_search(retriever)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tab("检索"):
            _search_tab(gr, search)
        with gr.Tab(f"文件（{len(retriever.index.contents.records)}）"):
            gr.Dataframe(document_rows(retriever), headers=DOC_COLUMNS, interactive=False, wrap=True,
                         column_widths=["38%", "15%", "17%", "10%", "6%", "14%"], elem_id="documents")
    return demo


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
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    args = ap.parse_args(argv)
    try:
        settings = BuildSettings.from_env(args.embedder, args.model, base=built_settings(Path(args.index)))
        retriever = prepare(Path(args.corpus), Path(args.index), settings, build=not args.no_build)
    except KBError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    build_ui(retriever).queue().launch(server_name=args.host, server_port=args.port, css=CSS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
