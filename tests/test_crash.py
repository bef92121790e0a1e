"""Crash safety: an indexer killed at any moment leaves the old or the new index, never a mix;
a damaged index file is refused with a clear message."""

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kb.config import BuildSettings, SearchSettings
from kb.errors import BadIndexError
from kb.ondisk import load_index, read_manifest
from kb.pipeline import build_index, open_retriever
from tests.conftest import REPO

NOTICE = "notices/production_education_notice.txt"


def _index(corpus, index) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb", "index", str(corpus), "--index", str(index),
                             "--embedder", "hashing", "--json"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _state(index) -> dict:
    """What a loaded index says about the corpus it holds: file -> sha256."""
    loaded = load_index(index)  # must load, whatever happened
    assert len(loaded.chunks) == len(loaded.contents.vectors) == loaded.store.size
    return {s: v.sha256 for s, v in read_manifest(index).sources.items()}


def _only_what_the_manifest_names(index) -> None:
    manifest = read_manifest(index)
    named = {"manifest.json", *manifest.files()}
    assert {p.name for p in index.iterdir()} == named


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
        if after == before:  # killed before the commit: the next build completes the change
            assert _index(corpus, index).wait(timeout=120) == 0
            assert _state(index)[NOTICE] != before[NOTICE]
        _only_what_the_manifest_names(index)  # a killed build's files are removed by the next one
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index.")] == [".index.lock"]


# A process that forks one indexer per request and kills it (SIGKILL, no clean-up) after the given
# number of lines of the index-writing modules; "0" runs to the end and reports how many lines ran
# and where the commit's lines were. Forking from one warmed-up process keeps each run fast.
KILLER = r'''
import json, os, signal, sys
from pathlib import Path
from kb.config import BuildSettings
from kb.pipeline import build_index
from kb.tokenize import word_tokens

word_tokens("预热")  # load jieba's dictionary once, before forking
corpus, index, settings = Path(sys.argv[1]), Path(sys.argv[2]), BuildSettings.from_dict(json.loads(sys.argv[3]))
WATCHED = ("kb/ondisk/writer.py", "kb/ondisk/segments.py", "kb/ondisk/manifest.py", "kb/terms.py", "kb/store/faiss_bm25.py")
lines, kill_at, commit = 0, 0, []

def local(frame, event, arg):
    global lines
    if event == "line":
        lines += 1
        if frame.f_code.co_name == "commit":
            commit.append(lines)
        if lines == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return local

def watch(frame, event, arg):
    return local if frame.f_code.co_filename.endswith(WATCHED) else None

for request in sys.stdin:
    kill_at = int(request)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        sys.settrace(watch)
        build_index(corpus, index, settings)
        sys.settrace(None)
        os.write(write, json.dumps({"lines": lines, "commit": [commit[0], commit[-1]]}).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"killed": os.WIFSIGNALED(status), **(json.loads(out) if out else {})}), flush=True)
'''


def _picture(index) -> tuple:
    """Everything a reader sees: sources, rows, and the hits for a few questions."""
    retriever = open_retriever(index)
    hits = [[(h.chunk.chunk_id, round(h.score, 6)) for h in retriever.search(q, SearchSettings(top_k=5))]
            for q in ("证书有效期是多久？", "复核联络人王珊瑚", "考核站点")]
    return (read_manifest(index).sources, [(c.chunk_id, c.text) for c in retriever.index.chunks], hits)


def test_sigkill_at_any_line_of_an_update_leaves_old_or_new_index(tmp_path):
    """An update that writes a segment, compacts the index and rebuilds the graph, killed all along."""
    corpus, base, index = tmp_path / "corpus", tmp_path / "base", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    settings = BuildSettings(embedder="hashing", dense_backend="hnsw")
    build_index(corpus, base, settings)
    old = _picture(base)
    with open(corpus / NOTICE, "a", encoding="utf-8") as f:
        f.write("\n七、补充说明\n试点单位名单每两年复核一次，复核联络人为王珊瑚同志。\n")
    (corpus / "extra").mkdir()
    (corpus / "extra" / "reef.md").write_text("# 珊瑚礁保护通知\n\n禁止采挖珊瑚。\n", encoding="utf-8")
    for doc in ("notices/pilot_work_notice.html", "rules/certificate_management_measures.pdf"):
        (corpus / doc).unlink()  # enough dead rows to compact everything and rebuild the graph

    killer = subprocess.Popen([sys.executable, "-c", KILLER, str(corpus), str(index), json.dumps(settings.to_dict())],
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(kill_at: int) -> dict:
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(base, index)
        killer.stdin.write(f"{kill_at}\n")
        killer.stdin.flush()
        assert select.select([killer.stdout], [], [], 120)[0], "the indexer hung"
        return json.loads(killer.stdout.readline())

    try:
        full = run(0)
        assert not full["killed"]
        new = _picture(index)
        assert new != old and read_manifest(index).segments != read_manifest(base).segments
        start, end = full["commit"]
        # a dozen lines up to the commit, each line of the commit (the manifest's rename is among its
        # first ones), then the clean-up after it
        total = full["lines"]
        points = sorted({*range(1, start, max(1, start // 12)), *range(start, min(end, start + 16) + 1),
                         *range(end, total + 1, max(1, (total - end) // 10)), total})
        seen = set()
        for kill_at in points:
            assert run(kill_at)["killed"]
            after = _picture(index)
            assert after in (old, new), f"killed at line {kill_at} of {full['lines']}"
            seen.add(after == new)
            build_index(corpus, index, settings)  # the next build completes the update and clears up
            assert _picture(index) == new
            _only_what_the_manifest_names(index)
        assert seen == {False, True}  # kills landed both before and after the commit
    finally:
        killer.stdin.close()
        killer.wait(timeout=30)


@pytest.fixture()
def built(tmp_path):
    index = tmp_path / "index"
    build_index(REPO / "corpus", index, BuildSettings(embedder="hashing", dense_backend="hnsw"))
    return index


def _graph(index) -> str:
    return read_manifest(index).dense.files[0]


@pytest.mark.parametrize("name", ["seg-000001/chunks.jsonl", "seg-000001/docs.jsonl", "seg-000001/vectors.npy",
                                  "seg-000001/terms_chars.npz", "seg-000001/terms_words.npz", "graph",
                                  "manifest.json"])
def test_truncated_index_file_is_refused_clearly(built, name):
    path = built / (_graph(built) if name == "graph" else name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadIndexError) as caught:
        load_index(built)
    message = str(caught.value)
    assert str(built) in message and ("rebuild" in message or "--rebuild" in message)


@pytest.mark.parametrize("name", ["seg-000001/vectors.npy", "seg-000001", "graph"])
def test_missing_index_file_is_refused_clearly(built, name):
    path = built / (_graph(built) if name == "graph" else name)
    shutil.rmtree(path) if path.is_dir() else os.remove(path)
    with pytest.raises(BadIndexError, match="rebuild"):
        load_index(built)


def test_manifest_from_the_future_is_refused(built):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    (built / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BadIndexError, match="format 99"):
        load_index(built)
