"""Crash safety: an indexer killed at any moment leaves the old or the new index, never a mix;
a damaged index file is refused with a clear message."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kb.errors import BadIndexError
from kb.index import load_index, read_manifest
from tests.conftest import REPO

NOTICE = "notices/production_education_notice.txt"


def _index(corpus, index) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb", "index", str(corpus), "--index", str(index),
                             "--embedder", "hashing", "--json"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _state(index) -> dict:
    """What a loaded index says about the corpus it holds: file -> sha256."""
    loaded = load_index(index)  # must load, whatever happened
    assert len(loaded.chunks) == len(loaded.contents.vectors) == loaded.store.dense.ntotal
    return {s: v["sha256"] for s, v in read_manifest(index)["sources"].items()}


def test_sigkill_mid_build_leaves_old_or_new_index(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    assert _index(corpus, index).wait(timeout=120) == 0
    rng = random.Random(7)
    for round_ in range(8):
        before = _state(index)
        with open(corpus / NOTICE, "a", encoding="utf-8") as f:  # a change for this round to index
            f.write(f"\n第{round_ + 5}条 本通知第{round_}次补充说明。\n")
        proc = _index(corpus, index)
        time.sleep(rng.uniform(0.0, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        after = _state(index)
        assert after == before or after[NOTICE] != before[NOTICE]  # old state, or the new one whole
        if after == before:  # killed before the swap: the next build completes the change
            assert _index(corpus, index).wait(timeout=120) == 0
            assert _state(index)[NOTICE] != before[NOTICE]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".index.tmp-")]
    assert len(leftovers) <= 1  # a killed build's temporary folder is removed by the next build


@pytest.fixture()
def built(tmp_path):
    from kb.config import BuildSettings
    from kb.pipeline import build_index

    index = tmp_path / "index"
    build_index(REPO / "corpus", index, BuildSettings(embedder="hashing"))
    return index


@pytest.mark.parametrize("name", ["chunks.jsonl", "docs.jsonl", "vectors.npy", "dense.faiss",
                                  "bm25_chars/data.csc.index.npy", "manifest.json"])
def test_truncated_index_file_is_refused_clearly(built, name):
    path = built / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadIndexError) as caught:
        load_index(built)
    message = str(caught.value)
    assert str(built) in message and ("rebuild" in message or "--rebuild" in message)


def test_missing_index_file_is_refused_clearly(built):
    os.remove(built / "vectors.npy")
    with pytest.raises(BadIndexError, match="rebuild"):
        load_index(built)


def test_manifest_from_the_future_is_refused(built):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    (built / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BadIndexError, match="format 99"):
        load_index(built)
