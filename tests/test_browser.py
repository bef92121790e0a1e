"""The web UI in a real browser: Debian's Chromium driven by Playwright, against app.py on localhost.

The browser runs with an English locale, the worst case for Gradio's own strings. Tests that change
the knowledge base (remove, metadata) come last: the module shares one index.
"""

import io
import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

import app
from kb.config import BuildSettings
from kb.examples import derive_examples
from kb.pipeline import build_index, open_retriever
from tests.conftest import REPO, shared_path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's hosts, which this closed network refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


ARTIFACTS = REPO / "test-artifacts"  # screenshots of each run, for a person to look at (git-ignored)
INJECTION = {"id": "injection", "title": "注入测试",
             "text": "培训补贴申领须知。<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
                     "[点我](javascript:alert(1)) ![图](http://example.invalid/x.png)"}


# What Gradio shows in English unless the app replaces it
ENGLISH = ["Examples", "Use via API", "Built with Gradio", "Settings", "Drop File Here", "Click to Upload"]


@dataclass
class Served:
    url: str
    corpus: Path
    index: Path
    library: app.Library


def _serve(corpus: Path, index: Path):
    """Index `corpus` with the hashing embedder and serve it with upload and management on."""
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    import playwright  # noqa: F401  (in requirements.txt: a missing one is an install error, not a skip)
    settings = BuildSettings(embedder="hashing")
    build_index(corpus, index, settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    library = app.Library(open_retriever(index), corpus, index, settings)
    demo = app.build_ui(library, allow_upload=True, allow_manage=True)
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, Served(f"http://127.0.0.1:{port}/", corpus, index, library)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("browser")
    corpus = work / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "injection.jsonl").write_text(json.dumps(INJECTION, ensure_ascii=False) + "\n", encoding="utf-8")
    demo, served = _serve(corpus, work / "index")
    yield served
    demo.close()


@pytest.fixture(scope="module")
def page_url(served):
    return served.url


def _open(p, url: str):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(locale="en-US", viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    # not "networkidle": a Gradio page keeps a connection open and never settles
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#ask textarea", timeout=30_000)
    return browser, page


@pytest.fixture()
def page(page_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, page_url)
        yield page
        browser.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _ask(page, question: str, expect: str = "#sources .kb-cite") -> None:
    page.get_by_role("tab", name="问答").click()
    page.fill("#ask textarea", question)
    page.click("#send")
    page.wait_for_selector(expect, timeout=30_000)


def _pick(page, dropdown: str, label: str) -> None:
    """Choose the option `label` of a Gradio dropdown."""
    page.click(f"{dropdown} input")
    page.locator("ul[role=listbox] li").filter(has_text=label).first.click()


def test_chat_answer_cites_and_opens_its_source(page, tmp_path):
    page.fill("#ask textarea", "证书有效期是多久？")
    page.click("#send")
    page.wait_for_selector("#sources .kb-cite", timeout=30_000)
    chat = page.inner_text("#chat")  # the fact first, then the clause quoted whole
    assert "三年。[1]" in chat and "第十二条：证书有效期为三年，自颁证之日起计算。有效期届满前" in chat
    # clicking the marker [1] in the answer opens source 1
    box = page.locator("#chat").get_by_text("三年。[1]", exact=False).last
    assert page.evaluate("() => document.getElementById('kb-cite-1').open") is False
    marker_x = page.evaluate("""(el) => {
        const node = [...el.childNodes].find(n => n.nodeType === 3 && n.textContent.includes('[1]')) || el.firstChild;
        const at = node.textContent.indexOf('[1]') + 1;
        const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + 1);
        const b = r.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2];
    }""", box.element_handle())
    page.mouse.click(*marker_x)
    page.wait_for_function("() => document.getElementById('kb-cite-1').open", timeout=10_000)
    assert page.locator("#kb-cite-1 mark").inner_text().startswith("证书有效期为三年，自颁证之日起计算。有效期届满前")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-with-sources.png"))


def test_chat_refusal_is_shown(page):
    _ask(page, "证书有效期是多久？")
    page.wait_for_selector("#page-pick", state="visible", timeout=30_000)  # the answer cites a PDF
    page.fill("#ask textarea", "火星移民签证怎么办理")
    page.press("#ask textarea", "Enter")
    page.wait_for_selector("#sources ul", timeout=30_000)
    assert "知识库中没有找到回答这个问题的依据。" in page.inner_text("#chat")
    # nothing cited, so no page to open and nothing to download
    page.wait_for_selector("#page-pick", state="hidden", timeout=30_000)
    assert page.locator("#download").is_disabled()


def test_question_sent_while_one_is_answered_is_kept_and_answered(page):
    """The box empties at once, and a second question sent before the first answer ends is answered
    after it, not skipped (Gradio's default trigger mode) nor wiped by the first answer's clean-up."""
    page.fill("#ask textarea", "证书有效期是多久？")
    page.click("#send")
    assert page.input_value("#ask textarea") == ""  # emptied in the browser, before any answer
    page.fill("#ask textarea", "火星移民签证怎么办理")
    page.press("#ask textarea", "Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('没有找到回答这个问题的依据')",
                           timeout=60_000)
    chat = page.inner_text("#chat")
    assert chat.index("证书有效期是多久？") < chat.index("三年。[1]") < chat.index("火星移民签证怎么办理")
    assert page.input_value("#ask textarea") == ""
    # an empty box sends nothing and says so under the buttons
    page.click("#send")
    page.wait_for_function("document.querySelector('#fb-note').innerText.includes('请输入问题')", timeout=10_000)
    assert page.inner_text("#chat").count("证书有效期是多久？") == 1


def test_question_shows_cited_passages(page):
    page.get_by_role("tab", name="检索").click()
    page.fill("#question textarea", "证书有效期是多久？")
    page.click("#search")
    page.wait_for_selector("#results .kb-hit", timeout=30_000)
    first = page.locator("#results .kb-hit").first
    assert "《职业技能等级证书管理办法（试行）》" in first.inner_text()
    assert "第三章 证书颁发与管理 > 第十二条 · 第 2 页" in first.locator(".kb-where").inner_text()
    assert first.locator(".kb-text").inner_text().startswith("第十二条 证书有效期为三年")


def test_enter_key_searches_and_empty_question_is_told(page):
    page.get_by_role("tab", name="检索").click()
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#results .kb-notice", timeout=30_000)
    assert page.inner_text("#results") == app.EMPTY_QUESTION
    page.fill("#question textarea", "教职成（2019）6号")
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#results .kb-exact", timeout=30_000)
    assert page.locator("#results .kb-hit").count() == 5
    assert page.locator("#results .kb-exact").count() == 5


def test_documents_tab_lists_the_corpus(page):
    page.get_by_role("tab", name="文件").click()
    page.wait_for_selector("#documents table", timeout=30_000)
    table = page.inner_text("#documents")
    assert "职业技能等级证书管理办法（试行）" in table and "教职成厅函〔2020〕2号" in table


def test_selecting_a_document_shows_it_whole(page):
    page.get_by_role("tab", name="文件").click()
    page.wait_for_selector("#documents table", timeout=30_000)
    page.locator("#documents").get_by_text("职业技能等级证书管理办法（试行）", exact=True).first.click(force=True)
    page.wait_for_selector("#document .kb-text", timeout=30_000)
    assert "第三章 证书颁发与管理 > 第十二条" in page.inner_text("#document")


def test_document_markup_is_shown_literally(page):
    page.fill("#ask textarea", "培训补贴申领须知是什么？")
    page.click("#send")
    page.wait_for_selector("#sources .kb-cite", timeout=30_000)
    page.locator("#sources summary").first.click()
    sources = page.inner_text("#sources")
    assert "<script>document.title='pwned'</script>" in sources and "onerror=alert(1)" in sources
    assert page.locator("#sources script, #sources img, #chat img, #sources a").count() == 0
    assert page.title() != "pwned"


def test_upload_then_ask_about_it(page, tmp_path):
    page.get_by_role("tab", name="上传").click()
    new = tmp_path / "实践规定.txt"
    new.write_text("示例实践规定\n第一条 专业教师每年到企业实践不少于一个月。\n", encoding="utf-8")
    with page.expect_file_chooser() as chooser:
        page.click("#upload")
    chooser.value.set_files(str(new))
    page.wait_for_function("document.querySelector('#upload-pending').innerText.includes('实践规定.txt')",
                           timeout=30_000)
    page.click("#add")
    page.wait_for_function("document.querySelector('#upload-result').innerText.includes('实践规定.txt')",
                           timeout=60_000)
    assert "已加入知识库" in page.inner_text("#upload-result")
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_role("tab", name="文件").click()
    page.wait_for_selector("#documents table", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "documents-tab.png"))
    page.get_by_role("tab", name="问答").click()
    page.fill("#ask textarea", "专业教师每年到企业实践多久？")
    page.click("#send")
    page.wait_for_selector("#sources .kb-cite", timeout=30_000)
    assert "uploads/实践规定.txt" in page.inner_html("#sources")


# --- issue 16: all Chinese, derived examples, 原文 view, take-away, feedback, management ----------

def _visible_text(page) -> str:
    """The page's text over every tab, as a person would read it."""
    texts = [page.inner_text("body")]
    for tab in ("检索", "文件", "上传", "管理"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        texts.append(page.inner_text("body"))
    return "\n".join(texts)


def test_no_english_strings_and_one_title_font(page):
    text = _visible_text(page)
    assert [s for s in ENGLISH if s in text] == []
    assert page.locator("footer").count() == 0 or not page.locator("footer").first.is_visible()
    # every letter of the title is set in the same (local) font, none from a web font that fails offline
    family = page.evaluate("() => getComputedStyle(document.querySelector('#kb-title h1')).fontFamily")
    assert family.startswith('"Noto Sans CJK SC"')
    # Gradio writes "processing | 1.2s" and "queue: 1/2" into these while an event runs: hidden
    for cls in ("meta-text", "meta-text-center"):
        display = page.evaluate("""(cls) => { const d = document.createElement('div'); d.className = cls;
            document.querySelector('#status').appendChild(d); return getComputedStyle(d).display; }""", cls)
        assert display == "none"
    page.get_by_role("tab", name="问答").click()
    _shot(page, "all-chinese.png")


def _answer_each_example(page, examples: list[str], shot: str) -> None:
    assert examples, "no example questions were derived"
    for example in examples:
        page.get_by_role("tab", name="问答").click()
        page.locator("#examples").get_by_text(example, exact=True).click()
        page.wait_for_function("(q) => document.querySelector('#ask textarea').value === q", arg=example,
                               timeout=10_000)
        page.click("#send")
        page.wait_for_selector("#sources .kb-cite, #sources ul", timeout=30_000)
        assert page.locator("#sources .kb-cite").count() >= 1, f"{example} was refused"
        assert "没有找到回答这个问题的依据" not in page.inner_text("#chat").split(example)[-1]
    _shot(page, shot)


def test_each_derived_example_is_answered(page, served):
    examples = derive_examples(served.library.retriever)
    assert len(examples) == 4
    _answer_each_example(page, examples, "examples-sample.png")


@pytest.fixture(scope="module")
def shared_served(tmp_path_factory):
    corpus = shared_path("corpus")
    demo, served = _serve(corpus, tmp_path_factory.mktemp("browser-shared") / "index")
    yield served
    demo.close()


def test_each_derived_example_is_answered_on_the_shared_corpus(shared_served):
    from playwright.sync_api import sync_playwright

    examples = derive_examples(shared_served.library.retriever)
    assert len(examples) == 4 and "证书有效期是多久？" not in examples
    with sync_playwright() as p:
        browser, page = _open(p, shared_served.url)
        try:
            _answer_each_example(page, examples, "examples-shared.png")
        finally:
            browser.close()


def _highlighted_pixels(page, selector: str) -> int:
    """Pixels of the rendered page in the highlight's colour (translucent yellow over white paper)."""
    from urllib.parse import urljoin

    from PIL import Image

    src = page.get_attribute(f"{selector} img", "src")
    image = Image.open(io.BytesIO(page.request.get(urljoin(page.url, src)).body())).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 240 and 215 < g < 245 and 110 < b < 175)


def test_pdf_citation_opens_its_page_with_the_quote_highlighted(page):
    _ask(page, "证书有效期是多久？")
    _pick(page, "#page-pick", "[1] 《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号） · 第 2 页")
    page.wait_for_selector("#page-view img", timeout=30_000)
    page.wait_for_function("document.querySelector('#page-note').innerText.includes('引文已用黄色标出')",
                           timeout=30_000)
    # the whole of 第十二条 is quoted, all of it marked on page 2
    assert "rules/certificate_management_measures.pdf 第 2 页：引文已用黄色标出（122 字）" in page.inner_text("#page-note")
    assert _highlighted_pixels(page, "#page-view") > 1000
    _shot(page, "page-view.png")


def test_sources_panel_button_opens_the_page(page):
    _ask(page, "证书有效期是多久？")  # one source: 第十二条, on page 2 of the PDF
    page.locator("#kb-cite-1 .kb-page-open").click()
    page.wait_for_selector("#page-view img", timeout=30_000)
    page.wait_for_function("document.querySelector('#page-note').innerText.includes('引文已用黄色标出')",
                           timeout=30_000)
    assert page.evaluate("() => document.getElementById('kb-cite-1').open") is False  # the click did not unfold it
    assert _highlighted_pixels(page, "#page-view") > 500
    assert page.locator("#page-pick input").input_value().startswith("[1] ")


def test_document_view_opens_a_clause_on_its_page(page):
    page.get_by_role("tab", name="文件").click()
    page.wait_for_selector("#documents table", timeout=30_000)
    page.locator("#documents").get_by_text("职业技能等级证书管理办法（试行）", exact=True).first.click(force=True)
    page.wait_for_selector("#document .kb-text", timeout=30_000)
    _pick(page, "#doc-page-pick", "第三章 证书颁发与管理 > 第十二条 · 第 2 页")
    page.wait_for_selector("#doc-page-view img", timeout=30_000)
    assert _highlighted_pixels(page, "#doc-page-view") > 1000
    _shot(page, "document-page-view.png")


def test_downloaded_docx_holds_the_answer_and_its_sources(page, tmp_path):
    from docx import Document

    _ask(page, "证书有效期是多久？")
    page.wait_for_selector("#download:not([disabled])", timeout=30_000)
    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "证书有效期是多久.docx"
    paragraphs = [p.text for p in Document(str(path)).paragraphs]
    assert paragraphs[0] == "证书有效期是多久？"
    assert paragraphs[1] == "三年。[1]"
    assert paragraphs[2].startswith("《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）第十二条：证书有效期为三年")
    assert "来源" in paragraphs
    assert ("[1] 《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号） · 第三章 证书颁发与管理 > 第十二条 · 第 2 页 · "
            "rules/certificate_management_measures.pdf") in paragraphs
    assert any(p.startswith("证书有效期为三年，自颁证之日起计算。有效期届满前") for p in paragraphs)
    page.get_by_text("复制回答（Markdown，含编号来源）").click()
    page.wait_for_selector("#answer-markdown textarea", timeout=10_000)
    markdown = page.input_value("#answer-markdown textarea")
    assert "**来源**" in markdown and "[1] 《职业技能等级证书管理办法（试行）》（教职成厅〔2019〕3号）" in markdown
    _shot(page, "export.png")


def test_feedback_click_lands_in_the_log(page, served):
    log = served.index / "feedback.jsonl"
    before = log.read_text(encoding="utf-8").count("\n") if log.exists() else 0
    _ask(page, "证书有效期是多久？")
    page.click("#fb-useless")
    page.wait_for_function("document.querySelector('#fb-note').innerText.includes('已记录：没用')", timeout=10_000)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == before + 1
    row = json.loads(lines[-1])
    assert (row["question"], row["verdict"], row["gold_doc"]) == ("证书有效期是多久？", "没用", "")
    assert row["citations"][0]["source"] == "rules/certificate_management_measures.pdf"
    _shot(page, "feedback.png")


# --- these change the knowledge base: keep them last ----------------------------------------------

REVIEW = "papers/1x_pilot_review.md"
PRODUCTION = "notices/production_education_notice.txt"


def test_metadata_edit_shows_in_the_documents_table_and_kb_docs(page, served, capsys):
    from kb.cli import main

    page.get_by_role("tab", name="管理").click()
    _pick(page, "#manage-doc", app._doc_name(served.library.retriever, REVIEW))
    page.wait_for_function("document.querySelector('#meta-issuer textarea').value === '示例职业技术学院'",
                           timeout=10_000)
    for box, value in (("#meta-issuer", "示例市教育局"), ("#meta-doc_number", "示教发〔2021〕7号")):
        page.fill(f"{box} textarea", value)
        page.press(f"{box} textarea", "Tab")  # Gradio takes a textbox's value when it loses focus
        assert page.input_value(f"{box} textarea") == value
    page.click("#meta-save")
    page.wait_for_function("document.querySelector('#manage-result').innerText.includes('已保存')", timeout=60_000)
    assert "已保存 papers/1x_pilot_review.md 的文号、发文机关" in page.inner_text("#manage-result")
    _shot(page, "manage.png")
    page.get_by_role("tab", name="文件").click()
    row = _table_row_once(page, REVIEW, lambda row: "示例市教育局" in row)
    assert (row[1], row[4]) == ("示教发〔2021〕7号", "示例市教育局")
    _shot(page, "metadata-in-table.png")
    capsys.readouterr()
    assert main(["docs", "--index", str(served.index), "--json"]) == 0
    docs = {d["doc_id"]: d for d in json.loads(capsys.readouterr().out)["documents"]}
    assert (docs[REVIEW]["issuer"], docs[REVIEW]["doc_number"]) == ("示例市教育局", "示教发〔2021〕7号")
    assert "issuer,示例市教育局" not in (served.corpus / "metadata.csv").read_text(encoding="utf-8")
    assert f"{REVIEW},,示教发〔2021〕7号,示例市教育局," in (served.corpus / "metadata.csv").read_text(encoding="utf-8")


def test_replacing_a_document_marks_the_old_one_revised_with_a_link(page, served, tmp_path):
    new = tmp_path / "review-2024.md"
    new.write_text("# 1+X证书制度试点评述（2024年版）\n\n试点院校应当每年报告证书考核情况。\n", encoding="utf-8")
    page.get_by_role("tab", name="管理").click()
    _pick(page, "#manage-doc", app._doc_name(served.library.retriever, REVIEW))
    with page.expect_file_chooser() as chooser:
        page.click("#replace-file")
    chooser.value.set_files(str(new))
    page.wait_for_timeout(1000)  # the chosen file reaches the server before the click below
    page.click("#manage-replace")
    page.wait_for_function("document.querySelector('#manage-result').innerText.includes('已用新版本替换')",
                           timeout=60_000)
    page.get_by_role("tab", name="文件").click()
    page.wait_for_function("document.querySelector('#documents').innerText.includes('papers/review-2024.md')",
                           timeout=30_000)
    assert _table_row_once(page, REVIEW, lambda row: "已修订" in row)[3] == "已修订"
    page.locator("#documents").get_by_text(REVIEW, exact=True).first.click(force=True)
    page.wait_for_selector("#document .kb-relation", timeout=30_000)
    assert "状态：已修订（已被 《1+X证书制度试点评述（2024年版）》 取代" in page.inner_text("#document")
    _shot(page, "manage-replaced.png")


def _table_row(page, source: str) -> list[str]:
    """The cells of the documents table's row for `source` (the table renders cells as lines)."""
    lines = [line for line in page.inner_text("#documents").split("\n") if line.strip()]
    at = lines.index(source)
    return lines[at - len(app.DOC_COLUMNS) + 1:at + 1]


def _table_row_once(page, source: str, ready, timeout_s: float = 30) -> list[str]:
    """The documents table's row for `source` once `ready(row)` holds (or as it is after timeout_s): the
    table re-renders its cells one by one, so text anywhere in it does not mean the row is done."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            row = _table_row(page, source)
        except ValueError:  # the row is not rendered yet
            row = []
        if ready(row) or time.monotonic() > deadline:
            return row
        page.wait_for_timeout(200)


def test_removed_document_is_no_longer_found_by_search(page, served):
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    assert PRODUCTION in client.predict("教职成〔2020〕1号", "", "", "", 5, api_name="/search")
    page.get_by_role("tab", name="管理").click()
    _pick(page, "#manage-doc", app._doc_name(served.library.retriever, PRODUCTION))
    page.click("#manage-remove")
    page.wait_for_function("document.querySelector('#manage-result').innerText.includes('请勾选')", timeout=10_000)
    page.check("#manage-confirm input")
    page.click("#manage-remove")
    page.wait_for_function("document.querySelector('#manage-result').innerText.includes('已删除')", timeout=60_000)
    assert not (served.corpus / PRODUCTION).exists()
    assert PRODUCTION not in client.predict("教职成〔2020〕1号", "", "", "", 5, api_name="/search")
    page.get_by_role("tab", name="文件").click()
    page.wait_for_function(f"!document.querySelector('#documents').innerText.includes('{PRODUCTION}')",
                           timeout=30_000)
    _shot(page, "manage-removed.png")
