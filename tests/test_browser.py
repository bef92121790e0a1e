"""The web UI in a real browser: Debian's Chromium driven by Playwright, against app.py on localhost."""

import json
import shutil
import socket

import pytest

import app
from kb.config import BuildSettings
from kb.pipeline import build_index, open_retriever
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's hosts, which this closed network refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


ARTIFACTS = REPO / "test-artifacts"  # screenshots of each run, for a person to look at (git-ignored)
INJECTION = {"id": "injection", "title": "注入测试",
             "text": "培训补贴申领须知。<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
                     "[点我](javascript:alert(1)) ![图](http://example.invalid/x.png)"}


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    import playwright  # noqa: F401  (in requirements.txt: a missing one is an install error, not a skip)
    work = tmp_path_factory.mktemp("browser")
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "injection.jsonl").write_text(json.dumps(INJECTION, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = BuildSettings(embedder="hashing")
    build_index(corpus, index, settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    library = app.Library(open_retriever(index), corpus, index, settings)
    demo = app.build_ui(library, allow_upload=True)
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture()
def page(page_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        # not "networkidle": a Gradio page keeps a connection open and never settles
        page.goto(page_url, wait_until="domcontentloaded")
        page.wait_for_selector("#ask textarea", timeout=30_000)
        yield page
        browser.close()


def test_chat_answer_cites_and_opens_its_source(page, tmp_path):
    page.fill("#ask textarea", "证书有效期是多久？")
    page.click("#send")
    page.wait_for_selector("#sources .kb-cite", timeout=30_000)
    assert "第十二条：证书有效期为三年，自颁证之日起计算。[1]" in page.inner_text("#chat")
    # clicking the marker [1] in the answer opens source 1
    box = page.locator("#chat").get_by_text("证书有效期为三年，自颁证之日起计算。[1]", exact=False).last
    assert page.evaluate("() => document.getElementById('kb-cite-1').open") is False
    marker_x = page.evaluate("""(el) => {
        const node = [...el.childNodes].find(n => n.nodeType === 3 && n.textContent.includes('[1]')) || el.firstChild;
        const at = node.textContent.indexOf('[1]') + 1;
        const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + 1);
        const b = r.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2];
    }""", box.element_handle())
    page.mouse.click(*marker_x)
    page.wait_for_function("() => document.getElementById('kb-cite-1').open", timeout=10_000)
    assert page.locator("#kb-cite-1 mark").inner_text() == "证书有效期为三年，自颁证之日起计算。"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-with-sources.png"))


def test_chat_refusal_is_shown(page):
    page.fill("#ask textarea", "火星移民签证怎么办理")
    page.press("#ask textarea", "Enter")
    page.wait_for_selector("#sources ul", timeout=30_000)
    assert "知识库中没有找到回答这个问题的依据。" in page.inner_text("#chat")


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
    page.set_input_files("#upload input[type=file]", str(new))
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
