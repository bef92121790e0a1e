"""Damaged indexes (issue 14, items 7 and 8): a manifest or index file that is unreadable, malformed or
changed is refused with the file it is and the command that rebuilds it; `--rebuild` always works
from the corpus alone; nothing damaged is served, and nothing is silently re-embedded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb.cli import main
from kb.config import BuildSettings, SearchSettings
from kb.errors import BadIndexError
from kb.ondisk import MANIFEST, DocEntry, SourceEntry, build_lock, load_index, read_manifest, remove_leftovers, sha256_of
from kb.pipeline import build_index, open_retriever

SETTINGS = BuildSettings(embedder="hashing")
SETTINGS_TOP1 = SearchSettings(top_k=1)
TEXT = "职业技能等级证书管理办法\n第一条 为了规范证书管理，制定本办法。\n第二条 证书有效期为三年，自颁证之日起计算。\n"
OTHER = "示例市职业教育促进办法\n第一条 企业接收学生实习的，给予补贴。\n第二条 补贴期限最长不超过六个月。\n"


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "measures.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "示例办法.txt").write_text(OTHER, encoding="utf-8")
    build_index(corpus, index, SETTINGS)
    return corpus, index


def _manifest(index: Path) -> dict:
    return json.loads((index / MANIFEST).read_text(encoding="utf-8"))


def _write_manifest(index: Path, manifest) -> None:
    (index / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _segment(index: Path) -> Path:
    [name] = _manifest(index)["segments"]
    return index / name


def _damage_message(index: Path) -> str:
    """The error loading a damaged index gives; it must name the damage and how to rebuild."""
    with pytest.raises(BadIndexError) as caught:
        load_index(index)
    message = str(caught.value)
    assert message.startswith(f"index at {index} is damaged: ")
    assert message.endswith(f"rebuild it from the corpus with `python -m kb index CORPUS --index {index} --rebuild`")
    return message


def _files(index: Path) -> dict[str, bytes]:
    """Every file of an index folder with its content, to see that nothing was deleted or changed."""
    return {p.relative_to(index).as_posix(): p.read_bytes() for p in sorted(index.rglob("*")) if p.is_file()}


def _rebuild_works(corpus: Path, index: Path, capsys) -> None:
    """`kb index --rebuild` from the corpus alone, then a search that finds the right clause."""
    assert main(["index", str(corpus), "--index", str(index), "--rebuild", "--embedder", "hashing", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 2
    [hit] = open_retriever(index).search("证书有效期是多久", SETTINGS_TOP1)
    assert "证书有效期为三年" in hit.chunk.text


# --- item 7: damaged manifests ----------------------------------------------------------------


def _truncated(index: Path) -> None:
    data = (index / MANIFEST).read_bytes()
    cut = data.index("示例".encode(), len(data) // 2) + 1  # inside a Chinese character: not even UTF-8 any more
    (index / MANIFEST).write_bytes(data[:cut])


def _edit(change):
    def damage(index: Path) -> None:
        manifest = _manifest(index)
        _write_manifest(index, change(manifest))
    return damage


def _dim17(m: dict) -> dict:
    m["embedder"]["dim"] = 17
    return m


def _rows_out_of_range(m: dict) -> dict:
    for d in m["documents"].values():
        d["row"] += 1000
    return m


MANIFEST_DAMAGE = {
    "half-truncated": (_truncated, "manifest.json is unreadable (UnicodeDecodeError"),
    "a list": (_edit(lambda m: []), "manifest.json holds a JSON list, not an object"),
    "no segments": (_edit(lambda m: {k: v for k, v in m.items() if k != "segments"}),
                    "manifest.json: 'segments' is missing or not a JSON dict"),
    "embedder.dim 17": (_edit(_dim17), "vectors of shape (6, 256) (float32), not (rows, 17) float32"),
    "rows out of range": (_edit(_rows_out_of_range), "manifest.json: document 'measures.txt' points at rows no "
                                                     "segment holds"),
    "segment name outside": (_edit(lambda m: {**m, "segments": {"../../etc": v for v in m["segments"].values()}}),
                             "manifest.json: segment '../../etc' is malformed"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_DAMAGE))
def test_damaged_manifest_is_refused_and_rebuild_works(built, capsys, case):
    corpus, index = built
    damage, expected = MANIFEST_DAMAGE[case]
    damage(index)
    assert expected in _damage_message(index)
    # the CLI says so in one line, never a traceback
    assert main(["search", "证书", "--index", str(index)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: index at {index} is damaged: ") and "Traceback" not in err
    _rebuild_works(corpus, index, capsys)


@pytest.mark.parametrize("case", ["half-truncated", "no segments", "embedder.dim 17"])
def test_an_update_of_a_damaged_index_asks_for_rebuild_rather_than_reembedding(built, capsys, case):
    corpus, index = built
    MANIFEST_DAMAGE[case][0](index)
    before = _files(index)
    code = main(["index", str(corpus), "--index", str(index), "--embedder", "hashing", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: index at {index} is damaged: ") and "--rebuild`" in err
    assert _files(index) == before  # nothing deleted, nothing written


def _future(m: dict) -> dict:
    return {**m, "format_version": 99}


@pytest.mark.parametrize("case", ["half-truncated", "a list", "no segments", "rows out of range", "format 99"])
def test_leftover_cleanup_deletes_nothing_while_the_manifest_is_unusable(built, case):
    """Before, an unreadable manifest counted as "no index": the cleanup every build starts with
    deleted every segment, and the build re-embedded the corpus without a word."""
    corpus, index = built
    (_edit(_future) if case == "format 99" else MANIFEST_DAMAGE[case][0])(index)
    before = _files(index)
    with build_lock(index):
        remove_leftovers(index)
    assert _files(index) == before
    # --rebuild replaces it, and only then are the old segments deleted
    build_index(corpus, index, SETTINGS, rebuild=True)
    assert {p.name for p in index.iterdir()} == {MANIFEST, *read_manifest(index).files()}
    assert "seg-000001" not in read_manifest(index).files()


def test_an_index_of_another_format_is_refused_rather_than_rebuilt(built):
    corpus, index = built
    _edit(_future)(index)
    before = _files(index)
    with pytest.raises(BadIndexError) as caught:
        build_index(corpus, index, SETTINGS)
    assert str(caught.value) == (f"index at {index} has format 99, this PolicyKB reads 2; rebuild with "
                                 f"`python -m kb index CORPUS --index {index} --rebuild`")
    assert _files(index) == before


FORMAT_2 = {"format_version", "settings", "embedder", "dense_index", "sources", "failures", "metadata_overrides",
            "build_seconds", "counts", "libraries", "analyzer", "documents", "segments", "dense", "next_row", "built_at"}


def test_the_manifest_records_read_back_to_what_is_on_disk(tmp_path):
    """The typed records keep manifest.json as it was: indexes written before them load unchanged."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "measures.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "other.txt").write_text(OTHER, encoding="utf-8")
    build_index(corpus, index, BuildSettings(embedder="hashing", dense_backend="hnsw"))
    raw, manifest = _manifest(index), read_manifest(index)
    assert manifest.to_dict() == raw and set(raw) == FORMAT_2
    assert set(raw["documents"]["measures.txt"]) == {"content_hash", "segment", "row", "id", "chunks"}
    assert set(raw["dense"]) == {"files", "covers", "rows", "m", "sha256"}
    first, second = manifest.documents.values()
    assert (first.segment, first.row, first.id, second.row, second.id) == ("seg-000001", 0, 0, first.chunks, first.chunks)
    assert manifest.documents["other.txt"] == DocEntry(second.content_hash, "seg-000001", first.chunks, first.chunks,
                                                       manifest.counts["chunks"] - first.chunks)
    assert manifest.sources["other.txt"] == SourceEntry(sha256_of(corpus / "other.txt"), ("other.txt",))
    assert (manifest.dense.covers, manifest.dense.rows, manifest.dense.m) == (manifest.next_row, manifest.next_row,
                                                                              BuildSettings().hnsw_m)
    assert manifest.settings == BuildSettings(embedder="hashing", dense_backend="hnsw")


def test_a_missing_segment_folder_asks_for_rebuild(built, capsys):
    corpus, index = built
    import shutil

    shutil.rmtree(_segment(index))
    assert "cannot be read" in _damage_message(index)
    with pytest.raises(BadIndexError, match="is missing; rebuild it from the corpus"):
        build_index(corpus, index, SETTINGS)
    _rebuild_works(corpus, index, capsys)


# --- item 8: index files changed behind the manifest's back -------------------------------------


def test_an_edited_chunk_text_is_not_served(built, capsys):
    corpus, index = built
    chunks = _segment(index) / "chunks.jsonl"
    chunks.write_text(chunks.read_text(encoding="utf-8").replace("证书有效期为三年", "证书有效期为五年"), encoding="utf-8")
    message = _damage_message(index)
    assert f"{_segment(index).name}/chunks.jsonl does not match its checksum" in message
    _rebuild_works(corpus, index, capsys)


@pytest.mark.parametrize("how", ["nan", "random bytes"])
def test_damaged_vectors_are_not_searched(built, capsys, how):
    corpus, index = built
    path = _segment(index) / "vectors.npy"
    if how == "nan":
        vectors = np.load(path)
        vectors[0, :] = np.nan
        np.save(path, vectors)
    else:
        data = bytearray(path.read_bytes())
        data[200:232] = np.random.default_rng(1).bytes(32)
        path.write_bytes(bytes(data))
    assert f"{_segment(index).name}/vectors.npy does not match its checksum" in _damage_message(index)
    _rebuild_works(corpus, index, capsys)


def _rewrite_keeping_checksum(index: Path, name: str, change) -> None:
    """change(path) rewrites a file of the segment, and the manifest is given its new checksum: what a
    bug in the writer, rather than damage on disk, would leave."""
    segment = _segment(index)
    change(segment / name)
    manifest = _manifest(index)
    manifest["segments"][segment.name]["files"][name] = sha256_of(segment / name)
    _write_manifest(index, manifest)


def test_nan_vectors_are_refused_even_with_a_matching_checksum(built):
    def nan(path: Path) -> None:
        vectors = np.load(path)
        vectors[1, 3] = np.nan
        np.save(path, vectors)

    _rewrite_keeping_checksum(built[1], "vectors.npy", nan)
    assert "1 of 6 vectors hold NaN or inf" in _damage_message(built[1])


def test_term_rows_out_of_range_are_refused_even_with_a_matching_checksum(built):
    from kb.terms import TermCounts

    def out_of_range(path: Path) -> None:
        terms = TermCounts.load(path)
        terms.rows[0] = 10_000
        terms.save(path)

    _rewrite_keeping_checksum(built[1], "terms_chars.npz", out_of_range)
    assert "term counts (chars) do not fit its 6 chunks" in _damage_message(built[1])


def test_every_index_file_has_a_checksum_in_the_manifest(built):
    _, index = built
    segment = _segment(index)
    files = _manifest(index)["segments"][segment.name]["files"]
    assert set(files) == {p.name for p in segment.iterdir()} and all(len(v) == 64 for v in files.values())


def test_the_dense_graph_file_is_verified_too(tmp_path, capsys):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "measures.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "other.txt").write_text(OTHER, encoding="utf-8")
    build_index(corpus, index, BuildSettings(embedder="hashing", dense_backend="hnsw"))
    dense = _manifest(index)["dense"]
    [name] = dense["files"]
    assert set(dense["sha256"]) == {name}
    with open(index / name, "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 16)
    assert f"{name} does not match its checksum" in _damage_message(index)
    assert main(["index", str(corpus), "--index", str(index), "--rebuild", "--embedder", "hashing",
                 "--dense-backend", "hnsw", "--json"]) == 0
    assert load_index(index).store.dense_kind == "hnsw"


def test_an_index_written_before_checksums_gets_them_at_its_next_update(built):
    corpus, index = built
    manifest = _manifest(index)
    for info in manifest["segments"].values():
        del info["files"]
    _write_manifest(index, manifest)
    load_index(index)  # still served
    (corpus / "new.txt").write_text("新规定\n第一条 教师每年参加企业实践。\n", encoding="utf-8")
    build_index(corpus, index, SETTINGS)
    segments = _manifest(index)["segments"]
    assert len(segments) == 2 and all(set(info["files"]) == {p.name for p in (index / name).iterdir()}
                                      for name, info in segments.items())
    load_index(index)
