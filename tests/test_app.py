"""The web UI: its search handler, and the real Gradio app served over HTTP."""

import json
import socket

import pytest

import app
from kb.config import BuildSettings
from kb.embed import EMBEDDERS, HashingEmbedder
from kb.pipeline import build_index, open_retriever
from tests.conftest import REPO, index_rows

PDF = "rules/certificate_management_measures.pdf"


@pytest.fixture(scope="module")
def retriever(sample_retriever):
    return sample_retriever


@pytest.fixture(scope="module")
def search(retriever):
    return app.make_search(retriever)


def test_answer_passages_are_cited_to_clause_and_page(search):
    out = search("证书有效期是多久？", top_k=3)
    first = out.split('<div class="kb-hit">')[1]
    assert "《职业技能等级证书管理办法（试行）》" in first
    assert "教职成厅〔2019〕3号 · 第三章 证书颁发与管理 &gt; 第十二条 · 第 2 页" in first
    assert PDF in first and "证书有效期为三年" in first
    assert out.count('<div class="kb-hit">') == 3


def test_doc_number_hits_are_marked(search):
    out = search("教职成[2019]6号讲了什么？", top_k=2)
    assert out.count("按文号/标题命中") == 2 and "notices/1x_pilot_plan.docx" in out


def test_bad_inputs_get_chinese_messages(search):
    assert app.EMPTY_QUESTION in search("   ")
    assert app.BAD_DATE in search("证书有效期", date_from="2020/01/01")
    assert app.NO_HITS in search("证书有效期", issuer="不存在的机关")


def test_filters_reach_the_search(search):
    out = search("证书", issuer="教育部办公厅", date_from="2020-01-01", date_to="2020-12-31", top_k=10)
    sources = {part.split("</div>")[0] for part in out.split('<div class="kb-source">')[1:]}
    assert sources == {"notices/pilot_work_notice.html"}  # the only 教育部办公厅 document of 2020


def test_document_text_is_escaped(tmp_path):
    row = {"id": "x1", "title": "测试<b>标题</b>", "text": "证书有效期为三年。<img src=x onerror=alert(1)>"}
    out = app.make_search(index_rows(tmp_path, [row]))("证书有效期")
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "<b>" not in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_app_answers_over_http(retriever):
    from gradio_client import Client

    port = _free_port()
    demo = app.build_ui(retriever)
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict("证书有效期是多久？", "", "", "", 1, api_name="/search")
    finally:
        demo.close()
    assert out.count('<div class="kb-hit">') == 1 and "第十二条 · 第 2 页" in out


def test_document_rows_list_every_indexed_document(retriever):
    rows = app.document_rows(retriever)
    assert len(rows) == 8 and all(len(r) == len(app.DOC_COLUMNS) for r in rows)
    pdf = next(r for r in rows if r[-1] == PDF)
    assert pdf[:6] == ["职业技能等级证书管理办法（试行）", "教职成厅〔2019〕3号", "办法", "现行有效", "教育部办公厅",
                       "2019-12-10"]


def run_chat(chat, message, history=None, last=None):
    """Drive the streaming chat handler to its end; returns (messages, sources HTML, last Answer)."""
    *_, final = chat(message, history or [], last)
    return final


def test_chat_answers_with_sources_and_marks_the_quote(retriever):
    chat = app.make_chat(retriever)
    history, sources, last = run_chat(chat, "证书有效期是多久？")
    assert [m["role"] for m in history] == ["user", "assistant"]
    lead, source = history[1]["content"].split("\n")[:2]  # a how-long question leads with the fact
    assert lead == "三年。[1]" and source.startswith("《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）第十二条：")
    assert '<details class="kb-cite" id="kb-cite-1">' in sources
    assert "第十二条 <mark>证书有效期为三年，自颁证之日起计算。" in sources
    assert last.citations[0].path[-1] == "第十二条"


def test_chat_follow_up_uses_the_previous_subject(retriever):
    chat = app.make_chat(retriever)
    history, _, last = run_chat(chat, "哪个文件规定了考核站点的要求？")
    history, sources, _ = run_chat(chat, "那它是哪年发布的？", history, last)
    assert len(history) == 4 and "notices/pilot_work_notice.html" in sources


def test_chat_refusal_offers_related_documents(retriever):
    _, sources, last = run_chat(app.make_chat(retriever), "火星移民签证怎么办理")
    assert last.refused and app.RELATED_TITLE in sources


def test_chat_empty_message(retriever):
    history, sources, last = run_chat(app.make_chat(retriever), "  ")
    assert history == [] and app.EMPTY_QUESTION in sources and last is None


def test_answer_sent_answers_every_waiting_question_in_order(retriever):
    answer = app.answer_sent(app.make_chat(retriever))
    log = json.dumps(["证书有效期是多久？", "火星移民签证怎么办理"], ensure_ascii=False)
    *_, (history, sources, last, answered) = answer(log, [], None, 0)
    assert answered == 2 and [m["content"] for m in history[::2]] == ["证书有效期是多久？", "火星移民签证怎么办理"]
    assert "三年" in history[1]["content"] and last.refused and app.RELATED_TITLE in sources
    # taken up from where the last run stopped, with the last answer as a follow-up's subject
    log = json.dumps(["证书有效期是多久？", "火星移民签证怎么办理", "那它是哪年发布的？"], ensure_ascii=False)
    *_, (history, _, _, answered) = answer(log, history, last, 2)
    assert answered == 3 and len(history) == 6 and history[4]["content"] == "那它是哪年发布的？"


@pytest.mark.parametrize("log", ["[]", '["证书有效期是多久？"]', "not json", '{"q": 1}', "[1, 2]", None])
def test_answer_sent_leaves_all_as_it_is_when_nothing_new_or_the_log_is_bad(retriever, log):
    import gradio as gr

    outputs = list(app.answer_sent(app.make_chat(retriever))(log, [], None, 1))
    assert len(outputs) == 1 and all(o == gr.skip() for o in outputs[0])


def test_sources_escape_document_text(tmp_path):
    row = {"id": "x1", "title": "职业技能等级证书管理办法",
           "text": "第十二条 证书有效期为三年，自颁证之日起计算。<script>alert(1)</script>[链接](javascript:alert(1))"}
    _, sources, answer = run_chat(app.make_chat(index_rows(tmp_path, [row])), "证书有效期是多久？")
    assert not answer.refused  # the passage is shown, so its markup must be escaped there
    assert "<script>" not in sources and "&lt;script&gt;alert(1)&lt;/script&gt;" in sources


def test_auth_pairs():
    assert app.parse_auth(["a:1"], "b:2, c:3") == [("a", "1"), ("b", "2"), ("c", "3")]
    with pytest.raises(app.ConfigError, match="user:password"):
        app.parse_auth(["nopassword"], "")


def test_ask_api_over_http(retriever):
    from gradio_client import Client

    port = _free_port()
    demo = app.build_ui(retriever)
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        out = json.loads(Client(f"http://127.0.0.1:{port}/", verbose=False).predict("证书有效期是多久？", api_name="/ask"))
    finally:
        demo.close()
    assert out["refused"] is False and out["citations"][0]["article"] == "第十二条"


def test_document_filters_and_outline(retriever):
    assert [r[-1] for r in app.document_rows(retriever, text="教职成厅〔2019〕3号")] == [PDF]
    assert {r[-1] for r in app.document_rows(retriever, issuer="教育部办公厅", year="2020")} == {
        "notices/pilot_work_notice.html"}
    outline = app.document_outline(retriever, PDF)
    assert "职业技能等级证书管理办法（试行）" in outline and "第三章 证书颁发与管理 &gt; 第十二条 · 第 2 页" in outline


def test_documents_show_type_status_versions_and_relations(retriever):
    old, new = "laws/vocational_education_measures_2018_gbk.txt", "laws/vocational_education_measures_2021_gbk.txt"
    rows = {r[-1]: r for r in app.document_rows(retriever)}
    assert rows[old][2:4] == ["办法", "已废止"] and rows[new][2:4] == ["办法", "现行有效"]
    outline = app.document_outline(retriever, old)
    assert "状态：已废止" in outline and "（现行）" in outline
    assert "被《示例市职业教育促进办法》（示政发〔2021〕21号）废止：" in outline
    hits = retriever.search("示政发[2018]8号规定的实习补贴", app.SearchSettings(top_k=1))
    assert '<span class="kb-status">已废止</span>' in app.render_hits(hits)


@pytest.mark.parametrize("raw, safe", [("../../etc/passwd.txt", "passwd.txt"), ("..\\\\evil.md", "evil.md"),
                                       ("a\x00b\x1f.pdf", "ab.pdf"), ("-rf.txt", "rf.txt"), ("...", "upload"),
                                       ("通知（2020）.docx", "通知（2020）.docx")])
def test_upload_names_are_sanitised(raw, safe):
    assert app.safe_name(raw) == safe


def test_upload_adds_documents_and_reports_each_file(tmp_path):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    settings = BuildSettings(embedder="hashing")
    build_index(corpus, tmp_path / "index", settings)
    library = app.Library(open_retriever(tmp_path / "index"), corpus, tmp_path / "index", settings)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "新规定.txt").write_text("示例新规定\n第一条 教师每年参加企业实践不少于一个月。\n", encoding="utf-8")
    (incoming / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (incoming / "table.xlsx").write_bytes(b"x")
    results = dict(library.add([str(p) for p in sorted(incoming.iterdir())]))
    assert results["新规定.txt"] == app.UPLOAD_OK
    assert results["broken.pdf"] == "文件已损坏"
    assert results["table.xlsx"] == "不支持的文件类型"
    assert (corpus / "uploads" / "新规定.txt").exists()
    _, sources, _ = run_chat(app.make_chat(library), "教师每年参加企业实践多久？")
    assert "uploads/新规定.txt" in sources  # the new document is answerable at once


class RecordingEmbedder(HashingEmbedder):
    """The hashing embedder, keeping the questions each instance embedded."""

    name = "hashing-recording"

    def __init__(self, model: str | None = None):
        super().__init__(model)
        self.queries: list[str] = []

    def embed_batch(self, texts: list[str], *, query: bool):
        if query:
            self.queries += texts
        return super().embed_batch(texts, query=query)


def test_upload_swaps_in_an_index_whose_model_is_loaded(tmp_path, monkeypatch):
    # registered for this test only: other tests list the registry's names
    monkeypatch.setitem(EMBEDDERS, RecordingEmbedder.name, RecordingEmbedder)
    settings = BuildSettings(embedder=RecordingEmbedder.name)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "规定.txt").write_text("示例规定\n第一条 证书有效期为三年。\n", encoding="utf-8")
    build_index(corpus, index, settings)
    library = app.Library(app.open_warm(index), corpus, index, settings)
    before = library.retriever
    assert before.embedder.queries == ["预热"]
    new = tmp_path / "新规定.txt"
    new.write_text("示例新规定\n第一条 教师每年参加企业实践不少于一个月。\n", encoding="utf-8")
    assert library.add([str(new)]) == [("新规定.txt", app.UPLOAD_OK)]
    # a new retriever, its model loaded before it took any visitor's question
    assert library.retriever is not before and library.retriever.embedder.queries == ["预热"]


def test_login_required_when_auth_is_set(retriever):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    port = _free_port()
    demo = app.build_ui(retriever)
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               auth=[("teacher", "s3cret")])
    url = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(AuthenticationError):
            Client(url, verbose=False).predict("证书有效期是多久？", api_name="/ask")
        ok = Client(url, auth=("teacher", "s3cret"), verbose=False).predict("证书有效期是多久？", api_name="/ask")
    finally:
        demo.close()
    assert json.loads(ok)["citations"][0]["article"] == "第十二条"


@pytest.mark.parametrize("route, body", [("config", None), ("gradio_api/info", None),
                                         ("gradio_api/call/ask", b'{"data": ["x"]}'),
                                         ("gradio_api/call/search", b'{"data": ["x", "", "", "", 5]}'),
                                         ("gradio_api/call/upload", b'{"data": [[]]}'),
                                         ("gradio_api/queue/join", b'{"data": ["x"]}')])
def test_every_route_needs_login_when_auth_is_set(tmp_path, route, body):
    import urllib.error
    import urllib.request

    settings = BuildSettings(embedder="hashing")
    build_index(REPO / "corpus", tmp_path / "index", settings)
    library = app.Library(open_retriever(tmp_path / "index"), REPO / "corpus", tmp_path / "index", settings)
    port = _free_port()
    demo = app.build_ui(library, allow_upload=True)
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               auth=[("teacher", "s3cret")])
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{route}", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
    finally:
        demo.close()
    assert caught.value.code == 401


def test_management_endpoints_over_gradio_client(tmp_path):
    import shutil

    from gradio_client import Client, handle_file

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    settings = BuildSettings(embedder="hashing")
    build_index(corpus, index, settings)
    library = app.Library(open_retriever(index), corpus, index, settings)
    new = tmp_path / "新版评述.md"
    new.write_text("# 1+X证书制度试点评述（新版）\n\n试点院校应当每年报告证书考核情况。\n", encoding="utf-8")
    port = _free_port()
    demo = app.build_ui(library, allow_manage=True)
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        saved = client.predict(PDF, "", "", "示例机关", "", "", "", "", "", api_name="/set_meta")
        refused = client.predict(PDF, False, api_name="/remove")
        replaced = client.predict("papers/1x_pilot_review.md", handle_file(str(new)), api_name="/replace")
        removed = client.predict("notices/production_education_notice.txt", True, api_name="/remove")
        bad = client.predict(PDF, "", "", "", "昨天", "", "", "", "", api_name="/set_meta")
    finally:
        demo.close()
    assert "已保存 rules/certificate_management_measures.pdf 的发文机关" in saved
    assert "请勾选" in refused and (corpus / PDF).exists()
    assert "已用新版本替换 papers/1x_pilot_review.md" in replaced
    assert "已删除 notices/production_education_notice.txt" in removed
    assert "操作没有完成" in bad and "is not a date" in bad
    register = library.retriever.index.register
    assert library.retriever.index.records[PDF].meta.issuer == "示例机关"
    assert register.entries["papers/1x_pilot_review.md"].superseded_by == "papers/新版评述.md"
    assert "notices/production_education_notice.txt" not in register.records


def test_management_is_off_unless_asked_for(retriever, tmp_path):
    settings = BuildSettings(embedder="hashing")
    library = app.Library(retriever, REPO / "corpus", tmp_path / "index", settings)
    names = {d.api_name for d in app.build_ui(library, allow_upload=True).fns.values()}
    assert {"remove", "replace", "set_meta"}.isdisjoint(names) and "upload" in names
    names = {d.api_name for d in app.build_ui(library, allow_manage=True).fns.values()}
    assert {"remove", "replace", "set_meta", "upload"} <= names


def test_versions_of_one_title_are_told_apart(tmp_path):
    rows = [{"id": f"law{year}", "title": "中华人民共和国职业教育法",
             "text": f"中华人民共和国职业教育法\n（{year}年{month}月{day}日第{n}届全国人民代表大会常务委员会会议通过）\n"
                     f"第一条 为了发展职业教育，制定本法。\n第二条 职业学校应当{duty}。\n"}
            for year, month, day, n, duty in ((1996, 5, 15, "八", "培养学生"), (2022, 4, 20, "十三", "坚持立德树人"))]
    retriever = index_rows(tmp_path, rows)
    assert sorted(r[0] for r in app.document_rows(retriever)) == ["中华人民共和国职业教育法（1996年）",
                                                                  "中华人民共和国职业教育法（2022年）"]
    _, sources, last = run_chat(app.make_chat(retriever), "职业学校应当坚持什么？")
    assert "《中华人民共和国职业教育法》（2022年）" in sources and '<span class="kb-status kb-in-force">现行有效</span>' in sources
    assert [label for label, _ in app._doc_choices(retriever)] == ["《中华人民共和国职业教育法》（1996年）",
                                                                   "《中华人民共和国职业教育法》（2022年）"]


def test_pdf_citations_carry_a_page_button(retriever):
    from kb.answer import answer_question
    from kb.config import AskSettings

    answer = answer_question(retriever, "证书有效期是多久？", AskSettings())
    assert "kb-page-open" not in app.render_sources(answer, retriever)
    html = app.render_sources(answer, retriever, page_buttons=True)
    pdf = [c.n for c in answer.citations if c.source == PDF]
    assert pdf and html.count('class="kb-page-open"') == len(pdf)
    assert f'<button type="button" class="kb-page-open" data-n="{pdf[0]}">查看原文页</button>' in html
