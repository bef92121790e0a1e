"""The web UI in a real browser: Debian's Chromium driven by Playwright, against app.py on localhost."""

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


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright", reason="playwright is not installed (pip install playwright)")
    index = tmp_path_factory.mktemp("browser") / "index"
    build_index(REPO / "corpus", index, BuildSettings(embedder="hashing"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_ui(open_retriever(index))
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
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
    page.locator("#kb-cite-1 summary").click()
    assert page.locator("#kb-cite-1 mark").inner_text() == "证书有效期为三年，自颁证之日起计算。"
    page.screenshot(path=str(tmp_path / "chat.png"))


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
