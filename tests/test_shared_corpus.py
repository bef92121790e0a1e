"""The whole pipeline over the real documents in ../shared/corpus: every file in, no garbage out."""

import pytest

from kb.config import BuildSettings
from kb.ondisk import load_index
from kb.ingest import garbled_share
from kb.pipeline import build_index
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory):
    corpus = shared_path("corpus")
    folder = tmp_path_factory.mktemp("shared") / "index"
    report = build_index(corpus, folder, BuildSettings(embedder="hashing"))
    return report, load_index(folder)


def test_every_shared_document_is_indexed(shared_index):
    report, index = shared_index
    assert report.failures == []
    sources = {r.source for r in index.contents.records}
    assert "seed/000_e98d5ceef7499449.txt" in sources
    assert sum(s.startswith("vocational-law/") for s in sources) == 19
    assert sum(r.source.startswith("vocational-news/") for r in index.contents.records) == 91
    assert report.documents == 1 + 19 + 91


def test_no_garbage_chunks(shared_index):
    _, index = shared_index
    for chunk in index.chunks:
        assert chunk.text.strip(), chunk.chunk_id
        assert garbled_share(chunk.text) < 0.01, (chunk.chunk_id, chunk.text[:80])


def test_vocational_law_2022_articles_through_the_pipeline(shared_index):
    _, index = shared_index
    doc_id = "vocational-law/职业教育法(2022-04-20).md"
    record = index.records[doc_id]
    assert record.meta.title == "中华人民共和国职业教育法"
    assert ("修订", "2022-04-20") in record.meta.dates
    chunks = [index.chunks[r] for r in index.doc_rows[doc_id]]
    articles = [c.label for c in chunks if c.label.endswith("条")]
    assert len(articles) == len(set(articles)) == 69
    assert articles[0] == "第一条" and articles[-1] == "第六十九条"
    assert len({c.path[0] for c in chunks if c.path}) == 8
